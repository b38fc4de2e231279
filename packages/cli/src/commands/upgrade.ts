import { Flags } from '@oclif/core'
import type { UpgradeOptions, UpgradeResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderInstallResult } from '../render/plan.js'
import type { Style } from '../render/style.js'

export default class Upgrade extends BaseCommand<UpgradeResult> {
  static override summary = 'Graft the newest version each program\'s source offers, in one transaction and one generation.'
  static override description =
    'Without NAME every current program is upgraded (explicit programs and dependencies); with NAMEs those programs and the programs they depend on. Each program stays with its own source unless a NAME says source:name; pinned programs are left alone. A lower version (a source that now offers only an older one) needs --allow-downgrade. The plan marks each upgrade, downgrade, reinstall, new dependency and change of source.'
  static override examples = ['<%= config.bin %> upgrade', '<%= config.bin %> upgrade jq --dry-run', '<%= config.bin %> upgrade pacman:zstd', '<%= config.bin %> upgrade hello --allow-downgrade']
  static override strict = false
  static override usage = '<%= command.id %> [NAME...]'
  static override mutates = true
  static override flags = {
    'dry-run': Flags.boolean({ description: 'Show the plan and change nothing.' }),
    'allow-downgrade': Flags.boolean({ description: 'Let Current move to a lower version when that is all the source offers.' }),
  }

  protected override async execute(): Promise<UpgradeResult> {
    const { flags, argv } = await this.parse(Upgrade)
    this.useGlobals(flags)
    const names = argv as string[]
    const flag = names.find((n) => n.startsWith('-'))
    if (flag !== undefined) throw await this.usageError(`Unknown flag: ${flag}.`, `Run "nip ${this.commandName} --help" for the flags.`, { flag })
    const opts: UpgradeOptions = { command: this.commandLine, ...(flags['allow-downgrade'] ? { allowDowngrade: true } : {}) }
    const nip = await this.openNip()
    if (flags['dry-run']) return nip.upgrade(names, { ...opts, dryRun: true })
    return nip.upgrade(names, opts)
  }

  protected override renderHuman(result: UpgradeResult, style: Style): string {
    const lines = [renderInstallResult(result, style)]
    const pinned = result.held.filter((h) => h.reason === 'pinned')
    if (pinned.length > 0) lines.push(style.dim(`pinned, left alone: ${pinned.map((h) => `${h.name} ${h.version}`).join(', ')}`))
    if (!result.dryRun) for (const w of result.plan.warnings) lines.push(`${style.yellow('warning')}: ${w}`)
    return lines.join('\n')
  }
}
