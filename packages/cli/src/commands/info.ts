import { Args, Flags } from '@oclif/core'
import type { InfoResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderInfo } from '../render/programs.js'
import type { Style } from '../render/style.js'

export default class Info extends BaseCommand<InfoResult> {
  static override summary = 'Show a program: grafted versions, dependencies, dependents, and what sources offer.'
  static override examples = ['<%= config.bin %> info hello', '<%= config.bin %> info nix:ripgrep --json']
  static override args = {
    spec: Args.string({ description: '[source:]name[@version]', required: true }),
  }
  static override flags = {
    source: Flags.string({ description: 'Ask only this source.' }),
  }

  protected override async execute(): Promise<InfoResult> {
    const { flags, args } = await this.parse(Info)
    this.useGlobals(flags)
    const nip = await this.openNip()
    return nip.info(args.spec, flags.source ? { source: flags.source } : {})
  }

  protected override renderHuman(result: InfoResult, style: Style): string {
    return renderInfo(result, style)
  }
}
