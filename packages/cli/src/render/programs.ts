/** Human rendering of grafted programs (list) and of info. */
import type { InfoResult, ProgramSummary } from '@nip/core'
import { formatBytes, formatTable } from './format.js'
import type { Style } from './style.js'

export function renderProgramList(programs: ProgramSummary[], style: Style): string {
  if (programs.length === 0) return 'No programs are grafted.'
  // Inactive versions appear only under --all: removed (or rolled away from), kept until gc.
  const rows = programs.map((p) => [
    style.bold(p.name),
    p.current ? style.green(`${p.version} *`) : p.version,
    String(p.source),
    formatBytes(p.size),
    p.integrity ?? '',
    [p.explicit ? '' : 'dependency', p.pinned ? 'pinned' : '', p.active === false ? 'inactive: kept for rollback until nip gc' : ''].filter(Boolean).map((x) => style.dim(x)).join(', '),
  ])
  return formatTable(rows, { header: ['Program', 'Version', 'Source', 'Size', 'Verified', ''] })
}

export function renderInfo(info: InfoResult, style: Style): string {
  const lines = [style.bold(info.name)]
  if (info.installed.length > 0) {
    lines.push('Grafted:')
    for (const p of info.installed) lines.push(`  ${p.version}${p.current ? style.green(' (Current)') : ''}  ${p.source}  ${formatBytes(p.size)}  ${p.files} files  ${style.dim(p.treeDigest)}`)
  } else lines.push('Grafted: no')
  if (info.dependencies.length > 0) {
    const dep = (d: InfoResult['dependencies'][number]): string => `${d.constraint ? `${d.name} ${d.constraint}` : d.name}${d.grafted ? style.green(' (grafted)') : d.onHost ? style.dim(' (on the host)') : ''}`
    lines.push(`Depends on: ${info.dependencies.map(dep).join(', ')}`)
  }
  if (info.requiredBy.length > 0) lines.push(`Required by: ${info.requiredBy.join(', ')}`)
  if (info.candidates.length > 0) {
    lines.push('Available:')
    for (const c of info.candidates) lines.push(`  ${c.version}  ${c.source}${c.summary ? `  ${c.summary}` : ''}`)
  }
  const m = info.manifest
  if (m) {
    if (m.description) lines.push(`Description: ${m.description}`)
    if (m.homepage) lines.push(`Homepage: ${m.homepage}`)
    if (m.license) lines.push(`License: ${m.license}`)
    if (m.downloadSize || m.installedSize) lines.push(`Size: ${formatBytes(m.downloadSize)} download, ${formatBytes(m.installedSize)} installed`)
    if (m.variants && m.variants.length > 0) lines.push(`Variants: ${m.variants.join(' ')}`)
  }
  return lines.join('\n')
}
