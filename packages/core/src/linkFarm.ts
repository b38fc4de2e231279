/**
 * The link farm: <links-dir>/{Executables,Libraries,Headers,Shared,Manuals} and
 * <settings-dir>, made of relative symlinks into /Programs.
 *
 * Contracts:
 * - Every linked file has exactly one owner row in the DB, so ownership, conflicts and removal
 *   are exact. On disk, a directory that one program alone fills may be one folded symlink
 *   instead of a link per file (linkFold.ts); other directories in the farm are plain
 *   directories, created on demand and pruned when empty.
 * - Targets go through `Programs/<Name>/Current/…`, so switching versions changes one
 *   symlink for all the files both versions share; only the difference is linked/unlinked.
 * - Targets are relative, so a root can be moved or used through --root.
 * - Nothing here replaces a path that nip does not own: conflicts are reported, not resolved.
 */
import fs from 'node:fs'
import path from 'node:path'
import { FsPool, POOL_MIN_OPS, poolThreads, type FsOpError } from '@nip/cas'
import type { FileRow, LinkRow } from './db/database.js'
import { LINK_DIRS, type Layout, type LinkDirName } from './layout.js'
import { isNormalRelative } from './archive/entryPath.js'
import { fromSystemError, isNipError } from './errors.js'
import { foldBaseOf, foldBases, isOurFoldTarget, type LinkIndex } from './linkFold.js'

/** LINK_DIRS as (link directory, "prefix/") pairs, in order: linkSlots runs once per file. */
const SLOT_PREFIXES: readonly (readonly [LinkDirName, string][])[] = (Object.entries(LINK_DIRS) as [LinkDirName, readonly string[]][]).map(
  ([base, prefixes]) => prefixes.map((prefix) => [base, `${prefix}/`] as [LinkDirName, string]),
)

/** Where an entry of a program tree is linked, as paths relative to <links-dir> (or settings). */
export function linkSlots(entryPath: string): { base: LinkDirName | 'Settings'; rest: string }[] {
  if (entryPath.startsWith('Settings/')) return [{ base: 'Settings', rest: entryPath.slice('Settings/'.length) }]
  const slots: { base: LinkDirName | 'Settings'; rest: string }[] = []
  for (const prefixes of SLOT_PREFIXES) {
    for (const [base, prefix] of prefixes) {
      if (entryPath.startsWith(prefix) && entryPath.length > prefix.length) {
        slots.push({ base, rest: entryPath.slice(prefix.length) })
        break
      }
    }
  }
  return slots
}

/** The links a program's current version implies (root-relative paths, relative targets). */
export function desiredLinks(layout: Layout, program: { id: number; name: string }, files: FileRow[]): LinkRow[] {
  const rows: LinkRow[] = []
  const current = path.join(layout.programDir(program.name), 'Current')
  const settings = layout.programSettingsDir(program.name)
  // Paths are computed once per link directory, not per link (path.relative is the cost of a
  // 50,000-file program): entry paths are normalised (validated at install), so a link's path
  // and target are its directory's plus the rest of the entry path.
  const dirs = new Map<string, { rel: string; up: string } | null>()
  const linkBases = new Map<string, string>()
  for (const f of files) {
    if (f.type === 'dir') continue
    // A slot's rest is a suffix of the entry path after a "/": normal when the path is.
    const normalPath = isNormalRelative(f.path)
    for (const slot of linkSlots(f.path)) {
      const settingsLink = slot.base === 'Settings'
      let base = settingsLink ? layout.settingsDir : linkBases.get(slot.base)
      if (base === undefined) linkBases.set(slot.base, (base = path.join(layout.linksDir, slot.base)))
      const destBase = settingsLink ? settings : current
      const destRest = settingsLink ? slot.rest : f.path
      const cut = slot.rest.lastIndexOf('/')
      const key = `${slot.base}/${cut < 0 ? '' : slot.rest.slice(0, cut)}`
      let d = dirs.get(key)
      if (d === undefined) {
        const dirAbs = cut < 0 ? base : path.join(base, slot.rest.slice(0, cut))
        const up = path.relative(dirAbs, destBase)
        // Exact only when neither directory contains the other and the pieces are normal.
        const simple = up !== '' && !up.endsWith('..') && !`${destBase}/`.startsWith(`${dirAbs}/`) && !`${dirAbs}/`.startsWith(`${destBase}/`)
        d = simple ? { rel: layout.rel(base), up } : null
        dirs.set(key, d)
      }
      if (d !== null && normalPath) {
        rows.push({ path: `${d.rel}/${slot.rest}`, program: program.name, program_id: program.id, entry: f.path, target: `${d.up}/${destRest}` })
        continue
      }
      const abs = path.join(base, slot.rest)
      rows.push({
        path: layout.rel(abs),
        program: program.name,
        program_id: program.id,
        entry: f.path,
        target: path.relative(path.dirname(abs), path.join(destBase, destRest)),
      })
    }
  }
  rows.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  return rows
}

export interface LinkConflict {
  path: string
  kind: 'owned' | 'occupied' | 'planned'
  /** The program that owns it (owned / planned). */
  owner?: string
  wanted: string
}

/**
 * Check that `rows` can be created for `program`: no path owned by another program (in the DB
 * or earlier in this plan), no path occupied on disk by something nip does not own.
 */
export function findLinkConflicts(opts: {
  layout: Layout
  program: string
  rows: LinkRow[]
  ownerOf: (p: string) => string | undefined
  planned?: Map<string, string>
  /** Recognises folded directories (linkFold.ts), which are expanded rather than in the way. */
  index?: LinkIndex
}): LinkConflict[] {
  const conflicts: LinkConflict[] = []
  const me = opts.program.toLowerCase()
  const { layout, index } = opts
  const isFold =
    index === undefined
      ? undefined
      : (dir: string): boolean => {
          const rel = layout.rel(dir)
          return foldBaseOf(foldBases(layout), rel) !== undefined && isOurFoldTarget(layout, dir, fs.readlinkSync(dir)) && index.linkUnder(rel) !== undefined
        }
  const statusOf = dirStatuses(opts.layout.root, isFold)
  for (const r of opts.rows) {
    const owner = opts.ownerOf(r.path)
    if (owner !== undefined && owner.toLowerCase() !== me) {
      conflicts.push({ path: r.path, kind: 'owned', owner, wanted: opts.program })
      continue
    }
    const plannedBy = opts.planned?.get(r.path)
    if (plannedBy !== undefined && plannedBy.toLowerCase() !== me) {
      conflicts.push({ path: r.path, kind: 'planned', owner: plannedBy, wanted: opts.program })
      continue
    }
    if (owner !== undefined) continue
    const abs = opts.layout.linkAbs(r.path)
    // A parent that exists but is not a directory (a user's file or symlink) blocks the link.
    const parent = statusOf(path.dirname(abs))
    if (parent.blocker !== undefined) {
      conflicts.push({ path: opts.layout.rel(parent.blocker), kind: 'occupied', wanted: opts.program })
      continue
    }
    // Under a directory that does not exist yet nothing can be in the way: a fresh farm costs
    // one lstat per directory, not one per link.
    if (!parent.exists) continue
    const st = lstatOrNull(abs)
    if (st && !(st.isSymbolicLink() && fs.readlinkSync(abs) === r.target)) {
      conflicts.push({ path: r.path, kind: 'occupied', wanted: opts.program })
    }
  }
  return conflicts
}

interface DirStatus {
  /** The directory exists (as a real directory, not a symlink to one). */
  exists: boolean
  /** The non-directory at or above it that blocks it, when there is one. */
  blocker?: string
}

/** A memoised lookup of what is at a directory path under `root` (one lstat per directory). */
function dirStatuses(root: string, isFold?: (dir: string) => boolean): (dir: string) => DirStatus {
  const known = new Map<string, DirStatus>()
  const statusOf = (dir: string): DirStatus => {
    const cached = known.get(dir)
    if (cached !== undefined) return cached
    let status: DirStatus
    if (dir.length <= root.length) status = { exists: true }
    else {
      const up = statusOf(path.dirname(dir))
      if (!up.exists) status = up
      else {
        const st = lstatOrNull(dir)
        // A fold is expanded into a real directory before links go into it.
        status = st === null ? { exists: false } : st.isDirectory() || (st.isSymbolicLink() && isFold?.(dir) === true) ? { exists: true } : { exists: false, blocker: dir }
      }
    }
    known.set(dir, status)
    return status
  }
  return statusOf
}

/** Create (or leave in place when already right) every link. Idempotent. `afterEach(n)` runs after the n-th link made. */
export function createLinks(layout: Layout, rows: LinkRow[], afterEach?: (created: number) => void): number {
  let created = 0
  const made = new Set<string>()
  const { cfs } = layout
  rows.forEach((r) => {
    const abs = layout.linkAbs(r.path)
    const dir = path.dirname(abs)
    try {
      if (!made.has(dir)) {
        cfs.mkdirp(dir)
        made.add(dir)
      }
      // Try the link first: on a fresh farm that is the only call; symlink(2) never replaces.
      if (!trySymlink(layout, r.target, abs)) {
        const st = fs.lstatSync(abs)
        if (!st.isSymbolicLink()) throw Object.assign(new Error(`occupied by a non-link`), { code: 'EEXIST' })
        if (fs.readlinkSync(abs) === r.target) return
        // Ours (the DB says so) but stale: replace atomically.
        const tmp = `${abs}.nip-tmp-${process.pid}`
        cfs.rm(tmp, { force: true })
        cfs.symlink(r.target, tmp, false)
        cfs.rename(tmp, abs)
      }
      created++
    } catch (e) {
      throw isNipError(e) ? e : fromSystemError(e, 'creating a link', abs)
    }
    afterEach?.(created)
  })
  return created
}

/**
 * createLinks for many links: the first on this thread (so a crash point after the first link
 * fires where it always did), the directories on this thread, then the links by worker threads
 * (see FsPool; each takes a contiguous run of the sorted rows). Paths already occupied go
 * through createLinks afterwards, which keeps a right link, replaces a stale one of ours and
 * refuses anything else. Small sets are createLinks as they are.
 */
export async function createLinksParallel(layout: Layout, rows: LinkRow[], afterEach?: (created: number) => void): Promise<number> {
  const threads = poolThreads()
  if (threads === 0 || rows.length < POOL_MIN_OPS) return createLinks(layout, rows, afterEach)
  let created = createLinks(layout, rows.slice(0, 1), afterEach)
  const rest = rows.slice(1)
  const made = new Set<string>()
  for (const r of rest) {
    const dir = path.dirname(layout.linkAbs(r.path))
    if (made.has(dir)) continue
    try {
      // Made and checked here, so the worker threads' symlink(2) calls land in real directories.
      layout.cfs.mkdirp(dir)
    } catch (e) {
      throw isNipError(e) ? e : fromSystemError(e, 'creating a link', layout.linkAbs(r.path))
    }
    made.add(dir)
  }
  const pool = new FsPool(threads)
  let results: (FsOpError | null)[]
  try {
    results = await pool.run(rest.map((r) => ({ op: 'symlink', target: r.target, path: layout.linkAbs(r.path) })))
  } finally {
    await pool.close()
  }
  const occupied: LinkRow[] = []
  for (const [i, r] of results.entries()) {
    if (r === null) {
      created++
      afterEach?.(created)
    } else if (r.code === 'EEXIST') {
      occupied.push(rest[i])
    } else {
      const abs = layout.linkAbs(rest[i].path)
      throw fromSystemError(Object.assign(new Error(r.message), { code: r.code, path: abs, ...(r.errno !== undefined ? { errno: r.errno } : {}), ...(r.syscall ? { syscall: r.syscall } : {}) }), 'creating a link', abs)
    }
  }
  return created + createLinks(layout, occupied)
}

/** symlink(2); false when something (a link, a file) is already at `path`. */
function trySymlink(layout: Layout, target: string, path: string): boolean {
  try {
    layout.cfs.symlink(target, path, false)
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw e
  }
}

/**
 * Remove links that point where we expect (never someone else's file), then prune the empty
 * directories left behind, up to (not including) the link-farm roots.
 */
export function removeLinks(layout: Layout, rows: { path: string; target: string }[], afterEach?: (i: number) => void): number {
  let removed = 0
  const dirs = new Set<string>()
  rows.forEach((r, i) => {
    const abs = layout.linkAbs(r.path)
    const st = lstatOrNull(abs)
    if (st?.isSymbolicLink() && fs.readlinkSync(abs) === r.target) {
      try {
        layout.cfs.unlink(abs)
      } catch (e) {
        throw fromSystemError(e, 'removing a link', abs)
      }
      removed++
      dirs.add(path.dirname(abs))
    }
    afterEach?.(i)
  })
  pruneEmptyDirs(layout, dirs)
  return removed
}

function farmRoots(layout: Layout): Set<string> {
  return new Set([layout.linksDir, layout.settingsDir, ...Object.keys(LINK_DIRS).map((d) => path.join(layout.linksDir, d))])
}

export function pruneEmptyDirs(layout: Layout, dirs: Iterable<string>): void {
  const roots = farmRoots(layout)
  const sorted = [...dirs].sort((a, b) => b.length - a.length)
  for (let dir of sorted) {
    while (!roots.has(dir) && dir.startsWith(layout.root + path.sep)) {
      try {
        layout.cfs.rmdir(dir)
      } catch (e) {
        if ((e as { code?: string }).code === 'ERR_NIP_CONFINED') throw fromSystemError(e, 'pruning link directories', dir)
        break // not empty, or gone
      }
      dir = path.dirname(dir)
    }
  }
}

export function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null
    throw e
  }
}

/** Create the farm's fixed directories. */
export function ensureFarm(layout: Layout): void {
  for (const d of Object.keys(LINK_DIRS)) layout.cfs.mkdirp(path.join(layout.linksDir, d))
  layout.cfs.mkdirp(layout.settingsDir)
}
