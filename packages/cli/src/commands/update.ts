import { Flags } from '@oclif/core'
import type { UpdateResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { formatTable } from '../render/format.js'
import type { Style } from '../render/style.js'

export default class Update extends BaseCommand<UpdateResult> {
  static override summary = 'Refresh every enabled source\'s local index from the network.'
  static override description =
    'Queries (search, info) and installs read each source\'s local index; it is refreshed when it is older than index-max-age, and at once by nip update. Each source reports its own result; a source or index that fails keeps its last good copy. Exits 69 (ERR_NIP_SOURCE_UNAVAILABLE) when a source failed.'
  static override examples = ['<%= config.bin %> update', '<%= config.bin %> update --source debian --json']
  static override flags = {
    source: Flags.string({ description: 'Refresh only this source.' }),
  }

  protected override async execute(): Promise<UpdateResult> {
    const { flags } = await this.parse(Update)
    this.useGlobals(flags)
    const nip = await this.openNip()
    const result = await nip.update(flags.source ? { source: flags.source } : {})
    if (!result.ok) {
      const { NipError } = await import('@nip/core')
      const failed = result.sources.filter((s) => s.status === 'failed')
      throw new NipError('ERR_NIP_SOURCE_UNAVAILABLE', `${failed.map((s) => `${s.source}: ${s.detail}`).join('\n')}`, {
        hint: 'The last good copy of each failed index stays in use; try again when the mirrors are reachable.',
        data: { result },
      })
    }
    return result
  }

  protected override renderHuman(result: UpdateResult, style: Style): string {
    const colour = (s: string): string => (s === 'failed' ? style.red(s) : s === 'partial' ? style.yellow(s) : s === 'updated' ? style.green(s) : style.dim(s))
    const rows: string[][] = []
    for (const s of result.sources) {
      rows.push([style.bold(String(s.source)), colour(s.status), s.detail])
      for (const p of s.parts ?? []) rows.push([`  ${p.name}`, colour(p.status), p.detail])
    }
    return formatTable(rows, { header: ['Source', 'Result', 'Detail'] })
  }
}
