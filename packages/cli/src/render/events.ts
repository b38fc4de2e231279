/** Human rendering of core's events: one line per event, and the progress bar drawn on a TTY. */
import type { NipEvent } from '@nip/core'
import { formatBytes } from './format.js'
import type { Style } from './style.js'

type Progress = Extract<NipEvent, { type: 'progress' }>

/** A line for a non-progress event (or a finished progress), without the newline. */
export function renderEventLine(event: NipEvent, style: Style): string {
  switch (event.type) {
    case 'phase':
      return `${style.cyan('::')} ${event.message}`
    case 'program': {
      const mark = event.action === 'removed' ? style.red('-') : event.action === 'skipped' ? style.dim('=') : style.green('+')
      return `${mark} ${event.action} ${style.bold(event.name)} ${event.version}${event.source ? style.dim(` (${event.source})`) : ''}`
    }
    case 'warning':
      return `${style.yellow(`warning[${event.code}]`)}: ${event.message}`
    case 'info':
      return event.message
    case 'progress':
      return `${event.label}: ${formatAmount(event.done, event.unit)} done`
  }
}

/** `label [#####-----]  42%  1.2 MiB/3.0 MiB`, fitted to `width` columns. */
export function renderProgressBar(event: Progress, width: number, style: Style): string {
  const ratio = event.total > 0 ? Math.min(1, event.done / event.total) : 0
  const percent = `${Math.floor(ratio * 100)}%`.padStart(4)
  const amount = `${formatAmount(event.done, event.unit)}/${formatAmount(event.total, event.unit)}`
  const label = event.label.length > 30 ? `${event.label.slice(0, 29)}…` : event.label
  const barWidth = Math.max(10, Math.min(40, width - label.length - percent.length - amount.length - 6))
  const filled = Math.round(ratio * barWidth)
  return `${label} [${style.green('#'.repeat(filled))}${'-'.repeat(barWidth - filled)}] ${percent} ${amount}`
}

function formatAmount(n: number, unit: Progress['unit']): string {
  return unit === 'bytes' ? formatBytes(n) : String(n)
}
