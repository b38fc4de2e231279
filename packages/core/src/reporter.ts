/**
 * Reporter: the only channel from core to the user. Core never prints; it emits typed events
 * and asks questions here. The CLI renders events (progress bars on a TTY, JSON lines with
 * --json, nothing when quiet) and answers questions: on the terminal, from a line of standard
 * input (end of input is no), or with the default under --yes.
 */
import type { GenerationChange, Plan } from './api.js'

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

/**
 * A question core asks once, after the plan is made and before anything changes (the lock is
 * held: declining releases it with nothing changed). It names what the answer decides: the plan
 * of an install, the versions a removal takes away, the changes of a rollback.
 */
export interface Question {
  id: string
  message: string
  /** The answer an empty reply (and --yes) gives. */
  default: boolean
  /** What an install, upgrade or build would graft. */
  plan?: Plan
  /** The program versions a removal takes away. */
  removing?: { name: string; version: string }[]
  /** What a rollback changes, per program version. */
  changes?: GenerationChange[]
}

/** Names for a question: `a 1.0, b 2.0 and 3 more`. */
export function nameList(items: { name: string; version: string }[], max = 4): string {
  const shown = items.slice(0, max).map((i) => `${i.name} ${i.version}`)
  if (items.length > max) return `${shown.join(', ')} and ${items.length - max} more`
  return shown.length > 1 ? `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}` : (shown[0] ?? '')
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
