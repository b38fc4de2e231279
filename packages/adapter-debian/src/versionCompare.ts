/**
 * dpkg version comparison, exactly as `lib/dpkg/version.c` (`dpkg_version_compare`, `verrevcmp`).
 *
 * A version is `[epoch:]upstream[-revision]`: the epoch is the digits before the first `:`, the
 * revision what follows the last `-`. A missing revision compares like "0" (leading zeros vanish),
 * so `1.0 == 1.0-0`. Within upstream and revision, non-digit runs compare character by character
 * with `~` lowest (below the end of the string), then the end / a digit, then letters, then every
 * other character; digit runs compare numerically.
 */
import { NipError } from '@nip/core'

export interface DebianVersion {
  epoch: number
  upstream: string
  revision: string
}

/** Split a version into its parts; leading and trailing whitespace is ignored like dpkg does. */
export function parseVersion(text: string): DebianVersion {
  const v = text.trim()
  if (v === '' || /\s/.test(v)) throw badVersion(text, 'it is empty or contains whitespace')
  let epoch = 0
  let rest = v
  const colon = v.indexOf(':')
  if (colon >= 0) {
    const e = v.slice(0, colon)
    if (!/^[0-9]+$/.test(e)) throw badVersion(text, 'the epoch is not a number')
    epoch = Number(e)
    if (!Number.isSafeInteger(epoch) || epoch > 0x7fffffff) throw badVersion(text, 'the epoch is too large')
    rest = v.slice(colon + 1)
  }
  const dash = rest.lastIndexOf('-')
  const upstream = dash >= 0 ? rest.slice(0, dash) : rest
  const revision = dash >= 0 ? rest.slice(dash + 1) : ''
  if (upstream === '') throw badVersion(text, 'the upstream version is empty')
  if (dash >= 0 && revision === '') throw badVersion(text, 'the revision is empty')
  return { epoch, upstream, revision }
}

/** Whether dpkg would accept the string as a version (characters included). */
export function isValidVersion(text: string): boolean {
  try {
    const v = parseVersion(text)
    return /^[A-Za-z0-9.+~:-]*$/.test(v.upstream) && /^[A-Za-z0-9.+~]*$/.test(v.revision)
  } catch {
    return false
  }
}

/** dpkg's order of a version: negative, zero or positive. Unparsable versions compare as strings. */
export function compareVersions(a: string, b: string): number {
  let va: DebianVersion
  let vb: DebianVersion
  try {
    va = parseVersion(a)
    vb = parseVersion(b)
  } catch {
    return a < b ? -1 : a > b ? 1 : 0
  }
  if (va.epoch !== vb.epoch) return va.epoch > vb.epoch ? 1 : -1
  const u = verrevcmp(va.upstream, vb.upstream)
  if (u !== 0) return u
  return verrevcmp(va.revision, vb.revision)
}

/** The weight of one character in a non-digit run (0 stands for "end or digit"). */
function order(code: number | undefined): number {
  if (code === undefined) return 0
  if (code >= 0x30 && code <= 0x39) return 0
  if ((code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) return code
  if (code === 0x7e) return -1
  return code + 256
}

function isDigit(code: number | undefined): boolean {
  return code !== undefined && code >= 0x30 && code <= 0x39
}

export function verrevcmp(a: string, b: string): number {
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    let firstDiff = 0
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ac = order(i < a.length ? a.charCodeAt(i) : undefined)
      const bc = order(j < b.length ? b.charCodeAt(j) : undefined)
      if (ac !== bc) return ac - bc
      i++
      j++
    }
    while (a.charCodeAt(i) === 0x30) i++
    while (b.charCodeAt(j) === 0x30) j++
    while (isDigit(a.charCodeAt(i)) && isDigit(b.charCodeAt(j))) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j)
      i++
      j++
    }
    if (isDigit(a.charCodeAt(i))) return 1
    if (isDigit(b.charCodeAt(j))) return -1
    if (firstDiff !== 0) return firstDiff
  }
  return 0
}

function badVersion(text: string, why: string): NipError {
  return new NipError('ERR_NIP_BAD_PACKAGE', `${JSON.stringify(text)} is not a Debian version: ${why}`, {
    hint: 'Debian versions look like [epoch:]upstream[-revision], e.g. 1:2.3.4-1.',
    data: { version: text },
  })
}
