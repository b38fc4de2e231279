/**
 * Reporter: the only channel from core to the user. Core never prints; it emits typed events
 * and asks questions here. The CLI renders events (progress bars on a TTY, JSON lines with
 * --json, nothing when quiet) and answers questions (prompt, or the documented default with
 * --yes / no TTY).
 */

export type Phase =
  | 'lock'
  | 'recover'
  | 'resolve'
  | 'fetch'
  | 'stage'
  | 'register'
  | 'switch'
  | 'link'
  | 'unlink'
  | 'remove'
  | 'gc'
  | 'verify'
  | 'done'

export type NipEvent =
  | { type: 'phase'; phase: Phase; message: string }
  | { type: 'progress'; id: string; label: string; done: number; total: number; unit: 'bytes' | 'files' | 'items' }
  | { type: 'program'; action: 'grafted' | 'removed' | 'switched' | 'skipped'; name: string; version: string; source?: string }
  | { type: 'warning'; code: string; message: string; data?: Record<string, unknown> }
  | { type: 'info'; message: string }

export interface Question {
  id: string
  message: string
  /** The answer taken with --yes or when there is no TTY. */
  default: boolean
}

export interface Reporter {
  emit(event: NipEvent): void
  confirm(question: Question): Promise<boolean>
}

/** A reporter that drops events and answers every question with its default. */
export const silentReporter: Reporter = {
  emit() {},
  async confirm(q) {
    return q.default
  },
}

/** A reporter that records events; used by tests and by --json output. */
export class RecordingReporter implements Reporter {
  readonly events: NipEvent[] = []
  constructor(private readonly answer?: boolean) {}
  emit(event: NipEvent): void {
    this.events.push(event)
  }
  async confirm(q: Question): Promise<boolean> {
    return this.answer ?? q.default
  }
  warnings(): Extract<NipEvent, { type: 'warning' }>[] {
    return this.events.filter((e): e is Extract<NipEvent, { type: 'warning' }> => e.type === 'warning')
  }
}
