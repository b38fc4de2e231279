import type { StatusResult } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderStatus } from '../render/state.js'
import type { Style } from '../render/style.js'

export default class Status extends BaseCommand<StatusResult> {
  static override summary = 'Summarise the root: programs, links, store, lock, interrupted transactions.'
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json']

  protected override async execute(): Promise<StatusResult> {
    const { flags } = await this.parse(Status)
    this.useGlobals(flags)
    const nip = await this.openNip()
    return nip.status()
  }

  protected override renderHuman(result: StatusResult, style: Style): string {
    return renderStatus(result, style)
  }
}
