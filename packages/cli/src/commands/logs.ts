import { Args } from '@oclif/core'
import type { LogRecord } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderLogs } from '../render/state.js'
import type { Style } from '../render/style.js'

export default class Logs extends BaseCommand<LogRecord[]> {
  static override summary = 'Show the last transactions from the log, oldest first.'
  static override examples = ['<%= config.bin %> logs', '<%= config.bin %> logs 100 --json']
  static override args = {
    lines: Args.string({ description: 'How many records (default 20).', default: '20' }),
  }

  protected override async execute(): Promise<LogRecord[]> {
    const { flags, args } = await this.parse(Logs)
    this.useGlobals(flags)
    if (!/^[1-9]\d*$/.test(args.lines)) throw await this.usageError(`LINES must be a positive whole number, not "${args.lines}".`, 'Example: nip logs 50', { lines: args.lines })
    const nip = await this.openNip()
    return nip.logs(Number(args.lines))
  }

  protected override renderHuman(result: LogRecord[], style: Style): string {
    return renderLogs(result, style)
  }
}
