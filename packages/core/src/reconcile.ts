/**
 * Reconcile: make the filesystem agree with the database for some programs. This is the one
 * mechanism behind every commit, undo and crash recovery:
 *
 *   install = fetch → stage → rename → register (DB) → reconcile
 *   remove  = register (DB) → reconcile
 *   switch  = register (DB) → reconcile
 *   recover = reconcile what the journal names, whatever state it reached
 *
 * The DB is the truth. Reconcile is idempotent and safe to interrupt: running it again after a
 * kill converges to the same state. It only deletes what it can prove is nip's: directories
 * and links listed in the journal payload that the DB no longer (or never did) know.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Cas } from '@nip/cas'
import type { Database } from './db/database.js'
import type { Layout } from './layout.js'
import type { Reporter } from './reporter.js'
import { createLinksParallel, lstatOrNull, pruneEmptyDirs, removeLinks } from './linkFarm.js'
import { FoldRealizer, planFolds, retireFold, splitByFold } from './linkFold.js'
import { placeSettings, stageTree } from './stage.js'
import { crashPoint } from './crash.js'
import { NipError, fromSystemError } from './errors.js'
import { payloadProblem } from './stateCheck.js'
import type { TreeEntry } from './adapter.js'

export interface JournalPayload {
  /** Programs (by name) this transaction touches. */
  names: string[]
  /** Root-relative directories this transaction may have created or must delete. */
  dirs: string[]
  /** Links (root-relative path and target) that may exist and that the DB may no longer own. */
  links: { path: string; target: string }[]
  /** For undo: the current version of each name before the transaction (null: none). */
  previousCurrent: Record<string, string | null>
  /** For undo: the versions of each name in the current generation before the transaction. */
  previousActive?: Record<string, string[]>
  /**
   * Other programs whose folded link directories this transaction expanded or retired
   * (linkFold.ts): their links are realized again on recovery.
   */
  touched?: string[]
}

export interface ReconcileContext {
  db: Database
  layout: Layout
  cas: Cas
  txn: string
  /** Told about new settings defaults saved beside a user's edited copy (`.nipnew`). */
  reporter?: Reporter
}

export async function reconcile(ctx: ReconcileContext, payload: JournalPayload): Promise<{ linksAdded: number; linksRemoved: number }> {
  const { db, layout } = ctx
  // Whatever the payload came from (a fresh transaction, the journal, doctor), nothing unsafe in it is acted on.
  const why = payloadProblem(layout, payload)
  if (why !== null) {
    throw new NipError('ERR_NIP_STATE_INVALID', `Transaction ${ctx.txn} cannot be reconciled safely: ${why}.`, {
      hint: 'The journal or the database was tampered with. nip doctor reports the bad rows; --fix drops them.',
      data: { transaction: ctx.txn, problem: why },
    })
  }
  let linksAdded = 0
  let linksRemoved = 0
  // 1. Links the DB no longer owns go first, so a switch never shows a link to a missing file.
  // Looked up by path (one query for the whole payload): the cost follows the payload, not the
  // size of the farm (gc relies on it).
  const owned = db.linkOwners(payload.links.map((l) => l.path))
  const stale = payload.links.filter((l) => !owned.has(l.path))
  // Links under a folded directory have no symlink of their own: the fold goes when it no longer
  // stands for the rows under it, and the program still owning rows there is realized again.
  const { direct, folds } = splitByFold(layout, stale)
  linksRemoved += removeLinks(layout, direct, () => crashPoint('reconcile:unlinking'))
  const touched = new Set(payload.touched ?? [])
  const touch = (program: string): void => {
    if (touched.has(program) || payload.names.includes(program)) return
    touched.add(program)
    payload.touched = [...touched]
    // Journaled before the farm changes for it, so recovery realizes it again.
    if (db.journal().some((j) => j.id === ctx.txn)) db.setJournalPayload(ctx.txn, JSON.stringify(payload))
  }
  if (folds.size > 0) {
    for (const [dir, rows] of folds) {
      const owner = db.transaction(() => retireFold(layout, db, dir))
      if (owner !== undefined) touch(owner)
      linksRemoved += rows
    }
    pruneEmptyDirs(layout, [...folds.keys()].map((f) => path.dirname(layout.abs(f))))
  }
  crashPoint('reconcile:unlinked')
  const realizer = new FoldRealizer(layout, db, touch)
  const realize = async (program: { id: number; name: string }): Promise<number> => {
    const { folds: made, singles } = db.transaction(() => planFolds(layout, program, db.linksOf(program.name), db.treeShape(program.id), db))
    // The named step fires once, after the first link (folded or not) is made.
    let first = true
    const step = (): void => {
      if (!first) return
      first = false
      crashPoint('reconcile:linking')
    }
    const n = realizer.makeFolds(made, (rows) => {
      if (rows > 0) step()
    })
    for (const dir of new Set(singles.map((r) => path.posix.dirname(r.path)))) realizer.ensureRealDir(dir)
    return n + (await createLinksParallel(layout, singles, step))
  }

  for (const name of payload.names) {
    const rows = db.programsNamed(name)
    // 2. Every registered version has its tree (rebuilt from the CAS if a crash lost it).
    for (const row of rows) {
      const vdir = layout.versionDir(row.name, row.version)
      if (!lstatOrNull(vdir)) {
        const staging = layout.stagingDir(row.name, row.version, ctx.txn)
        const entries = db.files(row.id).map(
          (f): TreeEntry => ({ path: f.path, type: f.type, mode: f.mode, blob: f.blob ?? undefined, size: f.size ?? undefined, target: f.target ?? undefined, settings: f.settings === 1 }),
        )
        await stageTree(ctx.cas, entries, staging, layout.cfs)
        layout.cfs.rename(staging, vdir)
      }
    }
    // 3. Current points at the DB's current version, switched atomically.
    const current = rows.find((r) => r.current === 1)
    const canonical = rows[0]?.name ?? name
    const currentLink = layout.currentLink(canonical)
    dropCurrentTemps(layout, currentLink)
    if (current) {
      const saved = await placeSettings(ctx.cas, db.settingsFiles(current.id), layout.programSettingsDir(current.name), layout.cfs, shippedDefaults(db, rows, current.id))
      for (const s of saved) {
        ctx.reporter?.emit({ type: 'warning', code: 'settings-nipnew', message: `${layout.rel(s.path)} was edited: kept it, and saved the new default as ${layout.rel(s.saved)}.`, data: { path: layout.rel(s.path), saved: layout.rel(s.saved) } })
      }
      switchCurrent(layout, currentLink, current.version)
      crashPoint('reconcile:current')
      // 4. The links the DB says this program owns.
      linksAdded += await realize(current)
      crashPoint('reconcile:linked')
    } else {
      const st = lstatOrNull(currentLink)
      if (st?.isSymbolicLink()) layout.cfs.unlink(currentLink)
    }
  }

  // Programs whose folds were expanded or retired: their links, as the DB has them.
  for (const name of touched) {
    const current = db.currentProgram(name)
    if (current) await realize(current)
  }

  // 5. Directories this transaction made or retired that the DB does not (or no longer) know.
  for (const rel of payload.dirs) {
    const abs = layout.abs(rel)
    const base = path.basename(abs)
    const programDir = path.dirname(abs)
    const registered = !base.startsWith('.') && db.program(path.basename(programDir), base) !== undefined
    if (registered || !lstatOrNull(abs)) continue
    discardDir(layout, abs, ctx.txn)
    crashPoint('reconcile:discarded')
  }
  for (const name of payload.names) {
    const dir = layout.programDir(name)
    try {
      if (fs.readdirSync(dir).length === 0) layout.cfs.rmdir(dir)
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_NIP_CONFINED') throw fromSystemError(e, 'removing an empty program directory', dir)
      /* absent or not empty */
    }
  }
  emptyTrash(layout)
  return { linksAdded, linksRemoved }
}

/** Point <Name>/Current at `version`: a temporary symlink renamed over the old one (atomic). */
export function switchCurrent(layout: Layout, currentLink: string, version: string): void {
  try {
    const st = lstatOrNull(currentLink)
    if (st?.isSymbolicLink() && fs.readlinkSync(currentLink) === version) return
    // Current itself may only ever be a symlink nip made: a directory there is refused (rename
    // would fail on it anyway), a file or foreign link is replaced by name, never followed.
    if (st !== null && st.isDirectory()) throw layout.cfs.refusal(currentLink, st, 'a directory')
    const tmp = `${currentLink}.tmp-${process.pid}`
    layout.cfs.rm(tmp, { force: true })
    layout.cfs.symlink(version, tmp)
    crashPoint('reconcile:current-temp')
    layout.cfs.rename(tmp, currentLink)
  } catch (e) {
    throw fromSystemError(e, 'switching Current', currentLink)
  }
}

/**
 * A nip killed inside switchCurrent (after the temporary symlink, before the rename) leaves
 * `Current.tmp-<pid>` beside `Current`: gone at the program's next reconcile (recovery runs one).
 */
function dropCurrentTemps(layout: Layout, currentLink: string): void {
  const dir = path.dirname(currentLink)
  const prefix = `${path.basename(currentLink)}.tmp-`
  let names: string[]
  try {
    names = fs.readdirSync(dir)
  } catch {
    return
  }
  for (const n of names) {
    if (!n.startsWith(prefix) || !/^\d+$/.test(n.slice(prefix.length))) continue
    const p = path.join(dir, n)
    if (lstatOrNull(p)?.isSymbolicLink()) layout.cfs.unlink(p)
  }
}

/** Move a directory out of sight first (one rename), then delete it. */
export function discardDir(layout: Layout, abs: string, txn: string): void {
  const aside = path.join(layout.trashDir, `${txn}-${Date.now()}-${path.basename(abs)}`)
  try {
    layout.cfs.mkdirp(layout.trashDir)
    layout.cfs.rename(abs, aside)
    layout.cfs.rm(aside, { recursive: true, force: true })
  } catch (e) {
    throw fromSystemError(e, 'moving a directory to the trash', abs)
  }
}

export function emptyTrash(layout: Layout): void {
  // The trash must be nip's own directory: a link planted there is refused, never emptied.
  if (!layout.cfs.ensureDir(layout.trashDir, false)) return
  let names: string[]
  try {
    names = fs.readdirSync(layout.trashDir)
  } catch {
    return
  }
  for (const n of names) layout.cfs.rm(path.join(layout.trashDir, n), { recursive: true, force: true })
}

/** The settings files (blob keys by path) that the program's other registered versions ship. */
function shippedDefaults(db: Database, rows: { id: number }[], currentId: number): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const r of rows) {
    if (r.id === currentId) continue
    for (const f of db.settingsFiles(r.id)) {
      if (f.type !== 'file' || !f.blob) continue
      let set = out.get(f.path)
      if (set === undefined) out.set(f.path, (set = new Set()))
      set.add(f.blob)
    }
  }
  return out
}
