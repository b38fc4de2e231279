/**
 * Writes to a source's cache files (downloads, indexes, their sidecars), confined: when the path
 * lies under an open root, every directory above it is checked (and made) by that root's
 * confined layer and the file itself is never followed; elsewhere (a cache outside any root,
 * as in unit tests) the plain calls are used, still without following the file itself.
 */
import fs from 'node:fs'
import path from 'node:path'
import { ConfinedFs } from '@nip/cas'

const { O_WRONLY, O_CREAT, O_TRUNC, O_APPEND, O_NOFOLLOW } = fs.constants

/** mkdir -p of a cache directory. */
export function cacheMkdir(dir: string): void {
  const cfs = ConfinedFs.covering(dir)
  if (cfs !== undefined) cfs.mkdirp(dir)
  else fs.mkdirSync(dir, { recursive: true })
}

/** rm -f (-r with `recursive`) of a cache path. */
export function cacheRm(p: string, recursive = false): void {
  const cfs = ConfinedFs.covering(p)
  if (cfs !== undefined) cfs.rm(p, { force: true, recursive })
  else fs.rmSync(p, { force: true, recursive })
}

export function cacheRename(from: string, to: string): void {
  const cfs = ConfinedFs.covering(to)
  if (cfs !== undefined) cfs.rename(from, to)
  else fs.renameSync(from, to)
}

/** Writes (or appends) a cache file; parents are made. */
export function cacheWrite(p: string, data: string | Uint8Array, append = false): void {
  const cfs = ConfinedFs.covering(p)
  if (cfs !== undefined) return cfs.writeFile(p, data, { flag: append ? 'a' : 'w' })
  fs.mkdirSync(path.dirname(p), { recursive: true })
  const fd = fs.openSync(p, O_WRONLY | O_CREAT | O_NOFOLLOW | (append ? O_APPEND : O_TRUNC), 0o644)
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data)
  } finally {
    fs.closeSync(fd)
  }
}

/** Checks the parents of a cache file before it is opened by name (open itself adds O_NOFOLLOW). */
export function cacheParent(p: string): void {
  const cfs = ConfinedFs.covering(p)
  if (cfs !== undefined) cfs.parent(p, true)
  else fs.mkdirSync(path.dirname(p), { recursive: true })
}

/** open(2) flags for appending to a cache file without following a symlink at its name. */
export const APPEND_NOFOLLOW = O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW

/**
 * A SQLite database in a cache or state directory: its directory is made through the confined
 * layer, and the database and its -wal, -shm and -journal files must each be absent or a regular
 * file (SQLite opens them by name and follows symlinks).
 */
export function cacheDatabaseFiles(file: string): void {
  cacheMkdir(path.dirname(file))
  const cfs = ConfinedFs.covering(file)
  for (const p of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    const st = fs.lstatSync(p, { throwIfNoEntry: false })
    if (st !== undefined && !st.isFile()) {
      if (cfs !== undefined) throw cfs.refusal(p, st)
      throw Object.assign(new Error(`${p} is not a regular file`), { code: 'ERR_NIP_CONFINED' })
    }
  }
}
