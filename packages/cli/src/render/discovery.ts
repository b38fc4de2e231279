/** Human rendering of files, why and cache clean. */
import type { CacheCleanResult, FilesResult, WhyResult } from '@nip/core'
import { formatBytes, plural } from './format.js'
import type { Style } from './style.js'

export function renderFiles(r: FilesResult, style: Style): string {
  const lines = [...r.files]
  if (r.links.length > 0) lines.push('', style.dim(`${plural(r.links.length, 'link')} in the farm:`), ...r.links)
  return lines.join('\n')
}

export function renderWhy(r: WhyResult, style: Style): string {
  const self = `${style.bold(r.name)} ${r.version}`
  const lines: string[] = []
  if (r.explicit) lines.push(`${self} was asked for (explicit).`)
  for (const chain of r.chains) lines.push(chain.map((p, i) => (i === chain.length - 1 ? self : `${p.name} ${p.version}`)).join(' → '))
  if (lines.length === 0) lines.push(`${self} is a dependency nothing needs any more (nip autoremove removes it).`)
  else if (r.chains.length > 0) lines.splice(r.explicit ? 1 : 0, 0, style.dim('needed by (program → dependency):'))
  return lines.join('\n')
}

export function renderCacheClean(r: CacheCleanResult, style: Style): string {
  if (r.removed.length === 0) return r.all ? 'The cache is empty.' : 'No downloaded archive is cached.'
  return [`Freed ${formatBytes(r.bytes)} (${plural(r.files, 'file')}):`, ...r.removed.map((x) => `  ${style.red('-')} ${x.path} ${style.dim(formatBytes(x.bytes))}`)].join('\n')
}
