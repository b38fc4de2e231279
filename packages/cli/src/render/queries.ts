/** Human rendering of owns, search and sources. */
import type { OwnsResult, SearchHit, SourceStatus } from '@nip/core'
import { formatTable } from './format.js'
import type { Style } from './style.js'

export function renderOwns(result: OwnsResult, style: Style): string {
  if (result.kind === 'none' || !result.owner) return `${result.path} is not owned by any grafted program.`
  const owner = `${style.bold(result.owner.name)} ${result.owner.version}`
  switch (result.kind) {
    case 'link':
      return `${result.path} is a link of ${owner}${result.target ? ` → ${result.target}` : ''}`
    case 'settings':
      return `${result.path} is a settings file of ${owner}`
    default:
      return `${result.path} belongs to ${owner}`
  }
}

export function renderSearch(hits: SearchHit[], style: Style): string {
  if (hits.length === 0) return 'No package matches.'
  return formatTable(
    hits.map((h) => [
      style.bold(h.ref.name),
      h.ref.version,
      String(h.ref.source),
      h.installed ? style.green(h.installed.version === h.ref.version && h.installed.source === h.ref.source ? '[installed]' : `[installed: ${h.installed.version} ${h.installed.source}]`) : '',
      h.ref.summary ?? '',
    ]),
  )
}

export function renderSources(sources: SourceStatus[], style: Style): string {
  const rows = sources.map((s) => [
    style.bold(String(s.id)),
    String(s.priority),
    s.enabled ? 'enabled' : style.dim('disabled'),
    s.configured ? style.green('configured') : style.yellow('not configured'),
    s.reachable === null ? '-' : s.reachable ? 'reachable' : style.red('unreachable'),
    s.detail,
  ])
  return formatTable(rows, { header: ['Source', 'Priority', 'State', 'Configured', 'Reachable', 'Detail'] })
}
