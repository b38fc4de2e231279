/**
 * Planner: turns specs into an install plan — the requested programs and their dependency
 * closure, with what is already grafted skipped — without side effects (`--dry-run` prints
 * exactly this). Dependency semantics (version ordering, constraint syntax) belong to the
 * source: the planner asks the adapter (`satisfies`, `compareVersions`).
 *
 * Variants (`ffmpeg +vaapi`) belong to the spec they follow: they reach the adapter's resolve
 * through PackageSpec.variants and its describe/fetch through PackageRef.variants, and the plan
 * shows them per program. Dependencies are planned without variants. A source that does not
 * declare `acceptsVariants` refuses them (see resolveSpec).
 */
import type { DependencySpec, PackageManifest, PackageRef, PackageSpec, SourceAdapter } from './adapter.js'
import type { PlannedProgram } from './api.js'
import type { Database, ProgramRow } from './db/database.js'
import type { Dispatcher } from './dispatcher.js'
import { NipError } from './errors.js'
import { isSafeComponent } from './layout.js'

export interface PlanItem extends PlannedProgram {
  ref: PackageRef
  adapter: SourceAdapter
  manifest: PackageManifest
}

export interface Unsatisfied {
  dependency: string
  requiredBy: string
  reason: string
}

export async function planInstall(opts: {
  specs: PackageSpec[]
  dispatcher: Dispatcher
  installed: Pick<Database, 'programsNamed'> | null
  reinstall?: boolean
  /** Lower-case names among the specs that are planned as dependencies (nip upgrade of a dependency). */
  dependencies?: string[]
}): Promise<{ items: PlanItem[]; skipped: { name: string; version: string; reason: string }[] }> {
  const items: PlanItem[] = []
  const skipped: { name: string; version: string; reason: string }[] = []
  const unsatisfied: Unsatisfied[] = []
  const byName = new Map<string, PlanItem[]>()
  const queue: PlanItem[] = []

  const add = async (ref: PackageRef, adapter: SourceAdapter, reason: 'explicit' | 'dependency', requiredBy: string[]) => {
    const variants = ref.variants && ref.variants.length > 0 ? ref.variants : undefined
    if (!isSafeComponent(ref.name) || !isSafeComponent(ref.version)) {
      throw new NipError('ERR_NIP_BAD_NAME', `The source ${ref.source} offers "${ref.name}" "${ref.version}", which is not a safe program name/version.`, {
        hint: 'Names and versions must be single path components that do not start with "." (and not Current or Settings).',
        data: { ref },
      })
    }
    const key = ref.name.toLowerCase()
    const existing = samePlanned(byName.get(key), ref, reason)
    if (existing) {
      existing.requiredBy.push(...requiredBy)
      if (reason === 'explicit') existing.reason = 'explicit'
      return
    }
    const ctx = opts.dispatcher.context(adapter.id)
    const manifest = await adapter.describe(ref, ctx)
    const item: PlanItem = {
      name: ref.name,
      version: ref.version,
      source: ref.source,
      packageId: ref.id,
      reason,
      requiredBy: [...requiredBy],
      ...(variants ? { variants } : {}),
      downloadSize: manifest.downloadSize,
      installedSize: manifest.installedSize,
      ref,
      adapter,
      manifest,
    }
    byName.set(key, [...(byName.get(key) ?? []), item])
    queue.push(item)
  }

  for (const spec of opts.specs) {
    const { adapter, refs } = await resolveSpec(opts.dispatcher, spec)
    const ref: PackageRef = spec.variants && spec.variants.length > 0 ? { ...refs[0], variants: refs[0].variants ?? spec.variants } : refs[0]
    const have = opts.installed?.programsNamed(ref.name).find((p) => p.version === ref.version)
    if (have && !opts.reinstall) {
      skipped.push({ name: have.name, version: have.version, reason: 'already-installed' })
      continue
    }
    await add(ref, adapter, opts.dependencies?.includes(ref.name.toLowerCase()) ? 'dependency' : 'explicit', [])
  }

  // Breadth-first over dependencies; the order of `items` puts dependencies before dependents.
  for (let i = 0; i < queue.length; i++) {
    const item = queue[i]
    for (const dep of item.manifest.dependencies) {
      const alternatives = dep.anyOf && dep.anyOf.length > 0 ? dep.anyOf : [dep]
      let done = false
      const reasons: string[] = []
      for (const alt of alternatives) {
        const installed = opts.installed?.programsNamed(alt.name).find((p: ProgramRow) => item.adapter.satisfies(alt, p.version))
        if (installed) {
          done = true
          break
        }
        const plannedVersions = byName.get(alt.name.toLowerCase()) ?? []
        const planned = plannedVersions.find((p) => item.adapter.satisfies(alt, p.version))
        if (planned) {
          planned.requiredBy.push(item.name)
          done = true
          break
        }
        // No planned version satisfies it: another version of the same name is planned beside
        // them (GoboLinux keeps versions side by side), if the source has one.
        const found = await resolveDependency(opts.dispatcher, item.adapter, alt)
        if (found) {
          await add(found, item.adapter, 'dependency', [item.name])
          done = true
          break
        }
        for (const p of plannedVersions) reasons.push(`${p.name} ${p.version} is planned but does not satisfy ${alt.raw}`)
        reasons.push(`${item.adapter.id} has no version of ${alt.name} matching "${alt.constraint || 'any'}"`)
      }
      if (!done) unsatisfied.push({ dependency: dep.raw, requiredBy: `${item.name} ${item.version}`, reason: reasons.join('; ') })
    }
    items.push(item)
  }

  if (unsatisfied.length > 0) {
    const lines = unsatisfied.map((u) => `  ${u.dependency} (required by ${u.requiredBy}): ${u.reason}`).join('\n')
    throw new NipError('ERR_NIP_UNSATISFIED_DEPENDENCY', `Some dependencies cannot be satisfied:\n${lines}`, {
      hint: 'Graft a satisfying version first, or configure a source that has it.',
      data: { unsatisfied },
    })
  }
  // Dependencies first: reverse the discovery order but keep explicit requests' relative order stable.
  const ordered = orderDependenciesFirst(items)
  return { items: ordered, skipped }
}

/**
 * The candidates for a spec, like Dispatcher.resolve, minding variants: with variants and a
 * named source, that source is asked directly so its own refusal (an unknown flag, no build with
 * the requested USE and the nearest ones) reaches the user unwrapped; a source that does not
 * accept variants is refused with ERR_NIP_BAD_SPEC.
 */
export async function resolveSpec(dispatcher: Dispatcher, spec: PackageSpec): Promise<{ adapter: SourceAdapter; refs: PackageRef[] }> {
  const variants = spec.variants ?? []
  if (variants.length === 0) return dispatcher.resolve(spec)
  if (spec.source !== undefined && spec.file === undefined) {
    const adapter = await dispatcher.adapter(spec.source)
    refuseVariants(adapter, spec)
    const refs = await adapter.resolve(spec, dispatcher.context(adapter.id))
    if (refs.length > 0) return { adapter, refs }
  }
  const found = await dispatcher.resolve(spec)
  refuseVariants(found.adapter, spec)
  return found
}

function refuseVariants(adapter: SourceAdapter, spec: PackageSpec): void {
  if (adapter.acceptsVariants || !spec.variants || spec.variants.length === 0) return
  throw new NipError('ERR_NIP_BAD_SPEC', `${adapter.id} packages have no variants (${spec.variants.join(' ')} was given for ${spec.name}).`, {
    hint: 'Drop the variant words, or ask a source that has variants (e.g. --source=gentoo for USE flags).',
    data: { spec: spec.raw, source: adapter.id, variants: spec.variants },
  })
}

async function resolveDependency(dispatcher: Dispatcher, adapter: SourceAdapter, dep: DependencySpec): Promise<PackageRef | null> {
  const spec: PackageSpec = { raw: dep.raw, name: dep.name, source: adapter.id }
  const refs = await adapter.resolve(spec, dispatcher.context(adapter.id))
  return refs.find((r) => adapter.satisfies(dep, r.version)) ?? null
}

/**
 * The planned item a new request is merged into: for an explicit request any planned version of
 * the name (the first request wins, as before); for a dependency only the same version, so two
 * dependents referencing two exact versions get both.
 */
function samePlanned(planned: PlanItem[] | undefined, ref: PackageRef, reason: 'explicit' | 'dependency'): PlanItem | undefined {
  if (planned === undefined || planned.length === 0) return undefined
  return reason === 'explicit' ? planned[0] : planned.find((p) => p.version === ref.version)
}

function orderDependenciesFirst(items: PlanItem[]): PlanItem[] {
  const byName = new Map<string, PlanItem[]>()
  for (const i of items) byName.set(i.name.toLowerCase(), [...(byName.get(i.name.toLowerCase()) ?? []), i])
  const out: PlanItem[] = []
  const state = new Map<PlanItem, 'visiting' | 'done'>()
  const visit = (item: PlanItem) => {
    if (state.get(item)) return // done, or a cycle: the graft is atomic as a whole, so any order is safe
    state.set(item, 'visiting')
    for (const dep of item.manifest.dependencies) {
      for (const alt of dep.anyOf ?? [dep]) {
        for (const d of byName.get(alt.name.toLowerCase()) ?? []) if (item.adapter.satisfies(alt, d.version)) visit(d)
      }
    }
    state.set(item, 'done')
    out.push(item)
  }
  for (const i of items) visit(i)
  return out
}

/**
 * When a plan holds several versions of one name (a closure referencing two exact versions), only
 * one of them becomes Current: the one asked for, else the highest by the source's order. Returns
 * the items that may become Current (every item whose name is planned once).
 */
export function currentCandidates(items: PlanItem[]): Set<PlanItem> {
  const groups = new Map<string, PlanItem[]>()
  for (const i of items) groups.set(i.name.toLowerCase(), [...(groups.get(i.name.toLowerCase()) ?? []), i])
  const out = new Set<PlanItem>()
  for (const group of groups.values()) {
    const explicit = group.find((i) => i.reason === 'explicit')
    out.add(explicit ?? group.reduce((best, i) => (i.adapter.compareVersions(i.version, best.version) > 0 ? i : best)))
  }
  return out
}
