import { Flags } from '@oclif/core'
import type { DoctorReport } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderDoctor } from '../render/state.js'
import type { Style } from '../render/style.js'

export default class Doctor extends BaseCommand<DoctorReport> {
  static override summary = 'Check the root for broken or foreign links, database drift, interrupted transactions, stale locks and store refcounts.'
  static override description = 'Without --fix it only reads. With --fix it takes the lock, finishes or undoes interrupted transactions, and repairs what it can.'
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --fix']
  static override flags = {
    fix: Flags.boolean({ description: 'Repair what can be repaired.' }),
  }

  protected override async execute(): Promise<DoctorReport> {
    const { flags } = await this.parse(Doctor)
    this.useGlobals(flags)
    const nip = await this.openNip()
    return nip.doctor({ fix: flags.fix })
  }

  protected override renderHuman(result: DoctorReport, style: Style): string {
    return renderDoctor(result, style)
  }
}
