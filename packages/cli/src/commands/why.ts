import { Args } from '@oclif/core'
import type { WhyResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderWhy } from '../render/discovery.js'
import type { Style } from '../render/style.js'

export default class Why extends BaseCommand<WhyResult> {
  static override summary = 'Tell why a program is grafted: the chains of programs, from one you asked for, that need it.'
  static override examples = ['<%= config.bin %> why libgreet', '<%= config.bin %> why zlib --json']
  static override args = {
    name: Args.string({ description: 'A grafted program.', required: true }),
  }

  protected override async execute(): Promise<WhyResult> {
    const { flags, args } = await this.parse(Why)
    this.useGlobals(flags)
    const nip = await this.openNip()
    return nip.why(args.name)
  }

  protected override renderHuman(result: WhyResult, style: Style): string {
    return renderWhy(result, style)
  }
}
