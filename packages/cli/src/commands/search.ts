import { Args, Flags } from '@oclif/core'
import type { SearchHit } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderSearch } from '../render/queries.js'
import type { Style } from '../render/style.js'

export default class Search extends BaseCommand<SearchHit[]> {
  static override summary = 'Search the enabled sources for packages.'
  static override examples = ['<%= config.bin %> search ripgrep', '<%= config.bin %> search zstd --source pacman --json']
  static override args = {
    query: Args.string({ description: 'Words to look for in package names (and summaries, where a source has them).', required: true }),
  }
  static override flags = {
    source: Flags.string({ description: 'Search only this source.' }),
  }

  protected override async execute(): Promise<SearchHit[]> {
    const { flags, args } = await this.parse(Search)
    this.useGlobals(flags)
    const nip = await this.openNip()
    return nip.search(args.query, flags.source ? { source: flags.source } : {})
  }

  protected override renderHuman(result: SearchHit[], style: Style): string {
    return renderSearch(result, style)
  }
}
