/**
 * Gentoo version syntax and ordering (PMS "Version comparison", algorithms 1-6), as Portage's
 * `vercmp` implements it. Numeric components are compared as digit strings, so versions such as
 * `1.001000000000000000002` or `_p20100815160931` compare exactly (no floating point).
 */

/** `[0-9]+(\.[0-9]+)*[a-z]?(_(alpha|beta|pre|rc|p)[0-9]*)*(-r[0-9]+)?` */
export const VERSION_PATTERN = String.raw`(\d+)((?:\.\d+)*)([a-z]?)((?:_(?:pre|p|beta|alpha|rc)\d*)*)(?:-r(\d+))?`
const VERSION_RE = new RegExp(`^${VERSION_PATTERN}$`)
const SUFFIX_RE = /^(alpha|beta|pre|rc|p)(\d*)$/

/** Suffix order: _alpha < _beta < _pre < _rc < (none) == _p-1 < _p */
const SUFFIX_RANK: Record<string, number> = { alpha: -4, beta: -3, pre: -2, rc: -1, p: 0 }

export interface Version {
  /** First and later numeric components, as written. */
  numbers: string[]
  letter: string
  suffixes: { kind: string; number: string }[]
  /** Revision digits as written ('' when absent, which means r0). */
  revision: string
  /** The version as written. */
  raw: string
}

/** Parse a version; null when it is not a valid PMS version. */
export function parseVersion(raw: string): Version | null {
  const m = VERSION_RE.exec(raw)
  if (m === null) return null
  const numbers = [m[1], ...(m[2] === '' ? [] : m[2].slice(1).split('.'))]
  const suffixes = m[4] === '' ? [] : m[4].slice(1).split('_').map((s) => {
    const sm = SUFFIX_RE.exec(s)!
    return { kind: sm[1], number: sm[2] }
  })
  return { numbers, letter: m[3], suffixes, revision: m[5] ?? '', raw }
}

export function isValidVersion(raw: string): boolean {
  return VERSION_RE.test(raw)
}

/** Compare two unsigned digit strings by value (any length). */
export function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+/, '')
  const y = b.replace(/^0+/, '')
  if (x.length !== y.length) return x.length < y.length ? -1 : 1
  return x < y ? -1 : x > y ? 1 : 0
}

/**
 * Portage's vercmp: negative, zero or positive. Throws a TypeError for an invalid version
 * (callers validate first; the adapter never compares unparsed strings).
 */
export function compareVersions(a: string | Version, b: string | Version): number {
  const va = typeof a === 'string' ? parseVersion(a) : a
  const vb = typeof b === 'string' ? parseVersion(b) : b
  if (va === null || vb === null) throw new TypeError(`invalid Gentoo version: ${String(va === null ? a : b)}`)
  return sign(compareParsed(va, vb))
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0
}

function compareParsed(a: Version, b: Version): number {
  // 1. first component: integer comparison
  let c = compareDigits(a.numbers[0], b.numbers[0])
  if (c !== 0) return c
  // 2./3. later components: leading zero => compare with trailing zeros stripped, as strings
  const n = Math.max(a.numbers.length, b.numbers.length)
  for (let i = 1; i < n; i++) {
    const x = a.numbers[i]
    const y = b.numbers[i]
    if (x === undefined) return -1
    if (y === undefined) return 1
    if (x[0] === '0' || y[0] === '0') {
      const len = Math.max(x.length, y.length)
      const xs = x.padEnd(len, '0')
      const ys = y.padEnd(len, '0')
      c = xs < ys ? -1 : xs > ys ? 1 : 0
    } else {
      c = compareDigits(x, y)
    }
    if (c !== 0) return c
  }
  // 4. letter
  if (a.letter !== b.letter) {
    if (a.letter === '') return -1
    if (b.letter === '') return 1
    return a.letter < b.letter ? -1 : 1
  }
  // 5. suffixes; a missing suffix counts as _p-1
  const m = Math.max(a.suffixes.length, b.suffixes.length)
  for (let i = 0; i < m; i++) {
    const x = a.suffixes[i] ?? { kind: 'p', number: '-1' }
    const y = b.suffixes[i] ?? { kind: 'p', number: '-1' }
    if (x.kind !== y.kind) return SUFFIX_RANK[x.kind] - SUFFIX_RANK[y.kind]
    if (x.number === '-1' || y.number === '-1') {
      if (x.number !== y.number) return x.number === '-1' ? -1 : 1
      continue
    }
    c = compareDigits(x.number || '0', y.number || '0')
    if (c !== 0) return c
  }
  // 6. revision
  return compareDigits(a.revision || '0', b.revision || '0')
}
