import { Flags } from '@oclif/core'
import type { OutdatedResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { formatTable } from '../render/format.js'
import type { Style } from '../render/style.js'

export default class Outdated extends BaseCommand<OutdatedResult> {
  static override summary = 'List current programs whose source offers another version.'
  static override description =
    'Asks each current program\'s own source (every source nip grafted from) for its best version. Without NAME every current program is listed that is not up to date; with NAMEs those programs and the programs they depend on. --all lists the up-to-date ones too.'
  static override examples = ['<%= config.bin %> outdated', '<%= config.bin %> outdated jq --all', '<%= config.bin %> outdated --json']
  static override strict = false
  static override usage = '<%= command.id %> [NAME...]'
  static override flags = {
    all: Flags.boolean({ description: 'Also list the programs that are up to date.' }),
  }

  private showAll = false

  protected override async execute(): Promise<OutdatedResult> {
    const { flags, argv } = await this.parse(Outdated)
    this.useGlobals(flags)
    const names = argv as string[]
    const flag = names.find((n) => n.startsWith('-'))
    if (flag !== undefined) throw await this.usageError(`Unknown flag: ${flag}.`, `Run "nip ${this.commandName} --help" for the flags.`, { flag })
    this.showAll = flags.all
    const nip = await this.openNip()
    const result = await nip.outdated(names)
    return flags.all ? result : { programs: result.programs.filter((p) => p.status !== 'up-to-date') }
  }

  protected override renderHuman(result: OutdatedResult, style: Style): string {
    if (result.programs.length === 0) return this.showAll ? 'Nothing is grafted.' : 'Every program is up to date.'
    const status = (p: OutdatedResult['programs'][number]): string => {
      const s = p.status === 'upgrade' ? style.green('upgrade') : p.status === 'downgrade' ? style.yellow('only a lower version offered') : p.status === 'not-offered' ? style.yellow('no longer offered') : p.status === 'source-failed' ? style.red(`source failed: ${p.error?.code ?? ''}`) : style.dim('up to date')
      return p.pinned ? `${s} ${style.dim('(pinned)')}` : s
    }
    const rows = result.programs.map((p) => [style.bold(p.name), p.installed, p.available ?? '-', String(p.source), status(p)])
    return formatTable(rows, { header: ['Program', 'Grafted', 'Offered', 'Source', 'Status'] })
  }
}
