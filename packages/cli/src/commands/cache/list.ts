import { Flags } from '@oclif/core'
import { BaseCommand } from '../../baseCommand.js'
import { renderCacheList, type CacheListResult } from '../../render/cache.js'
import type { Style } from '../../render/style.js'

export default class CacheList extends BaseCommand<CacheListResult> {
  static override summary = 'List what the fleet caches hold (their index artifacts).'
  static override description = 'Reads the index of each registry in [oci] registries, or of the one named with --from. See docs/fleet.md.'
  static override examples = ['<%= config.bin %> cache list', '<%= config.bin %> cache list --from oci://registry.example.org:5000/team/nip']
  static override flags = {
    from: Flags.string({ description: 'The registry repository to list (default: every one in [oci] registries).', helpValue: 'oci://HOST[:PORT]/REPO' }),
  }

  protected override async execute(): Promise<CacheListResult> {
    const { flags } = await this.parse(CacheList)
    this.useGlobals(flags)
    const oci = await import('@nip/oci')
    const loaded = await this.loadConfig()
    const settings = oci.readOciSettings(loaded.config.sources.find((s) => s.id === 'oci')?.table ?? {})
    const refs = flags.from ? [oci.parseRegistryRef(flags.from)] : settings.registries
    if (refs.length === 0) throw await this.usageError('No registry is configured.', 'Pass --from oci://HOST[:PORT]/REPO, or set [oci] registries.')
    const registries: CacheListResult['registries'] = []
    for (const ref of refs) {
      const index = await oci.readCatalog(oci.clientFor(ref, settings, { reporter: this.reporter }))
      registries.push({ registry: ref.url, programs: index.programs })
    }
    return { registries }
  }

  protected override renderHuman(result: CacheListResult, style: Style): string {
    return renderCacheList(result, style)
  }
}
