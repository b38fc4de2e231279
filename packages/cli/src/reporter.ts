/**
 * CliReporter: renders core's events for the terminal and answers its questions.
 *   tty    one progress bar per running item, stacked and redrawn in place on stderr; other
 *          events as lines above them
 *   plain  lines only (each finished item once, phases, programs, warnings), for logs and pipes
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

/** Redraw the bars at most this often, unless one just appeared or completed. */
const REDRAW_MS = 80
/** Bars drawn at once; further running downloads are counted on one more line. */
const MAX_BARS = 8

type Progress = Extract<NipEvent, { type: 'progress' }>

export class CliReporter implements Reporter {
  private readonly stream: NodeJS.WriteStream
  /** Running progress (one bar per id, in the order they started), drawn as a block at the bottom. */
  private readonly bars = new Map<string, Progress>()
  /** Lines of the bar block now on screen (the cursor is at the start of the line below it). */
  private drawn = 0
  private lastDraw = 0
  /** plain mode: the ids whose finished line was written (a source may report the end twice). */
  private readonly finished = new Set<string>()

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
        this.emitPlain(event)
        return
      case 'tty':
        this.emitTty(event)
    }
  }

  /** Lines only: a progress event is one line when its item finishes, once per item. */
  private emitPlain(event: NipEvent): void {
    if (event.type === 'progress') {
      if (event.done < event.total) {
        this.finished.delete(event.id) // started again (a retry): its end is news again
        return
      }
      if (this.finished.has(event.id)) return
      this.finished.add(event.id)
    }
    this.stream.write(renderEventLine(event, this.opts.style) + '\n')
  }

  /**
   * One bar per running item, stacked at the bottom of the output and redrawn together; a
   * finished item leaves one final line above them. Parallel downloads each keep their own
   * line instead of sharing one that flips between files.
   */
  private emitTty(event: NipEvent): void {
    if (event.type !== 'progress') {
      this.eraseBars()
      this.stream.write(renderEventLine(event, this.opts.style) + '\n')
      this.drawBars()
      return
    }
    const now = Date.now()
    if (event.done >= event.total) {
      this.bars.delete(event.id)
      this.eraseBars()
      this.stream.write(`${this.bar(event)}\x1b[K\n`)
      this.drawBars()
      this.lastDraw = now
      return
    }
    const known = this.bars.has(event.id)
    this.bars.set(event.id, event)
    if (known && this.drawn > 0 && now - this.lastDraw < REDRAW_MS) return
    this.eraseBars()
    this.drawBars()
    this.lastDraw = now
  }

  private bar(event: Progress): string {
    return renderProgressBar(event, this.stream.columns || 80, this.opts.style)
  }

  private drawBars(): void {
    if (this.bars.size === 0) return
    const all = [...this.bars.values()]
    const lines = all.slice(0, MAX_BARS).map((b) => this.bar(b))
    if (all.length > MAX_BARS) lines.push(`… ${all.length - MAX_BARS} more running`)
    this.stream.write(lines.map((l) => `${l}\x1b[K\n`).join(''))
    this.drawn = lines.length
  }

  private eraseBars(): void {
    if (this.drawn === 0) return
    // Up to the first line of the block, then clear to the end of the screen.
    this.stream.write(`\x1b[${this.drawn}A\r\x1b[J`)
    this.drawn = 0
  }

  /** Erase the running bars (and forget them) so the next line starts clean. */
  clearBar(): void {
    this.eraseBars()
    this.bars.clear()
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
    const show = (): void => {
      if (this.opts.mode === 'json') {
        this.stream.write(JSON.stringify({ type: 'question', ...question }) + '\n')
      } else {
        const subject = renderQuestionSubject(question, this.opts.style)
        if (subject) this.stream.write(subject + '\n\n')
      }
    }
    if (this.opts.interactive) {
      show()
      return this.ask(question)
    }
    // Ctrl-C is listened for before anything is shown: a signal sent the moment the question
    // appears finds the handler in place, never the default (death by SIGINT).
    const line = await this.readLine(() => {
      show()
      if (this.opts.mode !== 'json') this.stream.write(`${question.message} ${question.default ? '[Y/n]' : '[y/N]'} `)
    })
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
  private readLine(show: () => void): Promise<string | null> {
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
      show()
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
