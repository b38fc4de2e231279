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
    report.findings.push(await this.bootstrapTools(flags.fix === true))
    // Like `pacman -Dk` and `brew doctor`: problems left unfixed make the exit status 1.
    if (!report.healthy) process.exitCode = 1
    return report
  }

  /**
   * The ecosystem tools nip bootstrap grafted into this root (docs/bootstrap.md): listed, with a
   * warning for one whose tree is gone, for a recorded container image Podman no longer has (or
   * names another image), and for staging directories a killed image install left (removed by
   * --fix when no live nip holds the lock).
   */
  private async bootstrapTools(fix: boolean): Promise<DoctorReport['findings'][number]> {
    const [build, core, fs] = await Promise.all([import('@nip/build'), import('@nip/core'), import('node:fs')])
    const loaded = await this.loadConfig()
    const layout = new core.Layout(loaded.config)
    const settings = build.readBuildSettings(loaded.config.sources.find((s) => s.id === 'build')?.table ?? {})
    const tools: string[] = []
    const missing: string[] = []
    const images: string[] = []
    for (const r of build.listTools(settings, layout)) {
      const g = build.graftedTool(layout, r.program)
      if (!g) continue
      tools.push(`${r.name}: ${r.program} ${g.version} (${layout.rel(g.dir)})`)
      if (!fs.existsSync(g.dir)) {
        missing.push(g.dir)
        continue
      }
      const record = r.image ? build.readImageRecord(g.dir) : null
      if (record) {
        const check = await build.checkImage(settings.podmanSocket, record)
        if (!check.ok) images.push(`${r.name}: ${check.detail}`)
      }
    }
    const check = 'bootstrap-tools' as DoctorReport['findings'][number]['check']
    // Leftovers are stale only when no live nip holds the lock (an install holds it throughout).
    const leftovers = build.imageLeftovers(layout)
    const holder = core.readLockOwner(layout.lockPath)
    const stale = leftovers.length > 0 && (!holder || core.isStale(holder))
    let fixedLeftovers = false
    if (stale && fix) {
      for (const d of leftovers) layout.cfs.rm(d, { recursive: true, force: true })
      fixedLeftovers = true
    }
    if (missing.length > 0) return { check, severity: 'warning', message: `${missing.length} bootstrap tools are recorded but their trees are missing: nip bootstrap install TOOL --force grafts them again.`, paths: missing, fixable: false }
    if (images.length > 0) return { check, severity: 'warning', message: `${images.length} container images nip made are missing from Podman or renamed: nip bootstrap install container makes it again (or nip bootstrap remove container drops the record).`, paths: images, fixable: false }
    if (stale && !fixedLeftovers) return { check, severity: 'warning', message: `${leftovers.length} staging directories of an interrupted container image install are left: nip doctor --fix or the next nip bootstrap install container removes them.`, paths: leftovers, fixable: true }
    return { check, severity: 'ok', message: `${tools.length > 0 ? `${tools.length} ecosystem tools installed by nip bootstrap.` : 'No ecosystem tools installed by nip bootstrap.'}${fixedLeftovers ? ` Removed ${leftovers.length} staging directories of an interrupted container image install.` : ''}`, paths: tools, fixable: false, ...(fixedLeftovers ? { fixed: true } : {}) }
  }

  protected override renderHuman(result: DoctorReport, style: Style): string {
    return renderDoctor(result, style)
  }
}
