import { Flags } from '@oclif/core'
import type { CacheCleanResult } from '@nip/core'
import { BaseCommand } from '../../baseCommand.js'
import { renderCacheClean } from '../../render/discovery.js'
import type { Style } from '../../render/style.js'

export default class CacheClean extends BaseCommand<CacheCleanResult> {
  static override summary = 'Delete downloaded package archives from the cache (with --all, also the sources\' indexes).'
  static override description =
    'Grafted programs do not need their archives: their files are in the store. Indexes are fetched again by nip update (or the next command that needs one). Stored build outputs stay.'
  static override examples = ['<%= config.bin %> cache clean', '<%= config.bin %> cache clean --all']
  static override mutates = true
  static override flags = {
    all: Flags.boolean({ description: 'Also delete the indexes and every other downloaded file.' }),
  }

  protected override async execute(): Promise<CacheCleanResult> {
    const { flags } = await this.parse(CacheClean)
    this.useGlobals(flags)
    const nip = await this.openNip()
    return nip.cacheClean({ all: flags.all, command: this.commandLine })
  }

  protected override renderHuman(result: CacheCleanResult, style: Style): string {
    return renderCacheClean(result, style)
  }
}
