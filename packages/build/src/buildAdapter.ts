/**
 * The build source: recipes as a source adapter, so that a build is one more way to produce a
 * FetchResult and core's transaction grafts it like any package (DESIGN §8). It answers only
 * when asked by name (`nip build`, `--source build`): a plain `nip install` never starts a
 * compiler behind the user's back.
 *
 * - resolve: the recipe, its variants resolved (errors name the word or clause), one ref whose
 *   version is the recipe version plus the non-default words (`2.10~nls`), so variants of one
 *   version are separate programs versions side by side, and whose id carries the fingerprint.
 * - describe: the plan (fingerprint, cached or not, flags, dependencies) in `extra`.
 * - fetch: the stored output of the fingerprint when every blob is still in the CAS (no build),
 *   else fetch + verify sources, build in the executor, collect DESTDIR into the CAS, record the
 *   output under the fingerprint.
 * Dependencies are grafted by the `build` command before the build (they may come from any
 * source); the manifest lists none, so the planner does not look for them among recipes.
 */
import path from 'node:path'
import type { AdapterContext, AdapterStatus, DependencySpec, FetchResult, PackageManifest, PackageRef, PackageSpec, SearchHit, SourceAdapter, TreeEntry } from '@nip/core'
import { compareVersionsNatural, NipError, relocateTree } from '@nip/core'
import { planBuild, runBuild, storedOutput, storeOutput, type BuildPlan } from './builder.js'
import { createExecutor } from './executors.js'
import type { Executor } from './executor.js'
import { debianMirrors } from './mirror.js'
import { findRecipe, listRecipes } from './recipe.js'
import { readBuildSettings } from './settings.js'
import { bootstrapRecipeDirs, findOnPath, toolTree } from './bootstrap/tools.js'
import { imageTree, makeImage, planImage } from './bootstrap/image.js'
import { loadBootstrapRecipe } from './bootstrap/recipe.js'
import { ecosystemOf, ecosystemResolve, ecosystemDescribe, ecosystemFetch } from './ecosystem.js'

/** Spec names the build source answers besides recipes: `bootstrap:<tool>` (a bootstrap tool's tree). */
const BOOTSTRAP_PREFIX = 'bootstrap:'

export const BUILD_SOURCE = 'build'

export class BuildAdapter implements SourceAdapter {
  readonly id = BUILD_SOURCE
  readonly acceptsVariants = true

  /** `executor`: a fixed executor (tests); by default the one the settings name. */
  constructor(private readonly fixedExecutor?: Executor) {}

  private executors = new Map<string, Executor>()

  private executor(ctx: AdapterContext): Executor {
    if (this.fixedExecutor) return this.fixedExecutor
    const s = readBuildSettings(ctx.config)
    const key = `${s.executor}\0${s.podmanSocket}\0${s.image}`
    let e = this.executors.get(key)
    if (!e) this.executors.set(key, (e = createExecutor(s)))
    return e
  }

  private async plan(name: string, words: string[], ctx: AdapterContext): Promise<BuildPlan> {
    return planBuild({ settings: readBuildSettings(ctx.config), layout: ctx.layout, name, words, executor: this.executor(ctx) })
  }

  async probe(ctx: AdapterContext): Promise<AdapterStatus> {
    const settings = readBuildSettings(ctx.config)
    const n = listRecipes(settings.recipeDirs).size
    const executor = this.executor(ctx)
    const p = await executor.probe()
    return { id: this.id, configured: n > 0, reachable: p.ok, detail: `${n} recipes; ${p.ok ? `executor ${executor.id}: ${p.detail}` : p.detail}` }
  }

  async *search(query: string, ctx: AdapterContext): AsyncIterable<SearchHit> {
    const settings = readBuildSettings(ctx.config)
    const q = query.toLowerCase()
    for (const name of listRecipes(settings.recipeDirs).keys()) {
      const r = findRecipe(settings.recipeDirs, name)
      if (!r || !(name.toLowerCase().includes(q) || r.summary.toLowerCase().includes(q))) continue
      yield { ref: { source: this.id, name: r.name, version: r.version, id: `${r.name}@${r.version}`, summary: r.summary }, score: name.toLowerCase() === q ? 1 : 0.5 }
    }
  }

  /** The recipe names (for "did you mean"). */
  async *names(ctx: AdapterContext): AsyncIterable<string> {
    yield* listRecipes(readBuildSettings(ctx.config).recipeDirs).keys()
  }

  async resolve(spec: PackageSpec, ctx: AdapterContext): Promise<PackageRef[]> {
    if (spec.source !== this.id || spec.file) return []
    if (spec.name.startsWith(BOOTSTRAP_PREFIX)) {
      const settings = readBuildSettings(ctx.config)
      const recipe = loadBootstrapRecipe(bootstrapRecipeDirs(settings, ctx.layout), spec.name.slice(BOOTSTRAP_PREFIX.length), settings)
      return [{ source: this.id, name: recipe.program, version: recipe.version, id: `${BOOTSTRAP_PREFIX}${recipe.name}@${recipe.version}`, summary: recipe.summary }]
    }
    if (ecosystemOf(spec.name)) return ecosystemResolve(spec, ctx, this.executor(ctx))
    const plan = await this.plan(spec.name, spec.variants ?? [], ctx)
    if (spec.version && spec.version !== plan.recipe.version && spec.version !== plan.version) return []
    return [this.refOf(plan, spec.variants)]
  }

  private refOf(plan: BuildPlan, variants: string[] | undefined): PackageRef {
    return { source: this.id, name: plan.name, version: plan.version, id: `${plan.name}@${plan.version}#${plan.fingerprint}`, summary: plan.recipe.summary, ...(variants && variants.length ? { variants } : {}) }
  }

  async describe(ref: PackageRef, ctx: AdapterContext): Promise<PackageManifest> {
    if (ref.id.startsWith(BOOTSTRAP_PREFIX)) {
      const settings = readBuildSettings(ctx.config)
      const recipe = loadBootstrapRecipe(bootstrapRecipeDirs(settings, ctx.layout), ref.id.slice(BOOTSTRAP_PREFIX.length).replace(/@.*$/, ''), settings)
      const repository = recipe.repository?.location ? { repository: { location: recipe.repository.location.location, kind: recipe.repository.location.kind } } : {}
      return { ref, dependencies: [], provides: [], conflicts: [], downloadSize: 0, installedSize: 0, description: recipe.summary, hashes: Object.fromEntries(recipe.sources.map((s) => [s.file, `sha256:${s.sha256}`])), extra: { bootstrap: recipe.name, recipe: recipe.file, ...repository } }
    }
    if (ecosystemOf(ref.id)) return ecosystemDescribe(ref, ctx, this.executor(ctx))
    const plan = await this.plan(ref.name, ref.variants ?? [], ctx)
    const cached = (await storedOutput(ctx.layout, ctx.cas, plan.fingerprint)) !== null
    return {
      ref,
      dependencies: [],
      provides: [],
      conflicts: [],
      downloadSize: 0,
      installedSize: 0,
      description: plan.recipe.summary,
      ...(plan.recipe.license ? { license: plan.recipe.license } : {}),
      ...(plan.recipe.homepage ? { homepage: plan.recipe.homepage } : {}),
      variants: Object.entries(plan.resolved.values).map(([k, v]) => (typeof v === 'boolean' ? `${v ? '+' : '-'}${k}` : `${k}=${v}`)),
      hashes: Object.fromEntries(plan.recipe.sources.map((s) => [s.file, `sha256:${s.sha256}`])),
      extra: planSummary(plan, cached),
    }
  }

  async fetch(ref: PackageRef, ctx: AdapterContext): Promise<FetchResult> {
    const settings = readBuildSettings(ctx.config)
    if (ref.id.startsWith(BOOTSTRAP_PREFIX)) {
      const recipe = loadBootstrapRecipe(bootstrapRecipeDirs(settings, ctx.layout), ref.id.slice(BOOTSTRAP_PREFIX.length).replace(/@.*$/, ''), settings)
      if (recipe.image) {
        // A Podman image (bootstrap/image.ts): made or pulled, checked and tagged; the tree records it.
        const plan = planImage(recipe, {
          settings,
          mirrors: debianMirrors(ctx.sourceConfig?.('debian') ?? {}),
          oci: ctx.sourceConfig?.('oci') ?? {},
          commands: { debootstrap: findOnPath('debootstrap'), unshare: findOnPath('unshare'), setpriv: findOnPath('setpriv') },
          root: process.getuid?.() === 0,
        })
        if (!plan.available || !plan.way) throw new NipError('ERR_NIP_NOT_AVAILABLE', `${recipe.name}: ${plan.detail}`, { hint: `nip bootstrap info ${recipe.name} shows the other ways.`, data: { tool: recipe.name } })
        const record = await makeImage(recipe, { layout: ctx.layout, socket: settings.podmanSocket, way: plan.way, reporter: ctx.reporter, ...(ctx.signal ? { signal: ctx.signal } : {}) })
        return { ref, entries: imageTree(record, ctx.cas) }
      }
      const entries = await toolTree(recipe, { layout: ctx.layout, cas: ctx.cas, limits: ctx.limits, reporter: ctx.reporter, mirrors: settings.bootstrapMirrors, ...(ctx.signal ? { signal: ctx.signal } : {}) })
      return { ref, entries }
    }
    if (ecosystemOf(ref.id)) {
      // An ebuild's programs find the libraries of the programs nip grafted for its
      // dependencies through System/Links/Libraries, as built recipes do.
      const out = await ecosystemFetch(ref, ctx, this.executor(ctx))
      const relocated = await this.relocate(out.entries, `${ref.name} ${ref.version}`, ctx)
      // The stored output keeps the tree as built (its blobs are not scratch): relocation is
      // deterministic and idempotent, so a reuse relocates to the same blobs.
      return { ...out, entries: relocated.entries }
    }
    const plan = await this.plan(ref.name, ref.variants ?? [], ctx)
    if (plan.version !== ref.version) {
      throw new NipError('ERR_NIP_INTERNAL', `The build of ${ref.name} resolved to ${plan.version}, not the planned ${ref.version}.`, { data: { ref } })
    }
    if (!settings.rebuild) {
      const stored = await storedOutput(ctx.layout, ctx.cas, plan.fingerprint)
      if (stored) {
        ctx.reporter.emit({ type: 'info', message: `${plan.name} ${plan.version}: fingerprint ${plan.fingerprint.slice(0, 16)} is stored; not building.` })
        // Stored outputs are relocated already; one stored before relocation is relocated now.
        return { ref, entries: (await this.relocate(stored.entries, `${plan.name} ${plan.version}`, ctx)).entries, downloaded: 0 }
      }
    }
    const mirrors = debianMirrors(ctx.sourceConfig?.('debian') ?? {})
    const out = await runBuild(plan, { layout: ctx.layout, settings, mirrors, reporter: ctx.reporter, cas: ctx.cas, executor: this.executor(ctx), ...(ctx.signal ? { signal: ctx.signal } : {}) })
    // Built programs run from System/Links/Executables like grafted binaries: each ELF file gets
    // the RUNPATH core's relocation gives (its grafted dependencies' libraries are found through
    // System/Links/Libraries, with no LD_LIBRARY_PATH). The stored output holds the relocated
    // tree (the build's own digest, for --check, is of the tree as built); the unpatched blobs
    // are scratch.
    const relocated = await this.relocate(out.entries, `${plan.name} ${plan.version}`, ctx)
    storeOutput(ctx.layout, plan, { ...out, entries: relocated.entries })
    return { ref, entries: relocated.entries, scratchBlobs: relocated.replacedBlobs }
  }

  private relocate(entries: TreeEntry[], label: string, ctx: AdapterContext): ReturnType<typeof relocateTree> {
    return relocateTree(entries, { cas: ctx.cas, layout: ctx.layout, reporter: ctx.reporter, label, tmpDir: path.join(ctx.cacheDir, 'relocate'), ...(ctx.signal ? { signal: ctx.signal } : {}) })
  }

  compareVersions(a: string, b: string): number {
    return compareVersionsNatural(a, b)
  }

  satisfies(dep: DependencySpec, version: string): boolean {
    return !dep.constraint || dep.constraint === version || dep.constraint === `= ${version}`
  }
}

/** What `--dry-run`, `info` and the JSON output show of a plan. */
export function planSummary(plan: BuildPlan, cached: boolean): Record<string, unknown> {
  return {
    recipe: plan.recipe.file,
    fingerprint: plan.fingerprint,
    cached,
    variants: plan.resolved.values,
    words: plan.resolved.words,
    profiles: plan.resolved.profiles,
    prefix: plan.steps.prefix,
    cflags: plan.steps.cflags.join(' '),
    ldflags: plan.steps.ldflags.join(' '),
    options: plan.steps.options,
    steps: plan.steps.steps.map((s) => s.name),
    buildDependencies: plan.steps.buildDependencies,
    runtimeDependencies: plan.steps.runtimeDependencies,
    sources: plan.recipe.sources.map((s) => ({ file: s.file, ...(s.url ? { url: s.url } : {}), sha256: s.sha256, ...(s.debian ? { debian: s.debian } : {}) })),
    executor: plan.executor,
  }
}

export function createAdapter(): SourceAdapter {
  return new BuildAdapter()
}
