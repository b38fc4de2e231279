import { Flags } from '@oclif/core'
import type { AdapterId, InstallOptions, InstallResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderInstallResult } from '../render/plan.js'
import type { Style } from '../render/style.js'
import { joinSpec, splitVariantWords } from '../variantWords.js'

export default class Install extends BaseCommand<InstallResult> {
  static override summary = 'Fetch, verify and graft programs (with their dependencies).'
  static override description =
    'Each SPEC is [source:]name[@version], or the path of a local package file, optionally followed by variants for it (+flag, -flag, ~flag, key=value: Gentoo USE flags). Sources are asked in priority order (nip sources). The plan is shown and nip asks once before changing anything (on the terminal, or a line of standard input), unless --yes.'
  static override examples = ['<%= config.bin %> install hello', '<%= config.bin %> install nix:ripgrep@14.1.0 --dry-run', '<%= config.bin %> install --source pacman zstd --yes', '<%= config.bin %> install ffmpeg +vaapi -gpl video_cards=intel --source=gentoo']
  static override strict = false
  static override usage = '<%= command.id %> SPEC [VARIANT...]...'
  static override mutates = true
  static override flags = {
    source: Flags.string({ description: 'Resolve only from this source (nix, pacman, pkgsrc, gentoo, gobo, ...).' }),
    'dry-run': Flags.boolean({ description: 'Show the plan and change nothing.' }),
    reinstall: Flags.boolean({ description: 'Graft again even when the same version is already grafted.' }),
    'no-switch': Flags.boolean({ description: 'Do not move Current when another version is already current.' }),
    'allow-downgrade': Flags.boolean({ description: 'Let Current move to a lower version than the one grafted.' }),
  }

  protected override async execute(): Promise<InstallResult> {
    const cls = this.constructor as typeof Install
    const words = splitVariantWords(this.argv, { ...cls.baseFlags, ...cls.flags })
    const { flags, argv } = await this.parse(cls, words.flags)
    this.useGlobals(flags)
    const stray = (argv as string[])[0]
    if (stray !== undefined) throw await this.usageError(`Unknown flag: ${stray}.`, `Run "nip ${this.commandName} --help" for the flags.`, { flag: stray })
    if (words.orphans.length > 0) {
      throw await this.usageError(`${words.orphans[0]} is not a package, and no package comes before it.`, `Write variants after the package they are for: nip ${this.commandName} ffmpeg +vaapi -gpl.`, { word: words.orphans[0] })
    }
    // Each spec carries its variants in the string core parses (`"ffmpeg +vaapi -gpl"`).
    const specs = words.specs.map(joinSpec)
    if (specs.length === 0) throw await this.usageError('Nothing to install.', `Name at least one package: nip ${this.commandName} SPEC...`)
    const opts: InstallOptions = {
      command: this.commandLine,
      ...(flags.source ? { source: flags.source as AdapterId } : {}),
      ...(flags.reinstall ? { reinstall: true } : {}),
      ...(flags['no-switch'] ? { noSwitch: true } : {}),
      ...(flags['allow-downgrade'] ? { allowDowngrade: true } : {}),
    }
    const nip = await this.openNip()
    if (flags['dry-run']) return nip.install(specs, { ...opts, dryRun: true })
    return nip.install(specs, opts)
  }

  protected override renderHuman(result: InstallResult, style: Style): string {
    return renderInstallResult(result, style)
  }
}
