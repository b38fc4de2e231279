/**
 * CliReporter: renders core's events for the terminal and answers its questions.
 *   tty    progress bars redrawn in place on stderr (\r), other events as lines
 *   plain  lines only (finished progress, phases, programs, warnings), for logs and pipes
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
