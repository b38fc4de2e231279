import { Args, Flags } from '@oclif/core'
import type { ProgramSummary } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderProgramList } from '../render/programs.js'
import type { Style } from '../render/style.js'

export default class List extends BaseCommand<ProgramSummary[]> {
  static override summary = 'List the programs of the current generation (* marks Current).'
  static override description =
    'With --all it also lists the versions no longer in the current generation that a kept generation or a pin still holds (removed, not yet collected by nip gc), marked as such.'
  static override examples = ['<%= config.bin %> list', '<%= config.bin %> list --all', '<%= config.bin %> list libgreet --json', '<%= config.bin %> list --orphans']
  static override args = {
    name: Args.string({ description: 'Only this program (fails with ERR_NIP_NOT_INSTALLED when no version of it is kept).' }),
  }
  static override flags = {
    all: Flags.boolean({ description: 'Also list kept versions outside the current generation (removed, not yet collected).' }),
    explicit: Flags.boolean({ description: 'Only the programs you asked for.', exclusive: ['deps', 'orphans', 'all'] }),
    deps: Flags.boolean({ description: 'Only the programs grafted as dependencies.', exclusive: ['explicit', 'orphans', 'all'] }),
    orphans: Flags.boolean({ description: 'Only the dependencies no explicit program needs any more (what nip autoremove removes).', exclusive: ['explicit', 'deps', 'all'] }),
    // For shell completion: one name per line, nothing else.
    names: Flags.boolean({ hidden: true }),
  }

  private namesOnly = false

  protected override async execute(): Promise<ProgramSummary[]> {
    const { flags, args } = await this.parse(List)
    this.useGlobals(flags)
    const nip = await this.openNip()
    this.namesOnly = flags.names
    const filter = flags.explicit ? 'explicit' : flags.deps ? 'deps' : flags.orphans ? 'orphans' : undefined
    return nip.list({ ...(args.name ? { name: args.name } : {}), ...(flags.all ? { all: true } : {}), ...(filter ? { filter } : {}) })
  }

  protected override renderHuman(result: ProgramSummary[], style: Style): string {
    if (this.namesOnly) return [...new Set(result.map((p) => p.name))].join('\n')
    return renderProgramList(result, style)
  }
}
