/**
 * Dewey version comparison exactly as pkg_install's `lib/dewey.c` (rev 1.13): a version is an
 * integer vector plus an `nb` revision, compared element by element (missing elements are 0),
 * then by revision. Where pkglint's Go port disagrees (letters after a dot), dewey.c wins.
 *
 * Numbers are C ints in dewey.c and wrap past 2^31 - 1 (signed overflow, in practice modulo 2^32);
 * here they are JavaScript numbers and do not wrap, so `foo-2147483648` is newer than
 * `foo-2147483647` as its author meant (a component above 2^53 loses precision). A documented
 * exception: see docs/pkgsrc.md.
 */

/** Relations of `dewey_mktest`: `<`, `<=`, `>`, `>=`, `==`, `!=`. */
export type DeweyOperator = '<' | '<=' | '>' | '>=' | '==' | '!='

export interface DeweyVersion {
  components: number[]
  /** The `nbN` revision (0 when absent; the last `nb` wins). */
  revision: number
}

const ALPHA = -3
const BETA = -2
const RC = -1
const DOT = 0

/** Keywords in dewey.c's order of testing; matched case-insensitively. */
const MODIFIERS: ReadonlyArray<readonly [string, number]> = [
  ['alpha', ALPHA],
  ['beta', BETA],
  ['pre', RC],
  ['rc', RC],
  ['pl', DOT],
  ['_', DOT],
  ['.', DOT],
]

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9'
}

function isAsciiLetter(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

/** `mkversion`: the vector and revision of a version string. */
export function parseDewey(version: string): DeweyVersion {
  const components: number[] = []
  let revision = 0
  let i = 0
  const s = version
  outer: while (i < s.length) {
    const c = s[i]
    if (isDigit(c)) {
      let n = 0
      while (isDigit(s[i])) n = n * 10 + (s.charCodeAt(i++) - 48)
      components.push(n)
      continue
    }
    for (const [word, value] of MODIFIERS) {
      if (s.slice(i, i + word.length).toLowerCase() === word) {
        components.push(value)
        i += word.length
        continue outer
      }
    }
    if (s.slice(i, i + 2).toLowerCase() === 'nb') {
      i += 2
      let n = 0
      while (isDigit(s[i])) n = n * 10 + (s.charCodeAt(i++) - 48)
      revision = n
      continue
    }
    if (isAsciiLetter(c)) {
      // dewey.c: a lone letter is ".N" with a=1 … z=26 (pkglint omits the dot; see the header).
      components.push(DOT, c.toLowerCase().charCodeAt(0) - 96)
    }
    i++
  }
  return { components, revision }
}

/** `vtest` as a three-way comparison: negative, 0 or positive. */
export function compareDewey(a: string, b: string): number {
  const x = parseDewey(a)
  const y = parseDewey(b)
  const n = Math.max(x.components.length, y.components.length)
  for (let i = 0; i < n; i++) {
    const d = (x.components[i] ?? 0) - (y.components[i] ?? 0)
    if (d !== 0) return Math.sign(d)
  }
  return Math.sign(x.revision - y.revision)
}

/** `dewey_cmp(lhs, op, rhs)`. */
export function deweyTest(lhs: string, op: DeweyOperator, rhs: string): boolean {
  const c = compareDewey(lhs, rhs)
  switch (op) {
    case '<':
      return c < 0
    case '<=':
      return c <= 0
    case '>':
      return c > 0
    case '>=':
      return c >= 0
    case '==':
      return c === 0
    case '!=':
      return c !== 0
  }
}

/** `dewey_mktest`: the operator at the start of `text` and its length, or null. */
export function readOperator(text: string): { op: DeweyOperator; length: number } | null {
  const two = text.slice(0, 2)
  if (two === '<=' || two === '>=' || two === '==' || two === '!=') return { op: two, length: 2 }
  if (text[0] === '<' || text[0] === '>') return { op: text[0], length: 1 }
  return null
}

/**
 * `dewey_match(pattern, pkg)` for a pattern holding `<` or `>`: the name before the first `<`/`>`
 * must equal `pkg` up to its last `-`; the version after it must satisfy the relation. Exactly where
 * dewey.c looks for a second relation: only after `>` or `>=`, only at the next `<` (read as `<` or
 * `<=`). So `foo>=1<2` is a range, while in `foo<2<3` and `foo>=1>2` everything after the first
 * operator is one version string (dewey parsing skips the characters it does not know).
 */
export function deweyMatch(pattern: string, pkg: string): boolean {
  const dash = pkg.lastIndexOf('-')
  if (dash < 0) return false
  const sep = pattern.search(/[<>]/)
  if (sep < 0) return false
  if (sep !== dash || pkg.slice(0, dash) !== pattern.slice(0, sep)) return false
  const version = pkg.slice(dash + 1)
  const first = readOperator(pattern.slice(sep))
  if (first === null) return false
  const rest = pattern.slice(sep + first.length)
  if (first.op === '>' || first.op === '>=') {
    const sep2 = rest.indexOf('<')
    if (sep2 >= 0) {
      const second = readOperator(rest.slice(sep2))
      if (second === null) return false
      if (!deweyTest(version, second.op, rest.slice(sep2 + second.length))) return false
      return deweyTest(version, first.op, rest.slice(0, sep2))
    }
  }
  return deweyTest(version, first.op, rest)
}
