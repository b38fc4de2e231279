/**
 * Database: nip's SQLite state (better-sqlite3, WAL). Readers open it read-only and never
 * block on the writer; the writer (who holds the nip lock) opens it read-write and applies
 * migrations. All multi-row changes go through `transaction()` so that they commit together.
 */
import type { ConfinedFs } from '@nip/cas'
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
  /** 1 when the program is in the current generation (removed programs wait for gc with 0). */
  active: number
  /** Live generation spans naming it, plus 1 when pinned: gc collects programs with 0. */
  refs: number
  pinned: number
  verify_state: string | null
  verified_at: string | null
}

export interface GenerationRow {
  id: number
  parent: number | null
  created_at: string
  command: string
  kind: string
  txn: string
  restores: number | null
  changes: string
}

export interface SpanRow {
  program_id: number
  current: number
  first_gen: number
  end_gen: number | null
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
  /** Statements compiled once per connection: better-sqlite3 compiles on every prepare(). */
  private readonly statements = new Map<string, BetterSqlite3.Statement>()

  private constructor(
    readonly db: BetterSqlite3.Database,
    readonly readonly: boolean,
    /** A writer's file and confined layer: close() leaves the WAL files for readers (see keepWalFiles). */
    private readonly writerFiles?: { dbPath: string; cfs: ConfinedFs },
  ) {}

  /**
   * The prepared statement for `sql`, compiled on first use and kept for the life of the
   * connection (compiling costs far more than running a one-row statement: per-row lookups
   * such as link() over a 50,000-file program spent most of their time in prepare()).
   */
  stmt(sql: string): BetterSqlite3.Statement {
    let s = this.statements.get(sql)
    if (s === undefined) {
      s = this.db.prepare(sql)
      this.statements.set(sql, s)
    }
    return s
  }

  /** Open for writing (creates the file and applies migrations). Call only while holding the lock. */
  static openWriter(dbPath: string, cfs?: ConfinedFs): Database {
    if (cfs) {
      cfs.mkdirp(path.dirname(dbPath))
      checkDbFiles(dbPath, cfs)
    } else fs.mkdirSync(path.dirname(dbPath), { recursive: true })
    const db = new BetterSqlite3(dbPath)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 10000')
    const d = new Database(db, false, cfs ? { dbPath, cfs } : undefined)
    d.migrate()
    return d
  }

  /** Open for reading; null when no database exists yet (a fresh root). */
  static openReader(dbPath: string, cfs?: ConfinedFs): Database | null {
    if (!fs.existsSync(dbPath)) return null
    if (cfs) {
      if (!cfs.ensureDir(path.dirname(dbPath), false)) return null
      checkDbFiles(dbPath, cfs)
    }
    const db = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true })
    let version: number
    try {
      db.pragma('busy_timeout = 10000')
      version = db.pragma('user_version', { simple: true }) as number
    } catch (e) {
      db.close()
      const code = (e as { code?: string }).code ?? ''
      if (!/^SQLITE_(READONLY|CANTOPEN|PERM|AUTH)/.test(code)) throw e
      // A root this user may read but not write, whose last writer predates keepWalFiles.
      throw new NipError('ERR_NIP_ROOT', `Cannot read the database ${dbPath} without write access to its directory (${(e as Error).message}).`, {
        hint: 'Run any command that changes the root once as its owner (e.g. sudo nip doctor --fix): from then on other users can read it.',
        data: { path: dbPath, errno: code },
        cause: e,
      })
    }
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
    this.statements.clear()
    this.db.close()
    if (this.writerFiles) keepWalFiles(this.writerFiles.dbPath, this.writerFiles.cfs)
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)()
  }

  // ---- programs -------------------------------------------------------------------------

  programs(): ProgramRow[] {
    return this.stmt('SELECT * FROM programs ORDER BY name COLLATE NOCASE, id').all() as ProgramRow[]
  }
  programsNamed(name: string): ProgramRow[] {
    return this.stmt('SELECT * FROM programs WHERE name = ? COLLATE NOCASE ORDER BY id').all(name) as ProgramRow[]
  }
  program(name: string, version: string): ProgramRow | undefined {
    return this.stmt('SELECT * FROM programs WHERE name = ? COLLATE NOCASE AND version = ?').get(name, version) as ProgramRow | undefined
  }
  programById(id: number): ProgramRow | undefined {
    return this.stmt('SELECT * FROM programs WHERE id = ?').get(id) as ProgramRow | undefined
  }
  currentProgram(name: string): ProgramRow | undefined {
    return this.stmt('SELECT * FROM programs WHERE name = ? COLLATE NOCASE AND current = 1').get(name) as ProgramRow | undefined
  }
  programNames(): string[] {
    return (this.stmt('SELECT DISTINCT name FROM programs ORDER BY name COLLATE NOCASE').all() as { name: string }[]).map((r) => r.name)
  }

  /** Insert a program with its files and dependencies, and take a reference on each blob. */
  insertProgram(p: NewProgram): number {
    const info = this.stmt(
        `INSERT INTO programs (name, version, source, package_id, tree_digest, explicit, current, installed_at, size, txn)
         VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
      )
      .run(p.name, p.version, p.source, p.packageId, p.treeDigest, p.explicit ? 1 : 0, new Date().toISOString(), p.size, p.txn)
    const id = Number(info.lastInsertRowid)
    this.insertContent(id, p.entries, p.dependencies)
    return id
  }

  /** Delete a program, its files, dependencies and links, releasing its blob references. */
  deleteProgram(id: number): void {
    this.stmt(
        `UPDATE blobs SET refs = refs - (SELECT COUNT(*) FROM files f WHERE f.program_id = ? AND f.blob = blobs.key)
         WHERE key IN (SELECT blob FROM files WHERE program_id = ? AND blob IS NOT NULL)`,
      )
      .run(id, id)
    this.stmt('DELETE FROM links WHERE program_id = ?').run(id)
    this.stmt('DELETE FROM generation_spans WHERE program_id = ?').run(id)
    this.stmt('DELETE FROM dependencies WHERE program_id = ?').run(id)
    this.stmt('DELETE FROM files WHERE program_id = ?').run(id)
    this.stmt('DELETE FROM programs WHERE id = ?').run(id)
  }

  /** The active (in the current generation) versions of `name`. */
  activeNamed(name: string): ProgramRow[] {
    return this.stmt('SELECT * FROM programs WHERE name = ? COLLATE NOCASE AND active = 1 ORDER BY id').all(name) as ProgramRow[]
  }
  activePrograms(): ProgramRow[] {
    return this.stmt('SELECT * FROM programs WHERE active = 1 ORDER BY name COLLATE NOCASE, id').all() as ProgramRow[]
  }
  setActive(id: number, active: boolean): void {
    this.stmt('UPDATE programs SET active = ? WHERE id = ?').run(active ? 1 : 0, id)
  }
  /** Pin or unpin; a pin is one reference (a GC root). Returns false when it was already so. */
  setPinned(id: number, pinned: boolean): boolean {
    const r = this.stmt('UPDATE programs SET pinned = ?, refs = refs + ? WHERE id = ? AND pinned = ?').run(pinned ? 1 : 0, pinned ? 1 : -1, id, pinned ? 0 : 1)
    return r.changes > 0
  }
  setVerifyState(id: number, state: string): void {
    this.stmt('UPDATE programs SET verify_state = ?, verified_at = ? WHERE id = ?').run(state, new Date().toISOString(), id)
  }

  /**
   * Reinstall in place: replace the files, dependencies and digest of program `id` (blob
   * references moved accordingly), keeping its id so the generations naming it stay valid.
   */
  replaceProgramContent(id: number, p: Pick<NewProgram, 'treeDigest' | 'size' | 'txn' | 'entries' | 'dependencies' | 'source' | 'packageId'>): void {
    this.stmt(
        `UPDATE blobs SET refs = refs - (SELECT COUNT(*) FROM files f WHERE f.program_id = ? AND f.blob = blobs.key)
         WHERE key IN (SELECT blob FROM files WHERE program_id = ? AND blob IS NOT NULL)`,
      )
      .run(id, id)
    this.stmt('DELETE FROM files WHERE program_id = ?').run(id)
    this.stmt('DELETE FROM dependencies WHERE program_id = ?').run(id)
    this.stmt('UPDATE programs SET tree_digest = ?, size = ?, txn = ?, source = ?, package_id = ?, installed_at = ?, verify_state = NULL, verified_at = NULL WHERE id = ?')
      .run(p.treeDigest, p.size, p.txn, p.source, p.packageId, new Date().toISOString(), id)
    this.insertContent(id, p.entries, p.dependencies)
  }

  private insertContent(id: number, entries: TreeEntry[], dependencies: DependencySpec[]): void {
    // One cached statement per row: measured against one INSERT … SELECT FROM json_each(?) per
    // table, 230 against 220 ms for 50,000 files (the time is SQLite's B-tree work), so the
    // simpler form stays.
    const insFile = this.stmt(
      'INSERT INTO files (program_id, path, type, mode, blob, size, target, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    )
    const ref = this.stmt(
      'INSERT INTO blobs (key, size, refs) VALUES (?, ?, 1) ON CONFLICT (key) DO UPDATE SET refs = refs + 1',
    )
    for (const e of entries) {
      insFile.run(id, e.path, e.type, e.mode, e.blob ?? null, e.size ?? null, e.target ?? null, e.settings ? 1 : 0)
      if (e.type === 'file' && e.blob) ref.run(e.blob, e.size ?? 0)
    }
    const insDep = this.stmt('INSERT INTO dependencies (program_id, name, constraint_text, raw) VALUES (?, ?, ?, ?)')
    for (const d of dependencies) insDep.run(id, d.name, d.constraint ?? '', d.raw)
  }

  // ---- generations ----------------------------------------------------------------------

  /** The current generation: the newest (a rollback is a new generation too). */
  currentGeneration(): GenerationRow | undefined {
    return this.stmt('SELECT * FROM generations ORDER BY id DESC LIMIT 1').get() as GenerationRow | undefined
  }
  generation(id: number): GenerationRow | undefined {
    return this.stmt('SELECT * FROM generations WHERE id = ?').get(id) as GenerationRow | undefined
  }
  generationByTxn(txn: string): GenerationRow | undefined {
    return this.stmt('SELECT * FROM generations WHERE txn = ?').get(txn) as GenerationRow | undefined
  }
  generations(): GenerationRow[] {
    return this.stmt('SELECT * FROM generations ORDER BY id').all() as GenerationRow[]
  }
  insertGeneration(g: GenerationRow): void {
    this.stmt('INSERT INTO generations (id, parent, created_at, command, kind, txn, restores, changes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(g.id, g.parent, g.created_at, g.command, g.kind, g.txn, g.restores, g.changes)
  }
  openSpan(programId: number): SpanRow | undefined {
    return this.stmt('SELECT * FROM generation_spans WHERE program_id = ? AND end_gen IS NULL').get(programId) as SpanRow | undefined
  }
  /** Open a span (the program joins generation `gen`) and take its reference. */
  startSpan(programId: number, current: boolean, gen: number): void {
    this.stmt('INSERT INTO generation_spans (program_id, current, first_gen, end_gen) VALUES (?, ?, ?, NULL)').run(programId, current ? 1 : 0, gen)
    this.stmt('UPDATE programs SET refs = refs + 1 WHERE id = ?').run(programId)
  }
  /** Close the open span of a program: it is not in generation `gen` (its reference stays while older generations are kept). */
  endSpan(programId: number, gen: number): void {
    this.stmt('UPDATE generation_spans SET end_gen = ? WHERE program_id = ? AND end_gen IS NULL').run(gen, programId)
  }
  /** The members of generation `gen`: program id and whether it was Current. */
  members(gen: number): { program_id: number; current: number }[] {
    return this.stmt('SELECT program_id, current FROM generation_spans WHERE first_gen <= ? AND (end_gen IS NULL OR end_gen > ?)')
      .all(gen, gen) as { program_id: number; current: number }[]
  }
  /** Undo generation `gen` (the newest): drop the spans it opened, reopen those it closed, delete it. */
  undoGeneration(gen: number): void {
    this.stmt('UPDATE programs SET refs = refs - 1 WHERE id IN (SELECT program_id FROM generation_spans WHERE first_gen = ?)').run(gen)
    this.stmt('DELETE FROM generation_spans WHERE first_gen = ?').run(gen)
    this.stmt('UPDATE generation_spans SET end_gen = NULL WHERE end_gen = ?').run(gen)
    this.stmt('DELETE FROM generations WHERE id = ?').run(gen)
  }
  deleteGenerationRow(id: number): void {
    this.stmt('DELETE FROM generations WHERE id = ?').run(id)
  }
  /**
   * After generations were deleted, release the spans lying wholly inside the gap between kept
   * generations `lo` and `hi` (exclusive; lo 0 for "none before"): no kept generation names them.
   * Found through the end_gen index: the cost is the number of changes made inside the gap.
   */
  releaseSpansBetween(lo: number, hi: number): number {
    const dead = this.stmt('SELECT rowid AS rid, program_id FROM generation_spans WHERE end_gen > ? AND end_gen <= ? AND first_gen > ?')
      .all(lo, hi, lo) as { rid: number; program_id: number }[]
    const dec = this.stmt('UPDATE programs SET refs = refs - 1 WHERE id = ?')
    const del = this.stmt('DELETE FROM generation_spans WHERE rowid = ?')
    for (const d of dead) {
      dec.run(d.program_id)
      del.run(d.rid)
    }
    return dead.length
  }

  // ---- garbage --------------------------------------------------------------------------

  /** Programs no kept generation, pin or running transaction references (through the refs = 0 index). */
  unreferencedPrograms(): ProgramRow[] {
    return this.stmt('SELECT * FROM programs WHERE refs = 0 AND active = 0 AND pinned = 0 AND txn NOT IN (SELECT id FROM journal) ORDER BY id')
      .all() as ProgramRow[]
  }
  /** Blobs no files row names (through the partial index). */
  unreferencedBlobs(): { key: string; size: number }[] {
    return this.stmt('SELECT key, size FROM blobs WHERE refs <= 0').all() as { key: string; size: number }[]
  }
  deleteBlobRow(key: string): void {
    this.stmt('DELETE FROM blobs WHERE key = ? AND refs <= 0').run(key)
  }
  hasBlobRow(key: string): boolean {
    return this.stmt('SELECT 1 FROM blobs WHERE key = ?').get(key) !== undefined
  }
  /** Bytes of blobs that deleting `ids` would free: blobs all of whose references are among them. */
  blobsFreedBy(ids: number[]): { key: string; size: number }[] {
    if (ids.length === 0) return []
    this.db.exec('CREATE TEMP TABLE IF NOT EXISTS gc_ids (id INTEGER PRIMARY KEY)')
    this.db.exec('DELETE FROM gc_ids')
    const ins = this.stmt('INSERT INTO gc_ids (id) VALUES (?)')
    for (const id of ids) ins.run(id)
    return this.stmt(
        `SELECT b.key AS key, b.size AS size FROM
           (SELECT blob, COUNT(*) AS n FROM files WHERE program_id IN (SELECT id FROM gc_ids) AND blob IS NOT NULL GROUP BY blob) f
         JOIN blobs b ON b.key = f.blob WHERE b.refs <= f.n`,
      )
      .all() as { key: string; size: number }[]
  }

  /**
   * Programs whose stored refs differ from the truth: spans containing a kept generation, plus
   * the pin (a full scan, for gc --verify and doctor).
   */
  programRefDrift(): { id: number; name: string; version: string; stored: number; actual: number }[] {
    return this.stmt(
        `SELECT id, name, version, stored, actual FROM (
           SELECT p.id AS id, p.name AS name, p.version AS version, p.refs AS stored, p.pinned + (
             SELECT COUNT(*) FROM generation_spans s WHERE s.program_id = p.id AND EXISTS (
               SELECT 1 FROM generations g WHERE g.id >= s.first_gen AND (s.end_gen IS NULL OR g.id < s.end_gen))) AS actual
           FROM programs p) WHERE stored <> actual`,
      )
      .all() as { id: number; name: string; version: string; stored: number; actual: number }[]
  }
  /** Spans naming a program that no longer exists, or containing no kept generation. */
  deadSpans(): number {
    return (
      this.stmt(
          `SELECT COUNT(*) AS n FROM generation_spans s WHERE NOT EXISTS (SELECT 1 FROM programs p WHERE p.id = s.program_id)
             OR NOT EXISTS (SELECT 1 FROM generations g WHERE g.id >= s.first_gen AND (s.end_gen IS NULL OR g.id < s.end_gen))`,
        )
        .get() as { n: number }
    ).n
  }
  /** Drop dead spans and recompute every program's refs from the spans and pins. */
  recountProgramRefs(): void {
    this.db.exec(`
      DELETE FROM generation_spans WHERE NOT EXISTS (SELECT 1 FROM programs p WHERE p.id = generation_spans.program_id)
        OR NOT EXISTS (SELECT 1 FROM generations g WHERE g.id >= generation_spans.first_gen AND (generation_spans.end_gen IS NULL OR g.id < generation_spans.end_gen));
      UPDATE programs SET refs = pinned + (SELECT COUNT(*) FROM generation_spans s WHERE s.program_id = programs.id);
    `)
  }
  /** Programs whose active flag disagrees with their open span (the current generation). */
  activeDrift(): { id: number; name: string; version: string; active: number }[] {
    return this.stmt(
        `SELECT id, name, version, active FROM programs p
         WHERE p.active <> EXISTS (SELECT 1 FROM generation_spans s WHERE s.program_id = p.id AND s.end_gen IS NULL)
           AND EXISTS (SELECT 1 FROM generations)`,
      )
      .all() as { id: number; name: string; version: string; active: number }[]
  }
  /** Make the active flags follow the current generation's spans. */
  fixActiveFlags(): void {
    this.db.exec(`UPDATE programs SET active = EXISTS (SELECT 1 FROM generation_spans s WHERE s.program_id = programs.id AND s.end_gen IS NULL)
                  WHERE EXISTS (SELECT 1 FROM generations)`)
  }
  /** Keys and sizes of blobs that files rows reference (refs > 0). */
  referencedBlobs(): { key: string; size: number }[] {
    return this.stmt('SELECT key, size FROM blobs WHERE refs > 0').all() as { key: string; size: number }[]
  }
  /** A random sample of referenced blobs (doctor's default hash check). */
  sampleBlobs(n: number): { key: string; size: number }[] {
    return this.stmt('SELECT key, size FROM blobs WHERE refs > 0 ORDER BY random() LIMIT ?').all(n) as { key: string; size: number }[]
  }
  /** Files rows (with their program) naming blob `key`. */
  filesWithBlob(key: string): (FileRow & { name: string; version: string })[] {
    return this.stmt('SELECT f.*, p.name AS name, p.version AS version FROM files f JOIN programs p ON p.id = f.program_id WHERE f.blob = ?')
      .all(key) as (FileRow & { name: string; version: string })[]
  }

  setExplicit(id: number, explicit: boolean): void {
    this.stmt('UPDATE programs SET explicit = ? WHERE id = ?').run(explicit ? 1 : 0, id)
  }

  /** Mark `id` (or nothing, with null) as the current version of `name`. */
  setCurrentFlag(name: string, id: number | null): void {
    this.stmt('UPDATE programs SET current = 0 WHERE name = ? COLLATE NOCASE').run(name)
    if (id !== null) this.stmt('UPDATE programs SET current = 1 WHERE id = ?').run(id)
  }

  // ---- files ----------------------------------------------------------------------------

  files(programId: number): FileRow[] {
    return this.stmt('SELECT * FROM files WHERE program_id = ? ORDER BY path').all(programId) as FileRow[]
  }
  /** The path and type of every entry of a program's tree (what link folding counts). */
  treeShape(programId: number): { path: string; type: string }[] {
    return this.stmt('SELECT path, type FROM files WHERE program_id = ?').all(programId) as { path: string; type: string }[]
  }
  /** A program's settings entries only (reconcile places them on every switch; trees can be large). */
  settingsFiles(programId: number): FileRow[] {
    return this.stmt('SELECT * FROM files WHERE program_id = ? AND settings = 1 ORDER BY path').all(programId) as FileRow[]
  }
  fileCount(programId: number): number {
    return (this.stmt('SELECT COUNT(*) AS n FROM files WHERE program_id = ?').get(programId) as { n: number }).n
  }
  file(programId: number, p: string): FileRow | undefined {
    return this.stmt('SELECT * FROM files WHERE program_id = ? AND path = ?').get(programId, p) as FileRow | undefined
  }

  // ---- dependencies ---------------------------------------------------------------------

  dependencies(programId: number): { name: string; constraint_text: string; raw: string }[] {
    return this.stmt('SELECT name, constraint_text, raw FROM dependencies WHERE program_id = ?').all(programId) as {
      name: string
      constraint_text: string
      raw: string
    }[]
  }
  /** Active programs (other than `name` itself) that declare a dependency on `name`. */
  dependents(name: string): ProgramRow[] {
    return this.stmt(
        `SELECT DISTINCT p.* FROM programs p JOIN dependencies d ON d.program_id = p.id
         WHERE d.name = ? COLLATE NOCASE AND p.name <> ? COLLATE NOCASE AND p.active = 1 ORDER BY p.name`,
      )
      .all(name, name) as ProgramRow[]
  }

  // ---- links ----------------------------------------------------------------------------

  links(): LinkRow[] {
    return this.stmt('SELECT * FROM links ORDER BY path').all() as LinkRow[]
  }
  /** Drop one link row (doctor --fix, for a row that names an unsafe path). */
  deleteLinkRow(path: string): void {
    this.stmt('DELETE FROM links WHERE path = ?').run(path)
  }
  linksOf(program: string): LinkRow[] {
    return this.stmt('SELECT * FROM links WHERE program = ? COLLATE NOCASE ORDER BY path').all(program) as LinkRow[]
  }
  /** The owners of those of `paths` that are link rows (one query for a whole program's links). */
  linkOwners(paths: readonly string[]): Map<string, string> {
    let ask = paths
    if (paths.length > 256) {
      // Only paths in a directory that holds some link can have an owner: one range query per
      // directory first (a program's own directories are usually empty in the farm before it).
      const holds = new Map<string, boolean>()
      ask = paths.filter((p) => {
        const cut = p.lastIndexOf('/')
        if (cut <= 0) return true
        const dir = p.slice(0, cut)
        let has = holds.get(dir)
        if (has === undefined) {
          has = this.linkUnder(dir) !== undefined
          holds.set(dir, has)
        }
        return has
      })
    }
    if (ask.length === 0) return new Map()
    const rows = this.stmt('SELECT l.path AS path, l.program AS program FROM json_each(?) j JOIN links l ON l.path = j.value').all(JSON.stringify(ask)) as { path: string; program: string }[]
    return new Map(rows.map((r) => [r.path, r.program]))
  }
  link(p: string): LinkRow | undefined {
    return this.stmt('SELECT * FROM links WHERE path = ?').get(p) as LinkRow | undefined
  }
  /** The first link row under `dir` (root-relative, no trailing slash), of a program other than `except` when given. */
  linkUnder(dir: string, except?: number): LinkRow | undefined {
    // '/' + 1 is '0': every path under dir sorts between dir + '/' and dir + '0' (a range on the primary key).
    if (except === undefined) return this.stmt('SELECT * FROM links WHERE path > ? AND path < ? ORDER BY path LIMIT 1').get(`${dir}/`, `${dir}0`) as LinkRow | undefined
    return this.stmt('SELECT * FROM links WHERE path > ? AND path < ? AND program_id != ? ORDER BY path LIMIT 1').get(`${dir}/`, `${dir}0`, except) as LinkRow | undefined
  }
  /** Every link row under `dir`, in path order. */
  linksUnder(dir: string): LinkRow[] {
    return this.stmt('SELECT * FROM links WHERE path > ? AND path < ? ORDER BY path').all(`${dir}/`, `${dir}0`) as LinkRow[]
  }
  linkCount(): number {
    return (this.stmt('SELECT COUNT(*) AS n FROM links').get() as { n: number }).n
  }
  /** Replace every link row of `program` with `rows`. */
  replaceLinks(program: string, rows: LinkRow[]): void {
    this.stmt('DELETE FROM links WHERE program = ? COLLATE NOCASE').run(program)
    const ins = this.stmt('INSERT INTO links (path, program, program_id, entry, target) VALUES (?, ?, ?, ?, ?)')
    for (const r of rows) ins.run(r.path, r.program, r.program_id, r.entry, r.target)
  }

  // ---- blobs ----------------------------------------------------------------------------

  blobStats(): { blobs: number; bytes: number } {
    const r = this.stmt('SELECT COUNT(*) AS blobs, COALESCE(SUM(size), 0) AS bytes FROM blobs WHERE refs > 0').get() as {
      blobs: number
      bytes: number
    }
    return r
  }
  blobRefs(key: string): number {
    const r = this.stmt('SELECT refs FROM blobs WHERE key = ?').get(key) as { refs: number } | undefined
    return r?.refs ?? 0
  }
  /** Blobs whose stored count differs from the count of files rows naming them. */
  refcountDrift(): { key: string; stored: number; actual: number }[] {
    return this.stmt(
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
    return this.stmt('SELECT * FROM journal ORDER BY started_at').all() as JournalRow[]
  }
  insertJournal(row: JournalRow): void {
    this.stmt('INSERT INTO journal (id, kind, state, pid, command, started_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(row.id, row.kind, row.state, row.pid, row.command, row.started_at, row.payload)
  }
  /** Replace a journal row's payload (and its state, when given). */
  setJournalPayload(id: string, payload: string, state?: string): void {
    if (state === undefined) this.stmt('UPDATE journal SET payload = ? WHERE id = ?').run(payload, id)
    else this.stmt('UPDATE journal SET payload = ?, state = ? WHERE id = ?').run(payload, state, id)
  }
  setJournalState(id: string, state: string): void {
    this.stmt('UPDATE journal SET state = ? WHERE id = ?').run(state, id)
  }
  deleteJournal(id: string): void {
    this.stmt('DELETE FROM journal WHERE id = ?').run(id)
  }
}

/**
 * A read-only connection to a WAL database needs its -wal and -shm files to exist, or write
 * access to the directory to create them; the last writer's close deletes them. Without them a
 * user who may read a root but not write it (a plain user on a root-owned root) gets "attempt to
 * write a readonly database". So the writer leaves both behind, empty and readable (SQLite's
 * documented condition for read-only WAL access: a reader that cannot write -shm builds its
 * index in private memory). Best effort: one that exists (a reader made it) is left alone.
 */
function keepWalFiles(dbPath: string, cfs: ConfinedFs): void {
  if (!fs.existsSync(dbPath)) return
  for (const p of [`${dbPath}-wal`, `${dbPath}-shm`]) {
    try {
      cfs.writeFile(p, '', { flag: 'wx', mode: 0o644 })
    } catch {
      /* present already, or the directory is gone: nothing to leave */
    }
  }
}

/**
 * SQLite follows symlinks when it opens the database and creates its -wal, -shm and -journal
 * files by name: each must be absent or a regular file (a planted link would have SQLite write
 * outside the root).
 */
function checkDbFiles(dbPath: string, cfs: ConfinedFs): void {
  for (const p of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`, `${dbPath}-journal`]) {
    const st = fs.lstatSync(p, { throwIfNoEntry: false })
    if (st !== undefined && !st.isFile()) throw cfs.refusal(p, st)
  }
}
