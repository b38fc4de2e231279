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
    report.findings.push(await this.bootstrapTools())
    // Like `pacman -Dk` and `brew doctor`: problems left unfixed make the exit status 1.
    if (!report.healthy) process.exitCode = 1
    return report
  }

  /** The ecosystem tools nip bootstrap grafted into this root (docs/bootstrap.md): listed, with a warning for one whose tree is gone. */
  private async bootstrapTools(): Promise<DoctorReport['findings'][number]> {
    const [build, core, fs] = await Promise.all([import('@nip/build'), import('@nip/core'), import('node:fs')])
    const loaded = await this.loadConfig()
    const layout = new core.Layout(loaded.config)
    const settings = build.readBuildSettings(loaded.config.sources.find((s) => s.id === 'build')?.table ?? {})
    const tools: string[] = []
    const missing: string[] = []
    for (const r of build.listTools(settings, layout)) {
      const g = build.graftedTool(layout, r.program)
      if (!g) continue
      tools.push(`${r.name}: ${r.program} ${g.version} (${layout.rel(g.dir)})`)
      if (!fs.existsSync(g.dir)) missing.push(g.dir)
    }
    const check = 'bootstrap-tools' as DoctorReport['findings'][number]['check']
    if (missing.length > 0) return { check, severity: 'warning', message: `${missing.length} bootstrap tools are recorded but their trees are missing: nip bootstrap install TOOL --force grafts them again.`, paths: missing, fixable: false }
    return { check, severity: 'ok', message: tools.length > 0 ? `${tools.length} ecosystem tools installed by nip bootstrap.` : 'No ecosystem tools installed by nip bootstrap.', paths: tools, fixable: false }
  }

  protected override renderHuman(result: DoctorReport, style: Style): string {
    return renderDoctor(result, style)
  }
}
