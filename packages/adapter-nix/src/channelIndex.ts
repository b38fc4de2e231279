/**
 * The name index: binary caches cannot be searched, so names come from a channel's published
 * `store-paths.xz` (one store path per line). Each path is named with programNameOf and the
 * versions of a name are ordered with compareVersions, newest first.
 */
import path from 'node:path'
import { readFile, stat } from 'node:fs/promises'
import { decompressStream, cacheRename, cacheWrite, describeAge } from '@nip/core'
import { programNameOf } from './programName.js'
import { parseStorePath, type StorePath } from './storePath.js'
import { compareVersions } from './versionOrder.js'
import { fetchToFile } from './transfer.js'

export interface IndexedPath {
  name: string
  version: string
  storePath: StorePath
}

export class ChannelIndex {
  private readonly byName = new Map<string, IndexedPath[]>()

  constructor(paths: StorePath[]) {
    for (const p of paths) {
      const { name, version } = programNameOf(p)
      const key = name.toLowerCase()
      const list = this.byName.get(key) ?? []
      list.push({ name, version, storePath: p })
      this.byName.set(key, list)
    }
    for (const list of this.byName.values()) list.sort((a, b) => compareVersions(b.version, a.version))
  }

  /** Versions of `name` (case-insensitive), newest first. */
  lookup(name: string): IndexedPath[] {
    return this.byName.get(name.toLowerCase()) ?? []
  }

  /** The newest version of every name that contains `query`. */
  *search(query: string): Iterable<IndexedPath> {
    const q = query.toLowerCase()
    for (const [key, list] of this.byName) if (key.includes(q)) yield list[0]
  }

  get size(): number {
    return this.byName.size
  }
}

/** Parse the text of store-paths (lines that are not store paths are skipped). */
export function parseStorePaths(text: string, storeDir: string): StorePath[] {
  const out: StorePath[] = []
  for (const line of text.split('\n')) {
    const p = parseStorePath(line.trim(), storeDir)
    if (p !== null) out.push(p)
  }
  return out
}

/**
 * `<channel>/store-paths.xz`, the source's local index: read from the cache while it was refreshed
 * less than `maxAgeSeconds` ago (no network), else revalidated (conditionally); when that fails and
 * a cached copy exists, the cached copy is used and `onStale` says why and how old it is.
 */
export async function loadChannelIndex(opts: {
  channel: string
  storeDir: string
  cacheDir: string
  signal?: AbortSignal
  maxAgeSeconds?: number
  force?: boolean
  onStale?: (reason: string, ageSeconds: number | null) => void
}): Promise<ChannelIndex & { state: 'downloaded' | 'not-modified' | 'local'; stale?: string }> {
  const dest = path.join(opts.cacheDir, 'channel', `${Buffer.from(opts.channel).toString('base64url').slice(0, 80)}-store-paths.xz`)
  const marker = `${dest}.updated-at`
  const at = Date.parse((await readFile(marker, 'utf8').catch(() => '')).trim())
  const age = Number.isNaN(at) ? null : Math.max(0, (Date.now() - at) / 1000)
  const have = await stat(dest).then(() => true, () => false)
  let state: 'downloaded' | 'not-modified' | 'local' = 'local'
  let stale: string | undefined
  if (!have || opts.force === true || age === null || age >= (opts.maxAgeSeconds ?? 86400)) {
    try {
      const before = await stat(dest).then((s) => s.mtimeMs, () => null)
      await fetchToFile({ urls: [`${opts.channel}/store-paths.xz`], dest, conditional: true, label: 'channel store-paths.xz', ...(opts.signal ? { signal: opts.signal } : {}) })
      const after = await stat(dest).then((s) => s.mtimeMs, () => null)
      state = before !== null && before === after ? 'not-modified' : 'downloaded'
      cacheWrite(`${marker}.tmp`, `${new Date().toISOString()}\n`)
      cacheRename(`${marker}.tmp`, marker)
    } catch (e) {
      if (!have || opts.signal?.aborted) throw e
      stale = (e as Error).message.split('\n')[0]!
      opts.onStale?.(stale, age === null ? null : Math.round(age))
    }
  }
  const chunks: Buffer[] = []
  for await (const c of decompressStream([await readFile(dest)], { compression: 'xz', archive: 'store-paths.xz' })) chunks.push(c as Buffer)
  const index = new ChannelIndex(parseStorePaths(Buffer.concat(chunks).toString('utf8'), opts.storeDir))
  return Object.assign(index, { state, ...(stale !== undefined ? { stale } : {}) })
}

export { describeAge }
