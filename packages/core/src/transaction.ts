/**
 * Transactions (alpm trans.c, Nix addToStore, Homebrew Keg#link), run by the one writer that
 * holds the lock:
 *
 *   install: plan (no side effects) → journal row → fetch (parallel, verified, into the CAS)
 *            → link-conflict check → stage `.<Version>.tmp-<txn>` → rename into place
 *            → register in one SQLite transaction (the point of no return; the journal row
 *            flips to "registered" in the same transaction) → reconcile (Current, links)
 *   remove:  journal → register → reconcile
 *   switch:  journal → register → reconcile
 *
 * A kill before "registered" is rolled back by the next run (reconcile deletes what the journal
 * lists and the DB does not know); a kill after it is rolled forward. A failure while
 * reconciling after registration is undone: the DB change is reverted, then reconciled again.
 */
import { linkThroughFarm } from './crossLinks.js'
import fs from 'node:fs'
import crypto from 'node:crypto'
import type { Cas } from '@nip/cas'
import { treeDigest } from '@nip/cas'
import type { AdapterId, FetchResult, StageTarget, TreeEntry } from './adapter.js'
import type { InstallOptions, InstallResult, IntegrityState, LogRecord, Plan, ProgramSummary, RemoveOptions, RemoveResult, RollbackResult, SwitchResult } from './api.js'
import type { Database, FileRow, LinkRow, ProgramRow } from './db/database.js'
import type { Dispatcher } from './dispatcher.js'
import type { Layout } from './layout.js'
import { isNormalRelative } from './archive/entryPath.js'
import { nameList, type Reporter } from './reporter.js'
import { NipError } from './errors.js'
import { desiredLinks, findLinkConflicts, type LinkConflict } from './linkFarm.js'
import { currentCandidates, planInstall, type PlanItem } from './planner.js'
import { reconcile, type JournalPayload } from './reconcile.js'
import { makeStagingDir, stageTree, mapCasError } from './stage.js'
import { crashPoint } from './crash.js'
import { parseSpec } from './spec.js'
import { appendLog } from './txlog.js'
import { compareVersionsNatural } from './versionOrder.js'
import { membersOf, recordGeneration, requireGeneration } from './generations.js'
import { checkedPayload } from './stateCheck.js'
import { RESERVE_BYTES } from './reserve.js'
import { classifyPlan, refusalError, refusalLine } from './upgrade.js'
import { graftedNameHint } from './suggest.js'

export interface EngineOptions {
  db: Database
  layout: Layout
  cas: Cas
  reporter: Reporter
  dispatcher: Dispatcher
  parallelDownloads: number
}

export function newTransactionId(): string {
  return `${Date.now().toString(36)}-${crypto.randomBytes(4).toString('hex')}`
}

export function summarize(db: Pick<Database, 'fileCount'>, p: ProgramRow): ProgramSummary {
  return {
    name: p.name,
    version: p.version,
    source: p.source,
    packageId: p.package_id,
    current: p.current === 1,
    explicit: p.explicit === 1,
    installedAt: p.installed_at,
    size: p.size,
    files: db.fileCount(p.id),
    treeDigest: p.tree_digest,
    active: p.active !== 0,
    pinned: p.pinned === 1,
    ...(p.verify_state ? { integrity: p.verify_state as IntegrityState } : {}),
    ...(p.verified_at ? { verifiedAt: p.verified_at } : {}),
  }
}

export class Engine {
  constructor(private readonly o: EngineOptions) {}

  private get db(): Database {
    return this.o.db
  }

  // ---- recovery -------------------------------------------------------------------------

  /**
   * Finish or undo every transaction a killed nip left in the journal. A row whose payload names
   * an unsafe path is refused (ERR_NIP_STATE_INVALID), never acted on; with `skipInvalid` (doctor
   * --fix, which reports and drops it) it is left alone.
   */
  async recover(opts: { skipInvalid?: boolean } = {}): Promise<LogRecord[]> {
    const records: LogRecord[] = []
    for (const row of this.db.journal()) {
      let payload: JournalPayload
      try {
        payload = checkedPayload(this.o.layout, row)
      } catch (e) {
        if (opts.skipInvalid === true) continue
        throw e
      }
      const forward = row.state === 'registered'
      this.o.reporter.emit({ type: 'phase', phase: 'recover', message: `${forward ? 'Finishing' : 'Rolling back'} interrupted ${row.kind} (${row.id}, PID ${row.pid})` })
      await reconcile({ db: this.db, layout: this.o.layout, cas: this.o.cas, txn: row.id, reporter: this.o.reporter }, payload)
      this.db.deleteJournal(row.id)
      const rec: LogRecord = {
        time: new Date().toISOString(),
        transaction: row.id,
        command: row.command,
        action: row.kind,
        outcome: forward ? 'recovered' : 'rolled-back',
        programs: payload.names.map((n) => ({ name: n, version: this.db.currentProgram(n)?.version ?? '', change: forward ? 'finished' : 'undone' })),
      }
      appendLog(this.o.layout.cfs, this.o.layout.logDir, rec)
      records.push(rec)
    }
    return records
  }

  // ---- install --------------------------------------------------------------------------

  async planInstall(rawSpecs: string[], opts: InstallOptions): Promise<{ plan: Plan; items: PlanItem[]; skipped: InstallResult['skipped'] }> {
    const known = this.o.dispatcher.knownIds()
    const specs = rawSpecs.map((s) => parseSpec(s, { knownSources: known, ...(opts.source ? { source: opts.source } : {}) }))
    this.o.reporter.emit({ type: 'phase', phase: 'resolve', message: `Resolving ${rawSpecs.join(', ')}` })
    // Only the current generation counts as grafted: a removed version (kept for rollback until
    // gc) is planned again and revived without fetching (see install).
    const installed = { programsNamed: (n: string) => this.db.programsNamed(n).filter((p) => p.active !== 0) }
    const { items, skipped } = await planInstall({ specs, dispatcher: this.o.dispatcher, installed, reinstall: opts.reinstall, ...(opts.dependencies ? { dependencies: opts.dependencies } : {}) })
    const asked = opts.asked ? opts.asked.map((s) => parseSpec(s, { knownSources: known })) : specs
    const changes = classifyPlan(items, asked, { db: installed, ...(opts.noSwitch ? { noSwitch: true } : {}), ...(opts.allowDowngrade ? { allowDowngrade: true } : {}) })
    if (changes.refusals.length > 0 && !opts.dryRun) throw refusalError(changes.refusals)
    const plan: Plan = {
      action: 'install',
      programs: items.map(({ ref: _r, adapter: _a, manifest: _m, ...p }) => p),
      downloadSize: items.reduce((s, i) => s + i.downloadSize, 0),
      installedSize: items.reduce((s, i) => s + i.installedSize, 0),
      freeSpace: freeSpace(this.o.layout.root),
      warnings: [],
    }
    for (const s of skipped) plan.warnings.push(`${s.name} ${s.version} is already grafted (use --reinstall to graft it again)`)
    plan.warnings.push(...changes.warnings, ...changes.refusals.map((r) => `refused without being told to: ${refusalLine(r)}`))
    return { plan, items, skipped }
  }

  async install(rawSpecs: string[], opts: InstallOptions): Promise<InstallResult> {
    const started = Date.now()
    const { plan, items, skipped } = await this.planInstall(rawSpecs, opts)
    // The space reserve (reserve.ts) stays free: a plan may not count on it.
    if (plan.downloadSize + plan.installedSize > plan.freeSpace - RESERVE_BYTES) {
      throw new NipError('ERR_NIP_DISK_SPACE', `The plan needs ${plan.downloadSize + plan.installedSize} bytes but only ${plan.freeSpace} are free.`, {
        hint: 'Free some space and try again.',
        data: { needed: plan.downloadSize + plan.installedSize, free: plan.freeSpace },
      })
    }
    if (opts.dryRun) return { plan, dryRun: true, grafted: [], skipped, links: { added: 0 } }
    // The one question, on the plan just made, before anything changes (the lock is held).
    if (items.length > 0 && opts.question !== false) {
      const message = opts.question ?? `Graft ${nameList(items)}?`
      if (!(await this.o.reporter.confirm({ id: 'install', message, default: true, plan }))) throw aborted()
    }
    this.markExplicit(skipped)
    if (items.length === 0) return { plan, dryRun: false, grafted: [], skipped, links: { added: 0 } }

    const { layout, db } = this.o
    const txn = newTransactionId()
    // Keep the canonical case of a program that is already grafted (Gobo matches names case-insensitively).
    for (const item of items) item.name = db.programsNamed(item.name)[0]?.name ?? item.name
    const names = [...new Set(items.map((i) => i.name))]
    const payload: JournalPayload = {
      names,
      // Only what this transaction creates: a version directory joins the list just before it is renamed into place.
      dirs: items.map((i) => layout.rel(layout.stagingDir(i.name, i.version, txn))),
      links: [],
      previousCurrent: Object.fromEntries(names.map((n) => [n, db.currentProgram(n)?.version ?? null])),
      previousActive: activeVersions(db, names),
    }
    const command = opts.command ?? `install ${rawSpecs.join(' ')}`
    db.insertJournal({ id: txn, kind: 'install', state: 'fetching', pid: process.pid, command, started_at: new Date().toISOString(), payload: JSON.stringify(payload) })
    // The links this install makes stay out of the journal: none exists before the point of no
    // return, and after it recovery rolls forward (the DB owns them). Only an undo needs them,
    // and reconcileOrUndo journals them before it starts one. They are the link rows the
    // conflict check computed (per item), which register then stores.
    const newLinks: (LinkRow[] | undefined)[] = []
    crashPoint('install:journal')
    let registered = false
    try {
      // 1. fetch
      this.o.reporter.emit({ type: 'phase', phase: 'fetch', message: `Fetching ${items.length} program(s)` })
      // A version a kept generation still holds (removed, not yet collected) is revived from its
      // rows and tree instead of being fetched again.
      const revived = items.map((i) => {
        const row = db.program(i.name, i.version)
        return !opts.reinstall && row !== undefined && row.active === 0 ? row : undefined
      })
      // Unpacking creates the files in the staging directories (StageTarget) where staging would
      // hardlink them anyway (the store's import method for that filesystem). The directories are
      // made and probed first, so fetches start in the plan's order.
      const stages: (StageTarget | undefined)[] = []
      for (const [k, item] of items.entries()) {
        if (revived[k]) continue
        const stage = { dir: layout.stagingDir(item.name, item.version, txn), placed: new Map<string, string>() }
        makeStagingDir(layout.cfs, stage.dir)
        if ((await this.o.cas.importMethod(stage.dir)) === 'hardlink') stages[k] = stage
      }
      const fetched = await mapLimit(items, this.o.parallelDownloads, async (item, k) => {
        const old = revived[k]
        if (old) return { ref: item.ref, entries: db.files(old.id).map(toTreeEntry) }
        const stage = stages[k]
        const r = await item.adapter.fetch(item.ref, { ...this.o.dispatcher.context(item.adapter.id), ...(stage !== undefined ? { stage } : {}) })
        validateEntries(r, item)
        // A link into another package's directory reaches it through the farm (crossLinks.ts).
        linkThroughFarm(r.entries, layout, item.name, item.version)
        return r
      })
      crashPoint('install:fetched')

      // 2. link conflicts, before anything becomes visible
      // A pinned Current stays Current: the new version is grafted beside it.
      const mayBeCurrent = currentCandidates(items)
      const becomesCurrent = items.map((i) => {
        if (!mayBeCurrent.has(i)) return false
        const cur = db.currentProgram(i.name)
        if (cur?.pinned === 1 && cur.version !== i.version) {
          this.o.reporter.emit({ type: 'warning', code: 'pinned', message: `${cur.name} is pinned at ${cur.version}: ${i.version} is grafted but not made Current (nip unpin ${cur.name}).` })
          return false
        }
        return !opts.noSwitch || !cur
      })
      const conflicts: LinkConflict[] = []
      const planned = new Map<string, string>()
      // One read transaction for the per-link owner lookups (not one per statement).
      db.transaction(() =>
        items.forEach((item, k) => {
          if (!becomesCurrent[k]) return
          const rows = desiredLinks(layout, { id: 0, name: item.name }, fetched[k].entries.map(toFileRow))
          const owners = db.linkOwners(rows.map((r) => r.path))
          conflicts.push(...findLinkConflicts({ layout, program: item.name, rows, ownerOf: (p) => owners.get(p), planned, index: db }))
          for (const r of rows) if (!planned.has(r.path)) planned.set(r.path, item.name)
          newLinks[k] = rows
          for (const r of db.linksOf(item.name)) payload.links.push({ path: r.path, target: r.target })
        }),
      )
      if (conflicts.length > 0) throw linkConflictError(conflicts)
      db.transaction(() => db.setJournalPayload(txn, JSON.stringify(payload), 'staging'))

      // 3. stage and rename into place
      this.o.reporter.emit({ type: 'phase', phase: 'stage', message: 'Staging' })
      const fresh = items.filter((_, k) => !revived[k])
      for (const [k, item] of items.entries()) {
        if (revived[k]) continue
        await stageTree(this.o.cas, fetched[k].entries, layout.stagingDir(item.name, item.version, txn), layout.cfs, stages[k]?.placed)
        crashPoint('install:staged')
      }
      for (const item of fresh) {
        const vdir = layout.versionDir(item.name, item.version)
        if (fs.lstatSync(vdir, { throwIfNoEntry: false }) !== undefined && (!opts.reinstall || !db.program(item.name, item.version))) {
          throw new NipError('ERR_NIP_LINK_OCCUPIED', `${layout.rel(vdir)} already exists and nip does not own it.`, {
            hint: 'Move that directory away (it was not grafted by nip), then try again.',
            data: { path: layout.rel(vdir) },
          })
        }
      }
      payload.dirs.push(...fresh.map((i) => layout.rel(layout.versionDir(i.name, i.version))))
      db.setJournalPayload(txn, JSON.stringify(payload))
      for (const item of fresh) {
        const vdir = layout.versionDir(item.name, item.version)
        if (fs.lstatSync(vdir, { throwIfNoEntry: false }) !== undefined) {
          // Reinstall: retire the old tree; the DB row is replaced below (a kill here is repaired from the CAS).
          layout.cfs.rename(vdir, `${layout.stagingDir(item.name, item.version, txn)}.old`)
          payload.dirs.push(layout.rel(`${layout.stagingDir(item.name, item.version, txn)}.old`))
          db.setJournalPayload(txn, JSON.stringify(payload))
        }
        layout.cfs.rename(layout.stagingDir(item.name, item.version, txn), vdir)
        crashPoint('install:renamed')
      }

      // 4. register: the point of no return
      this.o.reporter.emit({ type: 'phase', phase: 'register', message: 'Registering' })
      db.transaction(() => {
        items.forEach((item, k) => {
          const old = db.program(item.name, item.version)
          const entries = fetched[k].entries
          const content = {
            source: item.source,
            packageId: item.packageId,
            treeDigest: treeDigest(entries.map((e) => ({ path: e.path, type: e.type, mode: e.mode, ...(e.blob ? { key: e.blob } : {}), ...(e.target !== undefined ? { target: e.target } : {}) }))),
            size: entries.reduce((s, e) => s + (e.size ?? 0), 0),
            txn,
            entries,
            dependencies: item.manifest.dependencies,
          }
          let id: number
          if (old) {
            // Reinstall or revival: the row keeps its id, so the generations naming it stay valid.
            id = old.id
            if (!revived[k]) db.replaceProgramContent(id, content)
            db.setActive(id, true)
            if (item.reason === 'explicit') db.setExplicit(id, true)
          } else {
            id = db.insertProgram({ name: item.name, version: item.version, explicit: item.reason === 'explicit', ...content })
          }
          // The rows just inserted are these entries: no need to read them back.
          if (becomesCurrent[k]) this.makeCurrent(item.name, id, false, undefined, newLinks[k])
        })
        recordGeneration(db, { names, kind: opts.kind ?? 'install', command, txn })
        db.setJournalState(txn, 'registered')
      })
      registered = true
      crashPoint('install:registered')

      // 5. Current and links
      this.o.reporter.emit({ type: 'phase', phase: 'link', message: 'Linking' })
      // Reconcile needs only the old links (the new ones are the DB's now); an undo needs all.
      const r = await this.reconcileOrUndo(txn, payload, () => newLinks.flatMap((rows) => (rows ?? []).map((l) => ({ path: l.path, target: l.target }))))
      db.deleteJournal(txn)
      await this.dropScratchBlobs(fetched)
      const grafted = items.map((i) => summarize(db, db.program(i.name, i.version) as ProgramRow))
      for (const g of grafted) this.o.reporter.emit({ type: 'program', action: 'grafted', name: g.name, version: g.version, source: g.source })
      // One warning per program, for every source (the adapters do not warn about scripts themselves).
      for (const [k, f] of fetched.entries()) {
        const scripts = (f.scriptlets ?? []).map((s) => s.name)
        if (scripts.length === 0) continue
        this.o.reporter.emit({
          type: 'warning',
          code: 'scriptlet-not-run',
          message: `${items[k].name} ${items[k].version} ships maintainer script(s) (${scripts.join(', ')}); nip records them but does not run them.`,
          data: { name: items[k].name, version: items[k].version, scripts },
        })
      }
      appendLog(layout.cfs, layout.logDir, {
        time: new Date().toISOString(),
        transaction: txn,
        command,
        action: 'install',
        outcome: 'ok',
        programs: grafted.map((g) => ({ name: g.name, version: g.version, change: 'grafted' })),
        durationMs: Date.now() - started,
      })
      return { plan, dryRun: false, grafted, skipped, links: { added: r.linksAdded }, transaction: txn }
    } catch (e) {
      if (!registered) {
        // Nothing is registered: discard what was staged or renamed (the DB does not know it).
        await reconcile({ db, layout, cas: this.o.cas, txn }, payload).catch(() => undefined)
        db.deleteJournal(txn)
      }
      const err = mapCasError(e, 'installing')
      appendLog(layout.cfs, layout.logDir, {
        time: new Date().toISOString(),
        transaction: txn,
        command,
        action: 'install',
        outcome: 'failed',
        programs: items.map((i) => ({ name: i.name, version: i.version, change: 'not grafted' })),
        error: { code: err.code, message: err.message },
        durationMs: Date.now() - started,
      })
      throw err
    }
  }

  /** Inside a DB transaction: mark `id` current for `name` and take its links. */
  private makeCurrent(name: string, id: number | null, skipConflicts = false, files?: FileRow[], computed?: LinkRow[], released?: ReadonlySet<string>): void {
    const { db, layout } = this.o
    db.setCurrentFlag(name, id)
    if (id === null) {
      db.replaceLinks(name, [])
      return
    }
    // `computed`: desiredLinks of this program's files, worked out before its id was known.
    if (computed !== undefined) for (const r of computed) r.program_id = id
    let rows = computed ?? desiredLinks(layout, { id, name }, files ?? db.files(id))
    if (skipConflicts) {
      const owners = db.linkOwners(rows.map((r) => r.path))
      const owner = (p: string) => owners.get(p)
      // A path occupied by a link (or a fold over links) this same command just released is
      // not in the way: reconcile replaces it (it is in the journal's links).
      const releasedHere = (p: string): boolean => released !== undefined && (released.has(p) || [...released].some((r) => r.startsWith(`${p}/`)))
      const bad = new Set(
        findLinkConflicts({ layout, program: name, rows, ownerOf: owner, index: db })
          .filter((c) => !(c.kind === 'occupied' && releasedHere(c.path)))
          .map((c) => c.path),
      )
      if (bad.size) {
        this.o.reporter.emit({ type: 'warning', code: 'links-skipped', message: `${bad.size} link(s) of ${name} are taken by other programs and were not created.`, data: { paths: [...bad] } })
        rows = rows.filter((r) => !bad.has(r.path))
      }
    }
    db.replaceLinks(name, rows)
  }

  /** Reconcile after registration; on failure revert the DB to payload.previousCurrent and reconcile again. */
  /**
   * Scratch blobs (FetchResult.scratchBlobs) that no registered program references are deleted:
   * the DB now knows every reference this transaction made, and writers hold the lock. Best
   * effort — one left behind is found by `nip gc --verify`.
   */
  private async dropScratchBlobs(fetched: FetchResult[]): Promise<void> {
    for (const f of fetched) {
      for (const key of f.scratchBlobs ?? []) {
        if (this.db.hasBlobRow(key)) continue
        await this.o.cas.remove(key).catch(() => false)
      }
    }
  }

  /** `extraLinks`: links the DB owns now but an undo must remove (an install's new links). */
  private async reconcileOrUndo(txn: string, payload: JournalPayload, extraLinks?: () => JournalPayload['links']): Promise<{ linksAdded: number; linksRemoved: number }> {
    const { db, layout, cas } = this.o
    try {
      return await reconcile({ db, layout, cas, txn, reporter: this.o.reporter }, payload)
    } catch (e) {
      if (extraLinks !== undefined) payload = { ...payload, links: [...payload.links, ...extraLinks()] }
      this.o.reporter.emit({ type: 'warning', code: 'undo', message: `Undoing transaction ${txn}: ${(e as Error).message}` })
      db.transaction(() => {
        // With the DB undone, every link the payload names may be stale: a kill from here on is
        // recovered from this payload.
        db.setJournalPayload(txn, JSON.stringify(payload))
        const gen = db.generationByTxn(txn)
        if (gen) db.undoGeneration(gen.id)
        const before = payload.previousActive ?? {}
        for (const p of db.db.prepare('SELECT * FROM programs WHERE txn = ?').all(txn) as ProgramRow[]) {
          // A row this transaction created goes; a reinstalled or revived one keeps its place.
          if (p.refs === 0) db.deleteProgram(p.id)
        }
        for (const [name, versions] of Object.entries(before)) {
          for (const p of db.programsNamed(name)) db.setActive(p.id, versions.includes(p.version))
        }
        for (const [name, version] of Object.entries(payload.previousCurrent)) {
          const prev = version === null ? undefined : db.program(name, version)
          this.makeCurrent(name, prev ? prev.id : null, true)
        }
      })
      await reconcile({ db, layout, cas, txn }, payload)
      db.deleteJournal(txn)
      throw e
    }
  }

  // ---- remove ---------------------------------------------------------------------------

  async remove(targets: string[], opts: RemoveOptions): Promise<RemoveResult> {
    const started = Date.now()
    const { db, layout } = this.o
    const victims = new Map<number, ProgramRow>()
    for (const t of targets) {
      const at = t.lastIndexOf('@')
      const name = at > 0 ? t.slice(0, at) : t
      const version = at > 0 ? t.slice(at + 1) : undefined
      const rows = db.activeNamed(name).filter((p) => version === undefined || p.version === version)
      if (rows.length === 0) {
        const have = db.activeNamed(name).map((p) => p.version)
        const near = have.length ? null : graftedNameHint(db.programs().filter((p) => p.active === 1).map((p) => p.name), name, 'nip list shows what is grafted.')
        throw new NipError('ERR_NIP_NOT_INSTALLED', version ? `${name} ${version} is not grafted.` : `${name} is not grafted.`, {
          hint: have.length ? `Grafted versions: ${have.join(', ')}.` : near!.hint,
          data: { name, version, ...(near?.suggestions ? { suggestions: near.suggestions } : {}) },
        })
      }
      for (const r of rows) victims.set(r.id, r)
    }
    // Who would lose a dependency: programs outside the removal set depending on a name that disappears entirely.
    const gone = () => new Set([...victims.values()].map((v) => v.name.toLowerCase()).filter((n) => db.activeNamed(n).every((p) => victims.has(p.id))))
    for (;;) {
      const goneNames = gone()
      const blockers = [...goneNames].flatMap((n) => db.dependents(n).filter((d) => !victims.has(d.id)).map((d) => ({ dependent: d, on: n })))
      if (blockers.length === 0 || opts.force) break
      if (!opts.cascade) {
        const list = blockers.map((b) => `${b.dependent.name} ${b.dependent.version} needs ${b.on}`).join('; ')
        throw new NipError('ERR_NIP_REQUIRED_BY', `Refusing to remove: ${list}.`, {
          hint: 'Remove the dependents too with --cascade, or use --force to remove anyway (they may stop working).',
          data: { blockers: blockers.map((b) => ({ name: b.dependent.name, version: b.dependent.version, requires: b.on })) },
        })
      }
      for (const b of blockers) for (const p of db.activeNamed(b.dependent.name)) victims.set(p.id, p)
    }
    const removed = [...victims.values()].map((v) => ({ name: v.name, version: v.version }))
    if (opts.dryRun) return { dryRun: true, removed, links: { removed: 0 } }
    if (!(await this.o.reporter.confirm({ id: opts.kind ?? 'remove', message: `Remove ${nameList(removed)}?`, default: true, removing: removed }))) throw aborted()

    const names = [...new Set([...victims.values()].map((v) => v.name))]
    // The new current version of a program that keeps other versions: the highest, in its source's order.
    const nextCurrent = new Map<string, number | null>()
    for (const n of names) {
      const all = db.activeNamed(n)
      const cur = all.find((p) => p.current === 1)
      if (cur && !victims.has(cur.id)) continue
      const left = all.filter((p) => !victims.has(p.id))
      let best: ProgramRow | null = null
      for (const p of left) {
        const cmp = await this.compare(p.source, p.version, best?.version)
        if (!best || cmp > 0) best = p
      }
      nextCurrent.set(n, best ? best.id : null)
    }
    const txn = newTransactionId()
    // Remove leaves the trees: it records a generation without them; nip gc deletes what no kept generation holds.
    const payload: JournalPayload = {
      names,
      dirs: [],
      links: names.flatMap((n) => db.linksOf(n).map((l) => ({ path: l.path, target: l.target }))),
      previousCurrent: Object.fromEntries(names.map((n) => [n, db.currentProgram(n)?.version ?? null])),
      previousActive: activeVersions(db, names),
    }
    const command = opts.command ?? `remove ${targets.join(' ')}`
    db.insertJournal({ id: txn, kind: 'remove', state: 'prepared', pid: process.pid, command, started_at: new Date().toISOString(), payload: JSON.stringify(payload) })
    crashPoint('remove:journal')
    db.transaction(() => {
      for (const v of victims.values()) {
        db.setActive(v.id, false)
        if (v.current === 1) db.setCurrentFlag(v.name, null)
      }
      for (const [n, id] of nextCurrent) this.makeCurrent(n, id, true)
      recordGeneration(db, { names, kind: opts.kind ?? 'remove', command, txn })
      db.setJournalState(txn, 'registered')
    })
    crashPoint('remove:registered')
    this.o.reporter.emit({ type: 'phase', phase: 'unlink', message: 'Unlinking and removing' })
    const r = await reconcile({ db, layout, cas: this.o.cas, txn, reporter: this.o.reporter }, payload)
    db.deleteJournal(txn)
    for (const v of removed) this.o.reporter.emit({ type: 'program', action: 'removed', name: v.name, version: v.version })
    appendLog(layout.cfs, layout.logDir, {
      time: new Date().toISOString(),
      transaction: txn,
      command,
      action: 'remove',
      outcome: 'ok',
      programs: removed.map((v) => ({ ...v, change: 'removed' })),
      durationMs: Date.now() - started,
    })
    return { dryRun: false, removed, links: { removed: r.linksRemoved }, transaction: txn }
  }

  // ---- switch ---------------------------------------------------------------------------

  async switch(name: string, version: string, command?: string): Promise<SwitchResult> {
    const started = Date.now()
    const { db, layout } = this.o
    const target = db.program(name, version)
    if (!target || target.active === 0) {
      const have = db.activeNamed(name).map((p) => p.version)
      const near = have.length ? null : graftedNameHint(db.programs().filter((p) => p.active === 1).map((p) => p.name), name, `Graft it first: nip install ${name}@${version}.`)
      throw new NipError('ERR_NIP_NOT_INSTALLED', `${name} ${version} is not grafted.`, {
        hint: have.length ? `Grafted versions of ${name}: ${have.join(', ')}.` : near!.hint,
        data: { name, version, installed: have, ...(near?.suggestions ? { suggestions: near.suggestions } : {}) },
      })
    }
    const from = db.currentProgram(target.name)
    if (from?.id === target.id) return { name: target.name, from: from.version, to: target.version, links: { added: 0, removed: 0 }, alreadyCurrent: true }
    const rows = desiredLinks(layout, { id: target.id, name: target.name }, db.files(target.id))
    const conflicts = findLinkConflicts({ layout, program: target.name, rows, ownerOf: (p) => db.link(p)?.program, index: db })
    if (conflicts.length) throw linkConflictError(conflicts)
    const txn = newTransactionId()
    const payload: JournalPayload = {
      names: [target.name],
      dirs: [],
      links: [...db.linksOf(target.name), ...rows].map((l) => ({ path: l.path, target: l.target })),
      previousCurrent: { [target.name]: from?.version ?? null },
    }
    const cmd = command ?? `switch ${name} ${version}`
    db.insertJournal({ id: txn, kind: 'switch', state: 'prepared', pid: process.pid, command: cmd, started_at: new Date().toISOString(), payload: JSON.stringify(payload) })
    crashPoint('switch:journal')
    db.transaction(() => {
      this.makeCurrent(target.name, target.id)
      recordGeneration(db, { names: [target.name], kind: 'switch', command: cmd, txn })
      db.setJournalState(txn, 'registered')
    })
    crashPoint('switch:registered')
    const r = await this.reconcileOrUndo(txn, payload)
    db.deleteJournal(txn)
    this.o.reporter.emit({ type: 'program', action: 'switched', name: target.name, version: target.version })
    appendLog(layout.cfs, layout.logDir, {
      time: new Date().toISOString(),
      transaction: txn,
      command: cmd,
      action: 'switch',
      outcome: 'ok',
      programs: [{ name: target.name, version: target.version, change: `switched from ${from?.version ?? 'none'}` }],
      durationMs: Date.now() - started,
    })
    return { name: target.name, from: from?.version ?? null, to: target.version, links: { added: r.linksAdded, removed: r.linksRemoved } }
  }

  // ---- rollback -------------------------------------------------------------------------

  /**
   * Return to generation `to` (default: the parent of the current one): register its set —
   * active and Current flags and link rows of every program that differs — as a new generation
   * whose parent is the restored one's parent (so rolling back again goes further back), then
   * reconcile. Current links and the farm change together, or recovery finishes or undoes them.
   */
  async rollback(opts: { to?: number; dryRun?: boolean; command?: string } = {}): Promise<RollbackResult> {
    const started = Date.now()
    const { db, layout } = this.o
    const cur = db.currentGeneration()
    if (!cur) {
      throw new NipError('ERR_NIP_NO_GENERATION', 'There is no generation to roll back from.', { hint: 'Graft something first; every change records a generation.' })
    }
    let targetId = opts.to
    if (targetId === undefined) {
      if (cur.parent === null || !db.generation(cur.parent)) {
        const why =
          cur.parent !== null
            ? `The parent of generation ${cur.id} (${cur.parent}) was deleted.`
            : cur.id === 0
              ? 'Nothing was grafted yet: generation 0 is the empty root.'
              : `Generation ${cur.id} restores the empty root; there is no earlier generation to roll back to.`
        throw new NipError('ERR_NIP_NO_GENERATION', why, {
          hint: 'nip generations lists the kept ones; nip rollback --to N returns to any of them.',
          data: { generation: cur.id, parent: cur.parent },
        })
      }
      targetId = cur.parent
    }
    const target = requireGeneration(db, targetId)
    const want = membersOf(db, target.id)
    const have = membersOf(db, cur.id)
    const changed = new Map<number, ProgramRow>()
    for (const id of new Set([...want.keys(), ...have.keys()])) {
      if ((want.get(id) ?? 'absent') === (have.get(id) ?? 'absent')) continue
      const p = db.programById(id)
      if (p) changed.set(id, p)
    }
    const names = [...new Set([...changed.values()].map((p) => p.name))]
    const preview = [...changed.values()].map((p) => ({ name: p.name, version: p.version, before: have.get(p.id) ?? 'absent', after: want.get(p.id) ?? 'absent' }))
    if (opts.dryRun || names.length === 0) return { dryRun: !!opts.dryRun, from: cur.id, to: target.id, changes: preview, links: { added: 0, removed: 0 } }
    if (!(await this.o.reporter.confirm({ id: 'rollback', message: `Roll back to generation ${target.id}?`, default: true, changes: preview }))) throw aborted()
    const txn = newTransactionId()
    const command = opts.command ?? `rollback --to ${target.id}`
    const payload: JournalPayload = {
      names,
      dirs: [],
      links: names.flatMap((n) => db.linksOf(n).map((l) => ({ path: l.path, target: l.target }))),
      previousCurrent: Object.fromEntries(names.map((n) => [n, db.currentProgram(n)?.version ?? null])),
      previousActive: activeVersions(db, names),
    }
    // The links the restored set implies may be stale on disk if a kill lands mid-way: list them too.
    for (const n of names) {
      for (const p of db.programsNamed(n)) {
        if (want.get(p.id) === 'current') payload.links.push(...desiredLinks(layout, { id: p.id, name: p.name }, db.files(p.id)).map((l) => ({ path: l.path, target: l.target })))
      }
    }
    db.insertJournal({ id: txn, kind: 'rollback', state: 'prepared', pid: process.pid, command, started_at: new Date().toISOString(), payload: JSON.stringify(payload) })
    crashPoint('rollback:journal')
    let gen = 0
    db.transaction(() => {
      // Release every changed program's links first, so a link moving between programs is free to take.
      // What they held (links, and the folded directories standing for them) is still on disk
      // until reconcile: it is theirs, not "taken by other programs".
      const released = new Set(names.flatMap((n) => db.linksOf(n).map((l) => l.path)))
      for (const n of names) db.replaceLinks(n, [])
      for (const n of names) {
        let currentId: number | null = null
        for (const p of db.programsNamed(n)) {
          const st = want.get(p.id)
          db.setActive(p.id, st !== undefined)
          if (st === 'current') currentId = p.id
        }
        this.makeCurrent(n, currentId, true, undefined, undefined, released)
      }
      gen = recordGeneration(db, { names, kind: 'rollback', command, txn, restores: target })
      db.setJournalState(txn, 'registered')
    })
    crashPoint('rollback:registered')
    const r = await this.reconcileOrUndo(txn, payload)
    db.deleteJournal(txn)
    const changes = (JSON.parse(db.generation(gen)?.changes ?? '[]') as RollbackResult['changes'])
    appendLog(layout.cfs, layout.logDir, {
      time: new Date().toISOString(),
      transaction: txn,
      command,
      action: 'rollback',
      outcome: 'ok',
      programs: changes.map((c) => ({ name: c.name, version: c.version, change: `${c.before} → ${c.after}` })),
      durationMs: Date.now() - started,
    })
    return { dryRun: false, from: cur.id, to: target.id, generation: gen, changes, links: { added: r.linksAdded, removed: r.linksRemoved }, transaction: txn }
  }

  /** A program the user names explicitly stops being "only a dependency" (autoremove leaves it). */
  private markExplicit(skipped: { name: string; version: string }[]): void {
    const { db } = this.o
    for (const s of skipped) {
      const p = db.program(s.name, s.version)
      if (p && p.explicit === 0) db.setExplicit(p.id, true)
    }
  }

  private async compare(source: AdapterId, a: string, b: string | undefined): Promise<number> {
    if (b === undefined) return 1
    try {
      return (await this.o.dispatcher.adapter(source)).compareVersions(a, b)
    } catch {
      return compareVersionsNatural(a, b)
    }
  }
}

function toTreeEntry(f: FileRow): TreeEntry {
  return { path: f.path, type: f.type, mode: f.mode, ...(f.blob ? { blob: f.blob } : {}), ...(f.size !== null ? { size: f.size } : {}), ...(f.target !== null ? { target: f.target } : {}), ...(f.settings ? { settings: true } : {}) }
}

/** For undo: which versions of each name are in the current generation now. */
function activeVersions(db: Database, names: string[]): Record<string, string[]> {
  return Object.fromEntries(names.map((n) => [n, db.activeNamed(n).map((p) => p.version)]))
}

function toFileRow(e: TreeEntry): FileRow {
  return { program_id: 0, path: e.path, type: e.type, mode: e.mode, blob: e.blob ?? null, size: e.size ?? null, target: e.target ?? null, settings: e.settings ? 1 : 0 }
}

/** Adapters map paths; core re-checks the result before anything touches the disk. */
function validateEntries(r: FetchResult, item: PlanItem): void {
  checkTreeShape(r.entries, item)
  for (const e of r.entries) {
    const bad =
      !isNormalRelative(e.path) ||
      e.path.includes('\0') ||
      (e.settings === true && e.path !== 'Settings' && !e.path.startsWith('Settings/')) ||
      (e.type === 'file' && !e.blob) ||
      (e.type === 'symlink' && (e.target === undefined || e.target.startsWith('/') || escapes(e.path, e.target)))
    if (bad) {
      throw new NipError('ERR_NIP_BAD_PACKAGE', `${item.adapter.id} returned an unsafe entry "${e.path}" for ${item.name} ${item.version}.`, {
        hint: 'This is a bug in the source adapter or a hostile package; nothing was grafted.',
        data: { entry: e, package: item.packageId },
      })
    }
  }
}

/**
 * The tree as a whole, for every source (after each adapter's path mapping, etc/ → Settings/
 * included): no path twice with different types, and nothing below a symlink or a file of the
 * same tree — placing it would go through that symlink (libarchive's SECURE_SYMLINKS rule).
 */
export function checkTreeShape(entries: readonly TreeEntry[], item?: { name: string; version: string; packageId: string; adapter: { id: string } }): void {
  const types = new Map<string, TreeEntry['type']>()
  const refuse = (code: 'ERR_NIP_UNSAFE_THROUGH_SYMLINK' | 'ERR_NIP_UNSAFE_DUPLICATE' | 'ERR_NIP_BAD_PACKAGE', p: string, why: string): never => {
    const what = item ? `${item.name} ${item.version} (${item.adapter.id})` : 'the tree'
    throw new NipError(code, `${what}: ${p} ${why}.`, {
      hint: 'The package is malformed or hostile; nothing was grafted.',
      data: { path: p, ...(item ? { package: item.packageId } : {}) },
    })
  }
  for (const e of entries) {
    const had = types.get(e.path)
    if (had !== undefined && had !== e.type) refuse('ERR_NIP_UNSAFE_DUPLICATE', e.path, `is both a ${had} and a ${e.type}`)
    types.set(e.path, e.type)
  }
  for (const e of entries) {
    for (let i = e.path.indexOf('/'); i > 0; i = e.path.indexOf('/', i + 1)) {
      const t = types.get(e.path.slice(0, i))
      if (t === undefined || t === 'dir') continue
      if (t === 'symlink') refuse('ERR_NIP_UNSAFE_THROUGH_SYMLINK', e.path, `lies below the symlink ${e.path.slice(0, i)} of the same tree`)
      refuse('ERR_NIP_BAD_PACKAGE', e.path, `lies below the file ${e.path.slice(0, i)} of the same tree`)
    }
  }
}

function escapes(entryPath: string, target: string): boolean {
  const stack = entryPath.split('/').slice(0, -1)
  const parts = target.split('/')
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]
    if (part === '' || part === '.') continue
    if (part === '..') {
      // One level above the version directory, only the program's own Settings may be reached
      // (Programs/<Name>/Settings: where a package's link into /etc points).
      if (stack.length === 0) return !reachesSettingsOnly(parts.slice(i + 1))
      stack.pop()
    } else stack.push(part)
  }
  return false
}

function reachesSettingsOnly(rest: string[]): boolean {
  const parts = rest.filter((p) => p !== '' && p !== '.')
  return parts[0] === 'Settings' && !parts.includes('..')
}

function linkConflictError(conflicts: LinkConflict[]): NipError {
  const lines = conflicts.slice(0, 20).map((c) =>
    c.kind === 'occupied'
      ? `  ${c.path}: occupied by a file nip does not own (wanted by ${c.wanted})`
      : `  ${c.path}: owned by ${c.owner} (wanted by ${c.wanted})`,
  )
  if (conflicts.length > 20) lines.push(`  … and ${conflicts.length - 20} more`)
  const occupied = conflicts.every((c) => c.kind === 'occupied')
  const owners = [...new Set(conflicts.filter((c) => c.owner).map((c) => c.owner))]
  return new NipError(occupied ? 'ERR_NIP_LINK_OCCUPIED' : 'ERR_NIP_LINK_CONFLICT', `Link conflict:\n${lines.join('\n')}`, {
    hint: occupied
      ? 'Move those files out of the link farm (nip owns reports who owns a path), then try again.'
      : `Remove or switch away from ${owners.join(', ')} first (nip remove ${owners[0]}), or graft without switching (--no-switch).`,
    data: { conflicts },
  })
}

export function freeSpace(dir: string): number {
  try {
    const s = fs.statfsSync(dir)
    return Number(s.bavail) * Number(s.bsize)
  } catch {
    return Number.MAX_SAFE_INTEGER
  }
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  let failed: unknown = null
  const worker = async () => {
    while (next < items.length && failed === null) {
      const k = next++
      try {
        out[k] = await fn(items[k], k)
      } catch (e) {
        failed ??= e
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
  if (failed !== null) throw failed
  return out
}

export type { LinkRow }

/** The user declined (or gave no answer): nothing was changed; the caller releases the lock. */
function aborted(): NipError {
  return new NipError('ERR_NIP_ABORTED', 'Nothing was changed.', { hint: 'Answer yes (or pass --yes) to go ahead.' })
}
