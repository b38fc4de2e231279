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
    const plan = await nip.autoremove({ dryRun: true, command: this.commandLine })
    if (flags['dry-run'] || plan.plan.length === 0) return plan
    if (!this.globals.json && !this.globals.quiet) process.stderr.write(renderAutoremove(plan, this.stdoutStyle()) + '\n')
    return nip.autoremove({ command: this.commandLine })
  }

  protected override renderHuman(result: AutoremoveResult, style: Style): string {
    return renderAutoremove(result, style)
  }
}
