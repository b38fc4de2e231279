import { Args } from '@oclif/core'
import type { PinResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderPin } from '../render/lifecycle.js'

export default class Pin extends BaseCommand<PinResult> {
  static override summary = 'Pin a program version: gc keeps it and upgrades leave it Current.'
  static override examples = ['<%= config.bin %> pin hello', '<%= config.bin %> pin hello@1.0']
  static override mutates = true
  static override args = {
    spec: Args.string({ description: 'NAME (its Current version) or NAME@VERSION.', required: true }),
  }

  protected override async execute(): Promise<PinResult> {
    const { flags, args } = await this.parse(Pin)
    this.useGlobals(flags)
    const nip = await this.openNip()
    return nip.pin(args.spec)
  }

  protected override renderHuman(result: PinResult): string {
    return renderPin(result)
  }
}
