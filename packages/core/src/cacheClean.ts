/**
 * `nip cache clean`: deletes what the sources downloaded into the cache (`<cacheDir>/<source>/`).
 * By default only package archives, which are not needed once a program is grafted (its files
 * are in the store); with `all` also the indexes (`nip update` fetches them again) and every
 * other downloaded file. Build outputs (`build/outputs`, the store of finished builds, keyed by
 * fingerprint) and build work directories are not downloads and stay. Runs as a writer (under
 * the lock, so no install is fetching at the same time); every deletion goes through the
 * confined layer.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Layout } from './layout.js'
import { cacheRm } from './download/cacheFiles.js'

/** Package archives per source, relative to its cache directory. */
const ARCHIVES: Record<string, string[]> = {
  debian: ['debs', 'relocate'],
  gentoo: ['binpkgs'],
  nix: ['nar'],
  pacman: ['pkg'],
  pkgsrc: ['packages'],
  build: ['sources'],
}
/** Never deleted: not downloads. */
const KEEP: Record<string, string[]> = { build: ['outputs', 'work'] }

export interface CacheCleanResult {
  all: boolean
  /** What was deleted, relative to the cache directory, with its size. */
  removed: { path: string; bytes: number; files: number }[]
  bytes: number
  files: number
}

function measure(p: string): { bytes: number; files: number } {
  const st = fs.lstatSync(p, { throwIfNoEntry: false })
  if (!st) return { bytes: 0, files: 0 }
  if (!st.isDirectory()) return { bytes: st.size, files: 1 }
  let bytes = 0
  let files = 0
  for (const n of fs.readdirSync(p)) {
    const m = measure(path.join(p, n))
    bytes += m.bytes
    files += m.files
  }
  return { bytes, files }
}

export function cleanCache(layout: Layout, opts: { all?: boolean; dryRun?: boolean } = {}): CacheCleanResult {
  const removed: CacheCleanResult['removed'] = []
  const sources = fs.existsSync(layout.cacheDir) ? fs.readdirSync(layout.cacheDir).sort() : []
  for (const source of sources) {
    const dir = path.join(layout.cacheDir, source)
    if (!fs.lstatSync(dir).isDirectory()) continue
    const names = opts.all ? fs.readdirSync(dir).sort().filter((n) => !(KEEP[source] ?? []).includes(n)) : (ARCHIVES[source] ?? [])
    for (const n of names) {
      const p = path.join(dir, n)
      if (!fs.lstatSync(p, { throwIfNoEntry: false })) continue
      const m = measure(p)
      if (!opts.dryRun) {
        if (layout.cfs.contains(p)) layout.cfs.rm(p, { recursive: true, force: true })
        else cacheRm(p, true)
      }
      removed.push({ path: `${source}/${n}`, ...m })
    }
  }
  return { all: !!opts.all, removed, bytes: removed.reduce((s, r) => s + r.bytes, 0), files: removed.reduce((s, r) => s + r.files, 0) }
}
