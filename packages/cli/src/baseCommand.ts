/**
 * BaseCommand: what every nip command shares — the global flags, the target root, the
 * configuration, the reporter, the Nip instance, and the one place where results and errors
 * are printed.
 *
 * Contract: run() never throws. On success it prints the human rendering on stdout (or, with
 * --json, exactly one success envelope); on failure it prints `error[CODE]: …` on stderr (or
 * one failure envelope on stdout) and sets process.exitCode to the error's exit code.
 *
 * Commands import core only with `import type` at top level and `await import('@nip/core')`
 * at run time, so that loading a command for --help costs no SQLite and no adapters.
 */
import { Command, Flags } from '@oclif/core'
import type { LoadedConfig, Nip } from '@nip/core'
import { adapterFactories } from './adapters.js'
import { failureEnvelope, jsonRequested, successEnvelope } from './envelope.js'
import { toFailure } from './failure.js'
import { renderError } from './render/error.js'
import { renderPathNotice } from './render/notice.js'
import { colorWanted, createStyle, type Style } from './render/style.js'
import { CliReporter, type ReporterMode } from './reporter.js'
import { onPath, resolveRoot } from './root.js'

const GLOBAL = 'GLOBAL'
/** The exit status of a question answered with Ctrl-C, as a shell reports a SIGINT (128 + 2). */
export const INTERRUPTED_EXIT = 130

export const globalFlags = {
  root: Flags.string({ description: 'Target root directory (default: / as root, else $XDG_DATA_HOME/nip/root).', env: 'NIP_ROOT', helpGroup: GLOBAL, helpValue: 'DIR' }),
  json: Flags.boolean({ description: 'Print one JSON document on stdout; events go to stderr as JSON lines.', helpGroup: GLOBAL }),
  yes: Flags.boolean({ char: 'y', description: 'Go ahead without asking (otherwise nip asks, on a terminal or on standard input).', helpGroup: GLOBAL }),
  quiet: Flags.boolean({ char: 'q', description: 'Print no progress, and no summary for commands that change things.', helpGroup: GLOBAL }),
  'no-color': Flags.boolean({ description: 'Do not colour the output (NO_COLOR=1 does the same).', helpGroup: GLOBAL }),
  config: Flags.string({ description: 'An extra configuration file, read last (highest file precedence).', helpGroup: GLOBAL, helpValue: 'FILE' }),
}

export interface GlobalFlagValues {
  root?: string
  json: boolean
  yes: boolean
  quiet: boolean
  'no-color': boolean
  config?: string
}

export interface Globals {
  root: string
  json: boolean
  yes: boolean
  quiet: boolean
  configFile?: string
  /** Questions are asked only when this is true. */
  interactive: boolean
}

export abstract class BaseCommand<R> extends Command {
  static override baseFlags = globalFlags
  /** Commands that change the root print no summary under --quiet. */
  static mutates = false

  protected globals!: Globals
  protected reporter!: CliReporter
  private nipInstance: Nip | undefined

  /** Parse (with this.parse), call useGlobals(flags), do the work, return the result. */
  protected abstract execute(): Promise<R>
  /** The human rendering of the result (delegates to src/render). */
  protected abstract renderHuman(result: R, style: Style): string

  /** The command's name as shown in the envelope: "install", "config show". */
  protected get commandName(): string {
    return (this.id ?? this.constructor.name.toLowerCase()).split(':').join(' ')
  }

  /** The command line, as recorded in the transaction log. */
  protected get commandLine(): string {
    return ['nip', this.commandName, ...this.argv].join(' ')
  }

  protected stdoutStyle(): Style {
    return createStyle(colorWanted({ noColorFlag: this.argv.includes('--no-color'), isTTY: Boolean(process.stdout.isTTY), env: process.env }))
  }

  async run(): Promise<void> {
    const json = jsonRequested(this.argv)
    let result: R
    try {
      result = await this.execute()
    } catch (e) {
      this.reporter?.clearBar()
      const failure = toFailure(e, { command: this.commandName })
      // A declined question (or Ctrl-C) is no failure to shout about: one plain line.
      const aborted = failure.code === 'ERR_NIP_ABORTED'
      if (aborted && this.reporter?.interrupted) failure.exitCode = INTERRUPTED_EXIT
      process.exitCode = failure.exitCode
      if (aborted && !json) {
        process.stderr.write('Nothing was changed.\n')
      } else if (json) {
        process.stdout.write(JSON.stringify(failureEnvelope(this.commandName, failure)) + '\n')
      } else {
        const style = createStyle(colorWanted({ noColorFlag: this.argv.includes('--no-color'), isTTY: Boolean(process.stderr.isTTY), env: process.env }))
        process.stderr.write(renderError(failure, style, { debug: process.env.NIP_DEBUG === '1' }))
      }
      return
    } finally {
      this.nipInstance?.close()
    }
    this.reporter?.clearBar()
    if (json) {
      process.stdout.write(JSON.stringify(successEnvelope(this.commandName, result)) + '\n')
      return
    }
    if (this.globals?.quiet && (this.constructor as typeof BaseCommand).mutates) return
    const text = this.renderHuman(result, this.stdoutStyle())
    if (text) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
  }

  /** Settle the global flags: root, output mode, reporter. Call right after this.parse(). */
  protected useGlobals(flags: GlobalFlagValues): Globals {
    const { root, perUserDefault } = resolveRoot({ flag: flags.root, env: process.env, uid: process.getuid?.() ?? -1 })
    // Questions are asked on the terminal; without one (or with --json) the answer is read from
    // standard input, where end of input means no (reporter.ts).
    const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY) && !flags.yes && !flags.json
    this.globals = { root, json: flags.json, yes: flags.yes, quiet: flags.quiet, interactive, ...(flags.config ? { configFile: flags.config } : {}) }
    const stderrTTY = Boolean(process.stderr.isTTY)
    const mode: ReporterMode = flags.quiet ? 'quiet' : flags.json ? 'json' : stderrTTY ? 'tty' : 'plain'
    const style = createStyle(colorWanted({ noColorFlag: flags['no-color'], isTTY: stderrTTY, env: process.env }))
    this.reporter = new CliReporter({ mode, style, interactive, assumeYes: flags.yes })
    if (perUserDefault && !flags.quiet) this.noticePath(root)
    return this.globals
  }

  private noticePath(root: string): void {
    const executables = `${root.replace(/\/+$/, '')}/System/Links/Executables`
    if (!onPath(executables, process.env.PATH)) process.stderr.write(renderPathNotice(executables))
  }

  protected async loadConfig(): Promise<LoadedConfig> {
    const core = await import('@nip/core')
    return core.loadConfig({ root: this.globals.root, env: process.env, ...(this.globals.configFile ? { configFile: this.globals.configFile } : {}) })
  }

  /** The engine for this run; closed by run() whatever happens. */
  protected async openNip(): Promise<Nip> {
    const core = await import('@nip/core')
    const loaded = await this.loadConfig()
    this.nipInstance = await core.Nip.open({ loaded, reporter: this.reporter, adapterFactories })
    return this.nipInstance
  }

  /** A usage error (exit 64) raised from a command's own argument checks. */
  protected async usageError(message: string, hint: string, data: Record<string, unknown> = {}): Promise<Error> {
    const { NipError } = await import('@nip/core')
    return new NipError('ERR_NIP_USAGE', message, { hint, data })
  }
}
