/**
 * The name index: binary caches cannot be searched, so names come from a channel's published
 * `store-paths.xz` (one store path per line). Each path is named with programNameOf and the
 * versions of a name are ordered with compareVersions, newest first.
 */
import path from 'node:path'
import { readFile, stat } from 'node:fs/promises'
import { decompressStream } from '@nip/core'
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

/** Download (into cacheDir; revalidated at most once an hour) and parse `<channel>/store-paths.xz`. */
export async function loadChannelIndex(opts: { channel: string; storeDir: string; cacheDir: string; signal?: AbortSignal }): Promise<ChannelIndex> {
  const dest = path.join(opts.cacheDir, 'channel', `${Buffer.from(opts.channel).toString('base64url').slice(0, 80)}-store-paths.xz`)
  const fresh = await stat(dest).then((s) => Date.now() - s.mtimeMs < 3600_000, () => false)
  if (!fresh) await fetchToFile({ urls: [`${opts.channel}/store-paths.xz`], dest, conditional: true, label: 'channel store-paths.xz', ...(opts.signal ? { signal: opts.signal } : {}) })
  const chunks: Buffer[] = []
  for await (const c of decompressStream([await readFile(dest)], { compression: 'xz', archive: 'store-paths.xz' })) chunks.push(c as Buffer)
  return new ChannelIndex(parseStorePaths(Buffer.concat(chunks).toString('utf8'), opts.storeDir))
}
