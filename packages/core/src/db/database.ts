/**
 * Database: nip's SQLite state (better-sqlite3, WAL). Readers open it read-only and never
 * block on the writer; the writer (who holds the nip lock) opens it read-write and applies
 * migrations. All multi-row changes go through `transaction()` so that they commit together.
 */
import fs from 'node:fs'
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import type { AdapterId, DependencySpec, EntryType, TreeEntry } from '../adapter.js'
import { NipError } from '../errors.js'
import { MIGRATIONS } from './migrations.js'

export interface ProgramRow {
  id: number
  name: string
  version: string
  source: AdapterId
  package_id: string
  tree_digest: string
  explicit: number
  current: number
  installed_at: string
  size: number
  txn: string
}

export interface FileRow {
  program_id: number
  path: string
  type: EntryType
  mode: number
  blob: string | null
  size: number | null
  target: string | null
  settings: number
}

export interface LinkRow {
  path: string
  program: string
  program_id: number
  entry: string
  target: string
}

export interface JournalRow {
  id: string
  kind: string
  state: string
  pid: number
  command: string
  started_at: string
  payload: string
}

export interface NewProgram {
  name: string
  version: string
  source: AdapterId
  packageId: string
  treeDigest: string
  explicit: boolean
  size: number
  txn: string
  entries: TreeEntry[]
  dependencies: DependencySpec[]
}

export class Database {
  private constructor(readonly db: BetterSqlite3.Database, readonly readonly: boolean) {}

  /** Open for writing (creates the file and applies migrations). Call only while holding the lock. */
  static openWriter(dbPath: string): Database {
    fs.mkdirSync(path.dirname(dbPath), { recursive: true })
    const db = new BetterSqlite3(dbPath)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 10000')
    const d = new Database(db, false)
    d.migrate()
    return d
  }

  /** Open for reading; null when no database exists yet (a fresh root). */
  static openReader(dbPath: string): Database | null {
    if (!fs.existsSync(dbPath)) return null
    const db = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true })
    db.pragma('busy_timeout = 10000')
    const version = db.pragma('user_version', { simple: true }) as number
    if (version > MIGRATIONS.length) {
      db.close()
      throw new NipError('ERR_NIP_INTERNAL', `The database schema (${version}) is newer than this nip understands (${MIGRATIONS.length}).`, {
        hint: 'Use a newer nip for this root.',
      })
    }
    if (version < MIGRATIONS.length) {
      // Not migrated yet: a reader cannot migrate, so it sees an empty state until a writer runs.
      db.close()
      return null
    }
    return new Database(db, true)
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number
    if (version > MIGRATIONS.length) {
      throw new NipError('ERR_NIP_INTERNAL', `The database schema (${version}) is newer than this nip understands (${MIGRATIONS.length}).`, {
        hint: 'Use a newer nip for this root.',
      })
    }
    for (let i = version; i < MIGRATIONS.length; i++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[i])
        this.db.pragma(`user_version = ${i + 1}`)
      })()
    }
  }

  close(): void {
    this.db.close()
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)()
  }

  // ---- programs -------------------------------------------------------------------------

  programs(): ProgramRow[] {
    return this.db.prepare('SELECT * FROM programs ORDER BY name COLLATE NOCASE, id').all() as ProgramRow[]
  }
  programsNamed(name: string): ProgramRow[] {
    return this.db.prepare('SELECT * FROM programs WHERE name = ? COLLATE NOCASE ORDER BY id').all(name) as ProgramRow[]
  }
  program(name: string, version: string): ProgramRow | undefined {
    return this.db.prepare('SELECT * FROM programs WHERE name = ? COLLATE NOCASE AND version = ?').get(name, version) as ProgramRow | undefined
  }
  programById(id: number): ProgramRow | undefined {
    return this.db.prepare('SELECT * FROM programs WHERE id = ?').get(id) as ProgramRow | undefined
  }
  currentProgram(name: string): ProgramRow | undefined {
    return this.db.prepare('SELECT * FROM programs WHERE name = ? COLLATE NOCASE AND current = 1').get(name) as ProgramRow | undefined
  }
  programNames(): string[] {
    return (this.db.prepare('SELECT DISTINCT name FROM programs ORDER BY name COLLATE NOCASE').all() as { name: string }[]).map((r) => r.name)
  }

  /** Insert a program with its files and dependencies, and take a reference on each blob. */
  insertProgram(p: NewProgram): number {
    const info = this.db
      .prepare(
        `INSERT INTO programs (name, version, source, package_id, tree_digest, explicit, current, installed_at, size, txn)
         VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
      )
      .run(p.name, p.version, p.source, p.packageId, p.treeDigest, p.explicit ? 1 : 0, new Date().toISOString(), p.size, p.txn)
    const id = Number(info.lastInsertRowid)
    const insFile = this.db.prepare(
      'INSERT INTO files (program_id, path, type, mode, blob, size, target, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    )
    const ref = this.db.prepare(
      'INSERT INTO blobs (key, size, refs) VALUES (?, ?, 1) ON CONFLICT (key) DO UPDATE SET refs = refs + 1',
    )
    for (const e of p.entries) {
      insFile.run(id, e.path, e.type, e.mode, e.blob ?? null, e.size ?? null, e.target ?? null, e.settings ? 1 : 0)
      if (e.type === 'file' && e.blob) ref.run(e.blob, e.size ?? 0)
    }
    const insDep = this.db.prepare('INSERT INTO dependencies (program_id, name, constraint_text, raw) VALUES (?, ?, ?, ?)')
    for (const d of p.dependencies) insDep.run(id, d.name, d.constraint ?? '', d.raw)
    return id
  }

  /** Delete a program, its files, dependencies and links, releasing its blob references. */
  deleteProgram(id: number): void {
    this.db
      .prepare(
        `UPDATE blobs SET refs = refs - (SELECT COUNT(*) FROM files f WHERE f.program_id = ? AND f.blob = blobs.key)
         WHERE key IN (SELECT blob FROM files WHERE program_id = ? AND blob IS NOT NULL)`,
      )
      .run(id, id)
    this.db.prepare('DELETE FROM links WHERE program_id = ?').run(id)
    this.db.prepare('DELETE FROM dependencies WHERE program_id = ?').run(id)
    this.db.prepare('DELETE FROM files WHERE program_id = ?').run(id)
    this.db.prepare('DELETE FROM programs WHERE id = ?').run(id)
  }

  setExplicit(id: number, explicit: boolean): void {
    this.db.prepare('UPDATE programs SET explicit = ? WHERE id = ?').run(explicit ? 1 : 0, id)
  }

  /** Mark `id` (or nothing, with null) as the current version of `name`. */
  setCurrentFlag(name: string, id: number | null): void {
    this.db.prepare('UPDATE programs SET current = 0 WHERE name = ? COLLATE NOCASE').run(name)
    if (id !== null) this.db.prepare('UPDATE programs SET current = 1 WHERE id = ?').run(id)
  }

  // ---- files ----------------------------------------------------------------------------

  files(programId: number): FileRow[] {
    return this.db.prepare('SELECT * FROM files WHERE program_id = ? ORDER BY path').all(programId) as FileRow[]
  }
  fileCount(programId: number): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM files WHERE program_id = ?').get(programId) as { n: number }).n
  }
  file(programId: number, p: string): FileRow | undefined {
    return this.db.prepare('SELECT * FROM files WHERE program_id = ? AND path = ?').get(programId, p) as FileRow | undefined
  }

  // ---- dependencies ---------------------------------------------------------------------

  dependencies(programId: number): { name: string; constraint_text: string; raw: string }[] {
    return this.db.prepare('SELECT name, constraint_text, raw FROM dependencies WHERE program_id = ?').all(programId) as {
      name: string
      constraint_text: string
      raw: string
    }[]
  }
  /** Programs (other than `name` itself) that declare a dependency on `name`. */
  dependents(name: string): ProgramRow[] {
    return this.db
      .prepare(
        `SELECT DISTINCT p.* FROM programs p JOIN dependencies d ON d.program_id = p.id
         WHERE d.name = ? COLLATE NOCASE AND p.name <> ? COLLATE NOCASE ORDER BY p.name`,
      )
      .all(name, name) as ProgramRow[]
  }

  // ---- links ----------------------------------------------------------------------------

  links(): LinkRow[] {
    return this.db.prepare('SELECT * FROM links ORDER BY path').all() as LinkRow[]
  }
  linksOf(program: string): LinkRow[] {
    return this.db.prepare('SELECT * FROM links WHERE program = ? COLLATE NOCASE ORDER BY path').all(program) as LinkRow[]
  }
  link(p: string): LinkRow | undefined {
    return this.db.prepare('SELECT * FROM links WHERE path = ?').get(p) as LinkRow | undefined
  }
  linkCount(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM links').get() as { n: number }).n
  }
  /** Replace every link row of `program` with `rows`. */
  replaceLinks(program: string, rows: LinkRow[]): void {
    this.db.prepare('DELETE FROM links WHERE program = ? COLLATE NOCASE').run(program)
    const ins = this.db.prepare('INSERT INTO links (path, program, program_id, entry, target) VALUES (?, ?, ?, ?, ?)')
    for (const r of rows) ins.run(r.path, r.program, r.program_id, r.entry, r.target)
  }

  // ---- blobs ----------------------------------------------------------------------------

  blobStats(): { blobs: number; bytes: number } {
    const r = this.db.prepare('SELECT COUNT(*) AS blobs, COALESCE(SUM(size), 0) AS bytes FROM blobs WHERE refs > 0').get() as {
      blobs: number
      bytes: number
    }
    return r
  }
  blobRefs(key: string): number {
    const r = this.db.prepare('SELECT refs FROM blobs WHERE key = ?').get(key) as { refs: number } | undefined
    return r?.refs ?? 0
  }
  /** Blobs whose stored count differs from the count of files rows naming them. */
  refcountDrift(): { key: string; stored: number; actual: number }[] {
    return this.db
      .prepare(
        `SELECT key, stored, actual FROM (
           SELECT b.key AS key, b.refs AS stored, (SELECT COUNT(*) FROM files f WHERE f.blob = b.key) AS actual FROM blobs b
           UNION ALL
           SELECT f.blob AS key, 0 AS stored, COUNT(*) AS actual FROM files f
             WHERE f.blob IS NOT NULL AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.key = f.blob) GROUP BY f.blob
         ) WHERE stored <> actual`,
      )
      .all() as { key: string; stored: number; actual: number }[]
  }
  /** Recompute every reference count from the files table. */
  recountBlobs(): void {
    this.db.exec(`
      INSERT INTO blobs (key, size, refs)
        SELECT blob, MAX(COALESCE(size, 0)), COUNT(*) FROM files WHERE blob IS NOT NULL GROUP BY blob
        ON CONFLICT (key) DO UPDATE SET refs = excluded.refs;
      UPDATE blobs SET refs = 0 WHERE key NOT IN (SELECT blob FROM files WHERE blob IS NOT NULL);
    `)
  }

  // ---- journal --------------------------------------------------------------------------

  journal(): JournalRow[] {
    return this.db.prepare('SELECT * FROM journal ORDER BY started_at').all() as JournalRow[]
  }
  insertJournal(row: JournalRow): void {
    this.db
      .prepare('INSERT INTO journal (id, kind, state, pid, command, started_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(row.id, row.kind, row.state, row.pid, row.command, row.started_at, row.payload)
  }
  setJournalState(id: string, state: string): void {
    this.db.prepare('UPDATE journal SET state = ? WHERE id = ?').run(state, id)
  }
  deleteJournal(id: string): void {
    this.db.prepare('DELETE FROM journal WHERE id = ?').run(id)
  }
}
