/**
 * Package dependency atoms (PMS "Package dependency specifications"; Portage `Atom`):
 *
 *   [!|!!] [op] category/package[-version[*]] [:slot[/subslot] | :* | := | :slot=] [::repo] [use-deps]
 *
 * Parsing is exact: an atom Portage refuses is refused here (`isValidAtom`), including the cases
 * Portage's own tests list (package names ending in a version, `*` with operators other than `=`,
 * `:slot*`, malformed USE dependencies, `::repo` outside Portage's extension).
 * Wildcard atoms (`*\/*`, `sys-fs/*`, `*\/udev`) are accepted only with `allowWildcard`.
 *
 * With an EAPI, its rules apply as Portage's `Atom(text, eapi=...)` applies them: `:slot` from
 * EAPI 1, USE dependencies and `!!` from EAPI 2, USE defaults `(+)`/`(-)` from EAPI 4, slot
 * operators and sub-slots from EAPI 5, `::repo` and build ids (`>=cat/pkg-1.0-3`, with `allowBuildId`) in no EAPI. A USE flag may appear twice in one USE
 * dependency (`a/f[x,x]`, `a/f[x,-x]`) as long as every occurrence has the same default, as in Portage.
 */
import { CATEGORY, PACKAGE, VR, parseCpv, type Cpv } from './cpv.js'
import { atomRules, type AtomRules } from './eapi.js'

export type AtomOperator = '' | '=' | '=*' | '~' | '<' | '<=' | '>' | '>='

export interface UseDep {
  flag: string
  /** '!' (negated conditional/equality), '-' (must be disabled) or ''. */
  prefix: '' | '!' | '-'
  /** Default for a target that lacks the flag in IUSE: '(+)', '(-)' or ''. */
  fallback: '' | '(+)' | '(-)'
  /** '?' (conditional), '=' (equal to the parent's setting) or ''. */
  suffix: '' | '?' | '='
}

export interface Atom {
  /** The atom as written. */
  raw: string
  blocker: '' | '!' | '!!'
  operator: AtomOperator
  category: string
  name: string
  cp: string
  /** The versioned part, for atoms with an operator. */
  cpv?: Cpv
  slot?: string
  subSlot?: string
  slotOperator?: '=' | '*'
  repo?: string
  useDeps?: UseDep[]
  /** A binary package's build id (`=cat/pkg-1.0-3`), only in atoms read without an EAPI. */
  buildId?: number
  /** A Portage wildcard atom (category or package contains `*`). */
  wildcard: boolean
  /** For `=cat/pkg-*text*` wildcard atoms: the text a version must contain. */
  versionContains?: string
}

export interface AtomOptions {
  allowBlockers?: boolean
  allowWildcard?: boolean
  /** `::repo`: true allows, false refuses, undefined allows it only when no EAPI is given. */
  allowRepo?: boolean
  /** Build ids (`>=cat/pkg-1.0-3`, binary packages): off by default as in Portage's `isvalidatom`; never with an EAPI. */
  allowBuildId?: boolean
  eapi?: string
}

const SLOT_LOOSE = String.raw`[\w+./*=-]+`
const REPO = String.raw`[\w][\w-]*`
const ATOM_RE = new RegExp(
  `^(?:([=~]|[><]=?)(${CATEGORY})/(${PACKAGE})(-${VR})?-(${VR})` +
    `|=(${CATEGORY})/(${PACKAGE})(-${VR})?-(${VR})\\*` +
    `|(${CATEGORY})/(${PACKAGE})(-${VR})?)` +
    `(?::(${SLOT_LOOSE}))?(?:::(${REPO}))?(\\[.*\\])?$`,
)
const EXTENDED_CATEGORY = String.raw`[\w+*][\w+.*-]*`
const WILDCARD_PACKAGE = String.raw`[\w+*][\w+*-]*?`
const WILDCARD_RE = new RegExp(
  `^(?:(${EXTENDED_CATEGORY})/(${WILDCARD_PACKAGE})(-${VR})?|=(${EXTENDED_CATEGORY})/(${WILDCARD_PACKAGE})-\\*(\\w+)\\*)` +
    `(?::(${SLOT_LOOSE}))?(?:::(${REPO}))?$`,
)
const SLOT_NAME = String.raw`[\w][\w+.-]*`
const SLOT_DEP_RE = new RegExp(`^(?:(${SLOT_NAME})(?:/(${SLOT_NAME}))?)?([*=])?$`)
const USE_DEP_RE = /^([!-]?)([A-Za-z0-9][A-Za-z0-9+_@-]*)(\(\+\)|\(-\))?([?=]?)$/

/** Parse an atom; null when Portage would refuse it. */
export function parseAtom(text: string, opts: AtomOptions = {}): Atom | null {
  let s = text
  let blocker: Atom['blocker'] = ''
  if (s.startsWith('!')) {
    if (opts.allowBlockers !== true) return null
    blocker = s.startsWith('!!') ? '!!' : '!'
    s = s.slice(blocker.length)
  }
  const rules = atomRules(opts.eapi)
  if (blocker === '!!' && !rules.strongBlocks) return null
  const m = ATOM_RE.exec(s)
  if (m === null) return opts.allowWildcard === true ? parseWildcard(text, s, blocker, opts) : null
  let atom: Atom
  if (m[1] !== undefined) {
    let version = m[5]
    let buildId: number | undefined
    if (m[4] !== undefined) {
      // `>=cat/pkg-1.0-3`: a binary package's build id, when asked for and only without an EAPI
      // (Portage `Atom(allow_build_id=...)`); an integer without leading zeros.
      if (opts.allowBuildId !== true || (opts.eapi !== undefined && opts.eapi !== '')) return null
      if (!/^(?:0|[1-9][0-9]*)$/.test(m[5])) return null
      buildId = Number(m[5])
      version = m[4].slice(1)
    }
    const cpv = parseCpv(`${m[2]}/${m[3]}-${version}`)
    if (cpv === null) return null
    atom = { raw: text, blocker, operator: m[1] as AtomOperator, category: m[2], name: m[3], cp: cpv.cp, cpv, wildcard: false }
    if (buildId !== undefined) atom.buildId = buildId
  } else if (m[6] !== undefined) {
    if (m[8] !== undefined) return null
    const cpv = parseCpv(`${m[6]}/${m[7]}-${m[9]}`)
    if (cpv === null) return null
    atom = { raw: text, blocker, operator: '=*', category: m[6], name: m[7], cp: cpv.cp, cpv, wildcard: false }
  } else {
    if (m[12] !== undefined) return null
    atom = { raw: text, blocker, operator: '', category: m[10], name: m[11], cp: `${m[10]}/${m[11]}`, wildcard: false }
  }
  if (!applySlot(atom, m[13], rules)) return null
  if (m[14] !== undefined) {
    if (!repoAllowed(opts)) return null
    atom.repo = m[14]
  }
  if (m[15] !== undefined) {
    if (!rules.useDeps) return null
    const deps = parseUseDeps(m[15].slice(1, -1))
    if (deps === null) return null
    if (!rules.useDepDefaults && deps.some((d) => d.fallback !== '')) return null
    atom.useDeps = deps
  }
  return atom
}

export function isValidAtom(text: string, opts: AtomOptions = {}): boolean {
  return parseAtom(text, opts) !== null
}

function repoAllowed(opts: AtomOptions): boolean {
  return opts.allowRepo === undefined ? opts.eapi === undefined || opts.eapi === '' : opts.allowRepo
}

function parseWildcard(text: string, s: string, blocker: Atom['blocker'], opts: AtomOptions): Atom | null {
  const m = WILDCARD_RE.exec(s)
  if (m === null || m[3] !== undefined) return null
  const star = m[4] !== undefined
  const category = star ? m[4] : m[1]
  const name = star ? m[5] : m[2]
  // A wildcard stands for one name fragment; `**` is not a pattern Portage accepts.
  if (`${category}/${name}`.includes('**')) return null
  const atom: Atom = { raw: text, blocker, operator: star ? '=*' : '', category, name, cp: `${category}/${name}`, wildcard: true }
  if (star) atom.versionContains = m[6]
  if (!applySlot(atom, m[7], atomRules(opts.eapi))) return null
  if (m[8] !== undefined) {
    if (!repoAllowed(opts)) return null
    atom.repo = m[8]
  }
  return atom
}

function applySlot(atom: Atom, slot: string | undefined, rules: AtomRules): boolean {
  if (slot === undefined) return true
  if (!rules.slotDeps) return false
  const m = SLOT_DEP_RE.exec(slot)
  if (m === null) return false
  if (!rules.slotOperators && (m[2] !== undefined || m[3] !== undefined)) return false
  // `:*` means any slot; it cannot be combined with a slot name.
  if (m[3] === '*' && m[1] !== undefined) return false
  if (m[1] !== undefined) atom.slot = m[1]
  if (m[2] !== undefined) atom.subSlot = m[2]
  if (m[3] !== undefined) atom.slotOperator = m[3] as '=' | '*'
  return true
}

/** The inside of `[...]`: comma-separated, no empty items, `!` only with `?`/`=`, `-` only bare; a flag may repeat with the same default. */
export function parseUseDeps(body: string): UseDep[] | null {
  const deps: UseDep[] = []
  for (const token of body.split(',')) {
    const m = USE_DEP_RE.exec(token)
    if (m === null) return null
    const prefix = m[1] as UseDep['prefix']
    const suffix = m[4] as UseDep['suffix']
    if (prefix === '!' && suffix === '') return null
    if (prefix === '-' && suffix !== '') return null
    const fallback = (m[3] ?? '') as UseDep['fallback']
    // A flag may repeat, but every occurrence must carry the same default (Portage `_use_dep`).
    if (deps.some((d) => d.flag === m[2] && d.fallback !== fallback)) return null
    deps.push({ prefix, flag: m[2], fallback, suffix })
  }
  return deps
}

/**
 * Resolve conditional USE dependencies against the USE of the package that has the dependency
 * (`foo?` → `foo` or nothing, `foo=` → `foo` or `-foo`, ...), as Portage's
 * `evaluate_conditionals` does. Unconditional items are kept.
 */
export function evaluateUseDeps(deps: UseDep[], use: ReadonlySet<string>): UseDep[] {
  const out: UseDep[] = []
  for (const d of deps) {
    const on = use.has(d.flag)
    if (d.suffix === '') out.push(d)
    else if (d.suffix === '?') {
      if (d.prefix === '' && on) out.push({ ...d, prefix: '', suffix: '' })
      else if (d.prefix === '!' && !on) out.push({ ...d, prefix: '-', suffix: '' })
    } else {
      const enable = d.prefix === '' ? on : !on
      out.push({ ...d, prefix: enable ? '' : '-', suffix: '' })
    }
  }
  return out
}

/** Render an atom's use deps back to `[a,-b,c(+)?]` form. */
export function formatUseDeps(deps: UseDep[]): string {
  return `[${deps.map((d) => `${d.prefix}${d.flag}${d.fallback}${d.suffix}`).join(',')}]`
}
