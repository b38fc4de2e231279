import { Args, Flags } from '@oclif/core'
import type { InfoResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderInfo } from '../render/programs.js'
import type { Style } from '../render/style.js'

export default class Info extends BaseCommand<InfoResult> {
  static override summary = 'Show a program: grafted versions, dependencies, dependents, and what sources offer.'
  static override examples = ['<%= config.bin %> info hello', '<%= config.bin %> info nix:ripgrep --json', '<%= config.bin %> info --source=gentoo ffmpeg +vaapi -doc']
  static override strict = false
  static override usage = '<%= command.id %> SPEC [VARIANT...]'
  static override args = {
    spec: Args.string({ description: '[source:]name[@version]', required: true }),
  }
  static override flags = {
    source: Flags.string({ description: 'Ask only this source.' }),
  }

  protected override async execute(): Promise<InfoResult> {
    const { flags, args, argv } = await this.parse(Info)
    this.useGlobals(flags)
    // Words after the spec are variants (`+vaapi`, `-doc`, `+vaapi+lto`, `video_cards=intel`).
    // Global flags given after `--` come back at the end of argv; they end the variant words.
    const words = (argv as string[]).slice(1)
    const end = words.findIndex((w) => w.startsWith('--'))
    const variants = (end === -1 ? words : words.slice(0, end)).flatMap((w) => (/^[+~]/.test(w) ? w.split(/(?=[+~])/) : [w]))
    const nip = await this.openNip()
    return nip.info(args.spec, { ...(flags.source ? { source: flags.source } : {}), ...(variants.length > 0 ? { variants } : {}) })
  }

  protected override renderHuman(result: InfoResult, style: Style): string {
    return renderInfo(result, style)
  }
}
