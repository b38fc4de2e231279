import type { SourceStatus } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderSources } from '../render/queries.js'
import type { Style } from '../render/style.js'

export default class Sources extends BaseCommand<SourceStatus[]> {
  static override summary = 'List the sources in priority order, with whether each is configured and reachable.'
  static override examples = ['<%= config.bin %> sources', '<%= config.bin %> sources --json']

  protected override async execute(): Promise<SourceStatus[]> {
    const { flags } = await this.parse(Sources)
    this.useGlobals(flags)
    const nip = await this.openNip()
    return nip.sources()
  }

  protected override renderHuman(result: SourceStatus[], style: Style): string {
    return renderSources(result, style)
  }
}
