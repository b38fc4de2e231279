/** Human rendering of install plans and results. */
import type { InstallResult, Plan, PlannedProgram } from '@nip/core'
import { formatBytes, formatTable, plural } from './format.js'
import type { Style } from './style.js'

export function renderPlan(plan: Plan, style: Style): string {
  if (plan.programs.length === 0) return 'Nothing to do.'
  const rows = plan.programs.map((p) => [
    style.bold(p.name),
    p.variants?.length ? `${p.version} ${p.variants.join(' ')}` : p.version,
    String(p.source),
    p.skip ? style.dim('already grafted') : p.reason === 'dependency' ? `dependency of ${p.requiredBy.join(', ')}` : 'requested',
    p.skip ? '' : changeOf(p, style),
    p.skip ? '' : formatBytes(p.downloadSize),
  ])
  const lines = [formatTable(rows, { header: ['Program', 'Version', 'Source', 'Reason', 'Change', 'Download'] })]
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

/** "upgrade from 1.0", "downgrade from 2.0 (was debian)", "new dependency", "reinstall"; "Current stays" when it does not move. */
export function changeOf(p: PlannedProgram, style: Style): string {
  if (p.change === undefined) return ''
  const words = p.change === 'new-dependency' ? 'new dependency' : p.change === 'install' ? 'new' : p.from && p.change !== 'reinstall' ? `${p.change} from ${p.from.version}` : p.change
  const source = p.sourceChange && p.from ? `, source change from ${p.from.source}` : ''
  const text = `${words}${source}${p.from && p.movesCurrent === false ? ' (Current stays)' : ''}`
  return p.change === 'downgrade' || p.sourceChange ? style.yellow(text) : text
}
