/**
 * Garbage collection: delete program versions no root references, then blobs no files row names.
 *
 * Roots: programs in any kept generation (programs.refs counts their live spans), pinned
 * programs (a pin is one reference) and programs of a transaction still in the journal. Run by
 * the one writer after recovery, so no other transaction is in flight.
 *
 * Cost grows with the garbage, not the store: candidates come from `programs WHERE refs = 0`
 * and `blobs WHERE refs <= 0` through partial indexes; only their rows and trees are touched.
 *
 *   gc: select → journal → register (delete the rows in one SQLite transaction; blob counts
 *       drop) → rename every tree into the trash → delete the trash in parallel → reconcile
 *       (Current links, empty program directories) → delete unreferenced blob files, then rows.
 *
 * Crash points: gc:journal (rolled back: nothing was deleted), gc:registered, gc:trashed,
 * gc:blobs (rolled forward: recovery discards the trees the journal lists; blobs left with
 * refs 0 go at the next gc). A blob file is deleted before its row, so a kill leaves at worst a
 * row whose file is already gone, which the next gc deletes.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Cas } from '@nip/cas'
import type { GcDrift, GcOptions, GcResult } from './api.js'
import type { Database, ProgramRow } from './db/database.js'
import type { Layout } from './layout.js'
import type { Reporter } from './reporter.js'
import { crashPoint } from './crash.js'
import { reconcile, type JournalPayload } from './reconcile.js'
import { newTransactionId } from './transaction.js'
import { appendLog } from './txlog.js'
import { fromSystemError } from './errors.js'

/** Deletions in flight at once (trees and blobs): enough to keep the disk and the thread pool busy. */
const DELETE_CONCURRENCY = 16

export interface GcContext {
  db: Database
  layout: Layout
  cas: Cas
  reporter: Reporter
}

export async function collectGarbage(ctx: GcContext, opts: GcOptions = {}): Promise<GcResult> {
  const started = Date.now()
  const { db, layout, cas } = ctx
  const all = db.unreferencedPrograms()
  const chosen: ProgramRow[] = []
  let budget = 0
  for (const p of all) {
    if (opts.maxFreed !== undefined && budget >= opts.maxFreed) break
    chosen.push(p)
    budget += p.size
  }
  const truncated = chosen.length < all.length
  const freedWithPrograms = db.blobsFreedBy(chosen.map((p) => p.id))
  const already = db.unreferencedBlobs()
  const blobKeys = new Map<string, number>([...already, ...freedWithPrograms].map((b) => [b.key, b.size]))
  const programs = chosen.map((p) => ({ name: p.name, version: p.version, size: p.size }))
  let drift: GcDrift | undefined
  if (opts.dryRun) {
    if (opts.verify) drift = await scanForDrift(ctx, { collect: false })
    return { dryRun: true, programs, blobs: blobKeys.size, bytes: sum(blobKeys), truncated, durationMs: Date.now() - started, ...(drift ? { drift } : {}) }
  }

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
    const command = opts.command ?? 'gc'
    db.insertJournal({ id: txn, kind: 'gc', state: 'prepared', pid: process.pid, command, started_at: new Date().toISOString(), payload: JSON.stringify(payload) })
    crashPoint('gc:journal')
    db.transaction(() => {
      for (const p of chosen) db.deleteProgram(p.id)
      db.setJournalState(txn, 'registered')
    })
    crashPoint('gc:registered')
    ctx.reporter.emit({ type: 'phase', phase: 'gc', message: `Deleting ${chosen.length} program tree(s)` })
    fs.mkdirSync(layout.trashDir, { recursive: true })
    const aside: string[] = []
    for (const p of chosen) {
      const vdir = layout.versionDir(p.name, p.version)
      const dest = path.join(layout.trashDir, `${txn}-${p.id}-${p.name}-${p.version}`)
      try {
        fs.renameSync(vdir, dest)
        aside.push(dest)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fromSystemError(e, 'moving a program tree to the trash', vdir)
      }
      crashPoint('gc:trashed')
    }
    await forEachLimit(aside, DELETE_CONCURRENCY, (d) => fs.promises.rm(d, { recursive: true, force: true }))
    await reconcile({ db, layout, cas, txn }, payload)
    db.deleteJournal(txn)
    appendLog(layout.logDir, {
      time: new Date().toISOString(),
      transaction: txn,
      command,
      action: 'gc',
      outcome: 'ok',
      programs: programs.map((p) => ({ name: p.name, version: p.version, change: 'collected' })),
      durationMs: Date.now() - started,
    })
  }

  // Blobs: every row with no reference left (including those this run released).
  const dead = db.unreferencedBlobs()
  let blobs = 0
  let bytes = 0
  await forEachLimit(dead, DELETE_CONCURRENCY, async (b) => {
    if (await cas.remove(b.key)) {
      blobs++
      bytes += b.size
    }
    crashPoint('gc:blobs')
  })
  db.transaction(() => {
    for (const b of dead) db.deleteBlobRow(b.key)
  })
  if (opts.verify) {
    drift = await scanForDrift(ctx, { collect: true })
    blobs += drift.orphanBlobs.length
    bytes += drift.orphanBytes
  }
  await cas.cleanTmp()
  return { dryRun: false, programs, blobs, bytes, truncated, durationMs: Date.now() - started, ...(drift ? { drift } : {}), ...(transaction ? { transaction } : {}) }
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
