import { Flags } from '@oclif/core'
import type { InstallResult, LoadedConfig } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderBuildResult, renderCheck, renderVariants, type BuildCommandResult, type RecipeView } from '../render/build.js'
import { renderPlan } from '../render/plan.js'
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
    const name = spec.replace(/^build:/, '').replace(/@.*$/, '')
    const buildFlags: Record<string, unknown> = {}
    if (flags.rebuild) buildFlags.rebuild = true
    if (flags.container) buildFlags.executor = 'podman'
    if (Object.keys(buildFlags).length > 0) this.configFlags = { build: buildFlags }
    const build = await import('@nip/build')
    const core = await import('@nip/core')
    const loaded = await this.loadConfig()
    const table = (id: string) => loaded.config.sources.find((s) => s.id === id)?.table ?? {}
    const settings = build.readBuildSettings(table('build'))
    if (flags['list-variants']) return recipeView(build, settings, name)
    const layout = new core.Layout(loaded.config)
    const plan = await build.planBuild({ settings, layout, name, words: variants })
    if (flags.check) {
      const result = await build.checkBuild(plan, { layout, settings, mirrors: build.debianMirrors(table('debian')), reporter: this.reporter })
      const view = { kind: 'check' as const, ...result }
      if (!result.reproducible) {
        throw new core.NipError('ERR_NIP_NOT_REPRODUCIBLE', `${plan.name} ${plan.version} is not reproducible: ${result.differing.length} paths differ (${result.differing.slice(0, 10).map((d) => d.path).join(', ')}${result.differing.length > 10 ? ', …' : ''}).`, {
          hint: `Compare the two builds' logs: ${result.logs.join(', ')}.`,
          data: view as unknown as Record<string, unknown>,
        })
      }
      return view
    }
    const nip = await this.openNip()
    const dryRun = flags['dry-run']
    const command = this.commandLine
    // Dependencies (any source) first; each is a separate, complete transaction.
    const depSpecs = [...new Set([...plan.steps.buildDependencies, ...plan.steps.runtimeDependencies])]
    let dependencies: InstallResult | undefined
    if (depSpecs.length > 0) dependencies = await nip.install(depSpecs, { command, ...(dryRun ? { dryRun: true } : {}) })
    // The dependencies' tree digests are part of the fingerprint: plan again once they are grafted.
    const final = depSpecs.length > 0 && !dryRun ? await build.planBuild({ settings, layout, name, words: variants }) : plan
    const cached = (await build.storedOutput(layout, nip.cas, final.fingerprint)) !== null
    const summary = { name: final.name, version: final.version, fingerprint: final.fingerprint, cached: cached && !flags.rebuild, words: final.resolved.words, profiles: final.resolved.profiles, cflags: final.steps.cflags.join(' '), ldflags: final.steps.ldflags.join(' '), options: final.steps.options, steps: final.steps.steps.map((s) => s.name) }
    const target = joinSpec({ spec: spec.replace(/^build:/, ''), variants })
    // The user named this build and its variant: making it Current is asked for, even where the
    // variant's version sorts below the one grafted (2.10 after 2.10~nls).
    const opts = { command, source: 'build', allowDowngrade: true, ...(flags.rebuild ? { reinstall: true } : {}) }
    if (dryRun) return { kind: 'build', build: summary, ...(dependencies ? { dependencies } : {}), install: await nip.install([target], { ...opts, dryRun: true }) }
    if (this.globals.interactive) {
      const preview = await nip.install([target], { ...opts, dryRun: true })
      if (preview.plan.programs.some((p) => !p.skip)) {
        process.stderr.write(renderPlan(preview.plan, this.stdoutStyle()) + '\n\n')
        const proceed = await this.reporter.confirm({ id: 'build.proceed', message: 'Build and graft?', default: true })
        if (!proceed) throw new core.NipError('ERR_NIP_ABORTED', 'Build cancelled; nothing was changed.', { hint: 'Pass --yes to build without asking.' })
      }
    }
    return { kind: 'build', build: summary, ...(dependencies ? { dependencies } : {}), install: await nip.install([target], opts) }
  }

  protected override renderHuman(result: BuildCommandResult, style: Style): string {
    if (result.kind === 'recipe') return renderVariants(result as RecipeView, style)
    if (result.kind === 'check') return renderCheck(result, style)
    return renderBuildResult(result, style)
  }
}
