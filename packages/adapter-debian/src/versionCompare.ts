/**
 * dpkg version parsing and comparison, as `lib/dpkg/parsehelp.c` (`parseversion`) and
 * `lib/dpkg/version.c` (`dpkg_version_compare`, `verrevcmp`) do it.
 *
 * A version is `[epoch:]upstream[-revision]`. Only space and tab around it are trimmed (dpkg's
 * `c_isblank`); every other character — `\n`, `\v`, U+00A0 — is part of the version. The epoch is
 * what precedes the first `:`, read as C `strtol` reads it: leading `isspace` whitespace skipped, an
 * optional sign (`+1:0` is epoch 1, `-0:6` epoch 0), at most `INT_MAX`. The revision is what follows
 * the last `-`; a missing revision compares like "0", so `1.0 == 1.0-0`.
 *
 * Comparison works on UTF-8 bytes read as C `char` (signed on the platforms dpkg ships for): within
 * upstream and revision, non-digit runs compare byte by byte with `~` lowest (below the end of the
 * string), then the end / a digit, then ASCII letters, then every other byte (bytes ≥ 0x80 rank below
 * ASCII punctuation, as a negative `char` plus 256); digit runs compare numerically.
 *
 * Validity follows `dpkg --validate-version`: errors (empty, embedded blanks, bad epoch, empty
 * revision) and warnings (upstream not starting with a digit, characters outside `[A-Za-z0-9.+~:-]`
 * resp. `[A-Za-z0-9.+~]`) both make a version invalid. `dpkg --compare-versions` still compares a
 * version that only draws a warning, and so does {@link compareVersions}.
 */
import { NipError } from '@nip/core'

export interface DebianVersion {
  epoch: number
  upstream: string
  revision: string
}

/** The outcome of dpkg's `parseversion`: the parts (absent on an error) and the problem, if any. */
export interface VersionParse {
  version?: DebianVersion
  /** `error`: dpkg refuses to use the version; `warn`: dpkg uses it but `--validate-version` fails. */
  level?: 'error' | 'warn'
  problem?: string
}

const INT_MAX = 0x7fffffff
const isBlank = (c: string) => c === ' ' || c === '\t'
/** C `isspace` in the C locale. */
const isCSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r'
const isCDigit = (c: string) => c >= '0' && c <= '9'
const isCAlpha = (c: string) => (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')

/** dpkg's `parseversion`, step by step. A NUL character is refused (a C string would end there). */
export function parseDpkgVersion(text: string): VersionParse {
  if (text.includes('\0')) return { level: 'error', problem: 'it contains a NUL character' }
  let start = 0
  while (start < text.length && isBlank(text[start])) start++
  if (start === text.length) return { level: 'error', problem: 'version string is empty' }
  let end = start
  while (end < text.length && !isBlank(text[end])) end++
  let p = end
  while (p < text.length && isBlank(text[p])) p++
  if (p < text.length) return { level: 'error', problem: 'version string has embedded spaces' }
  const s = text.slice(start, end)
  let epoch = 0
  let rest = s
  const colon = s.indexOf(':')
  if (colon >= 0) {
    const e = strtol(s)
    if (e.end === 0) return { level: 'error', problem: 'epoch in version is empty' }
    if (e.end !== colon) return { level: 'error', problem: 'epoch in version is not number' }
    if (e.value < 0n) return { level: 'error', problem: 'epoch in version is negative' }
    if (e.value > BigInt(INT_MAX)) return { level: 'error', problem: 'epoch in version is too big' }
    if (colon + 1 === s.length) return { level: 'error', problem: 'nothing after colon in version number' }
    epoch = Number(e.value)
    rest = s.slice(colon + 1)
  }
  const dash = rest.lastIndexOf('-')
  const upstream = dash >= 0 ? rest.slice(0, dash) : rest
  const revision = dash >= 0 ? rest.slice(dash + 1) : ''
  if (dash >= 0 && revision === '') return { level: 'error', problem: 'revision number is empty' }
  const version = { epoch, upstream, revision }
  if (upstream === '') return { level: 'error', problem: 'version number is empty' }
  if (!isCDigit(upstream[0])) return { version, level: 'warn', problem: 'version number does not start with digit' }
  for (const c of upstream.slice(1)) {
    if (!isCDigit(c) && !isCAlpha(c) && !'.-+~:'.includes(c)) return { version, level: 'warn', problem: 'invalid character in version number' }
  }
  for (const c of revision) {
    if (!isCDigit(c) && !isCAlpha(c) && !'.+~'.includes(c)) return { version, level: 'warn', problem: 'invalid character in revision number' }
  }
  return { version }
}

/**
 * C `strtol(s, &end, 10)` on a 64-bit `long`: the value (clamped to the `long` range, where C sets
 * `ERANGE`; either way dpkg refuses it as too big or negative) and the index where reading stopped
 * (0 when no digits were read).
 */
function strtol(s: string): { value: bigint; end: number } {
  let i = 0
  while (i < s.length && isCSpace(s[i])) i++
  let negative = false
  if (s[i] === '+' || s[i] === '-') {
    negative = s[i] === '-'
    i++
  }
  const digits = i
  while (i < s.length && isCDigit(s[i])) i++
  if (i === digits) return { value: 0n, end: 0 }
  const magnitude = BigInt(s.slice(digits, i))
  return { value: negative ? -magnitude : magnitude, end: i }
}

/** Split a version into its parts; throws on anything `dpkg --validate-version` refuses. */
export function parseVersion(text: string): DebianVersion {
  const r = parseDpkgVersion(text)
  if (r.level !== undefined || r.version === undefined) throw badVersion(text, r.problem ?? 'it is not valid')
  return r.version
}

/** Whether `dpkg --validate-version` accepts the string. */
export function isValidVersion(text: string): boolean {
  return parseDpkgVersion(text).level === undefined
}

const BLANK: VersionParse = { version: { epoch: 0, upstream: '', revision: '' } }

/**
 * dpkg's order of two versions: negative, zero or positive, as `dpkg --compare-versions`. The empty
 * string (and `<unknown>`) is dpkg's blank version, earlier than any other. Versions dpkg refuses to compare (its
 * exit status 2) fall back to UTF-8 byte order of the whole strings, so sorting stays total.
 */
export function compareVersions(a: string, b: string): number {
  const va = a === '' || a === '<unknown>' ? BLANK : parseDpkgVersion(a)
  const vb = b === '' || b === '<unknown>' ? BLANK : parseDpkgVersion(b)
  if (va.version === undefined || vb.version === undefined) return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
  // dpkg's cmpversions: a blank version is earlier than every informative one.
  if (va === BLANK || vb === BLANK) return va === vb ? 0 : va === BLANK ? -1 : 1
  if (va.version.epoch !== vb.version.epoch) return va.version.epoch > vb.version.epoch ? 1 : -1
  const u = verrevcmp(va.version.upstream, vb.version.upstream)
  if (u !== 0) return u
  return verrevcmp(va.version.revision, vb.version.revision)
}

/** The weight of one byte (as a signed C char) in a non-digit run; 0 stands for "end or digit". */
function order(c: number): number {
  if (c === 0) return 0
  if (c >= 0x30 && c <= 0x39) return 0
  if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return c
  if (c === 0x7e) return -1
  return (c >= 0x80 ? c - 256 : c) + 256
}

const digit = (c: number) => c >= 0x30 && c <= 0x39

/** `verrevcmp` over the UTF-8 bytes of both strings (0 past the end, like a C string's NUL). */
export function verrevcmp(as: string, bs: string): number {
  const a = Buffer.from(as, 'utf8')
  const b = Buffer.from(bs, 'utf8')
  const at = (x: Buffer, k: number) => (k < x.length ? x[k] : 0)
  let i = 0
  let j = 0
  while (at(a, i) !== 0 || at(b, j) !== 0) {
    let firstDiff = 0
    while ((at(a, i) !== 0 && !digit(at(a, i))) || (at(b, j) !== 0 && !digit(at(b, j)))) {
      const ac = order(at(a, i))
      const bc = order(at(b, j))
      if (ac !== bc) return ac - bc
      i++
      j++
    }
    while (at(a, i) === 0x30) i++
    while (at(b, j) === 0x30) j++
    while (digit(at(a, i)) && digit(at(b, j))) {
      if (firstDiff === 0) firstDiff = at(a, i) - at(b, j)
      i++
      j++
    }
    if (digit(at(a, i))) return 1
    if (digit(at(b, j))) return -1
    if (firstDiff !== 0) return firstDiff
  }
  return 0
}

function badVersion(text: string, why: string): NipError {
  return new NipError('ERR_NIP_BAD_PACKAGE', `${JSON.stringify(text)} is not a Debian version: ${why}`, {
    hint: 'Debian versions look like [epoch:]upstream[-revision] and start with a digit, e.g. 1:2.3.4-1.',
    data: { version: text },
  })
}
