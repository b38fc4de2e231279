/**
 * Garbage collection: delete program versions no root references, then blobs no files row names.
 *
 * Roots: programs in any kept generation (programs.refs counts their live spans), pinned
 * programs (a pin is one reference) and programs of a transaction still in the journal. Run by
 * the one writer after recovery, so no other transaction is in flight.
 *
 * Cost follows the garbage, not the store: candidates come from `programs WHERE refs = 0` and
 * `blobs WHERE refs <= 0` through partial indexes, and every other statement is keyed by the
 * candidates' ids or keys (set-based, through json_each, prepared once per connection). The
 * disk work is a fixed number of system calls per garbage file: the trees are deleted from
 * their files rows (unlink, rmdir; no readdir, no lstat), blobs by their address.
 *
 *   gc: select → register (one SQLite transaction: the journal row, already `registered`, and
 *       the rows deleted; blob counts drop) → rename every tree into the trash → one fsync of
 *       the trash directory → delete the trash trees → empty program directories → unlink the
 *       unreferenced blob files → one SQLite transaction deleting their rows and the journal row.
 *
 * Two commits in all. The journal row needs no `prepared` state of its own: gc changes nothing on
 * disk before its register step commits, so a kill before that commit leaves nothing to undo.
 *
 * Crash points: gc:journal (inside the register transaction, after the journal row: rolled
 * back, nothing was deleted), gc:registered, gc:trashed, gc:blobs (rolled forward: recovery
 * reconciles what the journal names, discarding the trees and emptying the trash; blobs left
 * with refs 0 go at the next gc). A blob file is deleted before its row, so a kill leaves at
 * worst a row whose file is already gone, which the next gc deletes.
 */
import { isNormalRelative } from './archive/entryPath.js'
import fs from 'node:fs'
import path from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import type { Cas } from '@nip/cas'
import type { GcDrift, GcOptions, GcResult } from './api.js'
import type { Database, ProgramRow } from './db/database.js'
import type { Layout } from './layout.js'
import type { Reporter } from './reporter.js'
import { crashPoint } from './crash.js'
import type { JournalPayload } from './reconcile.js'
import { newTransactionId } from './transaction.js'
import { appendLog } from './txlog.js'
import { fromSystemError } from './errors.js'

/** Deletions in flight at once (the --verify scan's orphan blobs). */
const DELETE_CONCURRENCY = 16

export interface GcContext {
  db: Database
  layout: Layout
  cas: Cas
  reporter: Reporter
}

/** gc's statements, compiled once per connection. Ids and keys are passed as one JSON array. */
interface GcStatements {
  candidates: BetterSqlite3.Statement
  deadBlobs: BetterSqlite3.Statement
  freedBy: BetterSqlite3.Statement
  blobsOf: BetterSqlite3.Statement
  treeEntries: BetterSqlite3.Statement
  insertJournal: BetterSqlite3.Statement
  releaseBlobs: BetterSqlite3.Statement
  deleteLinks: BetterSqlite3.Statement
  deleteSpans: BetterSqlite3.Statement
  deleteDependencies: BetterSqlite3.Statement
  deleteFiles: BetterSqlite3.Statement
  deletePrograms: BetterSqlite3.Statement
  remaining: BetterSqlite3.Statement
  deleteBlobRows: BetterSqlite3.Statement
  deleteJournal: BetterSqlite3.Statement
}

const compiled = new WeakMap<BetterSqlite3.Database, GcStatements>()
const IDS = 'SELECT value FROM json_each(?)'

function statements(handle: BetterSqlite3.Database): GcStatements {
  let s = compiled.get(handle)
  if (s) return s
  const p = (sql: string) => handle.prepare(sql)
  s = {
    candidates: p('SELECT * FROM programs WHERE refs = 0 AND active = 0 AND pinned = 0 AND txn NOT IN (SELECT id FROM journal) ORDER BY id'),
    deadBlobs: p('SELECT key, size FROM blobs WHERE refs <= 0'),
    // Blobs all of whose references are among the programs: what deleting them frees (dry run).
    freedBy: p(
      `SELECT b.key AS key, b.size AS size FROM
         (SELECT blob, COUNT(*) AS n FROM files WHERE program_id IN (${IDS}) AND blob IS NOT NULL GROUP BY blob) f
       JOIN blobs b ON b.key = f.blob WHERE b.refs <= f.n`,
    ),
    treeEntries: p(`SELECT program_id, path, type FROM files WHERE program_id IN (${IDS}) AND settings = 0`),
    // One program's blobs with their references in it and in all (for --max-freed).
    blobsOf: p(
      `SELECT b.key AS key, b.size AS size, b.refs AS refs, f.n AS n FROM
         (SELECT blob, COUNT(*) AS n FROM files WHERE program_id = ? AND blob IS NOT NULL GROUP BY blob) f
       JOIN blobs b ON b.key = f.blob`,
    ),
    insertJournal: p('INSERT INTO journal (id, kind, state, pid, command, started_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    releaseBlobs: p(
      `UPDATE blobs SET refs = refs - f.n
         FROM (SELECT blob, COUNT(*) AS n FROM files WHERE program_id IN (${IDS}) AND blob IS NOT NULL GROUP BY blob) AS f
       WHERE blobs.key = f.blob`,
    ),
    deleteLinks: p(`DELETE FROM links WHERE program_id IN (${IDS})`),
    deleteSpans: p(`DELETE FROM generation_spans WHERE program_id IN (${IDS})`),
    deleteDependencies: p(`DELETE FROM dependencies WHERE program_id IN (${IDS})`),
    deleteFiles: p(`DELETE FROM files WHERE program_id IN (${IDS})`),
    deletePrograms: p(`DELETE FROM programs WHERE id IN (${IDS})`),
    remaining: p('SELECT COUNT(*) AS n FROM programs WHERE name = ? COLLATE NOCASE'),
    deleteBlobRows: p(`DELETE FROM blobs WHERE key IN (${IDS}) AND refs <= 0`),
    deleteJournal: p('DELETE FROM journal WHERE id = ?'),
  }
  compiled.set(handle, s)
  return s
}

type Blob = { key: string; size: number }

export async function collectGarbage(ctx: GcContext, opts: GcOptions = {}): Promise<GcResult> {
  const started = Date.now()
  const { db, layout, cas } = ctx
  const sql = statements(db.db)
  const all = sql.candidates.all() as ProgramRow[]
  const chosen: ProgramRow[] = []
  if (opts.maxFreed === undefined) chosen.push(...all)
  else {
    // Stop once the blobs the chosen programs free (and the dead ones) reach the budget: a blob
    // is freed when the last of its references goes, so shared content counts once, and only
    // when every program holding it is chosen.
    let freed = (sql.deadBlobs.all() as Blob[]).reduce((n, b) => n + b.size, 0)
    const released = new Map<string, number>()
    for (const p of all) {
      if (freed >= opts.maxFreed) break
      chosen.push(p)
      for (const b of sql.blobsOf.all(p.id) as (Blob & { refs: number; n: number })[]) {
        const gone = (released.get(b.key) ?? 0) + b.n
        released.set(b.key, gone)
        if (gone >= b.refs && gone - b.n < b.refs) freed += b.size
      }
    }
  }
  const truncated = chosen.length < all.length
  const programs = chosen.map((p) => ({ name: p.name, version: p.version, size: p.size }))
  const ids = JSON.stringify(chosen.map((p) => p.id))
  let drift: GcDrift | undefined
  if (opts.dryRun) {
    const freed = chosen.length > 0 ? (sql.freedBy.all(ids) as Blob[]) : []
    const blobKeys = new Map<string, number>([...(sql.deadBlobs.all() as Blob[]), ...freed].map((b) => [b.key, b.size]))
    if (opts.verify) drift = await scanForDrift(ctx, { collect: false })
    return { dryRun: true, programs, blobs: blobKeys.size, bytes: sum(blobKeys), truncated, durationMs: Date.now() - started, ...(drift ? { drift } : {}) }
  }

  const command = opts.command ?? 'gc'
  // Blobs: every row with no reference left (including those this run releases). Files first,
  // then their rows and the journal row in one commit.
  let dead: Blob[]
  let freed: { blobs: number; bytes: number }
  let transaction: string | undefined
  if (chosen.length > 0) {
    const txn = newTransactionId()
    transaction = txn
    const names = [...new Set(chosen.map((p) => p.name))]
    const payload: JournalPayload = {
      names,
      dirs: chosen.map((p) => layout.rel(layout.versionDir(p.name, p.version))),
      links: [],
      previousCurrent: {},
    }
    // What each tree holds, read before its rows go: the trees are deleted from this list.
    const entries = new Map<number, TreeItem[]>()
    for (const e of sql.treeEntries.all(ids) as { program_id: number; path: string; type: string }[]) {
      let list = entries.get(e.program_id)
      if (!list) entries.set(e.program_id, (list = []))
      list.push({ path: e.path, dir: e.type === 'dir' })
    }
    // Register: the journal row and the deletions commit together (see the file comment).
    db.transaction(() => {
      sql.insertJournal.run(txn, 'gc', 'registered', process.pid, command, new Date().toISOString(), JSON.stringify(payload))
      crashPoint('gc:journal')
      sql.releaseBlobs.run(ids)
      sql.deleteLinks.run(ids)
      sql.deleteSpans.run(ids)
      sql.deleteDependencies.run(ids)
      sql.deleteFiles.run(ids)
      sql.deletePrograms.run(ids)
    })
    crashPoint('gc:registered')
    ctx.reporter.emit({ type: 'phase', phase: 'gc', message: `Deleting ${chosen.length} program tree(s)` })
    dead = sql.deadBlobs.all() as Blob[]
    const aside = trashTrees(layout, txn, chosen, entries)
    // The trees (in the trash) and the blob files go on the thread pool while this thread
    // removes the program directories the renames left empty: three independent sets of
    // deletions, none waiting on another.
    const work = Promise.all([deleteTrees(aside), unlinkBlobs(cas, dead)])
    rmProgramDirs(layout, sql, names)
    freed = (await work)[1]
  } else {
    dead = sql.deadBlobs.all() as Blob[]
    freed = await unlinkBlobs(cas, dead)
  }
  let { blobs, bytes } = freed
  if (dead.length > 0 || transaction) {
    db.transaction(() => {
      if (dead.length > 0) sql.deleteBlobRows.run(JSON.stringify(dead.map((b) => b.key)))
      if (transaction) sql.deleteJournal.run(transaction)
    })
  }
  if (transaction) {
    appendLog(layout.cfs, layout.logDir, {
      time: new Date().toISOString(),
      transaction,
      command,
      action: 'gc',
      outcome: 'ok',
      programs: programs.map((p) => ({ name: p.name, version: p.version, change: 'collected' })),
      durationMs: Date.now() - started,
    })
  }
  if (opts.verify) {
    drift = await scanForDrift(ctx, { collect: true })
    blobs += drift.orphanBlobs.length
    bytes += drift.orphanBytes
  }
  await cas.cleanTmp()
  return { dryRun: false, programs, blobs, bytes, truncated, durationMs: Date.now() - started, ...(drift ? { drift } : {}), ...(transaction ? { transaction } : {}) }
}

interface TreeItem {
  path: string
  dir: boolean
}

/** Deletions queued on the thread pool at once: enough to keep it busy, bounded for huge collections. */
const QUEUE_DEPTH = 256

/**
 * Rename every tree into the trash (out of sight at once) and make the renames durable with one
 * fsync of the trash directory. A kill after this is finished by recovery: the journal lists
 * the version directories, and reconcile empties the trash.
 */
function trashTrees(layout: Layout, txn: string, chosen: ProgramRow[], entries: Map<number, TreeItem[]>): { dir: string; items: TreeItem[] }[] {
  try {
    layout.cfs.mkdirp(layout.trashDir)
  } catch (e) {
    throw fromSystemError(e, 'making the trash', layout.trashDir)
  }
  const aside: { dir: string; items: TreeItem[] }[] = []
  for (const p of chosen) {
    const vdir = layout.versionDir(p.name, p.version)
    const dest = path.join(layout.trashDir, `${txn}-${p.id}`)
    try {
      layout.cfs.rename(vdir, dest)
      aside.push({ dir: dest, items: entries.get(p.id) ?? [] })
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      // EXDEV: the trash is on another filesystem; delete in place (the journal still names it).
      if (code === 'ERR_NIP_CONFINED') throw fromSystemError(e, 'moving a program tree to the trash', vdir)
      if (code === 'EXDEV') aside.push({ dir: vdir, items: entries.get(p.id) ?? [] })
      else if (code !== 'ENOENT') throw fromSystemError(e, 'moving a program tree to the trash', vdir)
    }
    crashPoint('gc:trashed')
  }
  syncDir(layout.trashDir)
  return aside
}

/**
 * Delete each tree from its files rows: unlink the leaves, remove the directories deepest first,
 * then the tree itself — no readdir, no lstat. A tree holding anything its rows do not name (a
 * file a user added) falls back to a recursive delete.
 */
async function deleteTrees(aside: { dir: string; items: TreeItem[] }[]): Promise<void> {
  await forEachLimit(aside, QUEUE_DEPTH, async ({ dir: root, items }) => {
    const dirs = new Set<string>()
    for (const it of items) {
      if (it.dir) dirs.add(it.path)
      for (let d = path.posix.dirname(it.path); d !== '.' && d !== '/' && !dirs.has(d); d = path.posix.dirname(d)) dirs.add(d)
    }
    // The fast path unlinks by path: only through real directories. A tree whose top or any
    // directory its rows name is something else (a symlink planted in the tree), or a row that
    // is not a normal path, goes to the recursive delete, which never follows a symlink.
    let clean = realDirs(root, dirs) && items.every((it) => isNormalRelative(it.path))
    for (const it of clean ? items : []) {
      if (it.dir) continue
      const code = await errnoOf(fs.unlink, path.join(root, it.path))
      if (code !== undefined && code !== 'ENOENT') clean = false
    }
    // Deepest first: a directory's children always have longer paths.
    for (const d of clean ? [...dirs].sort((a, b) => b.length - a.length) : []) {
      const code = await errnoOf(fs.rmdir, path.join(root, d))
      if (code !== undefined && code !== 'ENOENT') {
        clean = false
        break
      }
    }
    if (clean) {
      const code = await errnoOf(fs.rmdir, root)
      if (code === undefined || code === 'ENOENT') return
    }
    await fs.promises.rm(root, { recursive: true, force: true })
  })
}

/** Run a callback-style fs call on the thread pool; resolves to its errno code, undefined on success. */
function errnoOf(fn: (p: string, cb: (e: NodeJS.ErrnoException | null) => void) => void, p: string): Promise<string | undefined> {
  return new Promise((resolve) => fn(p, (e) => resolve(e ? (e.code ?? 'EIO') : undefined)))
}

/** The same, rejecting with the error itself unless it is ENOENT (resolves to false then). */
function unlinkIfPresent(p: string): Promise<boolean> {
  return new Promise((resolve, reject) => fs.unlink(p, (e) => (!e ? resolve(true) : e.code === 'ENOENT' ? resolve(false) : reject(e))))
}

/** Unlink blob files (each at its address); a missing one is already gone. */
async function unlinkBlobs(cas: Cas, dead: Blob[]): Promise<{ blobs: number; bytes: number }> {
  let blobs = 0
  let bytes = 0
  await forEachLimit(dead, QUEUE_DEPTH, async (b) => {
    const file = cas.pathOf(b.key)
    try {
      if (await unlinkIfPresent(file)) {
        blobs++
        bytes += b.size
      }
    } catch (e) {
      throw fromSystemError(e, 'deleting a blob', file)
    }
    crashPoint('gc:blobs')
  })
  return { blobs, bytes }
}

/** Program directories the renames left empty (no version, no Settings); a Current link left dangling is removed as reconcile would. */
function rmProgramDirs(layout: Layout, sql: GcStatements, names: string[]): void {
  for (const name of names) {
    const dir = layout.programDir(name)
    if (rmdirIfEmpty(layout, dir) !== 'ENOTEMPTY') continue
    if ((sql.remaining.get(name) as { n: number }).n > 0) continue
    try {
      if (fs.lstatSync(layout.currentLink(name)).isSymbolicLink()) layout.cfs.unlink(layout.currentLink(name))
    } catch {
      /* absent */
    }
    rmdirIfEmpty(layout, dir)
  }
}

/** The tree's top and each directory named by its rows are real directories (lstat). */
function realDirs(root: string, dirs: Set<string>): boolean {
  if (fs.lstatSync(root, { throwIfNoEntry: false })?.isDirectory() !== true) return false
  for (const d of dirs) {
    const st = fs.lstatSync(path.join(root, d), { throwIfNoEntry: false })
    if (st !== undefined && !st.isDirectory()) return false
  }
  return true
}

function rmdirIfEmpty(layout: Layout, dir: string): 'ok' | 'ENOENT' | 'ENOTEMPTY' | 'other' {
  try {
    layout.cfs.rmdir(dir)
    return 'ok'
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    return code === 'ENOENT' ? 'ENOENT' : code === 'ENOTEMPTY' || code === 'EEXIST' ? 'ENOTEMPTY' : 'other'
  }
}

function syncDir(dir: string): void {
  let fd: number | undefined
  try {
    fd = fs.openSync(dir, 'r')
    fs.fsyncSync(fd)
  } catch {
    /* best effort: some filesystems refuse fsync on a directory */
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}

/**
 * The full cross-check (gc --verify): every blob file against the blobs table, every blobs row
 * against the CAS, every program directory against the DB, every program's refs against its
 * spans. Orphan blob files (from a transaction killed before it registered) are collected when
 * `collect` is set.
 */
async function scanForDrift(ctx: GcContext, o: { collect: boolean }): Promise<GcDrift> {
  const { db, layout, cas } = ctx
  const orphanBlobs: string[] = []
  let orphanBytes = 0
  for await (const key of cas.keys()) {
    if (db.hasBlobRow(key)) continue
    orphanBlobs.push(key)
    orphanBytes += (await cas.stat(key))?.size ?? 0
  }
  if (o.collect) await forEachLimit(orphanBlobs, DELETE_CONCURRENCY, (k) => cas.remove(k))
  const missingBlobs: string[] = []
  for (const b of db.referencedBlobs()) if (!(await cas.has(b.key))) missingBlobs.push(b.key)
  const unknownTrees: string[] = []
  for (const name of readdirOrEmpty(layout.programsDir)) {
    for (const v of readdirOrEmpty(layout.programDir(name))) {
      if (v.startsWith('.') || v === 'Current' || v === 'Settings') continue
      if (!db.program(name, v)) unknownTrees.push(layout.rel(layout.versionDir(name, v)))
    }
  }
  const refDrift = db.programRefDrift().map(({ name, version, stored, actual }) => ({ name, version, stored, actual }))
  return { orphanBlobs, orphanBytes, missingBlobs, unknownTrees, refDrift }
}

function readdirOrEmpty(d: string): string[] {
  try {
    return fs.readdirSync(d)
  } catch {
    return []
  }
}

function sum(m: Map<string, number>): number {
  let n = 0
  for (const v of m.values()) n += v
  return n
}

/** Run `fn` over `items` with at most `limit` in flight; the first failure is rethrown after all settle. */
export async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0
  let failed: unknown = null
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]
      try {
        await fn(item)
      } catch (e) {
        failed ??= e
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
  if (failed !== null) throw failed
}
