/**
 * Package patterns exactly as pkg_install's `pkg_match` (`lib/opattern.c`): csh-style `{a,b}`
 * alternatives (nesting allowed), dewey relations (`perl>=5.30<6`), shell globs
 * (`foo-1.[0-9]*`), exact names, and finally the implicit `-[0-9]*` suffix (`foo` matches
 * `foo-1.0`). A pattern with unbalanced braces is refused (pkg_install: "Malformed alternate").
 */
import { NipError } from '@nip/core'
import { deweyMatch } from './dewey.js'
import { fnmatch } from './fnmatch.js'

/** `quick_pkg_match`: the first two characters must agree when they are alphanumeric or `-`. */
function quickMatch(pattern: string, pkg: string): boolean {
  const simple = (c: string | undefined) => c !== undefined && /^[A-Za-z0-9-]$/.test(c)
  if (!simple(pattern[0])) return true
  if (pattern[0] !== pkg[0]) return false
  if (!simple(pattern[1])) return true
  return pattern[1] === pkg[1]
}

/** Whether `pkg` (a full PKGNAME, `name-version`) matches `pattern`. */
export function pkgMatch(pattern: string, pkg: string): boolean {
  if (!quickMatch(pattern, pkg)) return false
  if (pattern.includes('{')) return expandAlternatives(pattern).some((alt) => pkgMatch(alt, pkg))
  if (/[<>]/.test(pattern)) return deweyMatch(pattern, pkg)
  if (/[*?[\]]/.test(pattern) && fnmatch(pattern, pkg)) return true
  if (pattern === pkg) return true
  return fnmatch(`${pattern}-[0-9]*`, pkg)
}

/**
 * The alternatives of the first `{…}` group, each with the rest of the pattern appended
 * (`alternate_match`); later groups stay for the recursive match. Patterns without braces are
 * returned as they are.
 */
export function expandAlternatives(pattern: string): string[] {
  const open = pattern.indexOf('{')
  if (open < 0) return [pattern]
  let depth = 0
  let close = -1
  for (let i = open; i < pattern.length; i++) {
    if (pattern[i] === '{') depth++
    else if (pattern[i] === '}' && --depth === 0) {
      close = i
      break
    }
  }
  if (close < 0) {
    throw new NipError('ERR_NIP_BAD_PACKAGE', `Malformed alternate in the pkgsrc pattern ${JSON.stringify(pattern)}.`, {
      hint: 'Every "{" of a pattern needs its "}"; the package or pkg_summary that carries it is broken.',
      data: { pattern },
    })
  }
  const head = pattern.slice(0, open)
  const tail = pattern.slice(close + 1)
  const out: string[] = []
  let start = open + 1
  depth = 0
  for (let i = open + 1; i <= close; i++) {
    const c = pattern[i]
    if (c === '{') depth++
    else if (c === '}' && depth > 0) depth--
    else if ((c === ',' && depth === 0) || i === close) {
      out.push(head + pattern.slice(start, i) + tail)
      start = i + 1
    }
  }
  return out
}

/** Every brace-free pattern a pattern stands for (all groups expanded, in order). */
export function expandAllAlternatives(pattern: string): string[] {
  if (!pattern.includes('{')) return [pattern]
  return expandAlternatives(pattern).flatMap(expandAllAlternatives)
}

/**
 * The package name a brace-free pattern asks for, when it names one literally: the part before
 * the first dewey operator, or before the last `-` of a glob or exact pattern (`foo-[0-9]*`,
 * `foo-1.0`), or the whole pattern (`foo`, which pkg_match extends with `-[0-9]*`). Null when
 * the name itself holds a wildcard (`py3*-foo-[0-9]*`).
 */
export function patternName(pattern: string): string | null {
  const op = pattern.search(/[<>]/)
  let name: string
  if (op >= 0) name = pattern.slice(0, op)
  else {
    const dash = lastDashOutsideBrackets(pattern)
    const tail = dash >= 0 ? pattern.slice(dash + 1) : ''
    // A bare name (no version part): `foo`, `foo-bar` where "bar" does not start a version.
    const versionLike = dash >= 0 && (/^[0-9[*?]/.test(tail) || tail === '')
    name = versionLike ? pattern.slice(0, dash) : pattern
  }
  return name === '' || /[*?[\]{}]/.test(name) ? null : name
}

/** The last `-` not inside a bracket expression (`foo-[0-9]*` → 3), or -1. */
function lastDashOutsideBrackets(pattern: string): number {
  let last = -1
  let inBracket = false
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (inBracket) {
      if (c === ']') inBracket = false
    } else if (c === '[') inBracket = true
    else if (c === '-') last = i
  }
  return last
}
