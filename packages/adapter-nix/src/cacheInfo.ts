/**
 * `nix-cache-info` (doc/manual/source/protocols/binary-cache/nix-cache-info.md): `Key: value`
 * lines, whitespace trimmed, lines without a colon and unknown keys ignored.
 */
export interface CacheInfo {
  storeDir?: string
  wantMassQuery?: boolean
  priority?: number
}

export function parseCacheInfo(text: string): CacheInfo {
  const info: CacheInfo = {}
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const key = line.slice(0, colon).trim()
    const value = line.slice(colon + 1).trim()
    if (key === 'StoreDir') info.storeDir = value
    else if (key === 'WantMassQuery') info.wantMassQuery = value === '1'
    else if (key === 'Priority' && /^-?[0-9]+$/.test(value)) info.priority = Number(value)
  }
  return info
}
