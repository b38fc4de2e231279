import { Args } from '@oclif/core'
import type { GenerationDiff } from '@nip/core'
import { BaseCommand } from '../../baseCommand.js'
import { renderGenerationDiff } from '../../render/lifecycle.js'
import type { Style } from '../../render/style.js'

export default class GenerationsDiff extends BaseCommand<GenerationDiff> {
  static override summary = 'Show which program versions differ between two generations.'
  static override examples = ['<%= config.bin %> generations diff 3 5']
  static override args = {
    from: Args.integer({ description: 'A generation number.', required: true }),
    to: Args.integer({ description: 'Another generation number.', required: true }),
  }

  protected override async execute(): Promise<GenerationDiff> {
    const { flags, args } = await this.parse(GenerationsDiff)
    this.useGlobals(flags)
    const nip = await this.openNip()
    return nip.generationsDiff(args.from, args.to)
  }

  protected override renderHuman(result: GenerationDiff, style: Style): string {
    return renderGenerationDiff(result, style)
  }
}
