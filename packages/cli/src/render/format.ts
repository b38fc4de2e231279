/** Small formatting helpers shared by the renderers. */

/** Bytes in binary units: 0 B, 1023 B, 1.5 KiB, 12.0 MiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`
}

/** Columns padded to their widest cell; the last column is not padded. */
export function formatTable(rows: string[][], opts: { header?: string[]; gap?: number } = {}): string {
  const all = opts.header ? [opts.header, ...rows] : rows
  if (all.length === 0) return ''
  const gap = ' '.repeat(opts.gap ?? 2)
  const widths: number[] = []
  for (const row of all) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell))))
  return all
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i] - visibleLength(cell)))).join(gap).trimEnd())
    .join('\n')
}

/** Length without ANSI escape sequences. */
export function visibleLength(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, '').length
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}
