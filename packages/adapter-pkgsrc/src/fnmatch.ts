/**
 * POSIX `fnmatch(pattern, string, FNM_PERIOD)` as pkg_install's `glob_match` calls it: `*`, `?`,
 * bracket expressions (`[a-z]`, `[!x]`, `[^x]`), backslash escapes; a leading `.` in the string
 * must be matched by a literal `.`. Package names contain no `/`, so FNM_PATHNAME is irrelevant.
 * Iterative with backtracking to the last `*` (linear in practice, no regular expressions).
 */
export function fnmatch(pattern: string, str: string): boolean {
  if (str.startsWith('.') && !pattern.startsWith('.') && !pattern.startsWith('\\.')) {
    // FNM_PERIOD: a wildcard may not match a leading period.
    if (pattern.length > 0 && (pattern[0] === '*' || pattern[0] === '?' || pattern[0] === '[')) return false
  }
  let p = 0
  let s = 0
  let starP = -1
  let starS = 0
  while (s < str.length) {
    if (p < pattern.length) {
      const c = pattern[p]
      if (c === '*') {
        starP = ++p
        starS = s
        continue
      }
      if (c === '?') {
        p++
        s++
        continue
      }
      if (c === '[') {
        const bracket = matchBracket(pattern, p, str[s])
        if (bracket !== null) {
          if (bracket.matched) {
            p = bracket.end
            s++
            continue
          }
        } else if (str[s] === '[') {
          // An unterminated bracket is an ordinary character.
          p++
          s++
          continue
        }
      } else {
        const literal = c === '\\' && p + 1 < pattern.length ? pattern[p + 1] : c
        if (literal === str[s]) {
          p += c === '\\' && p + 1 < pattern.length ? 2 : 1
          s++
          continue
        }
      }
    }
    if (starP < 0) return false
    p = starP
    s = ++starS
  }
  while (pattern[p] === '*') p++
  return p === pattern.length
}

/** A bracket expression at `pattern[start] === '['`: null when unterminated. */
function matchBracket(pattern: string, start: number, ch: string): { matched: boolean; end: number } | null {
  let i = start + 1
  let negate = false
  if (pattern[i] === '!' || pattern[i] === '^') {
    negate = true
    i++
  }
  let matched = false
  let first = true
  while (i < pattern.length && (first || pattern[i] !== ']')) {
    first = false
    let lo = pattern[i]
    if (lo === '\\' && i + 1 < pattern.length) lo = pattern[++i]
    i++
    if (pattern[i] === '-' && i + 1 < pattern.length && pattern[i + 1] !== ']') {
      let hi = pattern[i + 1]
      i += 2
      if (hi === '\\' && i < pattern.length) hi = pattern[i++]
      if (ch >= lo && ch <= hi) matched = true
    } else if (ch === lo) {
      matched = true
    }
  }
  if (i >= pattern.length) return null
  return { matched: matched !== negate, end: i + 1 }
}
