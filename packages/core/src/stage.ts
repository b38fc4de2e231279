/**
 * Staging: materialise a program tree from the CAS into a directory that is not yet visible
 * as a program (`/Programs/<Name>/.<Version>.tmp-<txn>`). Files are imported by the CAS
 * (reflink → hardlink → copy), so they share the blob's read-only inode. Settings entries are
 * not staged: they live in the version-neutral Settings directory (see placeSettings).
 */
import fs from 'node:fs'
import path from 'node:path'
import { Cas, FsPool, POOL_MIN_OPS, hashFile, poolThreads, type FsOp, type FsOpError } from '@nip/cas'
import type { TreeEntry } from './adapter.js'
import { NipError, fromSystemError } from './errors.js'
import type { ConfinedFs } from '@nip/cas'

const IMPORT_CONCURRENCY = 32

/**
 * Create the staging directory `dir` through the confined layer: its parents are real
 * directories (made as needed) and `dir` itself is new (a leftover of the same name is removed
 * first, never followed).
 */
export function makeStagingDir(cfs: ConfinedFs, dir: string): void {
  cfs.rm(dir, { recursive: true, force: true })
  cfs.mkdirNew(dir, 0o755)
}

/**
 * `placed`: files unpacking already created in `dir` (StageTarget.placed: path → blob key). An
 * entry whose file is there with its blob is left as it is; every other placed file (a path
 * the adapter moved, dropped or gave other content after unpacking) is removed first.
 */
export async function stageTree(cas: Cas, entries: TreeEntry[], dir: string, cfs: ConfinedFs, placed?: ReadonlyMap<string, string>): Promise<void> {
  try {
    // Unpacking may have placed files in `dir` already (StageTarget): keep it then.
    if (placed !== undefined && placed.size > 0) cfs.mkdirp(dir)
    else makeStagingDir(cfs, dir)
    let done: Set<TreeEntry> | undefined
    if (placed !== undefined && placed.size > 0) {
      done = new Set()
      const kept = new Set<string>()
      for (const e of entries) {
        if (e.type === 'file' && !e.settings && e.blob && placed.get(e.path) === e.blob && !kept.has(e.path)) {
          kept.add(e.path)
          done.add(e)
        }
      }
      for (const p of placed.keys()) if (!kept.has(p)) cfs.rm(`${dir}/${p}`, { force: true })
    }
    // Every directory through the confined layer (one mkdir or lstat each, remembered), so each
    // leaf below lands in a real directory of this tree: the links and files themselves are then
    // made by name (link(2), symlink(2), O_EXCL), which never follows anything.
    const dirs = entries.filter((e) => e.type === 'dir' && !e.settings)
    for (const d of dirs) cfs.mkdirp(path.join(dir, d.path), 0o755)
    const leaves = entries.filter((e) => e.type !== 'dir' && !e.settings && done?.has(e) !== true)
    const made = new Set(dirs.map((d) => path.join(dir, d.path)))
    for (const l of leaves) {
      const parent = path.dirname(path.join(dir, l.path))
      if (!made.has(parent)) {
        cfs.mkdirp(parent)
        made.add(parent)
      }
    }
    // Hardlinks (the common case: store and programs on one filesystem) are made with
    // synchronous link(2) calls: thousands of them, each far cheaper than a thread-pool round trip.
    if (leaves.length > 0 && (await cas.importMethod(dir)) === 'hardlink') {
      const threads = poolThreads()
      if (threads > 0 && leaves.length >= POOL_MIN_OPS) {
        await linkInPool(cas, leaves, dir, threads)
        for (const d of dirs.reverse()) cfs.chmod(path.join(dir, d.path), dirMode(d.mode))
        return
      }
      for (const e of leaves) {
        const dest = path.join(dir, e.path)
        if (e.type === 'symlink') cfs.symlink(e.target ?? '', dest, false)
        else if (!e.blob) throw new NipError('ERR_NIP_INTERNAL', `Tree entry ${e.path} has no blob.`)
        else {
          try {
            cfs.link(cas.pathOf(e.blob), dest, false)
          } catch {
            // A missing blob, EMLINK (a blob at the link limit) and friends: the CAS falls back
            // for this file or reports the problem with its own error code.
            await cas.importTo(e.blob, dest)
          }
        }
      }
      for (const d of dirs.reverse()) cfs.chmod(path.join(dir, d.path), dirMode(d.mode))
      return
    }
    let next = 0
    const worker = async () => {
      while (next < leaves.length) {
        const e = leaves[next++]
        const dest = path.join(dir, e.path)
        if (e.type === 'symlink') cfs.symlink(e.target ?? '', dest, false)
        else {
          cfs.parent(dest)
          if (!e.blob) throw new NipError('ERR_NIP_INTERNAL', `Tree entry ${e.path} has no blob.`)
          await cas.importTo(e.blob, dest)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(IMPORT_CONCURRENCY, leaves.length) }, worker))
    // Directory modes last (a 0555 directory could not be filled); owner keeps write so nip can remove it.
    for (const d of dirs.reverse()) cfs.chmod(path.join(dir, d.path), dirMode(d.mode))
  } catch (e) {
    throw mapCasError(e, 'staging a program', dir)
  }
}

/**
 * The hardlinks and symlinks of a large tree, made by worker threads (see FsPool): each thread
 * takes a contiguous run of the sorted entries, so mostly directories of its own. A link that
 * fails is retried through cas.importTo on this thread, as in the sequential path.
 */
async function linkInPool(cas: Cas, leaves: TreeEntry[], dir: string, threads: number): Promise<void> {
  // Entry paths are normalised and relative (validateEntries), the staging directory absolute:
  // a concatenation is their join.
  const ops: FsOp[] = leaves.map((e) => {
    const dest = `${dir}/${e.path}`
    if (e.type === 'symlink') return { op: 'symlink', target: e.target ?? '', path: dest }
    if (!e.blob) throw new NipError('ERR_NIP_INTERNAL', `Tree entry ${e.path} has no blob.`)
    return { op: 'link', from: cas.pathOf(e.blob), path: dest }
  })
  const pool = new FsPool(threads)
  let results: (FsOpError | null)[]
  try {
    results = await pool.run(ops)
  } finally {
    await pool.close()
  }
  for (const [i, r] of results.entries()) {
    if (r === null) continue
    const e = leaves[i]
    const dest = (ops[i] as { path: string }).path
    if (e.type === 'symlink') throw systemError(r, dest)
    await cas.importTo(e.blob!, dest)
  }
}

/** An FsPool failure as the Error a synchronous call would have thrown. */
export function systemError(r: FsOpError, p: string): Error {
  return Object.assign(new Error(r.message), { code: r.code, path: p, ...(r.errno !== undefined ? { errno: r.errno } : {}), ...(r.syscall ? { syscall: r.syscall } : {}) })
}

/** Where placeSettings put a new default beside a file the user edited. */
export interface SettingsNew {
  path: string
  saved: string
}

/**
 * Put a program's settings files into /Programs/<Name>/Settings: copied (never linked, the
 * user edits them). An existing file is handled as pacman handles `backup` files:
 * - absent: the new default is placed;
 * - equal to the new default: nothing to do;
 * - equal to a default some other version of the program shipped (`knownDefaults`, blob keys by
 *   settings path): the user never edited it, so the new default replaces it;
 * - otherwise the user's copy stays and the new default is saved beside it as `<file>.nipnew`
 *   (returned, so the caller can say so).
 */
export async function placeSettings(
  cas: Cas,
  entries: { path: string; type: string; blob?: string | null; target?: string | null; mode: number; settings?: boolean | number }[],
  settingsDir: string,
  cfs: ConfinedFs,
  knownDefaults: Map<string, Set<string>> = new Map(),
): Promise<SettingsNew[]> {
  const saved: SettingsNew[] = []
  for (const e of entries) {
    if (!e.settings || e.type === 'dir') continue
    const dest = path.join(settingsDir, e.path.slice('Settings/'.length))
    try {
      // Programs/<Name>/Settings and every directory below it down to the file's: real
      // directories (a symlink there, planted or shipped earlier, is refused, never followed).
      cfs.mkdirp(path.dirname(dest))
      const existing = fs.lstatSync(dest, { throwIfNoEntry: false })
      if (existing === undefined) {
        if (e.type === 'symlink') cfs.symlink(e.target ?? '', dest, false)
        else await cas.importTo(e.blob as string, dest, { copy: true, mode: fileMode(e.mode) })
        continue
      }
      if (e.type !== 'file' || !e.blob || !existing.isFile()) continue
      const current = (await hashFile(dest)).digest
      const wanted = Cas.parseKey(e.blob).digest
      if (current === wanted) continue
      const shipped = [...(knownDefaults.get(e.path) ?? [])].some((k) => Cas.parseKey(k).digest === current)
      const target = shipped ? dest : `${dest}.nipnew`
      if (!shipped && fs.lstatSync(target, { throwIfNoEntry: false })?.isFile() === true && (await hashFile(target)).digest === wanted) continue
      const tmp = `${dest}.nip-tmp-${process.pid}`
      cfs.rm(tmp, { force: true })
      await cas.importTo(e.blob, tmp, { copy: true, mode: fileMode(e.mode) })
      cfs.rename(tmp, target)
      if (!shipped) saved.push({ path: dest, saved: target })
    } catch (err) {
      throw mapCasError(err, 'placing a settings file', dest)
    }
  }
  return saved
}

/**
 * Modes nip gives what it places (docs/security.md): no world-writable file or directory, no
 * setuid, setgid or sticky bit; a directory keeps its owner's rwx so nip can fill and remove it.
 */
export function dirMode(mode: number): number {
  return (mode & 0o775) | 0o700
}
export function fileMode(mode: number): number {
  return mode & 0o775
}

/** CasError carries the same codes as NipError; re-raise it as one. */
export function mapCasError(e: unknown, action: string, p?: string): NipError {
  if (e instanceof NipError) return e
  const err = e as { code?: string; message?: string; hint?: string; data?: Record<string, unknown>; name?: string }
  if (err && typeof err.code === 'string' && err.code.startsWith('ERR_NIP_')) {
    return new NipError(err.code as never, err.message ?? action, { hint: err.hint, data: err.data ?? {}, cause: e })
  }
  return fromSystemError(e, action, p)
}
