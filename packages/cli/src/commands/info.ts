import { Args, Flags } from '@oclif/core'
import type { InfoResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderRecipe, type RecipeView } from '../render/build.js'
import { renderInfo } from '../render/programs.js'
import { recipeView } from '../recipeView.js'
import type { Style } from '../render/style.js'
import { splitVariantWords } from '../variantWords.js'

export default class Info extends BaseCommand<InfoResult | RecipeView> {
  static override summary = 'Show a program: grafted versions, dependencies, dependents, and what sources offer.'
  static override examples = ['<%= config.bin %> info hello', '<%= config.bin %> info nix:ripgrep --json', '<%= config.bin %> info --source=gentoo ffmpeg +vaapi -doc', '<%= config.bin %> info --recipe hello']
  static override strict = false
  static override usage = '<%= command.id %> SPEC [VARIANT...]'
  static override args = {
    spec: Args.string({ description: '[source:]name[@version]', required: true }),
  }
  static override flags = {
    source: Flags.string({ description: 'Ask only this source.' }),
    recipe: Flags.boolean({ description: 'Show the build recipe of that name (sources, build system, variants, profiles) instead of a program.' }),
  }

  protected override async execute(): Promise<InfoResult | RecipeView> {
    // Words after the spec are variants (`+vaapi`, `-doc`, `+vaapi+lto`, `video_cards=intel`),
    // split off before oclif parses so that `-doc` is not taken for a flag.
    const words = splitVariantWords(this.argv, { ...Info.baseFlags, ...Info.flags })
    const first = words.specs[0]
    const { flags, args, argv } = await this.parse(Info, [...(first ? [first.spec] : []), ...words.flags])
    this.useGlobals(flags)
    const stray = (argv as string[]).slice(1)[0]
    if (stray !== undefined) throw await this.usageError(`Unknown flag: ${stray}.`, 'Run "nip info --help" for the flags.', { flag: stray })
    if (words.specs.length > 1) throw await this.usageError(`nip info takes one package; ${words.specs[1].spec} is a second.`, 'Run nip info once per package.', { spec: words.specs[1].spec })
    if (words.orphans.length > 0) throw await this.usageError(`${words.orphans[0]} is not a package, and no package comes before it.`, 'Write variants after the package: nip info ffmpeg +vaapi.', { word: words.orphans[0] })
    const variants = (first?.variants ?? []).flatMap((w) => (/^[+~-]/.test(w) ? w.split(/(?=[+~][A-Za-z0-9])/) : [w]))
    if (flags.recipe) {
      const build = await import('@nip/build')
      const loaded = await this.loadConfig()
      return recipeView(build, build.readBuildSettings(loaded.config.sources.find((s) => s.id === 'build')?.table ?? {}), args.spec.replace(/^build:/, ''))
    }
    const nip = await this.openNip()
    return nip.info(args.spec, { ...(flags.source ? { source: flags.source } : {}), ...(variants.length > 0 ? { variants } : {}) })
  }

  protected override renderHuman(result: InfoResult | RecipeView, style: Style): string {
    if ('kind' in result && result.kind === 'recipe') return renderRecipe(result, style)
    return renderInfo(result as InfoResult, style)
  }
}
