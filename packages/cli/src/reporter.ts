/**
 * CliReporter: renders core's events for the terminal and answers its questions.
 *   tty    one progress bar per running item, stacked and redrawn in place on stderr; other
 *          events as lines above them
 *   plain  lines only (each finished item once, phases, programs, warnings), for logs and pipes
 *   json   each event as one JSON line on stderr (stdout is reserved for the envelope)
 *   quiet  nothing
 * confirm() prompts only when interactive (stdin and stderr are TTYs, neither --yes nor --json);
 * otherwise it returns the question's documented default.
 */
import readline from 'node:readline'
import type { NipEvent, Question, Reporter } from '@nip/core'
import { renderEventLine, renderProgressBar } from './render/events.js'
import type { Style } from './render/style.js'

export type ReporterMode = 'tty' | 'plain' | 'json' | 'quiet'

export interface CliReporterOptions {
  mode: ReporterMode
  style: Style
  interactive: boolean
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

  async confirm(question: Question): Promise<boolean> {
    if (!this.opts.interactive) return question.default
    this.clearBar()
    const rl = readline.createInterface({ input: this.opts.input ?? process.stdin, terminal: false })
    const prompt = `${question.message} ${question.default ? '[Y/n]' : '[y/N]'} `
    try {
      this.stream.write(prompt)
      for await (const line of rl) {
        const answer = line.trim().toLowerCase()
        if (answer === '') return question.default
        if (answer === 'y' || answer === 'yes') return true
        if (answer === 'n' || answer === 'no') return false
        this.stream.write(prompt)
      }
      // End of input answers with the default, as when there is no TTY.
      return question.default
    } finally {
      rl.close()
    }
  }
}
