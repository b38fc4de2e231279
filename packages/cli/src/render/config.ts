/** Human rendering of `config show` and `config init`. */
import type { ConfigOrigin } from '@nip/core'
import { formatTable } from './format.js'
import type { Style } from './style.js'

export interface ConfigShowResult {
  root: string
  files: string[]
  config: unknown
  origins: Record<string, { value: unknown; origin: ConfigOrigin; file?: string }>
  /** The keys each source's table may hold besides priority and enabled (unset ones keep the source's default). */
  sourceKeys: Record<string, readonly string[]>
  /** Keys whose value is a size in bytes (shown as 64G). */
  sizeKeys: string[]
}

export interface ConfigInitResult {
  path: string
  scope: 'system' | 'user'
  overwritten: boolean
}

export function renderConfigShow(r: ConfigShowResult, style: Style): string {
  const row = (key: string, o: { value: unknown; origin: ConfigOrigin; file?: string }): string[] => [
    key,
    r.sizeKeys.includes(key) && typeof o.value === 'number' ? formatSize(o.value) : JSON.stringify(o.value),
    style.dim(o.file ? `${o.origin} (${o.file})` : o.origin),
  ]
  const rows: string[][] = []
  const done = new Set<string>()
  const sourceIds = new Set(Object.keys(r.sourceKeys))
  for (const [key, o] of Object.entries(r.origins)) {
    const id = key.includes('.') ? key.slice(0, key.indexOf('.')) : undefined
    if (id !== undefined && sourceIds.has(id)) continue
    rows.push(row(key, o))
    done.add(key)
  }
  // Each source together: priority, enabled, then every key of its table, set or not.
  for (const id of sourceIds) {
    for (const k of ['priority', 'enabled', ...r.sourceKeys[id]]) {
      const key = `${id}.${k}`
      const o = r.origins[key]
      done.add(key)
      rows.push(o ? row(key, o) : [key, style.dim('(the source\'s default)'), style.dim('default')])
    }
  }
  for (const [key, o] of Object.entries(r.origins)) if (!done.has(key)) rows.push(row(key, o))
  const files = r.files.length > 0 ? r.files.join(', ') : 'none'
  return `${style.bold('Root')}: ${r.root}\n${style.bold('Files read')}: ${files}\n\n${formatTable(rows, { header: ['Key', 'Value', 'Origin'] })}`
}

export function renderConfigInit(r: ConfigInitResult, style: Style): string {
  return `${r.overwritten ? 'Rewrote' : 'Wrote'} ${style.bold(r.path)} (every key with its default, commented out).`
}

/** Bytes as the configuration writes them: 64G, 512M, 1536K, or plain bytes when no unit divides them. */
export function formatSize(n: number): string {
  const units: [string, number][] = [['P', 1024 ** 5], ['T', 1024 ** 4], ['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]]
  for (const [u, f] of units) if (n >= f && n % f === 0) return `${n / f}${u}`
  return String(n)
}
