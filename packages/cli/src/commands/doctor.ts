import { Flags } from '@oclif/core'
import type { DoctorReport } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderDoctor } from '../render/state.js'
import type { Style } from '../render/style.js'

export default class Doctor extends BaseCommand<DoctorReport> {
  static override summary = 'Check the root for broken or foreign links, database drift, interrupted transactions, stale locks and store refcounts.'
  static override description = 'Without --fix it only reads. With --fix it takes the lock, finishes or undoes interrupted transactions, and repairs what it can. Exits 1 when problems remain.'
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --fix', '<%= config.bin %> doctor --full']
  static override flags = {
    fix: Flags.boolean({ description: 'Repair what can be repaired.' }),
    full: Flags.boolean({ description: 'Re-hash every referenced blob instead of a random sample of 64 (reads the whole store).' }),
  }

  protected override async execute(): Promise<DoctorReport> {
    const { flags } = await this.parse(Doctor)
    this.useGlobals(flags)
    const nip = await this.openNip()
    const report = await nip.doctor({ fix: flags.fix, full: flags.full })
    // Like `pacman -Dk` and `brew doctor`: problems left unfixed make the exit status 1.
    if (!report.healthy) process.exitCode = 1
    return report
  }

  protected override renderHuman(result: DoctorReport, style: Style): string {
    return renderDoctor(result, style)
  }
}
