import type { GenerationSummary } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderGenerations } from '../render/lifecycle.js'
import type { Style } from '../render/style.js'

export default class Generations extends BaseCommand<GenerationSummary[]> {
  static override summary = 'List the generations (number, date, parent, command, changes); * marks the current one.'
  static override examples = ['<%= config.bin %> generations', '<%= config.bin %> generations diff 3 5', '<%= config.bin %> generations delete --keep 5']

  protected override async execute(): Promise<GenerationSummary[]> {
    const { flags } = await this.parse(Generations)
    this.useGlobals(flags)
    const nip = await this.openNip()
    return nip.generations()
  }

  protected override renderHuman(result: GenerationSummary[], style: Style): string {
    return renderGenerations(result, style)
  }
}
