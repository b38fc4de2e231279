/**
 * Nip: the facade the CLI talks to. One instance per command run; it owns the database
 * handle, the CAS and the adapters, and closes them in close().
 *
 * Readers (list, info, owns, search, sources, status, logs, doctor without --fix) never take
 * the lock and open the DB read-only (WAL: they never block on the writer). Writers (install,
 * remove, switch, doctor --fix) take the lock, finish or undo any interrupted transaction,
 * then work.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Cas } from '@nip/cas'
import type { AdapterContext, AdapterId, SourceAdapter } from './adapter.js'
import type {
  DoctorFinding,
  DoctorReport,
  InfoResult,
  InstallOptions,
  InstallResult,
  LogRecord,
  OpenOptions,
  OwnsResult,
  ProgramSummary,
  RemoveOptions,
  RemoveResult,
  SearchHit,
  SourceStatus,
  StatusResult,
  SwitchResult,
  AutoremoveResult,
  GcOptions,
  GcResult,
  GenerationDiff,
  GenerationSummary,
  GenerationsDeleteResult,
  PinResult,
  RollbackResult,
  VerifyOptions,
  VerifyResult,
} from './api.js'
import type { NipConfig } from './configTypes.js'
import { Database } from './db/database.js'
import { Dispatcher } from './dispatcher.js'
import { NipError, fromSystemError, isNipError } from './errors.js'
import { Layout } from './layout.js'
import { ensureFarm } from './linkFarm.js'
import { foldBaseOf, foldBases, foldFor } from './linkFold.js'
import { Lock, isStale, readLockOwner } from './lock.js'
import { silentReporter, type Reporter } from './reporter.js'
import { Engine, summarize } from './transaction.js'
import { readLog } from './txlog.js'
import { DEFAULT_LIMITS, type Limits } from './archive/limits.js'
import { runDoctor } from './doctor.js'
import { resolveSpec } from './planner.js'
import { parseSpec } from './spec.js'
import { deleteGenerations, diffGenerations, listGenerations, type DeleteSelection } from './generations.js'
import { collectGarbage } from './gc.js'
import { setPin } from './pins.js'
import { verifyPrograms } from './verify.js'
import { planAutoremove } from './autoremove.js'
import { listFilter, programFiles, whyNeeded, type FilesResult, type ListFilter, type WhyResult } from './programQueries.js'
import { cleanCache, type CacheCleanResult } from './cacheClean.js'
import { rankSearchHits } from './searchRank.js'
import { DEFAULT_INDEX_MAX_AGE, updateSources, type UpdateResult } from './update.js'
import { outdatedOf, runUpgrade, type OutdatedResult, type UpgradeOptions, type UpgradeResult } from './upgrade.js'
import { RESERVE_BYTES, keepReserve, releaseReserve } from './reserve.js'
import { graftedNameHint } from './suggest.js'

export class Nip {
  readonly layout: Layout
  readonly config: NipConfig
  readonly reporter: Reporter
  readonly dispatcher: Dispatcher
  readonly limits: Limits
  private casInstance: Cas | null = null
  private readerDb: Database | null | undefined

  private constructor(readonly options: OpenOptions) {
    this.config = options.loaded.config
    this.layout = new Layout(this.config)
    this.reporter = options.reporter ?? silentReporter
    this.limits = { ...DEFAULT_LIMITS, maxEntries: this.config.maxArchiveEntries, maxTotalSize: this.config.maxArchiveSize }
    this.dispatcher = new Dispatcher({
      sources: this.config.sources,
      adapters: options.adapters,
      factories: options.adapterFactories,
      context: (id) => this.adapterContext(id),
      limits: this.limits,
    })
  }

  static async open(options: OpenOptions): Promise<Nip> {
    return new Nip(options)
  }

  get cas(): Cas {
    this.casInstance ??= new Cas(this.layout.casDir, { confined: this.layout.cfs })
    return this.casInstance
  }

  private adapterContext(id: AdapterId): AdapterContext {
    return {
      layout: this.layout,
      cas: this.cas,
      reporter: this.reporter,
      config: this.dispatcher.sourceConfig(id)?.table ?? {},
      sourceConfig: (other) => this.dispatcher.sourceConfig(other)?.table ?? {},
      cacheDir: this.layout.adapterCacheDir(String(id)),
      limits: this.limits,
      index: { maxAgeSeconds: this.config.indexMaxAge ?? DEFAULT_INDEX_MAX_AGE },
    }
  }

  /** Run `fn` as the one writer: lock, open the DB read-write, recover, work, release. */
  /**
   * Runs fn under the write lock with a writer DB and a recovered engine. A command that frees
   * space (`freesSpace`) and fails with ERR_NIP_NO_SPACE releases the space reserve and runs once
   * more (reserve.ts); every other command first re-creates the reserve when space allows.
   */
  private async write<T>(command: string, fn: (engine: Engine, db: Database) => Promise<T>, opts: { freesSpace?: boolean; dryRun?: boolean; skipInvalid?: boolean } = {}): Promise<T> {
    try {
      // A dry run writes nothing of its own, not even the reserve.
      return await this.writeOnce(command, fn, opts.dryRun !== true, opts.skipInvalid === true).catch((e: unknown) => {
        throw asNipError(e)
      })
    } catch (e) {
      if (!opts.freesSpace || !(e instanceof NipError) || e.code !== 'ERR_NIP_NO_SPACE' || !releaseReserve(this.layout)) throw e
      this.reporter.emit({ type: 'warning', code: 'ERR_NIP_NO_SPACE', message: `The disk is full: released nip's ${RESERVE_BYTES / 1024} KiB reserve to finish ${command}.`, data: { reserve: this.layout.reservePath } })
      return await this.writeOnce(command, fn, false, opts.skipInvalid === true).catch((e2: unknown) => {
        throw asNipError(e2)
      })
    }
  }

  private async writeOnce<T>(command: string, fn: (engine: Engine, db: Database) => Promise<T>, reserve: boolean, skipInvalid = false): Promise<T> {
    this.prepareRoot()
    const lock = await Lock.acquire({ cfs: this.layout.cfs, lockPath: this.layout.lockPath, command, timeoutSeconds: this.config.lockTimeout, reporter: this.reporter })
    let db: Database | null = null
    try {
      if (reserve) keepReserve(this.layout)
      db = Database.openWriter(this.layout.dbPath, this.layout.cfs)
      await this.cas.init()
      const engine = new Engine({ db, layout: this.layout, cas: this.cas, reporter: this.reporter, dispatcher: this.dispatcher, parallelDownloads: this.config.parallelDownloads })
      await engine.recover({ skipInvalid })
      return await fn(engine, db)
    } finally {
      db?.close()
      lock.release()
    }
  }

  private prepareRoot(): void {
    try {
      this.layout.cfs.ensureRoot()
      if (!fs.statSync(this.layout.root).isDirectory()) throw new Error('not a directory')
      // Below the root, every directory is made and checked by the confined layer.
      for (const d of [this.layout.programsDir, this.layout.stateDir, this.layout.logDir]) this.layout.cfs.mkdirp(d)
      ensureFarm(this.layout)
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_NIP_CONFINED') throw fromSystemError(e, 'preparing the root', this.layout.root)
      const err = fromSystemError(e, 'preparing the root', this.layout.root)
      throw new NipError('ERR_NIP_ROOT', `The root ${this.layout.root} cannot be used: ${err.message}`, {
        hint: 'Pass --root with a writable directory (or set NIP_ROOT).',
        data: { root: this.layout.root },
        cause: e,
      })
    }
  }

  /** The read-only DB, or null on a fresh root. Opened once per instance. */
  private reader(): Database | null {
    // A fresh root has no DB yet: look again next time rather than caching its absence.
    if (this.readerDb === undefined || this.readerDb === null) {
      try {
        this.readerDb = Database.openReader(this.layout.dbPath, this.layout.cfs)
      } catch (e) {
        throw asNipError(e)
      }
    }
    return this.readerDb
  }

  async install(specs: string[], opts: InstallOptions = {}): Promise<InstallResult> {
    if (specs.length === 0) throw new NipError('ERR_NIP_USAGE', 'Nothing to install.', { hint: 'Name at least one package.' })
    if (opts.dryRun) {
      // A dry run has no side effects at all: no lock, no root directories, no database.
      const db = this.reader()
      const engine = new Engine({ db: db ?? emptyDb(), layout: this.layout, cas: this.cas, reporter: this.reporter, dispatcher: this.dispatcher, parallelDownloads: this.config.parallelDownloads })
      const { plan, skipped } = await engine.planInstall(specs, opts)
      return { plan, dryRun: true, grafted: [], skipped, links: { added: 0 } }
    }
    return this.write(opts.command ?? `install ${specs.join(' ')}`, (engine) => engine.install(specs, opts))
  }

  /** What each current program's source offers now (the named ones and their dependencies; all when none is named). */
  async outdated(names: string[] = []): Promise<OutdatedResult> {
    const db = this.reader()
    return db ? outdatedOf(db, this.dispatcher, names) : { programs: [] }
  }

  /** Graft what each current program's source offers now, in one transaction and one generation (upgrade.ts). */
  async upgrade(names: string[] = [], opts: UpgradeOptions = {}): Promise<UpgradeResult> {
    if (opts.dryRun) {
      const db = this.reader()
      if (!db) return { plan: { action: 'install', programs: [], downloadSize: 0, installedSize: 0, freeSpace: 0, warnings: [] }, dryRun: true, grafted: [], skipped: [], links: { added: 0 }, held: [] }
      const engine = new Engine({ db, layout: this.layout, cas: this.cas, reporter: this.reporter, dispatcher: this.dispatcher, parallelDownloads: this.config.parallelDownloads })
      return runUpgrade(engine, db, this.dispatcher, names, opts)
    }
    return this.write(opts.command ?? `upgrade ${names.join(' ')}`.trim(), (engine, db) => runUpgrade(engine, db, this.dispatcher, names, opts))
  }

  async remove(names: string[], opts: RemoveOptions = {}): Promise<RemoveResult> {
    if (names.length === 0) throw new NipError('ERR_NIP_USAGE', 'Nothing to remove.', { hint: 'Name at least one program.' })
    return this.write(opts.command ?? `remove ${names.join(' ')}`, (engine) => engine.remove(names, opts), { freesSpace: true, dryRun: opts.dryRun === true })
  }

  /** Move Current (and the links) of `name` to `version`. */
  async switch(name: string, version: string, opts: { command?: string } = {}): Promise<SwitchResult> {
    return this.write(opts.command ?? `switch ${name} ${version}`, (engine) => engine.switch(name, version, opts.command))
  }

  // ---- store lifecycle ------------------------------------------------------------------

  /** Every kept generation, oldest first (the last is the current one). */
  generations(): GenerationSummary[] {
    return listGenerations(this.reader())
  }

  generationsDiff(a: number, b: number): GenerationDiff {
    return diffGenerations(this.reader(), a, b)
  }

  /** Delete generations (never the current one); their programs become gc candidates when nothing else keeps them. */
  async generationsDelete(sel: DeleteSelection & { command?: string }): Promise<GenerationsDeleteResult> {
    return this.write(sel.command ?? 'generations delete', async (_engine, db) => {
      const r = deleteGenerations(db, sel)
      return { ...r, kept: db.generations().map((g) => g.id) }
    }, { freesSpace: true })
  }

  /** Return to the parent of the current generation, or to generation `to`; recorded as a new generation. */
  async rollback(opts: { to?: number; dryRun?: boolean; command?: string } = {}): Promise<RollbackResult> {
    return this.write(opts.command ?? 'rollback', (engine) => engine.rollback(opts), { freesSpace: true, dryRun: opts.dryRun === true })
  }

  /** Delete unreachable program trees and unreferenced blobs. A dry run takes the lock but changes nothing. */
  async gc(opts: GcOptions = {}): Promise<GcResult> {
    if (opts.dryRun && !fs.existsSync(this.layout.dbPath)) return { dryRun: true, programs: [], blobs: 0, bytes: 0, truncated: false, durationMs: 0 }
    return this.write(opts.command ?? 'gc', (_engine, db) => collectGarbage({ db, layout: this.layout, cas: this.cas, reporter: this.reporter }, opts), { freesSpace: true, dryRun: opts.dryRun === true })
  }

  async pin(spec: string): Promise<PinResult> {
    return this.write(`pin ${spec}`, async (_engine, db) => setPin(db, spec, true))
  }

  async unpin(spec: string): Promise<PinResult> {
    return this.write(`unpin ${spec}`, async (_engine, db) => setPin(db, spec, false))
  }

  /** Re-hash programs (all active ones when `names` is empty); stores each result for nip list. */
  async verify(names: string[] = [], opts: VerifyOptions = {}): Promise<VerifyResult> {
    return this.write(opts.command ?? `verify ${names.join(' ')}`.trim(), (_engine, db) =>
      verifyPrograms({ db, layout: this.layout, cas: this.cas, dispatcher: this.dispatcher, reporter: this.reporter }, names, opts),
    )
  }

  /** Remove the dependency programs no explicit program needs (the plan is confirmed first). */
  async autoremove(opts: { dryRun?: boolean; command?: string } = {}): Promise<AutoremoveResult> {
    const command = opts.command ?? 'autoremove'
    return this.write(command, async (engine, db) => {
      const victims = planAutoremove(db)
      const plan = victims.map((p) => ({ name: p.name, version: p.version }))
      if (opts.dryRun || plan.length === 0) return { dryRun: !!opts.dryRun, plan, removed: [] }
      const r = await engine.remove(plan.map((p) => `${p.name}@${p.version}`), { force: true, command, kind: 'autoremove' })
      return { dryRun: false, plan, removed: r.removed, ...(r.transaction ? { transaction: r.transaction } : {}) }
    }, { dryRun: opts.dryRun === true })
  }

  /**
   * The programs of the current generation; with `all`, also the kept inactive versions (removed
   * or rolled away from, held by an older generation or a pin until gc). Naming a program fails
   * with ERR_NIP_NOT_INSTALLED only when no version of it is kept at all.
   */
  list(opts: { name?: string; all?: boolean; filter?: ListFilter } = {}): ProgramSummary[] {
    const db = this.reader()
    const kept = opts.name ? (db?.programsNamed(opts.name) ?? []) : (db?.programs() ?? [])
    if (opts.name && kept.length === 0) {
      const { hint, suggestions } = graftedNameHint((db?.programs() ?? []).map((r) => r.name), opts.name, 'nip list --all shows every kept version.')
      throw new NipError('ERR_NIP_NOT_INSTALLED', `${opts.name} is not grafted.`, { hint, data: { name: opts.name, ...(suggestions ? { suggestions } : {}) } })
    }
    let rows = opts.all ? kept : kept.filter((r) => r.active === 1)
    if (db && opts.filter) {
      const keep = listFilter(db, opts.filter)
      rows = rows.filter((r) => r.active === 1 && keep(r))
    }
    return db ? rows.map((r) => summarize(db, r)) : []
  }

  /** The files of a grafted program's current version, and the farm's links to them. */
  files(name: string): FilesResult {
    return programFiles(this.reader(), this.layout, name)
  }

  /** The chains of programs, from an explicit one down, that need `name`. */
  why(name: string): WhyResult {
    return whyNeeded(this.reader(), name)
  }

  /** Delete downloaded package archives (with `all`, also indexes) from the cache, as the one writer. */
  async cacheClean(opts: { all?: boolean; command?: string } = {}): Promise<CacheCleanResult> {
    if (!fs.existsSync(this.layout.cacheDir)) return { all: !!opts.all, removed: [], bytes: 0, files: 0 }
    return this.write(opts.command ?? 'cache clean', async () => cleanCache(this.layout, opts))
  }

  /** `variants`: the command line's variant words (`+flag`, `-flag`, `key=value`), for the source to interpret. */
  async info(spec: string, opts: { source?: string; variants?: string[] } = {}): Promise<InfoResult> {
    const known = this.dispatcher.knownIds()
    if (opts.source !== undefined && !known.includes(opts.source)) {
      throw new NipError('ERR_NIP_UNKNOWN_SOURCE', `Unknown source "${opts.source}".`, { hint: `Known sources: ${known.join(', ')}.`, data: { source: opts.source, known } })
    }
    const parsed = parseSpec(spec, { knownSources: known, ...(opts.source ? { source: opts.source } : {}) })
    if (opts.variants && opts.variants.length > 0) parsed.variants = [...(parsed.variants ?? []), ...opts.variants]
    const db = this.reader()
    const rows = db?.programsNamed(parsed.name) ?? []
    const installed = db ? rows.map((r) => summarize(db, r)) : []
    const current = rows.find((r) => r.current === 1) ?? rows[rows.length - 1]
    const requiredBy = db ? [...new Set(db.dependents(parsed.name).map((p) => p.name))] : []
    let candidates: InfoResult['candidates'] = []
    let manifest: InfoResult['manifest']
    try {
      const { adapter, refs } = await resolveSpec(this.dispatcher, parsed)
      candidates = refs
      manifest = await adapter.describe(parsed.variants ? { ...refs[0], variants: refs[0].variants ?? parsed.variants } : refs[0], this.adapterContext(adapter.id))
    } catch (e) {
      // A spec nip cannot take (an unknown source, a bad spec) is refused even for a grafted program.
      if (installed.length === 0 || (isNipError(e) && (e.code === 'ERR_NIP_UNKNOWN_SOURCE' || e.code === 'ERR_NIP_BAD_SPEC' || e.code === 'ERR_NIP_USAGE'))) throw e
    }
    const own = current && db ? db.dependencies(current.id).map((d) => ({ name: d.name, constraint: d.constraint_text })) : (manifest?.dependencies ?? []).map((d) => ({ name: d.name, constraint: d.constraint ?? '' }))
    const grafted = (n: string): boolean => (db?.programsNamed(n) ?? []).some((r) => r.current === 1)
    const seen = new Set<string>()
    const dependencies: InfoResult['dependencies'] = []
    for (const d of own) {
      const key = `${d.name.toLowerCase()} ${d.constraint}`
      if (seen.has(key)) continue
      seen.add(key)
      dependencies.push({ ...d, ...(grafted(d.name) ? { grafted: true as const } : {}) })
    }
    const host = manifest?.extra?.satisfiedOnHost
    if (Array.isArray(host)) {
      for (const raw of host) {
        if (typeof raw !== 'string') continue
        const m = /^([^\s(|]+)\s*(?:\(([^)]*)\))?$/.exec(raw.trim())
        const d = m ? { name: m[1], constraint: m[2]?.trim() ?? '' } : { name: raw.trim(), constraint: '' }
        if (seen.has(`${d.name.toLowerCase()} ${d.constraint}`)) continue
        seen.add(`${d.name.toLowerCase()} ${d.constraint}`)
        dependencies.push({ ...d, onHost: true })
      }
    }
    return { name: rows[0]?.name ?? candidates[0]?.name ?? parsed.name, installed, dependencies, requiredBy, candidates, ...(manifest ? { manifest } : {}) }
  }

  /** Which program owns a path (absolute, or relative to the current directory; else to the root). */
  owns(p: string): OwnsResult {
    const abs = path.isAbsolute(p) ? p : path.resolve(p)
    let rel = path.relative(this.layout.root, abs)
    if (rel.startsWith('..') || path.isAbsolute(rel)) rel = p.replace(/^\/+/, '')
    rel = rel.split(path.sep).join('/')
    const db = this.reader()
    const none: OwnsResult = { path: rel, kind: 'none' }
    if (!db) return none
    const link = db.link(rel)
    if (link) {
      const prog = db.programById(link.program_id)
      return { path: rel, kind: 'link', owner: { name: link.program, version: prog?.version ?? '' }, target: link.target }
    }
    // A folded directory of the farm: the program whose link rows it stands for.
    const abs2 = this.layout.abs(rel)
    const under = foldBaseOf(foldBases(this.layout), rel) !== undefined ? db.linkUnder(rel) : undefined
    if (under !== undefined && fs.lstatSync(abs2, { throwIfNoEntry: false })?.isSymbolicLink() && foldFor(rel, under)?.target === fs.readlinkSync(abs2)) {
      const prog = db.programById(under.program_id)
      return { path: rel, kind: 'link', owner: { name: under.program, version: prog?.version ?? '' }, target: fs.readlinkSync(abs2) }
    }
    const programsRel = this.layout.rel(this.layout.programsDir)
    if (rel.startsWith(programsRel + '/')) {
      const [name, version, ...rest] = rel.slice(programsRel.length + 1).split('/')
      if (version === 'Settings' && rest.length) {
        const cur = db.currentProgram(name) ?? db.programsNamed(name)[0]
        if (cur && db.file(cur.id, ['Settings', ...rest].join('/'))) return { path: rel, kind: 'settings', owner: { name: cur.name, version: cur.version } }
      }
      const prog = version === 'Current' ? db.currentProgram(name) : db.program(name, version)
      if (prog && (rest.length === 0 || db.file(prog.id, rest.join('/')))) return { path: rel, kind: 'file', owner: { name: prog.name, version: prog.version } }
    }
    return none
  }

  /** Hits of every enabled source, ranked: exact name, then prefix, then by score (searchRank.ts); grafted programs marked. */
  async search(query: string, opts: { source?: string } = {}): Promise<SearchHit[]> {
    return rankSearchHits(query, await this.dispatcher.search(query, opts.source), this.reader()?.programs() ?? [])
  }

  /**
   * Refresh every enabled source's local index (or one source's); one result per source
   * (update.ts). Takes the root's lock like every writer: two updates, or an update and an
   * install reading the index it rewrites, never overlap.
   */
  async update(opts: { source?: string; command?: string } = {}): Promise<UpdateResult> {
    this.prepareRoot()
    const lock = await Lock.acquire({ cfs: this.layout.cfs, lockPath: this.layout.lockPath, command: opts.command ?? 'update', timeoutSeconds: this.config.lockTimeout, reporter: this.reporter })
    try {
      return await updateSources(this.dispatcher, opts.source)
    } catch (e) {
      throw asNipError(e)
    } finally {
      lock.release()
    }
  }

  async sources(): Promise<SourceStatus[]> {
    return this.dispatcher.statuses()
  }

  status(): StatusResult {
    const db = this.reader()
    const holder = readLockOwner(this.layout.lockPath)
    const programs = db?.programs() ?? []
    const stats = db?.blobStats() ?? { blobs: 0, bytes: 0 }
    const last = readLog(this.layout.logDir, 1)[0]
    return {
      root: this.layout.root,
      programs: new Set(programs.map((p) => p.name.toLowerCase())).size,
      versions: programs.length,
      links: db?.linkCount() ?? 0,
      blobs: stats.blobs,
      casBytes: stats.bytes,
      lock: holder ? { held: true, pid: holder.pid, command: holder.command, since: holder.since, stale: isStale(holder) } : { held: false },
      interruptedTransactions: (db?.journal() ?? []).map((j) => ({ id: j.id, kind: j.kind, state: j.state, startedAt: j.started_at })),
      ...(last ? { lastTransaction: last } : {}),
    }
  }

  /** The last `lines` records of the transaction log, oldest first. */
  logs(lines = 20): LogRecord[] {
    return readLog(this.layout.logDir, lines)
  }

  async doctor(opts: { fix?: boolean; full?: boolean } = {}): Promise<DoctorReport> {
    const holder = readLockOwner(this.layout.lockPath)
    const stale = holder !== null && isStale(holder)
    const lockFinding: DoctorFinding = stale
      ? { check: 'stale-lock', severity: 'error', message: `A stale lock is left by PID ${holder.pid} (${holder.command}, since ${holder.since}).`, fixable: true, ...(opts.fix ? { fixed: true } : {}) }
      : { check: 'stale-lock', severity: 'ok', message: holder ? `The lock is held by running PID ${holder.pid} (${holder.command}).` : 'No lock is held.', fixable: false }
    const health = await this.programHealth()
    const withLock = (r: DoctorReport): DoctorReport => ({
      healthy: r.healthy && (lockFinding.severity === 'ok' || lockFinding.fixed === true) && health.severity === 'ok',
      findings: [lockFinding, ...r.findings, health],
    })
    if (!opts.fix) return withLock(await runDoctor({ db: this.reader(), layout: this.layout, fix: false, cas: this.cas, full: !!opts.full }))
    // Taking the lock replaces a stale lock and recovers interrupted transactions: two of the fixes.
    const before = this.reader()?.journal().length ?? 0
    this.close()
    const report = await this.write(
      'doctor --fix',
      async (engine, db) =>
        runDoctor({
          db,
          layout: this.layout,
          fix: true,
          engine,
          cas: this.cas,
          full: !!opts.full,
          repairFiles: async () => programFilesFinding(await verifyPrograms({ db, layout: this.layout, cas: this.cas, dispatcher: this.dispatcher, reporter: this.reporter }, [], { repair: true })),
        }),
      { skipInvalid: true },
    )
    if (before > 0) {
      const f = report.findings.find((x) => x.check === 'interrupted-transaction')
      if (f) Object.assign(f, { severity: 'error', message: `${before} interrupted transaction(s) were finished or rolled back.`, fixable: true, fixed: true })
    }
    return withLock(report)
  }

  /** Asks each current program's source for its own health checks (SourceAdapter.checkProgram). */
  private async programHealth(): Promise<DoctorFinding> {
    const problems: string[] = []
    const db = this.reader()
    const current = db ? db.programs().filter((p) => p.current === 1) : []
    for (const p of current) {
      let adapter: SourceAdapter
      try {
        adapter = await this.dispatcher.adapter(p.source)
      } catch {
        continue // a source no longer registered has no checks to offer
      }
      if (!adapter.checkProgram) continue
      for (const line of await adapter.checkProgram(this.layout.versionDir(p.name, p.version))) problems.push(`${p.name} ${p.version}: ${line}`)
    }
    return problems.length === 0
      ? { check: 'program-health', severity: 'ok', message: 'Every source-specific check of the current programs passed.', fixable: false }
      : { check: 'program-health', severity: 'error', message: `${problems.length} problem(s) in grafted programs: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? '; …' : ''}`, paths: problems, fixable: false }
  }

  close(): void {
    this.readerDb?.close()
    this.readerDb = undefined
  }
}

/** doctor --fix's view of `verify --repair` over every active program. */
function programFilesFinding(v: VerifyResult): DoctorFinding {
  const bad = v.programs.filter((p) => p.state === 'TAMPERED' || p.state === 'MISSING')
  if (bad.length === 0) return { check: 'program-files', severity: 'ok', message: `Every file of ${v.programs.length} program(s) matches the database (re-hashed).`, fixable: false }
  const left = bad.filter((p) => p.repairedState !== 'VERIFIED' && p.repairedState !== 'MODIFIED')
  return {
    check: 'program-files',
    severity: 'error',
    message: `${bad.length} program(s) had tampered or missing files, repaired as nip verify --repair does${left.length ? `; not repaired: ${left.map((p) => `${p.name} ${p.version} (${p.repairedState ?? p.state} after repair: the content is neither in the store nor delivered again by ${p.name}'s source; the paths below say which files)`).join(', ')}` : ''}.`,
    paths: bad.flatMap((p) => p.problems.map((x) => `${x.path}: ${x.problem}${x.repaired ? ' (repaired)' : ''}`)).slice(0, 100),
    fixable: true,
    fixed: left.length === 0,
  }
}

/** A stand-in for a database that does not exist yet (fresh root, dry run). */
function emptyDb(): Database {
  const nothing = () => []
  return new Proxy({} as Database, {
    get(_t, prop) {
      if (prop === 'programsNamed' || prop === 'programs' || prop === 'linksOf' || prop === 'journal') return nothing
      if (prop === 'currentProgram' || prop === 'program' || prop === 'link') return () => undefined
      throw new NipError('ERR_NIP_INTERNAL', `No database yet (${String(prop)}).`)
    },
  })
}

/** The store's and the confined layer's errors (CasError) carry nip's codes: surface them as NipError. */
function asNipError(e: unknown): unknown {
  if (e instanceof NipError) return e
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('ERR_NIP_') ? fromSystemError(e, 'the command') : e
}
