import { Flags } from '@oclif/core'
import type { RemoveResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderRemoveResult } from '../render/change.js'
import type { Style } from '../render/style.js'

export default class Remove extends BaseCommand<RemoveResult> {
  static override summary = 'Remove grafted programs (every version, or NAME@VERSION only).'
  static override examples = ['<%= config.bin %> remove hello', '<%= config.bin %> remove libgreet@1.0 --dry-run', '<%= config.bin %> remove libgreet --cascade']
  static override strict = false
  static override usage = '<%= command.id %> NAME[@VERSION]...'
  static override mutates = true
  static override flags = {
    cascade: Flags.boolean({ description: 'Also remove the programs that depend on the named ones.' }),
    force: Flags.boolean({ description: 'Remove even when other programs depend on it.' }),
    'dry-run': Flags.boolean({ description: 'Show what would be removed and change nothing.' }),
  }

  protected override async execute(): Promise<RemoveResult> {
    const { flags, argv } = await this.parse(Remove)
    this.useGlobals(flags)
    const names = argv as string[]
    const stray = names.find((s) => s.startsWith('-'))
    if (stray) throw await this.usageError(`Unknown flag: ${stray}.`, 'Run "nip remove --help" for the flags.', { flag: stray })
    if (names.length === 0) throw await this.usageError('Nothing to remove.', 'Name at least one program: nip remove NAME[@VERSION]...')
    const nip = await this.openNip()
    return nip.remove(names, { command: this.commandLine, ...(flags.cascade ? { cascade: true } : {}), ...(flags.force ? { force: true } : {}), ...(flags['dry-run'] ? { dryRun: true } : {}) })
  }

  protected override renderHuman(result: RemoveResult, style: Style): string {
    return renderRemoveResult(result, style)
  }
}
