import fs from 'node:fs'
import path from 'node:path'
import { Flags } from '@oclif/core'
import { BaseCommand } from '../../baseCommand.js'
import { renderConfigInit, type ConfigInitResult } from '../../render/config.js'
import type { Style } from '../../render/style.js'

export default class ConfigInit extends BaseCommand<ConfigInitResult> {
  static override summary = 'Write a commented configuration file listing every key with its default.'
  static override description = 'Writes <root>/etc/nip/nip.conf, or ~/.nip/config with --user. An existing file is kept unless --force.'
  static override examples = ['<%= config.bin %> config init', '<%= config.bin %> config init --user --force']
  static override mutates = true
  static override flags = {
    user: Flags.boolean({ description: 'Write the user file ~/.nip/config instead of the root\'s.' }),
    force: Flags.boolean({ description: 'Overwrite an existing file.' }),
  }

  protected override async execute(): Promise<ConfigInitResult> {
    const { flags } = await this.parse(ConfigInit)
    this.useGlobals(flags)
    const core = await import('@nip/core')
    const file = flags.user ? core.defaultUserConfigPath(process.env) : core.systemConfigPath(this.globals.root)
    const exists = fs.existsSync(file)
    if (exists && !flags.force) {
      throw new core.NipError('ERR_NIP_USAGE', `${file} already exists; it was left unchanged.`, {
        hint: 'Pass --force to overwrite it with the defaults (nip config show shows what it sets now).',
        data: { path: file },
      })
    }
    try {
      if (!flags.user) {
        // Under the root: through its confined layer (no planted etc/ or etc/nip link is followed).
        const cfs = new core.ConfinedFs(this.globals.root)
        cfs.ensureRoot()
        cfs.mkdirp(path.dirname(file))
        cfs.replaceFile(file, core.renderDefaultConfig(), 0o644)
      } else {
        fs.mkdirSync(path.dirname(file), { recursive: true })
        // Written beside the target and renamed, so a reader never sees half a file.
        const tmp = `${file}.tmp-${process.pid}`
        fs.writeFileSync(tmp, core.renderDefaultConfig(), { mode: 0o644, flag: 'wx' })
        fs.renameSync(tmp, file)
      }
    } catch (e) {
      throw core.fromSystemError(e, 'writing the configuration file', file)
    }
    return { path: file, scope: flags.user ? 'user' : 'system', overwritten: exists }
  }

  protected override renderHuman(result: ConfigInitResult, style: Style): string {
    return renderConfigInit(result, style)
  }
}
