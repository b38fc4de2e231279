/** Human rendering of install plans and results. */
import type { InstallResult, Plan } from '@nip/core'
import { formatBytes, formatTable, plural } from './format.js'
import type { Style } from './style.js'

export function renderPlan(plan: Plan, style: Style): string {
  if (plan.programs.length === 0) return 'Nothing to do.'
  const rows = plan.programs.map((p) => [
    style.bold(p.name),
    p.variants?.length ? `${p.version} ${p.variants.join(' ')}` : p.version,
    String(p.source),
    p.skip ? style.dim('already grafted') : p.reason === 'dependency' ? `dependency of ${p.requiredBy.join(', ')}` : 'requested',
    p.skip ? '' : formatBytes(p.downloadSize),
  ])
  const lines = [formatTable(rows, { header: ['Program', 'Version', 'Source', 'Reason', 'Download'] })]
  lines.push('', `Download ${formatBytes(plan.downloadSize)}, installed size ${formatBytes(plan.installedSize)}, free ${formatBytes(plan.freeSpace)}.`)
  for (const w of plan.warnings) lines.push(`${style.yellow('warning')}: ${w}`)
  return lines.join('\n')
}

export function renderInstallResult(result: InstallResult, style: Style): string {
  if (result.dryRun) return `${renderPlan(result.plan, style)}\n${style.dim('Dry run: nothing was changed.')}`
  const lines: string[] = []
  for (const s of result.skipped) lines.push(`${style.dim('skipped')} ${s.name} ${s.version}: ${s.reason}`)
  if (result.grafted.length === 0 && result.skipped.length === 0) lines.push('Nothing to do.')
  if (result.grafted.length > 0) lines.push(`${plural(result.grafted.length, 'program')} grafted, ${plural(result.links.added, 'link')} added.`)
  return lines.join('\n')
}
