import { Flags } from '@oclif/core'
import type { AutoremoveResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderAutoremove } from '../render/lifecycle.js'
import type { Style } from '../render/style.js'

export default class Autoremove extends BaseCommand<AutoremoveResult> {
  static override summary = 'Remove programs grafted only as dependencies that no explicit program needs (plan shown first).'
  static override examples = ['<%= config.bin %> autoremove --dry-run', '<%= config.bin %> autoremove --yes']
  static override mutates = true
  static override flags = {
    'dry-run': Flags.boolean({ description: 'Show the plan and change nothing.' }),
  }

  protected override async execute(): Promise<AutoremoveResult> {
    const { flags } = await this.parse(Autoremove)
    this.useGlobals(flags)
    const nip = await this.openNip()
    // One plan, made under the lock; the question names what goes.
    return nip.autoremove({ command: this.commandLine, ...(flags['dry-run'] ? { dryRun: true } : {}) })
  }

  protected override renderHuman(result: AutoremoveResult, style: Style): string {
    return renderAutoremove(result, style)
  }
}
