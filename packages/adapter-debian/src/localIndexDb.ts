/**
 * The Debian source's local index as a database (SQLite, better-sqlite3): every package of every
 * suite parsed once — when the suite's verified index files change — and then looked up by name,
 * by provided name, and searched, without reading, decompressing or parsing the Packages files
 * again. Rows hold the fields nip uses of each stanza (as JSON); the DebianPackage is rebuilt
 * from them with the suite's current base URL, priority and mirrors.
 *
 * Contract: the database is derived data. A suite's rows are replaced in one transaction and
 * tagged with the digest of the verified files they were parsed from (and the schema version);
 * rows whose digest does not match what the suite uses now are never read. This module is the
 * adapter's only writer of the file (`<state-dir>/index/debian.sqlite`); a damaged or
 * unreadable file is deleted and rebuilt. A process that may not write its directory uses a
 * database in memory instead (the same rows, parsed for the one command).
 */
import { cacheDatabaseFiles, cacheRm } from '@nip/core'
import fs from 'node:fs'
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import type { Stanza } from './deb822.js'
import { packageFromStanza, type DebianPackage, type PackageLookup } from './packageIndex.js'
import { compareVersions } from './versionCompare.js'

const SCHEMA = 1
/** The stanza fields packageFromStanza reads. */
const FIELDS = ['package', 'version', 'architecture', 'filename', 'size', 'sha256', 'installed-size', 'description', 'homepage', 'section', 'depends', 'pre-depends', 'conflicts', 'breaks', 'provides']

export interface SuiteRecord {
  /** The suite's identity (its list directory's name). */
  key: string
  /** Digest of the verified index files in use (with the architecture). */
  digest: string
}

/** How rows of one suite become packages: as loadSource would have built them. */
export interface SuiteView {
  key: string
  base: string
  priority: number
  /** The same .deb on the suite's mirrors. */
  mirrorsOf: (url: string) => string[]
}

/** Whether this process may create files in `dir` (or, when it does not exist yet, in the nearest existing parent). */
function writable(dir: string): boolean {
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      fs.accessSync(d, fs.constants.W_OK)
      return true
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || path.dirname(d) === d) return false
    }
  }
}

export function stanzaFields(stanza: Stanza): string {
  const out: Record<string, string> = {}
  for (const f of FIELDS) {
    const v = stanza.get(f)
    if (v !== undefined) out[f] = v
  }
  return JSON.stringify(out)
}

interface Row {
  id: number
  suite: string
  origin: string
  fields: string
}

export class LocalIndexDb {
  private constructor(private readonly db: BetterSqlite3.Database) {}

  static open(file: string): LocalIndexDb {
    // A user who may read the root but not write it (a plain user on a root-owned root) cannot
    // keep this file: the index is then built in memory for the one command, from the verified
    // index files it can read.
    if (!writable(path.dirname(file))) return new LocalIndexDb(LocalIndexDb.connect(':memory:'))
    // Made and checked through the root's confined layer; a planted link at the database is refused.
    cacheDatabaseFiles(file)
    try {
      return new LocalIndexDb(LocalIndexDb.connect(file))
    } catch {
      // Derived data: a damaged file is rebuilt.
      for (const f of [file, `${file}-wal`, `${file}-shm`]) cacheRm(f)
      return new LocalIndexDb(LocalIndexDb.connect(file))
    }
  }

  private static connect(file: string): BetterSqlite3.Database {
    const db = new BetterSqlite3(file)
    db.pragma('journal_mode = WAL')
    db.pragma('busy_timeout = 10000')
    db.exec(`
      CREATE TABLE IF NOT EXISTS suites (key TEXT PRIMARY KEY, digest TEXT NOT NULL, schema INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS packages (id INTEGER PRIMARY KEY, suite TEXT NOT NULL, name TEXT NOT NULL, summary TEXT NOT NULL, origin TEXT NOT NULL, fields TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS packages_name ON packages (name, suite);
      CREATE INDEX IF NOT EXISTS packages_suite ON packages (suite);
      CREATE TABLE IF NOT EXISTS provides (name TEXT NOT NULL, package INTEGER NOT NULL, suite TEXT NOT NULL, version TEXT);
      CREATE INDEX IF NOT EXISTS provides_name ON provides (name, suite);
      CREATE INDEX IF NOT EXISTS provides_suite ON provides (suite);
    `)
    db.prepare('SELECT count(*) FROM suites').get()
    return db
  }

  /** Whether the suite's rows were parsed from exactly these files. */
  holds(suite: SuiteRecord): boolean {
    const row = this.db.prepare('SELECT digest, schema FROM suites WHERE key = ?').get(suite.key) as { digest: string; schema: number } | undefined
    return row !== undefined && row.digest === suite.digest && row.schema === SCHEMA
  }

  /** Replace the suite's rows (one transaction). */
  replace(suite: SuiteRecord, records: { pkg: DebianPackage; fields: string }[]): void {
    const insert = this.db.prepare('INSERT INTO packages (suite, name, summary, origin, fields) VALUES (?, ?, ?, ?, ?)')
    const provide = this.db.prepare('INSERT INTO provides (name, package, suite, version) VALUES (?, ?, ?, ?)')
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM packages WHERE suite = ?').run(suite.key)
      this.db.prepare('DELETE FROM provides WHERE suite = ?').run(suite.key)
      for (const { pkg, fields } of records) {
        const id = Number(insert.run(suite.key, pkg.name, pkg.summary ?? '', pkg.origin, fields).lastInsertRowid)
        for (const group of pkg.provides) for (const p of group) provide.run(p.name, id, suite.key, p.op === '=' && p.version !== undefined ? p.version : null)
      }
      this.db.prepare('INSERT OR REPLACE INTO suites (key, digest, schema) VALUES (?, ?, ?)').run(suite.key, suite.digest, SCHEMA)
    })()
  }

  close(): void {
    this.db.close()
  }

  /** Packages of the given suites, for dependency choice, resolution and search. */
  view(suites: SuiteView[], architecture: string): LocalPackages {
    return new LocalPackages(this.db, suites, architecture)
  }
}

export class LocalPackages implements PackageLookup {
  private readonly bySuite: Map<string, SuiteView>
  private readonly keys: string
  private readonly cache = new Map<number, DebianPackage | null>()

  constructor(
    private readonly db: BetterSqlite3.Database,
    suites: SuiteView[],
    private readonly architecture: string,
  ) {
    this.bySuite = new Map(suites.map((s) => [s.key, s]))
    this.keys = JSON.stringify(suites.map((s) => s.key))
  }

  private build(row: Row): DebianPackage | null {
    const have = this.cache.get(row.id)
    if (have !== undefined) return have
    const view = this.bySuite.get(row.suite)
    let pkg: DebianPackage | null = null
    if (view !== undefined) {
      pkg = packageFromStanza(new Map(Object.entries(JSON.parse(row.fields) as Record<string, string>)), { base: view.base, origin: row.origin, priority: view.priority })
      if (pkg !== null && pkg.architecture !== this.architecture && pkg.architecture !== 'all') pkg = null
      if (pkg?.url !== undefined) {
        const mirrors = view.mirrorsOf(pkg.url)
        if (mirrors.length > 0) pkg.mirrorUrls = mirrors
      }
    }
    this.cache.set(row.id, pkg)
    return pkg
  }

  private rows(sql: string, ...args: unknown[]): Row[] {
    return this.db.prepare(sql).all(...args, this.keys) as Row[]
  }

  versionsOf(name: string): DebianPackage[] {
    const rows = this.rows('SELECT id, suite, origin, fields FROM packages WHERE name = ? AND suite IN (SELECT value FROM json_each(?))', name)
    return rows
      .map((r) => this.build(r))
      .filter((p): p is DebianPackage => p !== null)
      .sort((a, b) => compareVersions(b.version, a.version) || a.priority - b.priority)
  }

  providersOf(name: string): { pkg: DebianPackage; version?: string }[] {
    const rows = this.db
      .prepare('SELECT p.id, p.suite, p.origin, p.fields, v.version AS provided FROM provides v JOIN packages p ON p.id = v.package WHERE v.name = ? AND v.suite IN (SELECT value FROM json_each(?))')
      .all(name, this.keys) as (Row & { provided: string | null })[]
    const out: { pkg: DebianPackage; version?: string }[] = []
    for (const r of rows) {
      const pkg = this.build(r)
      if (pkg !== null) out.push({ pkg, ...(r.provided !== null ? { version: r.provided } : {}) })
    }
    return out
  }

  /** Names or summaries containing `query` (case-insensitive): the best version of each name. */
  search(query: string): DebianPackage[] {
    const like = `%${query.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`
    const rows = this.rows("SELECT id, suite, origin, fields FROM packages WHERE (lower(name) LIKE ? ESCAPE '\\' OR lower(summary) LIKE ? ESCAPE '\\') AND suite IN (SELECT value FROM json_each(?))", like, like)
    const best = new Map<string, DebianPackage>()
    for (const r of rows) {
      const p = this.build(r)
      if (p === null) continue
      const have = best.get(p.name)
      if (have === undefined || compareVersions(p.version, have.version) > 0 || (compareVersions(p.version, have.version) === 0 && p.priority < have.priority)) best.set(p.name, p)
    }
    return [...best.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  /** Every package name of the index's suites, once each. */
  names(): string[] {
    return (this.db.prepare('SELECT DISTINCT name FROM packages WHERE suite IN (SELECT value FROM json_each(?))').all(this.keys) as { name: string }[]).map((r) => r.name)
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM packages WHERE suite IN (SELECT value FROM json_each(?))').get(this.keys) as { n: number }).n
  }
}
