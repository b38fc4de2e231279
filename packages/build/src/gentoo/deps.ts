/**
 * The dependencies of an ebuild for the USE it is built with, and how each is satisfied before
 * Portage runs (docs/gentoo.md, "Dependencies"):
 *
 * 1. the ebuild's DEPEND, BDEPEND, RDEPEND, PDEPEND and IDEPEND are reduced by the Gentoo
 *    adapter's dependency reduction (USE conditionals, `|| ( … )` alternatives, blockers apart);
 * 2. each atom, in this order: a program nip grafted in this root from the gentoo source (built
 *    by `nip build --source gentoo` or from a binhost) whose CPV, slot (when recorded) and USE
 *    meet the atom (knownSatisfies: the adapter's USE-dependency matching) → `grafted`; a CPV of
 *    `[build] gentoo-provided` → `provided`; a CPV the host provides (the shipped table of
 *    hostPackages.ts checked against dpkg's status) → `host`; the ebuild repository has a
 *    matching version → `build` (built first, then grafted); otherwise `unmet`;
 *    `provided` and `host` entries ignore USE dependencies and slots, as Portage does for
 *    package.provided entries (match_from_list keeps candidates that carry no USE or slot);
 * 3. an `|| ( … )` group takes the first alternative already satisfied, else the first one the
 *    repository can build, else it is unmet (naming every alternative).
 * Blockers are listed, not enforced (nothing nip grafts is installed into Portage's ROOT).
 * Everything satisfied is written to the namespace's `/etc/portage/profile/package.provided`, so
 * emerge's own resolver checks the same graph.
 */
import { atomMatches, parseAtom, reduceDependencies, type EbuildMetadata, type UseDep } from '@nip/adapter-gentoo'

export const DEP_CLASSES = ['DEPEND', 'BDEPEND', 'RDEPEND', 'PDEPEND', 'IDEPEND'] as const
export type DepClass = (typeof DEP_CLASSES)[number]

export interface EbuildDependency {
  /** The atom, or `|| ( a b )` for a group of alternatives. */
  atom: string
  /** The alternatives in order (one for a plain atom). */
  alternatives: string[]
  classes: DepClass[]
}

/** The ebuild's dependencies with `use` enabled; the same atom in several classes is one entry. */
export function ebuildDependencies(md: Pick<EbuildMetadata, 'depend' | 'bdepend' | 'rdepend' | 'pdepend' | 'idepend' | 'eapi'>, use: Iterable<string>): { dependencies: EbuildDependency[]; blockers: string[] } {
  const enabled = [...use]
  const byAtom = new Map<string, EbuildDependency>()
  const blockers = new Set<string>()
  const strings: Record<DepClass, string> = { DEPEND: md.depend, BDEPEND: md.bdepend, RDEPEND: md.rdepend, PDEPEND: md.pdepend, IDEPEND: md.idepend }
  for (const cls of DEP_CLASSES) {
    const text = strings[cls] ?? ''
    if (!text.trim()) continue
    const reduced = reduceDependencies(text, enabled, md.eapi)
    for (const b of reduced.conflicts) blockers.add(b)
    for (const d of reduced.dependencies) {
      const alternatives = d.anyOf && d.anyOf.length > 0 ? d.anyOf.map((a) => a.raw) : [d.raw]
      const key = d.raw
      const seen = byAtom.get(key)
      if (seen) {
        if (!seen.classes.includes(cls)) seen.classes.push(cls)
      } else byAtom.set(key, { atom: key, alternatives, classes: [cls] })
    }
  }
  return { dependencies: [...byAtom.values()], blockers: [...blockers] }
}

/** A package that satisfies atoms without a build: grafted by nip, configured, or on the host. */
export interface KnownPackage {
  cpv: string
  /** SLOT and sub-slot when known (recorded for programs nip built); unknown matches any `:slot`. */
  slot?: string
  subSlot?: string
  /**
   * For `grafted`: the USE flags it was built with (enabled), and either its whole IUSE (`iuse`,
   * recorded for programs nip built) or the flags known to be off (`off`, the `-flag` words of a
   * binhost program's id). Without them a USE dependency is not satisfied by it.
   */
  use?: string[]
  iuse?: string[]
  off?: string[]
  how: 'grafted' | 'provided' | 'host'
  /** For `grafted`: the program in this root. */
  program?: { name: string; version: string }
  /** For `host`: the Debian package and version it was read from. */
  debian?: string
}

export type DecisionKind = 'grafted' | 'provided' | 'host' | 'build' | 'unmet'

export interface DependencyDecision {
  atom: string
  classes: DepClass[]
  how: DecisionKind
  /** The alternative chosen (the atom itself for a plain atom). */
  chosen?: string
  /** The CPV that satisfies it (grafted, provided, host) or the one to build. */
  cpv?: string
  program?: { name: string; version: string }
  debian?: string
}

const HOW_ORDER: KnownPackage['how'][] = ['grafted', 'provided', 'host']

/** Whether `cpv` (with its slot when known) matches the atom text; false for an atom that does not parse. */
export function cpvMatches(atomText: string, pkg: { cpv: string; slot?: string }): boolean {
  const atom = parseAtom(atomText, { allowRepo: true })
  if (!atom || atom.blocker) return false
  return atomMatches(atom, { cpv: pkg.cpv, ...(pkg.slot ? { slot: pkg.slot } : {}) })
}

/** The USE requirements of an atom (`[a,-b,c(+)]`; conditional forms are already evaluated by the reduction): [] for none or an atom that does not parse. */
export function atomUseDeps(atomText: string): UseDep[] {
  const atom = parseAtom(atomText, { allowRepo: true })
  return atom?.useDeps?.filter((d) => d.suffix === '') ?? []
}

/**
 * Whether a known package satisfies the atom text. Version, slot and sub-slot (when the package's
 * are known) always count. USE requirements: `provided` and `host` entries ignore them, as
 * Portage's match_from_list does for package.provided entries (they carry no USE); a `grafted`
 * program meets them through the adapter's USE-dependency matching when its USE and IUSE are
 * recorded, or when every required flag is one its id names on or off; else it does not.
 */
export function knownSatisfies(atomText: string, k: KnownPackage): boolean {
  const atom = parseAtom(atomText, { allowRepo: true })
  if (!atom || atom.blocker) return false
  const facts = { cpv: k.cpv, ...(k.slot ? { slot: k.slot } : {}), ...(k.slot && k.subSlot ? { subSlot: k.subSlot } : {}) }
  const deps = atom.useDeps?.filter((d) => d.suffix === '') ?? []
  if (deps.length === 0 || k.how !== 'grafted') return atomMatches({ ...atom, useDeps: undefined }, facts)
  if (k.use === undefined) return false
  if (k.iuse !== undefined) return atomMatches(atom, { ...facts, use: new Set(k.use), iuse: new Set(k.iuse) })
  const named = new Set([...k.use, ...(k.off ?? [])])
  if (deps.some((d) => !named.has(d.flag))) return false
  return atomMatches(atom, { ...facts, use: new Set(k.use), iuse: named })
}

/**
 * Decides each dependency. `buildable(atom)` answers the CPV the ebuild repository would build
 * for an atom (its highest matching version), or null.
 */
export function decideDependencies(deps: readonly EbuildDependency[], known: readonly KnownPackage[], buildable: (atom: string) => string | null): DependencyDecision[] {
  return deps.map((d) => {
    for (const how of HOW_ORDER) {
      for (const alt of d.alternatives) {
        const hit = known.find((k) => k.how === how && knownSatisfies(alt, k))
        if (hit) return { atom: d.atom, classes: d.classes, how, chosen: alt, cpv: hit.cpv, ...(hit.program ? { program: hit.program } : {}), ...(hit.debian ? { debian: hit.debian } : {}) }
      }
    }
    for (const alt of d.alternatives) {
      const cpv = buildable(alt)
      if (cpv) return { atom: d.atom, classes: d.classes, how: 'build' as const, chosen: alt, cpv }
    }
    return { atom: d.atom, classes: d.classes, how: 'unmet' as const }
  })
}

/** The lines of `package.provided`: every CPV a decision names as satisfied (sorted, once each). */
export function packageProvided(decisions: readonly DependencyDecision[]): string {
  const cpvs = [...new Set(decisions.filter((d) => d.how === 'grafted' || d.how === 'provided' || d.how === 'host').map((d) => d.cpv!))].sort()
  return cpvs.length > 0 ? `# written by nip build --source gentoo: what nip or the host provides\n${cpvs.join('\n')}\n` : ''
}

/** What a gentoo build records beside its stored output, read from the GPKG's metadata. */
export interface GentooBuildRecord {
  cpv: string
  slot: string
  subSlot: string
  /** The enabled flags of IUSE. */
  use: string[]
  iuse: string[]
}

/** The GPKG metadata's SLOT, USE and IUSE as a record (IUSE's `+`/`-` defaults dropped, USE limited to IUSE). */
export function buildRecordOf(cpv: string, metadata: ReadonlyMap<string, string>): GentooBuildRecord {
  const [slot, subSlot] = (metadata.get('SLOT') ?? '0').trim().split('/')
  const iuse = [...new Set((metadata.get('IUSE') ?? '').split(/\s+/).filter(Boolean).map((f) => f.replace(/^[+-]/, '')))].sort()
  const use = (metadata.get('USE') ?? '').split(/\s+/).filter((f) => iuse.includes(f))
  return { cpv, slot: slot || '0', subSlot: subSlot || slot || '0', use: [...new Set(use)].sort(), iuse }
}

/**
 * The USE a grafted gentoo program's package id tells: a build's version words (`1.0~nls~ssl`:
 * the enabled flags of IUSE; which other flags IUSE has is in its build record), a binhost or
 * ebuild id's variant words (`+vaapi -gpl`: those flags on or off, others unknown).
 */
export function graftedUse(row: { source: string; version: string; package_id: string }): { use?: string[]; off?: string[] } {
  const [head, ...words] = row.package_id.split(' ')
  if (row.source === 'build' && head.startsWith('gentoo:')) {
    const i = row.version.indexOf('~')
    return { use: i < 0 ? [] : row.version.slice(i + 1).split('~').filter(Boolean) }
  }
  if (row.source === 'gentoo') return { use: words.filter((w) => w.startsWith('+')).map((w) => w.slice(1)), off: words.filter((w) => w.startsWith('-')).map((w) => w.slice(1)) }
  return {}
}

/** The CPV of a program nip grafted from the gentoo source, read from its package id; null for another source. */
export function graftedCpv(row: { source: string; name: string; version: string; package_id: string }): string | null {
  const head = row.package_id.split(' ')[0]
  if (row.source === 'build' && head.startsWith('gentoo:')) return head.slice('gentoo:'.length).replace(/#.*$/, '')
  if (row.source === 'gentoo') {
    if (head.startsWith('ebuild:')) return head.slice('ebuild:'.length)
    // `binpkg:<category>/<name>/<file>@@host` or `binpkg:<category>/<file>@@host`
    const m = /^binpkg:([^/@]+)\//.exec(head)
    if (m) return `${m[1]}/${row.name}-${row.version}`
  }
  return null
}
