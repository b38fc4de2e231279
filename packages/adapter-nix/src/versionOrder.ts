/**
 * builtins.compareVersions (NixOS/nix src/libstore/names.cc, componentsLT/compareVersions).
 * Components are maximal digit runs or maximal runs of other characters, separated by any run of
 * "." and "-". A digit run is numeric only while it fits a 32-bit int (string2Int<int>), so a
 * 14-digit timestamp compares as a word. "pre" sorts below everything else; a missing component
 * is "" and sorts below a number.
 */
const INT_MAX = 2147483647

export function compareVersions(a: string, b: string): number {
  let p1 = 0
  let p2 = 0
  while (p1 < a.length || p2 < b.length) {
    const [c1, n1] = nextComponent(a, p1)
    const [c2, n2] = nextComponent(b, p2)
    p1 = n1
    p2 = n2
    if (componentsLT(c1, c2)) return -1
    if (componentsLT(c2, c1)) return 1
  }
  return 0
}

function nextComponent(s: string, start: number): [string, number] {
  let p = start
  while (p < s.length && (s[p] === '.' || s[p] === '-')) p++
  if (p >= s.length) return ['', p]
  const from = p
  if (isDigit(s[p])) {
    while (p < s.length && isDigit(s[p])) p++
  } else {
    while (p < s.length && !isDigit(s[p]) && s[p] !== '.' && s[p] !== '-') p++
  }
  return [s.slice(from, p), p]
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9'
}

function toInt(c: string): number | null {
  if (c.length === 0 || !/^[0-9]+$/.test(c)) return null
  const n = Number(c)
  return n <= INT_MAX ? n : null
}

function componentsLT(c1: string, c2: string): boolean {
  const n1 = toInt(c1)
  const n2 = toInt(c2)
  if (n1 !== null && n2 !== null) return n1 < n2
  if (c1 === '' && n2 !== null) return true
  if (c1 === 'pre' && c2 !== 'pre') return true
  if (c2 === 'pre') return false
  if (n2 !== null) return true
  if (n1 !== null) return false
  return Buffer.compare(Buffer.from(c1), Buffer.from(c2)) < 0
}
