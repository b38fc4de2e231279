import { Args } from '@oclif/core'
import type { ProgramSummary } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderProgramList } from '../render/programs.js'
import type { Style } from '../render/style.js'

export default class List extends BaseCommand<ProgramSummary[]> {
  static override summary = 'List grafted programs (every version; * marks Current).'
  static override examples = ['<%= config.bin %> list', '<%= config.bin %> list libgreet --json']
  static override args = {
    name: Args.string({ description: 'Only this program (fails with ERR_NIP_NOT_INSTALLED if it is not grafted).' }),
  }

  protected override async execute(): Promise<ProgramSummary[]> {
    const { flags, args } = await this.parse(List)
    this.useGlobals(flags)
    const nip = await this.openNip()
    return nip.list(args.name ? { name: args.name } : {})
  }

  protected override renderHuman(result: ProgramSummary[], style: Style): string {
    return renderProgramList(result, style)
  }
}
