import { Args, Flags } from '@oclif/core'
import type { LogRecord } from '@nip/core'
import { BaseCommand } from '../baseCommand.js'
import { renderBuildLog, type BuildLogView } from '../render/build.js'
import { renderLogs } from '../render/state.js'
import type { Style } from '../render/style.js'

export default class Logs extends BaseCommand<LogRecord[] | BuildLogView> {
  static override summary = 'Show the last transactions from the log, oldest first.'
  static override examples = ['<%= config.bin %> logs', '<%= config.bin %> logs 100 --json', '<%= config.bin %> logs --build hello']
  static override flags = {
    build: Flags.string({ description: 'Show the newest build log of this program (nip build) instead of the transaction log; LINES is then the number of last lines (0: all).', helpValue: 'NAME' }),
  }
  static override args = {
    lines: Args.string({ description: 'How many records (default 20).', default: '20' }),
  }

  protected override async execute(): Promise<LogRecord[] | BuildLogView> {
    const { flags, args } = await this.parse(Logs)
    this.useGlobals(flags)
    if (flags.build !== undefined) {
      if (!/^\d+$/.test(args.lines)) throw await this.usageError(`LINES must be a whole number, not "${args.lines}".`, 'Example: nip logs --build hello 100', { lines: args.lines })
      const explicit = this.argv.some((a) => /^\d+$/.test(a))
      return this.buildLog(flags.build, explicit ? Number(args.lines) : 0)
    }
    if (!/^[1-9]\d*$/.test(args.lines)) throw await this.usageError(`LINES must be a positive whole number, not "${args.lines}".`, 'Example: nip logs 50', { lines: args.lines })
    const nip = await this.openNip()
    return nip.logs(Number(args.lines))
  }

  private async buildLog(name: string, lines: number): Promise<BuildLogView> {
    const [core, build, fs] = await Promise.all([import('@nip/core'), import('@nip/build'), import('node:fs')])
    const layout = new core.Layout((await this.loadConfig()).config)
    const logs = build.listBuildLogs(layout.logDir, name)
    if (logs.length === 0) {
      throw new core.NipError('ERR_NIP_NOT_FOUND', `There is no build log for ${name}.`, { hint: `Logs are kept per build under ${build.buildLogDir(layout.logDir, name)}; build it with nip build ${name}.`, data: { name } })
    }
    const text = lines > 0 ? build.tailLines(logs[0].file, lines).join('\n') + '\n' : fs.readFileSync(logs[0].file, 'utf8')
    return { kind: 'build-log', name, file: logs[0].file, logs, text }
  }

  protected override renderHuman(result: LogRecord[] | BuildLogView, style: Style): string {
    if (!Array.isArray(result)) return renderBuildLog(result, style)
    return renderLogs(result, style)
  }
}
