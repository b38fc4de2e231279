import { Flags } from '@oclif/core'
import type { RollbackResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderRollback } from '../render/lifecycle.js'
import type { Style } from '../render/style.js'

export default class Rollback extends BaseCommand<RollbackResult> {
  static override summary = 'Return to the parent of the current generation (or --to N); recorded as a new generation.'
  static override examples = ['<%= config.bin %> rollback', '<%= config.bin %> rollback --to 3', '<%= config.bin %> rollback --dry-run']
  static override mutates = true
  static override flags = {
    to: Flags.integer({ description: 'Restore the set of this kept generation.', helpValue: 'N' }),
    'dry-run': Flags.boolean({ description: 'Show what would change and change nothing.' }),
  }

  protected override async execute(): Promise<RollbackResult> {
    const { flags } = await this.parse(Rollback)
    this.useGlobals(flags)
    const nip = await this.openNip()
    return nip.rollback({ command: this.commandLine, ...(flags.to !== undefined ? { to: flags.to } : {}), ...(flags['dry-run'] ? { dryRun: true } : {}) })
  }

  protected override renderHuman(result: RollbackResult, style: Style): string {
    return renderRollback(result, style)
  }
}
