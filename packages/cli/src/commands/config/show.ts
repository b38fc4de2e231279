import { BaseCommand } from '../../baseCommand.js'
import { renderConfigShow, type ConfigShowResult } from '../../render/config.js'
import type { Style } from '../../render/style.js'

export default class ConfigShow extends BaseCommand<ConfigShowResult> {
  static override summary = 'Show the effective configuration and where each value comes from.'
  static override examples = ['<%= config.bin %> config show', '<%= config.bin %> config show --json']

  protected override async execute(): Promise<ConfigShowResult> {
    const { flags } = await this.parse(ConfigShow)
    this.useGlobals(flags)
    const loaded = await this.loadConfig()
    const { FLAT_KEYS, SOURCE_KEYS, SOURCE_IDS } = await import('@nip/core')
    const sourceKeys = Object.fromEntries(SOURCE_IDS.map((id) => [id, SOURCE_KEYS[id] ?? []]))
    const sizeKeys = Object.entries(FLAT_KEYS).filter(([, k]) => k.kind === 'size').map(([key]) => key)
    return { root: loaded.config.root, files: loaded.files, config: loaded.config, origins: loaded.origins, sourceKeys, sizeKeys }
  }

  protected override renderHuman(result: ConfigShowResult, style: Style): string {
    return renderConfigShow(result, style)
  }
}
