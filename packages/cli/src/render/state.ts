/** Human rendering of status, logs and doctor. */
import type { DoctorReport, LogRecord, StatusResult } from '@nip/core'
import { formatBytes, plural } from './format.js'
import type { Style } from './style.js'

export function renderStatus(s: StatusResult, style: Style): string {
  const lines = [
    `Root:      ${s.root}`,
    `Programs:  ${s.programs} (${plural(s.versions, 'version')})`,
    `Links:     ${s.links}`,
    `Store:     ${plural(s.blobs, 'blob')}, ${formatBytes(s.casBytes)}`,
  ]
  if (s.lock.held) lines.push(`Lock:      held by PID ${s.lock.pid} (${s.lock.command ?? '?'}) since ${s.lock.since ?? '?'}${s.lock.stale ? style.red(' — stale') : ''}`)
  else lines.push('Lock:      free')
  if (s.interruptedTransactions.length > 0) {
    lines.push(style.yellow(`Interrupted transactions: ${s.interruptedTransactions.length} (the next write, or nip doctor --fix, finishes or undoes them)`))
    for (const t of s.interruptedTransactions) lines.push(`  ${t.id} ${t.kind} ${t.state} since ${t.startedAt}`)
  }
  if (s.lastTransaction) lines.push(`Last:      ${renderLogLine(s.lastTransaction, style)}`)
  return lines.join('\n')
}

export function renderLogLine(r: LogRecord, style: Style): string {
  const outcome = r.outcome === 'ok' ? style.green(r.outcome) : r.outcome === 'failed' ? style.red(r.outcome) : style.yellow(r.outcome)
  const programs = r.programs.map((p) => `${p.name} ${p.version} ${p.change}`).join(', ')
  return `${r.time} ${outcome} ${r.command}${programs ? ` — ${programs}` : ''}${r.error ? ` — ${r.error.code}: ${r.error.message}` : ''}`
}

export function renderLogs(records: LogRecord[], style: Style): string {
  if (records.length === 0) return 'The transaction log is empty.'
  return records.map((r) => renderLogLine(r, style)).join('\n')
}

export function renderDoctor(report: DoctorReport, style: Style): string {
  const mark = { ok: style.green('ok'), warning: style.yellow('warning'), error: style.red('error') }
  const lines = report.findings.map((f) => {
    const fixed = f.fixed ? style.green(' (fixed)') : f.fixable && f.severity !== 'ok' ? style.dim(' (fixable with --fix)') : ''
    const paths = f.paths && f.paths.length > 0 ? `\n    ${f.paths.slice(0, 10).join('\n    ')}${f.paths.length > 10 ? `\n    … ${f.paths.length - 10} more` : ''}` : ''
    return `${mark[f.severity]} ${f.check}: ${f.message}${fixed}${paths}`
  })
  lines.push(report.healthy ? style.green('The root is healthy.') : style.red('Problems were found.'))
  return lines.join('\n')
}
