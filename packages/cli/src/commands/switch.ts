import { Args } from '@oclif/core'
import type { SwitchResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderSwitchResult } from '../render/change.js'
import type { Style } from '../render/style.js'

export default class Switch extends BaseCommand<SwitchResult> {
  static override summary = 'Make another grafted version of a program Current (and relink).'
  static override examples = ['<%= config.bin %> switch libgreet 1.0']
  static override mutates = true
  static override args = {
    name: Args.string({ description: 'Program name.', required: true }),
    version: Args.string({ description: 'A grafted version of it.', required: true }),
  }

  protected override async execute(): Promise<SwitchResult> {
    const { flags, args } = await this.parse(Switch)
    this.useGlobals(flags)
    const nip = await this.openNip()
    return nip.switch(args.name, args.version, { command: this.commandLine })
  }

  protected override renderHuman(result: SwitchResult, style: Style): string {
    return renderSwitchResult(result, style)
  }
}
