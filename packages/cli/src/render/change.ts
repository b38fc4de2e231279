/** Human rendering of remove and switch results. */
import type { RemoveResult, SwitchResult } from '@nip/core'
import { plural } from './format.js'
import type { Style } from './style.js'

export function renderRemoveResult(result: RemoveResult, style: Style): string {
  if (result.removed.length === 0) return 'Nothing to remove.'
  const verb = result.dryRun ? 'would remove' : 'removed'
  const lines = result.removed.map((p) => `${style.red(verb)} ${style.bold(p.name)} ${p.version}`)
  if (result.dryRun) lines.push(style.dim('Dry run: nothing was changed.'))
  else lines.push(`${plural(result.removed.length, 'program')} removed, ${plural(result.links.removed, 'link')} removed.`)
  return lines.join('\n')
}

export function renderSwitchResult(result: SwitchResult, style: Style): string {
  if (result.alreadyCurrent) return `${style.bold(result.name)} ${result.to} is already Current; nothing changed.`
  const from = result.from === null ? 'no version' : result.from
  return `${style.bold(result.name)}: Current ${from} → ${style.green(result.to)} (${plural(result.links.added, 'link')} added, ${result.links.removed} removed).`
}
