/** Human rendering of `config show` and `config init`. */
import type { ConfigOrigin } from '@nip/core'
import { formatTable } from './format.js'
import type { Style } from './style.js'

export interface ConfigShowResult {
  root: string
  files: string[]
  config: unknown
  origins: Record<string, { value: unknown; origin: ConfigOrigin; file?: string }>
}

export interface ConfigInitResult {
  path: string
  scope: 'system' | 'user'
  overwritten: boolean
}

export function renderConfigShow(r: ConfigShowResult, style: Style): string {
  const rows = Object.entries(r.origins).map(([key, o]) => [key, JSON.stringify(o.value), style.dim(o.file ? `${o.origin} (${o.file})` : o.origin)])
  const files = r.files.length > 0 ? r.files.join(', ') : 'none'
  return `${style.bold('Root')}: ${r.root}\n${style.bold('Files read')}: ${files}\n\n${formatTable(rows, { header: ['Key', 'Value', 'Origin'] })}`
}

export function renderConfigInit(r: ConfigInitResult, style: Style): string {
  return `${r.overwritten ? 'Rewrote' : 'Wrote'} ${style.bold(r.path)} (every key with its default, commented out).`
}
