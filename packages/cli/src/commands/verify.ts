import { Flags } from '@oclif/core'
import type { VerifyResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderVerify } from '../render/lifecycle.js'
import type { Style } from '../render/style.js'

export default class Verify extends BaseCommand<VerifyResult> {
  static override summary = 'Re-hash programs against the database: VERIFIED, MODIFIED (Settings edited), TAMPERED or MISSING.'
  static override description = 'With --repair, restores damaged or missing files from the store, or fetches them again from the source when the stored blob itself is damaged. Exits 1 when a program stays TAMPERED or MISSING.'
  static override examples = ['<%= config.bin %> verify', '<%= config.bin %> verify hello --repair']
  static override strict = false
  static override usage = '<%= command.id %> [NAME...] [--repair]'
  static override flags = {
    repair: Flags.boolean({ description: 'Restore tampered and missing files.' }),
  }

  protected override async execute(): Promise<VerifyResult> {
    const { flags, argv } = await this.parse(Verify)
    this.useGlobals(flags)
    const names = argv as string[]
    const stray = names.find((s) => s.startsWith('-'))
    if (stray) throw await this.usageError(`Unknown flag: ${stray}.`, 'Run "nip verify --help" for the flags.', { flag: stray })
    const nip = await this.openNip()
    const r = await nip.verify(names, { command: this.commandLine, ...(flags.repair ? { repair: true } : {}) })
    if (!r.ok) process.exitCode = 1
    return r
  }

  protected override renderHuman(result: VerifyResult, style: Style): string {
    return renderVerify(result, style)
  }
}
