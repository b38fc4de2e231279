import { Args, Flags } from '@oclif/core'
import type { ProgramSummary } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderProgramList } from '../render/programs.js'
import type { Style } from '../render/style.js'

export default class List extends BaseCommand<ProgramSummary[]> {
  static override summary = 'List the programs of the current generation (* marks Current).'
  static override description =
    'With --all it also lists the versions no longer in the current generation that a kept generation or a pin still holds (removed, not yet collected by nip gc), marked as such.'
  static override examples = ['<%= config.bin %> list', '<%= config.bin %> list --all', '<%= config.bin %> list libgreet --json']
  static override args = {
    name: Args.string({ description: 'Only this program (fails with ERR_NIP_NOT_INSTALLED when no version of it is kept).' }),
  }
  static override flags = {
    all: Flags.boolean({ description: 'Also list kept versions outside the current generation (removed, not yet collected).' }),
  }

  protected override async execute(): Promise<ProgramSummary[]> {
    const { flags, args } = await this.parse(List)
    this.useGlobals(flags)
    const nip = await this.openNip()
    return nip.list({ ...(args.name ? { name: args.name } : {}), ...(flags.all ? { all: true } : {}) })
  }

  protected override renderHuman(result: ProgramSummary[], style: Style): string {
    return renderProgramList(result, style)
  }
}
