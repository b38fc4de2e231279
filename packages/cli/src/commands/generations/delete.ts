import { Flags } from '@oclif/core'
import type { GenerationsDeleteResult } from '@nip/core'
import { BaseCommand } from '../../baseCommand.js'
import { renderGenerationsDelete } from '../../render/lifecycle.js'

export default class GenerationsDelete extends BaseCommand<GenerationsDeleteResult> {
  static override summary = 'Delete generations (never the current one); nip gc then frees what only they held.'
  static override examples = ['<%= config.bin %> generations delete 2 3', '<%= config.bin %> generations delete --keep 5', '<%= config.bin %> generations delete --older-than 30d']
  static override strict = false
  static override usage = '<%= command.id %> [N...] [--keep N] [--older-than DURATION]'
  static override mutates = true
  static override flags = {
    keep: Flags.integer({ description: 'Keep the newest N generations.', min: 1 }),
    'older-than': Flags.string({ description: 'Delete generations older than this (90m, 12h, 30d, 2w).', helpValue: 'DURATION' }),
  }

  protected override async execute(): Promise<GenerationsDeleteResult> {
    const { flags, argv } = await this.parse(GenerationsDelete)
    this.useGlobals(flags)
    const words = argv as string[]
    const bad = words.find((w) => !/^\d+$/.test(w))
    if (bad) throw await this.usageError(`"${bad}" is not a generation number.`, 'Name generations by number (nip generations lists them).', { argument: bad })
    if (words.length === 0 && flags.keep === undefined && flags['older-than'] === undefined) {
      throw await this.usageError('Nothing to delete.', 'Name generations, or use --keep N or --older-than DURATION.')
    }
    const core = await import('@nip/core')
    const olderThan = flags['older-than'] !== undefined ? new Date(Date.now() - core.parseDuration(flags['older-than'])) : undefined
    const nip = await this.openNip()
    return nip.generationsDelete({ ids: words.map(Number), ...(flags.keep !== undefined ? { keep: flags.keep } : {}), ...(olderThan ? { olderThan } : {}), command: this.commandLine })
  }

  protected override renderHuman(result: GenerationsDeleteResult): string {
    return renderGenerationsDelete(result)
  }
}
