/**
 * pacman's version ordering, `alpm_pkg_vercmp` (lib/libalpm/version.c), exactly: versions are
 * `[epoch:]version[-release]`; epochs, then versions, then releases (only when both sides have
 * one, so `1.5-1 == 1.5`) are compared with rpm 4.8.1's `rpmvercmp`. Returns -1, 0 or 1.
 *
 * The C code walks bytes: separator runs are counted in UTF-8 bytes and every byte ≥ 0x80 is a
 * separator (neither `isalpha` nor `isdigit` in the C locale). So the comparison runs over the UTF-8
 * bytes of both strings, each byte held as one character code 0–255 (`bytes()`).
 */

/** The UTF-8 bytes of `s` as a string of character codes 0–255. */
function bytes(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1')
}

interface Evr {
  epoch: string
  version: string
  release: string | null
}

/** Split `[epoch:]version[-release]` the way parseEVR does. */
function parseEvr(evr: string): Evr {
  let s = 0
  while (s < evr.length && evr.charCodeAt(s) >= 48 && evr.charCodeAt(s) <= 57) s++
  let epoch = '0'
  let rest = evr
  if (s < evr.length && evr[s] === ':') {
    epoch = s === 0 ? '0' : evr.slice(0, s)
    rest = evr.slice(s + 1)
  }
  // The release starts after the last '-' (strrchr from the end of the epoch digits).
  const dash = rest.lastIndexOf('-')
  if (dash < 0) return { epoch, version: rest, release: null }
  return { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) }
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57
const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
const isAlnum = (c: number): boolean => isDigit(c) || isAlpha(c)

/** rpmvercmp from rpm 4.8.1, as libalpm carries it, over the UTF-8 bytes of both strings. */
export function rpmvercmp(a: string, b: string): number {
  return rpmvercmpBytes(bytes(a), bytes(b))
}

function rpmvercmpBytes(a: string, b: string): number {
  if (a === b) return 0
  let one = 0
  let two = 0
  while (one < a.length && two < b.length) {
    const sepStart1 = one
    const sepStart2 = two
    while (one < a.length && !isAlnum(a.charCodeAt(one))) one++
    while (two < b.length && !isAlnum(b.charCodeAt(two))) two++
    if (one >= a.length || two >= b.length) break
    // A longer run of separators is the newer version (2___a > 2_a).
    if (one - sepStart1 !== two - sepStart2) return one - sepStart1 < two - sepStart2 ? -1 : 1
    let end1 = one
    let end2 = two
    const numeric = isDigit(a.charCodeAt(one))
    const inClass = numeric ? isDigit : isAlpha
    while (end1 < a.length && inClass(a.charCodeAt(end1))) end1++
    while (end2 < b.length && inClass(b.charCodeAt(end2))) end2++
    // Segments of different classes: numeric is newer than alpha.
    if (end2 === two) return numeric ? 1 : -1
    let seg1 = a.slice(one, end1)
    let seg2 = b.slice(two, end2)
    if (numeric) {
      seg1 = seg1.replace(/^0+/, '')
      seg2 = seg2.replace(/^0+/, '')
      if (seg1.length !== seg2.length) return seg1.length > seg2.length ? 1 : -1
    }
    if (seg1 !== seg2) return seg1 < seg2 ? -1 : 1
    one = end1
    two = end2
  }
  if (one >= a.length && two >= b.length) return 0
  // A trailing alpha segment is older (1.0a < 1.0), a trailing numeric one newer.
  if ((one >= a.length && !isAlpha(b.charCodeAt(two))) || (one < a.length && isAlpha(a.charCodeAt(one)))) return -1
  return 1
}

/** alpm_pkg_vercmp: -1, 0 or 1. */
export function vercmp(a: string, b: string): number {
  if (a === b) return 0
  const x = parseEvr(bytes(a))
  const y = parseEvr(bytes(b))
  let r = rpmvercmpBytes(x.epoch, y.epoch)
  if (r === 0) {
    r = rpmvercmpBytes(x.version, y.version)
    if (r === 0 && x.release !== null && y.release !== null) r = rpmvercmpBytes(x.release, y.release)
  }
  return r < 0 ? -1 : r > 0 ? 1 : 0
}
