import { Args } from '@oclif/core'
import type { PinResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderPin } from '../render/lifecycle.js'

export default class Unpin extends BaseCommand<PinResult> {
  static override summary = 'Remove a pin.'
  static override examples = ['<%= config.bin %> unpin hello', '<%= config.bin %> unpin hello@1.0']
  static override mutates = true
  static override args = {
    spec: Args.string({ description: 'NAME (its Current version) or NAME@VERSION.', required: true }),
  }

  protected override async execute(): Promise<PinResult> {
    const { flags, args } = await this.parse(Unpin)
    this.useGlobals(flags)
    const nip = await this.openNip()
    return nip.unpin(args.spec)
  }

  protected override renderHuman(result: PinResult): string {
    return renderPin(result)
  }
}
