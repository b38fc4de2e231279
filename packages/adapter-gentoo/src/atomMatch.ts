/**
 * Whether a package matches an atom, with Portage's `match_from_list` semantics:
 * - `=cat/pkg-1.2*` is a prefix match on version-part boundaries (`1.1*` matches `1.1-r1`, not
 *   `1.10`; leading zeros of the first component are ignored, so `45*` matches `045`);
 * - `~` matches any revision of the version; `=` compares with vercmp (so `1.0-r0` == `1.0`);
 * - a slot (and sub-slot) in the atom must equal the package's; `:=`/`:*` alone do not restrict;
 * - USE dependencies need the flags without `(+)`/`(-)` defaults in the package's IUSE, and the
 *   package's USE to agree (a flag missing from IUSE takes the `(+)`/`(-)` default);
 * - `::repo` must equal the package's repository when the package has one.
 * Blocker prefixes do not change what an atom matches.
 */
import type { Atom } from './atom.js'
import { parseCpv, type Cpv } from './cpv.js'
import { compareVersions } from './version.js'

/** What matching needs to know about a package. */
export interface PackageFacts {
  cpv: string
  slot?: string
  subSlot?: string
  repo?: string
  /** Enabled USE flags; undefined when unknown (USE dependencies then do not filter). */
  use?: ReadonlySet<string>
  iuse?: ReadonlySet<string>
}

export function atomMatches(atom: Atom, pkg: PackageFacts): boolean {
  const cpv = parseCpv(pkg.cpv)
  if (cpv === null) return false
  return versionMatches(atom, cpv) && slotMatches(atom, pkg) && useMatches(atom, pkg) && repoMatches(atom, pkg)
}

export function matchFromList<T extends PackageFacts>(atom: Atom, candidates: readonly T[]): T[] {
  return candidates.filter((c) => atomMatches(atom, c))
}

function versionMatches(atom: Atom, x: Cpv): boolean {
  if (atom.wildcard) {
    if (!globToRegExp(atom.cp).test(x.cp)) return false
    // `=cat/pkg-*text*`: the version (with its revision, r0 when absent) contains the text.
    return atom.versionContains === undefined || `${x.versionNoRevision}-r${x.parsed.revision || '0'}`.includes(atom.versionContains)
  }
  if (x.cp !== atom.cp) return false
  const want = atom.cpv
  switch (atom.operator) {
    case '':
      return true
    case '=':
      return compareVersions(x.parsed, want!.parsed) === 0
    case '~':
      return x.versionNoRevision === want!.versionNoRevision
    case '=*':
      return globVersionMatches(want!, x)
    default: {
      const c = compareVersions(x.parsed, want!.parsed)
      if (atom.operator === '>') return c > 0
      if (atom.operator === '>=') return c >= 0
      if (atom.operator === '<') return c < 0
      return c <= 0
    }
  }
}

/** `cat/pkg-<version without its leading zeros>` followed by the revision as written. */
function withoutLeadingZeros(c: Cpv): string {
  let v = c.versionNoRevision.replace(/^0+/, '')
  if (v === '' || !/^[0-9]/.test(v)) v = `0${v}`
  return `${c.cp}-${v}${c.version.slice(c.versionNoRevision.length)}`
}

function globVersionMatches(want: Cpv, x: Cpv): boolean {
  const prefix = withoutLeadingZeros(want)
  const full = withoutLeadingZeros(x)
  if (!full.startsWith(prefix)) return false
  const next = full.charAt(prefix.length)
  if (next === '' || '._-'.includes(next)) return true
  // A prefix ending in a digit must not continue with a digit (1* does not match 10), and one
  // ending in a letter must not continue with a letter.
  return isDigit(prefix.charAt(prefix.length - 1)) !== isDigit(next)
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9'
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+]/g, '\\$&')).join('[^/]*')}$`)
}

function slotMatches(atom: Atom, pkg: PackageFacts): boolean {
  if (atom.slot === undefined || pkg.slot === undefined) return true
  if (pkg.slot !== atom.slot) return false
  return atom.subSlot === undefined || atom.subSlot === (pkg.subSlot ?? pkg.slot)
}

function repoMatches(atom: Atom, pkg: PackageFacts): boolean {
  return atom.repo === undefined || pkg.repo === undefined || pkg.repo === atom.repo
}

function useMatches(atom: Atom, pkg: PackageFacts): boolean {
  const deps = atom.useDeps
  if (deps === undefined || deps.length === 0 || pkg.use === undefined) return true
  const iuse = pkg.iuse ?? new Set<string>()
  const use = pkg.use
  for (const d of deps) {
    const known = iuse.has(d.flag)
    if (d.fallback === '' && !known) return false
    if (d.suffix !== '') continue
    const on = known ? use.has(d.flag) : d.fallback === '(+)'
    if (d.prefix === '' && !on) return false
    if (d.prefix === '-' && on) return false
  }
  return true
}
