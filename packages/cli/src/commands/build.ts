import { Flags } from '@oclif/core'
import type { InstallResult, Layout, LoadedConfig, Nip } from '@nip/core'
import type { BuildPlan } from '@nip/build'
import type { CachePushResult } from '../render/cache.js'
import { BaseCommand } from '../baseCommand.js'
import { renderBuildResult, renderCheck, renderVariants, type BuildCommandResult, type RecipeView } from '../render/build.js'
import type { Style } from '../render/style.js'
import { joinSpec, splitVariantWords } from '../variantWords.js'
import { recipeView } from '../recipeView.js'

export default class Build extends BaseCommand<BuildCommandResult> {
  static override summary = 'Build a program from its recipe (with variants) in a sandbox, and graft it.'
  static override description =
    'SPEC is a recipe name (recipes/<name>.toml), optionally followed by variant words: +flag, -flag (or ~flag), key=value; a word that names no variant of the recipe switches a profile (+lto). Missing dependencies are grafted first (from any source). A build whose fingerprint is already stored is grafted without building. See docs/build.md.'
  static override examples = ['<%= config.bin %> build hello', '<%= config.bin %> build hello -nls --dry-run', '<%= config.bin %> build --list-variants jq', '<%= config.bin %> build hello --check']
  static override strict = false
  static override usage = '<%= command.id %> SPEC [VARIANT...]'
  static override mutates = true
  static override createsRoot = true
  static override flags = {
    'dry-run': Flags.boolean({ description: 'Show the plan (variants, flags, fingerprint, stored or not) and change nothing.' }),
    'list-variants': Flags.boolean({ description: "List the recipe's variants and the profiles, and build nothing." }),
    rebuild: Flags.boolean({ description: 'Build even when a build with the same fingerprint is stored or grafted.' }),
    check: Flags.boolean({ description: 'Build twice and compare the trees (reproducibility); grafts nothing.' }),
    container: Flags.boolean({ description: 'Build in a Podman container (through its API socket) instead of bubblewrap: [build] executor = "podman".' }),
    push: Flags.boolean({ description: 'After grafting, publish the build to the fleet cache ([oci] push-to, signed with [oci] secret-key-files; docs/fleet.md).' }),
    source: Flags.string({ description: "Build with an ecosystem's own tool instead of a nip recipe: gentoo (emerge of CATEGORY/NAME[@VERSION] with USE flags), nix (nix-build of a FILE), pkgsrc. The tools come from nip bootstrap. See docs/bootstrap.md.", options: ['gentoo', 'nix', 'pkgsrc'], helpValue: 'ECOSYSTEM' }),
  }

  private configFlags: Record<string, unknown> | undefined

  protected override async loadConfig(): Promise<LoadedConfig> {
    const core = await import('@nip/core')
    return core.loadConfig({ root: this.globals.root, env: process.env, ...(this.globals.configFile ? { configFile: this.globals.configFile } : {}), ...(this.configFlags ? { flags: this.configFlags } : {}) })
  }

  protected override async execute(): Promise<BuildCommandResult> {
    const words = splitVariantWords(this.argv, { ...Build.baseFlags, ...Build.flags })
    const { flags, argv } = await this.parse(Build, words.flags)
    this.useGlobals(flags)
    const stray = (argv as string[])[0]
    if (stray !== undefined) throw await this.usageError(`Unknown flag: ${stray}.`, 'Run "nip build --help" for the flags.', { flag: stray })
    if (words.orphans.length > 0) throw await this.usageError(`${words.orphans[0]} is not a recipe, and no recipe comes before it.`, 'Write variants after the recipe: nip build hello -nls.', { word: words.orphans[0] })
    if (words.specs.length !== 1) throw await this.usageError(words.specs.length === 0 ? 'Name a recipe to build.' : `nip build takes one recipe; ${words.specs[1].spec} is a second.`, 'Example: nip build hello +nls', {})
    const [{ spec, variants: raw }] = words.specs
    // `+vaapi+lto` is two words.
    const variants = raw.flatMap((w) => (/^[+~-]/.test(w) ? w.split(/(?=[+~][A-Za-z0-9])/) : [w]))
    if (flags.source !== undefined) {
      if (flags.container || flags.check || flags['list-variants']) throw await this.usageError(`--source ${flags.source} builds run in bubblewrap only and take neither --container, --check nor --list-variants.`, 'Drop the flag; docs/bootstrap.md.', { source: flags.source })
      if (flags.push) throw await this.usageError(`--push publishes builds from nip recipes; push a --source ${flags.source} build afterwards with nip cache push.`, 'docs/fleet.md.', { source: flags.source })
      return this.ecosystemBuild(flags.source, spec, variants, flags)
    }
    const name = spec.replace(/^build:/, '').replace(/@.*$/, '')
    const buildFlags: Record<string, unknown> = {}
    if (flags.rebuild) buildFlags.rebuild = true
    if (flags.container) buildFlags.executor = 'podman'
    if (Object.keys(buildFlags).length > 0) this.configFlags = { ...(this.configFlags ?? {}), build: { ...((this.configFlags?.build as Record<string, unknown>) ?? {}), ...buildFlags } }
    const build = await import('@nip/build')
    const core = await import('@nip/core')
    let loaded = await this.loadConfig()
    const table = (id: string) => loaded.config.sources.find((s) => s.id === id)?.table ?? {}
    let settings = build.readBuildSettings(table('build'))
    if (flags['list-variants']) return recipeView(build, settings, name)
    const layout = new core.Layout(loaded.config)
    if (settings.executor === 'podman' && (await this.buildImage(settings, layout, table, flags['dry-run'] === true)) === 'bwrap') {
      // The chain's other source: the same build in bubblewrap.
      this.configFlags = { ...(this.configFlags ?? {}), build: { ...((this.configFlags?.build as Record<string, unknown>) ?? {}), executor: 'bwrap' } }
      loaded = await this.loadConfig()
      settings = build.readBuildSettings(table('build'))
    }
    const plan = await build.planBuild({ settings, layout, name, words: variants })
    if (flags.check) {
      const result = await build.checkBuild(plan, { layout, settings, mirrors: build.debianMirrors(table('debian')), reporter: this.reporter })
      const view = { kind: 'check' as const, ...result }
      if (!result.reproducible) {
        throw new core.NipError('ERR_NIP_NOT_REPRODUCIBLE', `${plan.name} ${plan.version} is not reproducible: ${result.differing.length} paths differ (${result.differing.slice(0, 10).map((d) => d.path).join(', ')}${result.differing.length > 10 ? ', …' : ''}).`, {
          hint: result.diffoscope ? `diffoscope's report: ${result.diffoscope.report}; the two builds' logs: ${result.logs.join(', ')}.` : `Compare the two builds' logs: ${result.logs.join(', ')} (with diffoscope installed, nip keeps its report of the two trees).`,
          data: view as unknown as Record<string, unknown>,
        })
      }
      return view
    }
    const nip = await this.openNip()
    const dryRun = flags['dry-run']
    if (flags.push && !dryRun) {
      // Refuse before building rather than after.
      const oci = await import('@nip/oci')
      const s = oci.readOciSettings(table('oci'))
      if (!s.pushTo) throw await this.usageError('--push needs a registry to push to.', 'Set [oci] push-to (or registries) in the configuration.')
      if (!s.secretKeyFiles[0]) throw await this.usageError('--push needs a signing key.', 'Create one with nip cache keygen NAME and set [oci] secret-key-files.')
      oci.readSecretKeyFile(s.secretKeyFiles[0])
    }
    const command = this.commandLine
    // Dependencies (any source) first; each is a separate, complete transaction.
    const depSpecs = [...new Set([...plan.steps.buildDependencies, ...plan.steps.runtimeDependencies])]
    let dependencies: InstallResult | undefined
    // One question: with dependencies to graft it is asked on their plan and covers the build;
    // otherwise the build's own install asks it.
    const question = `Graft the dependencies and then build ${plan.name} ${plan.version}?`
    if (depSpecs.length > 0) dependencies = await nip.install(depSpecs, { command, question, ...(dryRun ? { dryRun: true } : {}) })
    const asked = dependencies !== undefined && dependencies.grafted.length > 0
    // The dependencies' tree digests are part of the fingerprint: plan again once they are grafted.
    const final = depSpecs.length > 0 && !dryRun ? await build.planBuild({ settings, layout, name, words: variants }) : plan
    let cached = (await build.storedOutput(layout, nip.cas, final.fingerprint)) !== null
    // Before building: does a fleet cache hold this fingerprint? Then its verified tree becomes
    // the stored output of the fingerprint, and the build source grafts it without building.
    const fleet = !cached && !flags.rebuild && !dryRun ? await this.fromFleet(final, layout, nip, table('oci')) : undefined
    if (fleet) cached = true
    const summary = { name: final.name, version: final.version, fingerprint: final.fingerprint, cached: cached && !flags.rebuild, words: final.resolved.words, profiles: final.resolved.profiles, cflags: final.steps.cflags.join(' '), ldflags: final.steps.ldflags.join(' '), options: final.steps.options, steps: final.steps.steps.map((s) => s.name) }
    const target = joinSpec({ spec: spec.replace(/^build:/, ''), variants })
    // The user named this build and its variant: making it Current is asked for, even where the
    // variant's version sorts below the one grafted (2.10 after 2.10~nls).
    const opts = { command, source: 'build', allowDowngrade: true, ...(flags.rebuild ? { reinstall: true } : {}), ...(asked ? { question: false as const } : { question: `Build and graft ${plan.name} ${plan.version}?` }) }
    if (dryRun) return { kind: 'build', build: summary, ...(dependencies ? { dependencies } : {}), install: await nip.install([target], { ...opts, dryRun: true }) }
    const install = await nip.install([target], opts)
    const pushed = flags.push ? await this.pushBuild(final, layout, nip, table('oci')) : undefined
    return { kind: 'build', build: summary, ...(dependencies ? { dependencies } : {}), install, ...(fleet ? { fleet } : {}), ...(pushed ? { pushed } : {}) }
  }

  /**
   * `--container` (executor podman) when Podman lacks the build image that nip's `container`
   * bootstrap tool makes: the bootstrap chain (docs/bootstrap.md) — with --yes its recommended
   * choice, on a terminal its menu: make or pull the image (then build in it), the manual steps,
   * or build in bubblewrap instead. A socket that does not answer, or an image of the user's own
   * naming (`[build] image` other than the recipe's), is left to the executor's own error.
   */
  private async buildImage(settings: import('@nip/build').BuildSettings, layout: Layout, table: (id: string) => Record<string, unknown>, dryRun: boolean): Promise<'ready' | 'bwrap'> {
    const [build, core] = await Promise.all([import('@nip/build'), import('@nip/core')])
    const api = new build.PodmanApi(settings.podmanSocket)
    if ('error' in (await api.ping(5000)) || (await api.inspect(settings.image))) return 'ready'
    let recipe: import('@nip/build').BootstrapRecipe
    try {
      recipe = build.loadBootstrapRecipe(build.bootstrapRecipeDirs(settings, layout), 'container', settings)
    } catch {
      return 'ready'
    }
    if (!recipe.image || recipe.container?.image !== settings.image) return 'ready'
    const detection = await build.detectTool(recipe, layout, { context: build.bootstrapContext(table) })
    const install = detection.choices.find((c) => c.id === 'install')
    let chosen: string | null = null
    if (this.globals.yes) chosen = detection.recommended
    else if (this.globals.interactive) {
      const { chooseBootstrap } = await import('../bootstrapMenu.js')
      chosen = await chooseBootstrap(detection, `Building in a container needs the image ${settings.image}, which Podman does not have. What should nip do?`)
    }
    if (chosen === 'install' && install?.available) {
      if (dryRun) {
        this.reporter.emit({ type: 'info', message: `Podman has no image ${settings.image}: a build would first run nip bootstrap install container (${install.detail})` })
        return 'ready'
      }
      const nip = await this.openNip()
      await nip.install([`build:bootstrap:${recipe.name}`], { command: this.commandLine, kind: 'bootstrap', source: 'build', question: false, reinstall: true })
      return 'ready'
    }
    if (chosen?.startsWith('source:') && chosen.slice('source:'.length) === 'build') return 'bwrap'
    if (chosen === 'manual') {
      throw new core.NipError('ERR_NIP_TOOL_MISSING', `Make the build image ${settings.image} by hand, then build again:\n${recipe.manual.map((m, i) => `  ${i + 1}. ${m}`).join('\n')}`, { hint: `nip bootstrap info ${recipe.name} shows these steps again${install?.available ? '' : `; nip cannot make it here: ${install?.detail}`}.`, data: { tool: recipe.name, image: settings.image, chosen } })
    }
    throw new core.NipError('ERR_NIP_TOOL_MISSING', `Building in a container needs the image ${settings.image}, and Podman does not have it.`, {
      hint: `Run nip bootstrap install ${recipe.name} (${install?.available ? install.detail : `not possible here: ${install?.detail}`}), or pass --yes to do it now; nip bootstrap info ${recipe.name} shows every way.`,
      data: { tool: recipe.name, image: settings.image, choices: detection.choices, recommended: detection.recommended },
    })
  }

  /** Looks the fingerprint up in each configured fleet cache, in order; pulls (verified) and records the first hit. */
  private async fromFleet(plan: BuildPlan, layout: Layout, nip: Nip, table: Record<string, unknown>): Promise<{ registry: string; tag: string } | undefined> {
    const [oci, build] = await Promise.all([import('@nip/oci'), import('@nip/build')])
    const settings = oci.readOciSettings(table)
    for (const ref of settings.registries) {
      try {
        const client = oci.clientFor(ref, settings, { reporter: this.reporter })
        const hit = (await oci.readCatalog(client)).programs.find((p) => p.fingerprint === plan.fingerprint && p.name === plan.name && p.version === plan.version)
        if (!hit) continue
        const pulled = await oci.pullProgram(hit.digest, { client, cas: nip.cas, trusted: settings.trustedKeys, requireSigs: settings.requireSigs, limits: nip.limits, jobs: settings.jobs })
        if (pulled.document.fingerprint !== plan.fingerprint) continue
        build.storeOutput(layout, plan, { entries: pulled.entries, digest: pulled.document.treeDigest, files: new Map(), log: '', seconds: 0 })
        this.reporter.emit({ type: 'info', message: `${plan.name} ${plan.version}: fingerprint ${plan.fingerprint.slice(0, 16)} found in ${ref.url} (${hit.tag}); not building.` })
        return { registry: ref.url, tag: hit.tag }
      } catch (e) {
        this.reporter.emit({ type: 'warning', code: 'oci-cache-skipped', message: `fleet cache ${ref.url}: ${(e as Error).message} — building instead.` })
      }
    }
    return undefined
  }

  private async pushBuild(plan: BuildPlan, layout: Layout, nip: Nip, table: Record<string, unknown>): Promise<CachePushResult> {
    const [oci, core] = await Promise.all([import('@nip/oci'), import('@nip/core')])
    const settings = oci.readOciSettings(table)
    if (!settings.pushTo) throw await this.usageError('--push needs a registry to push to.', 'Set [oci] push-to (or registries) in the configuration.')
    if (!settings.secretKeyFiles[0]) throw await this.usageError('--push needs a signing key.', 'Create one with nip cache keygen NAME and set [oci] secret-key-files.')
    const key = oci.readSecretKeyFile(settings.secretKeyFiles[0])
    const db = core.Database.openReader(layout.dbPath, layout.cfs)
    const row = db?.program(plan.name, plan.version)
    try {
      if (!db || !row) throw new core.NipError('ERR_NIP_NOT_INSTALLED', `${plan.name} ${plan.version} is not grafted; nothing to push.`, {})
      const client = oci.clientFor(settings.pushTo, settings, { reporter: this.reporter })
      const target = settings.pushTo
      const mountFrom = settings.registries.filter((r) => r.host === target.host && r.repository !== target.repository).map((r) => r.repository)
      const programs = await oci.pushPrograms({ db, cas: nip.cas, rows: [row], client, key, jobs: settings.jobs, mountFrom, reporter: this.reporter, extra: () => ({ fingerprint: plan.fingerprint, variants: plan.resolved.words }) })
      return { registry: settings.pushTo.url, programs }
    } finally {
      db?.close()
    }
  }

  /**
   * `--source gentoo|nix|pkgsrc`: the tool is found (or, with --yes or on a terminal, installed)
   * through nip bootstrap's detection chain, then the build source answers `gentoo:ATOM` or
   * `nix:FILE` and core's transaction grafts the result.
   */
  private async ecosystemBuild(source: string, spec: string, variants: string[], flags: { 'dry-run'?: boolean; rebuild?: boolean }): Promise<BuildCommandResult> {
    const [build, core, nodePath] = await Promise.all([import('@nip/build'), import('@nip/core'), import('node:path')])
    const loaded = await this.loadConfig()
    const layout = new core.Layout(loaded.config)
    const settings = build.readBuildSettings(loaded.config.sources.find((s) => s.id === 'build')?.table ?? {})
    const recipe = build.loadBootstrapRecipe(build.bootstrapRecipeDirs(settings, layout), source, settings)
    const detection = await build.detectTool(recipe, layout, { probeContainer: false })
    const usable = source === 'nix' ? detection.status === 'host' || detection.status === 'nip' : detection.status === 'nip'
    if (!usable) {
      const installable = detection.choices.find((c) => c.id === 'install')?.available === true
      let install = false
      if (installable && this.globals.yes) install = true
      else if (this.globals.interactive) {
        const { chooseBootstrap } = await import('../bootstrapMenu.js')
        const chosen = await chooseBootstrap(detection, `Building with --source ${source} needs the ${source} tools, which are missing. What should nip do?`)
        if (chosen === 'install') install = true
        else if (chosen === 'manual') throw new core.NipError('ERR_NIP_TOOL_MISSING', `Install the ${source} tools by hand, then build again:\n${recipe.manual.map((m, i) => `  ${i + 1}. ${m}`).join('\n')}`, { hint: `nip bootstrap info ${source} shows these steps again.`, data: { tool: source, chosen } })
        else if (chosen === 'container') throw new core.NipError('ERR_NIP_TOOL_MISSING', `Ecosystem builds run in bubblewrap only; the image ${detection.container.image} can be used by hand.`, { hint: `nip bootstrap info ${source}.`, data: { tool: source, chosen } })
        else throw new core.NipError('ERR_NIP_TOOL_MISSING', `Try the ${chosen.slice('source:'.length)} source instead: nip install --source ${chosen.slice('source:'.length)} NAME.`, { hint: 'Nothing was built.', data: { tool: source, chosen } })
      }
      if (!install) {
        throw new core.NipError('ERR_NIP_TOOL_MISSING', `Building with --source ${source} needs the ${source} tools (${recipe.commands.join(', ')}), and ${detection.status === 'host' && source !== 'nix' ? 'nip does not drive the host\'s copy' : 'they are missing'}.`, {
          hint: `Run nip bootstrap install ${source} (nip bootstrap info ${source} shows every way to get them${installable ? '' : `: ${detection.choices.find((c) => c.id === 'install')?.detail}`}).`,
          data: { tool: source, choices: detection.choices, recommended: detection.recommended },
        })
      }
      const nip = await this.openNip()
      const specs = recipe.packages.length > 0 ? recipe.packages : [`build:bootstrap:${source}`]
      await nip.install(specs, { command: this.commandLine, kind: 'bootstrap', ...(recipe.packages.length > 0 ? {} : { source: 'build' }) })
    }
    if (source === 'pkgsrc') {
      throw new core.NipError('ERR_NIP_NOT_IMPLEMENTED', 'Driving bmake in a pkgsrc tree is not implemented yet.', { hint: 'docs/bootstrap.md says what pkgsrc support covers.', data: { source } })
    }
    const bare = spec.replace(/^build:/, '')
    if (source === 'nix') {
      if (variants.length > 0) throw await this.usageError(`nix builds take no variant words (${variants.join(' ')}).`, 'Write the choices into the expression.', { variants })
      if (flags['dry-run']) return { kind: 'build', ecosystem: source, file: nodePath.resolve(bare), tools: detection.status } as unknown as BuildCommandResult
      const current = await build.detectTool(recipe, layout, { probeContainer: false })
      // The tools installed into this root win over the host's: the user put them there.
      const toolBin = current.nip.installed && current.nip.dir ? nodePath.join(current.nip.dir, 'bin') : undefined
      const out = await build.nixBuild({ file: bare, layout, reporter: this.reporter, ...(toolBin ? { toolBin } : {}) })
      // The output is grafted by the Nix adapter from the signed cache nix-build's closure was copied to.
      this.configFlags = { nix: { substituters: [out.cacheUrl], 'trusted-public-keys': [out.publicKey], channel: '' } }
      const nixNip = await this.openNip()
      const install = await nixNip.install(out.outPaths.map((p) => `nix:${p}`), { command: this.commandLine, source: 'nix', ...(flags.rebuild ? { reinstall: true } : {}) })
      return { kind: 'build', ecosystem: source, outPaths: out.outPaths, log: out.log, tools: toolBin ?? 'host', install } as unknown as BuildCommandResult
    }
    const target = `build:gentoo:${bare}`
    const nip = await this.openNip()
    const opts = { command: this.commandLine, source: 'build', allowDowngrade: true, ...(flags.rebuild ? { reinstall: true } : {}) }
    const full = [target, ...variants].join(' ')
    // The ebuild's dependencies: grafted, provided by the host, or built first (dependencies
    // before dependents); unmet atoms and cycles are refused here, before Portage runs.
    const at = bare.indexOf('@')
    const buildCfg = loaded.config.sources.find((s) => s.id === 'build')?.table ?? {}
    const deps = build.planGentooDependencies({ atom: at < 0 ? bare : bare.slice(0, at), ...(at < 0 ? {} : { version: bare.slice(at + 1) }), variants }, { config: buildCfg, layout })
    if (flags['dry-run']) return { kind: 'build', ecosystem: source, gentooDependencies: deps, install: await nip.install([full], { ...opts, dryRun: true }) } as unknown as BuildCommandResult
    const built: unknown[] = []
    // One question for the whole chain (the dependencies to build, then the target), asked before
    // anything is built; the installs below then ask nothing more.
    const chain = deps.builds.length > 0
    if (chain) {
      const words = (cpv: string, use?: string[]) => (use && use.length > 0 ? `${cpv} (USE ${use.join(' ')})` : cpv)
      const names = [...deps.builds.map((s) => words(s.cpv, s.variants)), words(deps.target, variants)]
      const message = `Build and graft ${names.slice(0, -1).join(', ')} and then ${names[names.length - 1]}?`
      if (!(await this.reporter.confirm({ id: 'install', message, default: true }))) {
        throw new core.NipError('ERR_NIP_ABORTED', 'Nothing was changed.', { hint: 'Answer yes (or pass --yes) to go ahead.' })
      }
    }
    for (const step of deps.builds) {
      this.reporter.emit({ type: 'info', message: `${deps.target} depends on ${step.cpv}${step.variants?.length ? ` (USE ${step.variants.join(' ')})` : ''} (for ${step.requiredBy}): building it first.` })
      // With the USE flags the dependents' atoms require (`dev-libs/foo[bar]` → +bar) added to its default USE.
      built.push(await nip.install([[`build:gentoo:${step.atom}@${step.version}`, ...(step.variants ?? [])].join(' ')], { command: this.commandLine, source: 'build', dependencies: [step.atom.split('/')[1].toLowerCase()], question: false }))
    }
    return { kind: 'build', ecosystem: source, gentooDependencies: deps, ...(built.length > 0 ? { built } : {}), install: await nip.install([full], chain ? { ...opts, question: false } : opts) } as unknown as BuildCommandResult
  }

  protected override renderHuman(result: BuildCommandResult, style: Style): string {
    if (result.kind === 'recipe') return renderVariants(result as RecipeView, style)
    if (result.kind === 'check') return renderCheck(result, style)
    return renderBuildResult(result, style)
  }
}
