/**
 * CliReporter: renders core's events for the terminal and answers its questions.
 *   tty    progress bars redrawn in place on stderr (\r), other events as lines
 *   plain  lines only (finished progress, phases, programs, warnings), for logs and pipes
 *   json   each event as one JSON line on stderr (stdout is reserved for the envelope)
 *   quiet  nothing
 * confirm() asks on the terminal, or reads the answer from standard input (see confirm).
 */
import readline from 'node:readline'
import type { NipEvent, Question, Reporter } from '@nip/core'
import { renderEventLine, renderProgressBar } from './render/events.js'
import { renderChange } from './render/lifecycle.js'
import { renderPlan } from './render/plan.js'
import type { Style } from './render/style.js'

export type ReporterMode = 'tty' | 'plain' | 'json' | 'quiet'

export interface CliReporterOptions {
  mode: ReporterMode
  style: Style
  /** Ask on the terminal (stdin and stderr are terminals, no --json). */
  interactive: boolean
  /** --yes: every question takes its default, unasked. */
  assumeYes?: boolean
  stream?: NodeJS.WriteStream
  input?: NodeJS.ReadStream
}

/** Redraw a bar at most this often, unless it just completed. */
const REDRAW_MS = 80

export class CliReporter implements Reporter {
  private readonly stream: NodeJS.WriteStream
  private barVisible = false
  private lastDraw = 0

  constructor(private readonly opts: CliReporterOptions) {
    this.stream = opts.stream ?? process.stderr
  }

  get mode(): ReporterMode {
    return this.opts.mode
  }

  emit(event: NipEvent): void {
    switch (this.opts.mode) {
      case 'quiet':
        return
      case 'json':
        this.stream.write(JSON.stringify(event) + '\n')
        return
      case 'plain':
        if (event.type !== 'progress' || event.done >= event.total) this.stream.write(renderEventLine(event, this.opts.style) + '\n')
        return
      case 'tty':
        this.emitTty(event)
    }
  }

  private emitTty(event: NipEvent): void {
    if (event.type !== 'progress') {
      this.clearBar()
      this.stream.write(renderEventLine(event, this.opts.style) + '\n')
      return
    }
    const complete = event.done >= event.total
    const now = Date.now()
    if (!complete && this.barVisible && now - this.lastDraw < REDRAW_MS) return
    this.lastDraw = now
    const width = this.stream.columns || 80
    this.stream.write(`\r${renderProgressBar(event, width, this.opts.style)}\x1b[K`)
    this.barVisible = true
    if (complete) {
      this.stream.write('\n')
      this.barVisible = false
    }
  }

  /** Erase an unfinished bar so the next line starts clean. */
  clearBar(): void {
    if (this.barVisible) {
      this.stream.write('\r\x1b[K')
      this.barVisible = false
    }
  }

  /** True once a question was answered by Ctrl-C (SIGINT): the command exits 130. */
  interrupted = false

  /**
   * The one question of a command, asked after its plan is shown. With --yes: the default,
   * unasked. On a terminal (stdin and stderr): @inquirer/prompts' confirm. Otherwise one line is
   * read from standard input (the question and plan still go to stderr, as a JSON line with
   * --json): `y`/`yes` or an empty line take the default, end of input, Ctrl-C or any other
   * answer is no.
   */
  async confirm(question: Question): Promise<boolean> {
    if (this.opts.assumeYes) return question.default
    this.clearBar()
    if (this.opts.mode === 'json') {
      this.stream.write(JSON.stringify({ type: 'question', ...question }) + '\n')
    } else {
      const subject = renderQuestionSubject(question, this.opts.style)
      if (subject) this.stream.write(subject + '\n\n')
    }
    if (this.opts.interactive) return this.ask(question)
    if (this.opts.mode !== 'json') this.stream.write(`${question.message} ${question.default ? '[Y/n]' : '[y/N]'} `)
    const line = await this.readLine()
    // The answer came from a pipe, not typed on a terminal: show it, so the log reads as a dialogue.
    if (this.opts.mode !== 'json') this.stream.write(`${line ?? ''}\n`)
    return answerOf(line, question.default)
  }

  private async ask(question: Question): Promise<boolean> {
    // Loaded here: no command pays for the prompt library unless it asks.
    const { confirm } = await import('@inquirer/prompts')
    try {
      return await confirm({ message: question.message, default: question.default }, { input: this.opts.input ?? process.stdin, output: this.stream })
    } catch (e) {
      // Ctrl-C, Ctrl-D, a closed terminal (ExitPromptError): no. Only Ctrl-C exits 130.
      if ((e as Error)?.name === 'ExitPromptError' && /SIGINT/.test((e as Error).message)) this.interrupted = true
      return false
    }
  }

  /** One line of standard input; null at end of input or on Ctrl-C. */
  private readLine(): Promise<string | null> {
    const input = this.opts.input ?? process.stdin
    // A pipe left open after the answer must not keep nip running: the input is referenced only
    // while a question waits.
    const handle = input as unknown as { ref?: () => void; unref?: () => void }
    handle.ref?.()
    return new Promise((resolve) => {
      const rl = readline.createInterface({ input, terminal: false })
      let done = false
      const finish = (line: string | null): void => {
        if (done) return
        done = true
        process.off('SIGINT', onInterrupt)
        rl.close()
        handle.unref?.()
        resolve(line)
      }
      const onInterrupt = (): void => {
        this.interrupted = true
        finish(null)
      }
      process.on('SIGINT', onInterrupt)
      rl.once('line', (line) => finish(line))
      rl.once('close', () => finish(null))
    })
  }
}

/** A typed answer: an empty line takes the default, `y`/`yes` is yes, anything else (or none) is no. */
export function answerOf(line: string | null, fallback: boolean): boolean {
  if (line === null) return false
  const a = line.trim().toLowerCase()
  if (a === '') return fallback
  return a === 'y' || a === 'yes'
}

/** What a question decides, shown above it: the plan, the versions removed, a rollback's changes. */
export function renderQuestionSubject(q: Question, style: Style): string {
  if (q.plan) return renderPlan(q.plan, style)
  if (q.removing) return ['Remove:', ...q.removing.map((p) => `  ${style.red('-')} ${style.bold(p.name)} ${p.version}`)].join('\n')
  if (q.changes) return ['Changes:', ...q.changes.map((c) => `  ${renderChange(c, style)}`)].join('\n')
  return ''
}
