import { Flags } from '@oclif/core'
import type { GcResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderGc } from '../render/lifecycle.js'
import type { Style } from '../render/style.js'

export default class Gc extends BaseCommand<GcResult> {
  static override summary = 'Delete program trees no kept generation or pin references, and blobs nothing references.'
  static override examples = ['<%= config.bin %> gc', '<%= config.bin %> gc --dry-run', '<%= config.bin %> gc --max-freed 1G', '<%= config.bin %> gc --verify']
  static override mutates = true
  static override flags = {
    'dry-run': Flags.boolean({ description: 'Show what would be freed and change nothing.' }),
    'max-freed': Flags.string({ description: 'Stop once about this much is freed (bytes, or 500M, 2G).', helpValue: 'SIZE' }),
    verify: Flags.boolean({ description: 'Also scan every program and the whole store and report drift (slow).' }),
  }

  protected override async execute(): Promise<GcResult> {
    const { flags } = await this.parse(Gc)
    this.useGlobals(flags)
    let maxFreed: number | undefined
    if (flags['max-freed'] !== undefined) {
      const core = await import('@nip/core')
      const given = flags['max-freed']
      try {
        maxFreed = core.parseSize('max-freed', /^\d+$/.test(given) ? Number(given) : given)
      } catch {
        // A command-line value: a usage error naming the flag, not a configuration error.
        throw await this.usageError(`--max-freed: "${given}" is not a size.`, 'Write bytes or a number with K, M, G, T or P: nip gc --max-freed 500M.', { flag: 'max-freed', value: given })
      }
    }
    const nip = await this.openNip()
    return nip.gc({ command: this.commandLine, ...(flags['dry-run'] ? { dryRun: true } : {}), ...(flags.verify ? { verify: true } : {}), ...(maxFreed !== undefined ? { maxFreed } : {}) })
  }

  protected override renderHuman(result: GcResult, style: Style): string {
    return renderGc(result, style)
  }
}
