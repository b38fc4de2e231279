/**
 * Upgrades across every source, and what a plan does to each program's Current.
 *
 * - classifyPlan marks every planned program: a new program (`install`), a new dependency, an
 *   upgrade, a downgrade or a reinstall of what is Current, and a change of source. A plan that
 *   would move Current to a lower version or to another source without the user saying so
 *   (`--allow-downgrade`; a `source:` spec or `--source`; for a downgrade also an explicit
 *   `@version`) is refused with ERR_NIP_CHANGE_REFUSED; every move the user did ask for is still
 *   named in the plan's warnings. Current does not move when it is pinned or with --no-switch,
 *   so nothing is refused then.
 * - findOutdated asks each current program's own source for its best version.
 * - planUpgrade turns `nip upgrade [NAME…]` into install specs (`source:name@version`): the
 *   named programs (all current ones when none is named) and the programs they depend on,
 *   pinned ones left alone; core's install then grafts them in one transaction and one
 *   generation.
 *
 * Contract: reads the database and asks adapters (resolve); writes nothing.
 */
import type { AdapterId, PackageSpec, SourceAdapter } from './adapter.js'
import type { InstallOptions, InstallResult, Plan, PlannedProgram } from './api.js'
import type { Database, ProgramRow } from './db/database.js'
import type { Dispatcher } from './dispatcher.js'
import { NipError, isNipError } from './errors.js'
import type { PlanItem } from './planner.js'
import { isVariantWord, parseSpec } from './spec.js'
import type { Engine } from './transaction.js'
import { compareVersionsNatural } from './versionOrder.js'
import { graftedNameHint } from './suggest.js'

export type PlannedChange = NonNullable<PlannedProgram['change']>

export interface ChangeRefusal {
  name: string
  from: { version: string; source: AdapterId }
  to: { version: string; source: AdapterId }
  downgrade: boolean
  sourceChange: boolean
}

type Installed = Pick<Database, 'programsNamed'>

/** The active Current of `name` (the version the farm shows), if any. */
function currentOf(db: Installed, name: string): ProgramRow | undefined {
  return db.programsNamed(name).find((p) => p.current === 1 && p.active !== 0)
}

/**
 * Sets change/from/sourceChange/movesCurrent on each item; returns the warnings for the plan and
 * the moves of Current the user did not ask for.
 */
export function classifyPlan(
  items: PlanItem[],
  asked: PackageSpec[],
  opts: { db: Installed; noSwitch?: boolean; allowDowngrade?: boolean; reinstall?: boolean },
): { warnings: string[]; refusals: ChangeRefusal[] } {
  const warnings: string[] = []
  const refusals: ChangeRefusal[] = []
  for (const item of items) {
    const cur = currentOf(opts.db, item.name)
    if (cur === undefined) {
      item.change = item.reason === 'dependency' ? 'new-dependency' : 'install'
      item.movesCurrent = true
      continue
    }
    const sameSource = cur.source === item.source
    const cmp = sameSource ? item.adapter.compareVersions(item.version, cur.version) : compareVersionsNatural(item.version, cur.version)
    item.change = cur.version === item.version ? 'reinstall' : cmp > 0 ? 'upgrade' : cmp < 0 ? 'downgrade' : 'reinstall'
    item.from = { version: cur.version, source: cur.source }
    if (!sameSource) item.sourceChange = true
    item.movesCurrent = cur.version !== item.version && !(cur.pinned === 1) && !opts.noSwitch
    if (!item.movesCurrent || (item.change !== 'downgrade' && sameSource)) continue
    const spec = asked.find((s) => s.name.toLowerCase() === item.name.toLowerCase())
    const downgradeSaid = opts.allowDowngrade === true || spec?.version !== undefined
    const sourceSaid = spec?.source !== undefined || spec?.file !== undefined
    const what = [!sameSource ? `from ${cur.source} to ${item.source}` : '', item.change === 'downgrade' ? 'a lower version' : ''].filter(Boolean).join(', ')
    const move = `${item.name}: Current moves from ${cur.version} (${cur.source}) to ${item.version} (${item.source}) — ${what}`
    if ((item.change === 'downgrade' && !downgradeSaid) || (!sameSource && !sourceSaid)) {
      refusals.push({ name: item.name, from: item.from, to: { version: item.version, source: item.source }, downgrade: item.change === 'downgrade', sourceChange: !sameSource })
    } else warnings.push(move)
  }
  return { warnings, refusals }
}

export function refusalLine(r: ChangeRefusal): string {
  const what = [r.sourceChange ? `another source (${r.from.source} → ${r.to.source})` : '', r.downgrade ? 'a lower version' : ''].filter(Boolean).join(' and ')
  return `${r.name}: Current would move from ${r.from.version} (${r.from.source}) to ${r.to.version} (${r.to.source}): ${what}`
}

export function refusalError(refusals: ChangeRefusal[]): NipError {
  const first = refusals[0]!
  const hints: string[] = []
  if (refusals.some((r) => r.sourceChange)) hints.push(`name the source (${first.to.source}:${first.name})`)
  if (refusals.some((r) => r.downgrade)) hints.push('pass --allow-downgrade')
  return new NipError('ERR_NIP_CHANGE_REFUSED', `The plan would move Current without being told to:\n${refusals.map((r) => `  ${refusalLine(r)}`).join('\n')}`, {
    hint: `Say so: ${hints.join(', or ')}; or graft beside the current version with --no-switch.`,
    data: { refusals },
  })
}

// ---- outdated and upgrade -------------------------------------------------------------------

export interface OutdatedEntry {
  name: string
  source: AdapterId
  installed: string
  /** The best version the program's source offers now (absent when it offers none). */
  available?: string
  /** What grafting `available` would be: upgrade, downgrade (the source offers only lower versions) or none. */
  status: 'upgrade' | 'downgrade' | 'up-to-date' | 'not-offered' | 'source-failed'
  pinned: boolean
  explicit: boolean
  /** Why the source could not answer (status source-failed). */
  error?: { code: string; message: string }
}

/** The current programs (those named, and what they depend on; every one when none is named). */
export function upgradeTargets(db: Pick<Database, 'programs' | 'activeNamed' | 'dependencies'>, names: string[]): ProgramRow[] {
  const current = db.programs().filter((p) => p.current === 1 && p.active !== 0)
  if (names.length === 0) return current.sort((a, b) => a.name.localeCompare(b.name))
  const byName = new Map(current.map((p) => [p.name.toLowerCase(), p]))
  const out = new Map<string, ProgramRow>()
  const queue: ProgramRow[] = []
  for (const n of names) {
    const row = byName.get(n.toLowerCase())
    if (row === undefined) {
      const kept = db.activeNamed(n)
      throw new NipError('ERR_NIP_NOT_INSTALLED', `${n} is not grafted.`, {
        hint: kept.length > 0 ? `No version of ${n} is Current (nip switch).` : graftedNameHint(db.programs().filter((p) => p.active === 1).map((p) => p.name), n, 'nip upgrade upgrades grafted programs; nip install grafts new ones.').hint,
        data: { name: n },
      })
    }
    queue.push(row)
  }
  while (queue.length > 0) {
    const p = queue.shift()!
    if (out.has(p.name.toLowerCase())) continue
    out.set(p.name.toLowerCase(), p)
    for (const d of db.dependencies(p.id)) {
      const dep = byName.get(d.name.toLowerCase())
      if (dep !== undefined && !out.has(dep.name.toLowerCase())) queue.push(dep)
    }
  }
  return [...out.values()]
}

/** What each program's source offers now, next to what is grafted. */
export async function findOutdated(dispatcher: Dispatcher, programs: ProgramRow[], overrides: Map<string, PackageSpec> = new Map()): Promise<(OutdatedEntry & { adapter?: SourceAdapter; spec: PackageSpec })[]> {
  const out: (OutdatedEntry & { adapter?: SourceAdapter; spec: PackageSpec })[] = []
  for (const p of programs) {
    const asked = overrides.get(p.name.toLowerCase())
    const source = asked?.source ?? p.source
    // The build's variants (Gentoo USE) stay what they were: a source that honours variants
    // records them in the package id, after the first space.
    const variants = source === p.source ? variantsOf(p.package_id) : []
    const spec: PackageSpec = { raw: asked?.raw ?? p.name, name: p.name, source, ...(asked?.version !== undefined ? { version: asked.version } : {}), ...(variants.length > 0 ? { variants } : {}) }
    const base = { name: p.name, source, installed: p.version, pinned: p.pinned === 1, explicit: p.explicit === 1, spec }
    let adapter: SourceAdapter
    try {
      adapter = await dispatcher.adapter(source)
      const refs = await adapter.resolve(spec, dispatcher.context(source))
      const best = refs[0]
      if (best === undefined) {
        out.push({ ...base, status: 'not-offered', adapter })
        continue
      }
      const cmp = source === p.source ? adapter.compareVersions(best.version, p.version) : best.version === p.version ? 0 : compareVersionsNatural(best.version, p.version)
      out.push({ ...base, available: best.version, status: cmp > 0 ? 'upgrade' : cmp < 0 ? 'downgrade' : 'up-to-date', adapter })
    } catch (e) {
      out.push({ ...base, status: 'source-failed', error: { code: isNipError(e) ? e.code : 'ERR_NIP_INTERNAL', message: (e as Error).message } })
    }
  }
  return out
}

/** Variant words recorded in a package id (`binpkg:…@@URL +foo -bar`), in order. */
export function variantsOf(packageId: string): string[] {
  const space = packageId.indexOf(' ')
  if (space < 0) return []
  const words = packageId.slice(space + 1).split(/\s+/).filter(Boolean)
  return words.every(isVariantWord) ? words : []
}

export interface UpgradeSelection {
  /** Install specs (`source:name@version`) for the programs to upgrade. */
  specs: string[]
  /** Lower-case names of the programs among them that are dependencies (stay non-explicit). */
  dependencies: string[]
  /** Programs left as they are, and why. */
  held: { name: string; version: string; reason: 'pinned' | 'up-to-date' | 'not-offered' | 'downgrade' | 'source-failed' | 'grafted-not-current'; available?: string; message?: string }[]
  /** The specs as the user typed them (what they said about sources and versions). */
  asked: PackageSpec[]
}

export async function planUpgrade(opts: { db: Pick<Database, 'programs' | 'activeNamed' | 'dependencies'>; dispatcher: Dispatcher; names: string[]; allowDowngrade?: boolean }): Promise<UpgradeSelection> {
  const grafted = (name: string, version: string | undefined): boolean => version !== undefined && opts.db.activeNamed(name).some((p) => p.version === version)
  const known = opts.dispatcher.knownIds()
  const asked = opts.names.map((n) => parseSpec(n, { knownSources: known }))
  for (const s of asked) {
    if (s.file !== undefined || (s.variants?.length ?? 0) > 0) {
      throw new NipError('ERR_NIP_BAD_SPEC', `nip upgrade takes program names ([source:]name[@version]), not ${s.raw}.`, { hint: 'Use nip install for files and variants.', data: { spec: s.raw } })
    }
  }
  const targets = upgradeTargets(opts.db, asked.map((s) => s.name))
  const overrides = new Map(asked.map((s) => [s.name.toLowerCase(), s]))
  const found = await findOutdated(opts.dispatcher, targets, overrides)
  const sel: UpgradeSelection = { specs: [], dependencies: [], held: [], asked }
  /** The newest version of f's program grafted from its source, when it is newer than Current. */
  const newestAbove = (f: (typeof found)[number]): string | undefined => {
    const row = targets.find((t) => t.name === f.name)
    if (row === undefined || f.adapter === undefined) return undefined
    let best: string | undefined
    for (const p of opts.db.activeNamed(f.name)) {
      if (p.source !== row.source || p.version === row.version) continue
      if (f.adapter.compareVersions(p.version, row.version) > 0 && (best === undefined || f.adapter.compareVersions(p.version, best) > 0)) best = p.version
    }
    return best
  }
  let newer: string | undefined
  for (const f of found) {
    const held = (reason: UpgradeSelection['held'][number]['reason'], message?: string) =>
      sel.held.push({ name: f.name, version: f.installed, reason, ...(f.available !== undefined ? { available: f.available } : {}), ...(message ? { message } : {}) })
    if (f.pinned) held('pinned')
    // The user switched Current away from a newer grafted version: held, saying what is Current,
    // what is newest, and how to switch (an explicit name@version upgrades anyway).
    else if (f.spec.version === undefined && (newer = newestAbove(f)) !== undefined) {
      const offers = f.available !== undefined && f.available !== newer && f.status === 'upgrade' && f.adapter!.compareVersions(f.available, newer) > 0 ? `; its source offers ${f.available} (nip upgrade ${f.name}@${f.available})` : ''
      held('grafted-not-current', `held: Current is ${f.installed}, newest grafted ${newer} — nip switch ${f.name} ${newer}${offers}`)
    } else if (f.status === 'source-failed') held('source-failed', f.error?.message)
    else if (f.status === 'not-offered') held('not-offered')
    else if (f.status === 'up-to-date' && f.source === targets.find((t) => t.name === f.name)?.source) held('up-to-date')
    else if (f.status === 'downgrade' && !opts.allowDowngrade && f.spec.version === undefined) held('downgrade')
    // Already grafted beside Current from another source or below it: install would skip it.
    else if (grafted(f.name, f.available)) held('grafted-not-current', `held: ${f.available} is grafted beside Current ${f.installed} — nip switch ${f.name} ${f.available}`)
    else {
      sel.specs.push([`${f.source}:${f.name}@${f.available}`, ...(f.spec.variants ?? [])].join(' '))
      if (!f.explicit) sel.dependencies.push(f.name.toLowerCase())
    }
  }
  return sel
}

// ---- the facade's two commands ---------------------------------------------------------------

export interface OutdatedResult {
  programs: OutdatedEntry[]
}

export interface UpgradeOptions {
  dryRun?: boolean
  /** Let Current move to a lower version (a source that now offers only lower versions). */
  allowDowngrade?: boolean
  command?: string
}

export interface UpgradeResult extends InstallResult {
  /** Programs left as they are, and why (pinned, up-to-date, not offered, a downgrade not allowed, the source failed). */
  held: UpgradeSelection['held']
}

export async function outdatedOf(db: Pick<Database, 'programs' | 'activeNamed' | 'dependencies'>, dispatcher: Dispatcher, names: string[]): Promise<OutdatedResult> {
  const known = dispatcher.knownIds()
  const asked = names.map((n) => parseSpec(n, { knownSources: known }))
  const targets = upgradeTargets(db, asked.map((s) => s.name))
  const found = await findOutdated(dispatcher, targets, new Map(asked.map((s) => [s.name.toLowerCase(), s])))
  return { programs: found.map(({ adapter: _a, spec: _s, ...e }) => e) }
}

export async function runUpgrade(engine: Engine, db: Database, dispatcher: Dispatcher, names: string[], opts: UpgradeOptions): Promise<UpgradeResult> {
  const sel = await planUpgrade({ db, dispatcher, names, ...(opts.allowDowngrade ? { allowDowngrade: true } : {}) })
  const heldWarnings = sel.held
    .filter((h) => h.reason === 'downgrade' || h.reason === 'source-failed' || h.reason === 'grafted-not-current')
    .map((h) =>
      h.reason === 'downgrade'
        ? `${h.name} ${h.version}: its source offers only ${h.available}, a lower version (nip upgrade --allow-downgrade ${h.name})`
        : h.reason === 'grafted-not-current'
          ? `${h.name}: ${h.message}`
          : `${h.name} ${h.version}: its source could not be asked (${h.message})`,
    )
  const installOpts: InstallOptions = {
    command: opts.command ?? `upgrade ${names.join(' ')}`.trim(),
    asked: sel.asked.map((s) => s.raw),
    dependencies: sel.dependencies,
    kind: 'upgrade',
    ...(opts.allowDowngrade ? { allowDowngrade: true } : {}),
    ...(opts.dryRun ? { dryRun: true } : {}),
  }
  if (sel.specs.length === 0) {
    const plan: Plan = { action: 'install', programs: [], downloadSize: 0, installedSize: 0, freeSpace: 0, warnings: heldWarnings }
    return { plan, dryRun: !!opts.dryRun, grafted: [], skipped: [], links: { added: 0 }, held: sel.held }
  }
  if (opts.dryRun) {
    const { plan, skipped } = await engine.planInstall(sel.specs, installOpts)
    plan.warnings.push(...heldWarnings)
    return { plan, dryRun: true, grafted: [], skipped, links: { added: 0 }, held: sel.held }
  }
  const r = await engine.install(sel.specs, installOpts)
  r.plan.warnings.push(...heldWarnings)
  return { ...r, held: sel.held }
}
