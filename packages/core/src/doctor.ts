/**
 * nip doctor: checks that the filesystem, the link farm and the database agree, and repairs
 * what it safely can with --fix. It never deletes something it cannot prove is nip's: an
 * unowned link is removed only when it is dangling and points into the programs directory.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Cas } from '@nip/cas'
import type { DoctorFinding, DoctorReport } from './api.js'
import type { Database } from './db/database.js'
import { LINK_DIRS, type Layout } from './layout.js'
import type { Engine } from './transaction.js'
import { lstatOrNull, pruneEmptyDirs } from './linkFarm.js'
import { EXPAND_SUFFIX, foldBaseOf, foldBases, foldFor, isOurFoldTarget } from './linkFold.js'
import { emptyTrash, reconcile } from './reconcile.js'
import { dropUnsafeRows, fileAbs, stateProblems } from './stateCheck.js'

/** Blobs re-hashed by a default run (a random sample); --full re-hashes every referenced blob. */
const BLOB_SAMPLE = 64

export async function runDoctor(opts: {
  db: Database | null
  layout: Layout
  fix: boolean
  engine?: Engine
  cas?: Cas
  full?: boolean
  /** --fix: re-hash program files and repair tampered or missing ones (verify.ts). */
  repairFiles?: () => Promise<DoctorFinding>
}): Promise<DoctorReport> {
  const { db, layout, fix } = opts
  const findings: DoctorFinding[] = []
  if (!db) return { healthy: true, findings: [{ check: 'db-drift', severity: 'ok', message: 'No programs grafted yet.', fixable: false }, unsafePathsFinding(layout, fix)] }

  // Rows that name unsafe paths are reported and never acted on (--fix drops them first).
  const problems = stateProblems(db, layout)
  if (fix && problems.length > 0) dropUnsafeRows(db, problems)
  const badPrograms = new Set(fix ? [] : problems.filter((p) => p.kind === 'program' || p.kind === 'file').map((p) => Number(p.id)))
  const badLinks = new Set(fix ? [] : problems.filter((p) => p.kind === 'link').map((p) => p.id))
  const badJournal = new Set(fix ? [] : problems.filter((p) => p.kind === 'journal').map((p) => p.id))
  findings.push(
    problems.length
      ? { check: 'unsafe-state', severity: 'error', message: `${problems.length} database or journal row(s) name unsafe paths; nip refuses to act on them${fix ? ' (dropped)' : ' (--fix drops them without touching what they name)'}.`, paths: problems.slice(0, 100).map((p) => p.message), fixable: true, ...(fix ? { fixed: true } : {}) }
      : { check: 'unsafe-state', severity: 'ok', message: 'Every database and journal row names a safe path.', fixable: false },
  )
  findings.push(unsafePathsFinding(layout, fix))

  // interrupted transactions (a writer recovers them before doctor --fix gets here)
  const journal = db.journal().filter((j) => !badJournal.has(j.id))
  findings.push(
    journal.length
      ? { check: 'interrupted-transaction', severity: 'error', message: `${journal.length} interrupted transaction(s): ${journal.map((j) => `${j.kind} ${j.id} (${j.state})`).join(', ')}.`, fixable: true }
      : { check: 'interrupted-transaction', severity: 'ok', message: 'No interrupted transaction.', fixable: false },
  )

  // DB vs filesystem
  const drift: string[] = []
  const driftNames = new Set<string>()
  const missingFiles: { dest: string; blob: string; mode: number }[] = []
  for (const p of db.programs()) {
    if (badPrograms.has(p.id)) continue
    const vdir = layout.versionDir(p.name, p.version)
    if (!lstatOrNull(vdir)) {
      drift.push(layout.rel(vdir))
      driftNames.add(p.name)
      continue
    }
    for (const f of db.files(p.id)) {
      if (f.settings) continue
      const abs = fileAbs(vdir, f.path)
      const st = lstatOrNull(abs)
      const ok = st && (f.type === 'dir' ? st.isDirectory() : f.type === 'symlink' ? st.isSymbolicLink() : st.isFile() && st.size === (f.size ?? st.size))
      if (!ok) {
        drift.push(layout.rel(abs))
        if (!st && f.type === 'file' && f.blob) missingFiles.push({ dest: abs, blob: f.blob, mode: f.mode })
        driftNames.add(p.name)
      }
    }
    if (p.current === 1) {
      const cur = layout.currentLink(p.name)
      const st = lstatOrNull(cur)
      if (!st?.isSymbolicLink() || fs.readlinkSync(cur) !== p.version) {
        drift.push(layout.rel(cur))
        driftNames.add(p.name)
      }
    }
  }

  // links the DB owns
  const broken: string[] = []
  const programDangling: string[] = []
  const owned = new Set<string>()
  // A row under a folded directory is right when the fold is the one its row implies (linkFold.ts).
  const bases = foldBases(layout)
  const foldAt = new Map<string, string | null>()
  const foldTargetOf = (dir: string): string | null => {
    let t = foldAt.get(dir)
    if (t === undefined) {
      const abs = layout.abs(dir)
      t = lstatOrNull(abs)?.isSymbolicLink() ? fs.readlinkSync(abs) : null
      foldAt.set(dir, t)
    }
    return t
  }
  for (const l of db.links()) {
    owned.add(l.path)
    if (badLinks.has(l.path)) continue
    const abs = layout.abs(l.path)
    let ok = false
    let fold: string | undefined
    const base = foldBaseOf(bases, l.path)
    if (base !== undefined) {
      for (let i = l.path.indexOf('/', base.length + 1); i > 0; i = l.path.indexOf('/', i + 1)) {
        if (foldTargetOf(l.path.slice(0, i)) !== null) {
          fold = l.path.slice(0, i)
          break
        }
      }
    }
    let linkRight = false
    if (fold !== undefined) {
      linkRight = foldFor(fold, l)?.target === foldTargetOf(fold)
      if (linkRight) owned.add(fold)
    } else {
      const st = lstatOrNull(abs)
      linkRight = st?.isSymbolicLink() === true && fs.readlinkSync(abs) === l.target
    }
    ok = linkRight && fs.existsSync(abs)
    if (!ok && linkRight) {
      // The farm link is the one its row says; what dangles is the program's own symlink
      // (a link into a package no grafted program provides: crossLinks.ts). Not farm breakage.
      const own = ownDanglingLink(layout, l)
      if (own !== null) {
        programDangling.push(own)
        continue
      }
    }
    if (!ok) {
      broken.push(l.path)
      driftNames.add(l.program)
    }
  }

  // links nobody owns
  const unowned: string[] = []
  const danglingOurs: string[] = []
  const programsPrefix = layout.programsDir + path.sep
  const expandLeftovers: string[] = []
  for (const top of [layout.linksDir, layout.settingsDir]) {
    walkLinks(
      top,
      (abs) => {
        const rel = layout.rel(abs)
        if (owned.has(rel)) return
        unowned.push(rel)
        const target = fs.readlinkSync(abs)
        const resolved = path.resolve(path.dirname(abs), target)
        // Dangling into the programs directory, or a fold no row stands under any more: nip's.
        const staleFold = foldBaseOf(bases, rel) !== undefined && isOurFoldTarget(layout, abs, target) && db.linkUnder(rel) === undefined
        if ((!fs.existsSync(abs) && resolved.startsWith(programsPrefix)) || staleFold) danglingOurs.push(abs)
      },
      (abs) => {
        unowned.push(layout.rel(abs))
        danglingOurs.push(abs)
        expandLeftovers.push(abs)
      },
    )
  }

  const drift2 = db.refcountDrift()

  // store lifecycle: blob contents, program reference counts, generations, trash
  const badBlobs: string[] = []
  let hashed = 0
  if (opts.cas) {
    for (const b of opts.full ? db.referencedBlobs() : db.sampleBlobs(BLOB_SAMPLE)) {
      hashed++
      if (!(await opts.cas.verify(b.key))) badBlobs.push(b.key)
    }
  }
  const refDrift = db.programRefDrift()
  const deadSpans = db.deadSpans()
  const activeDrift = db.activeDrift()
  const missingMembers = db
    .programs()
    .filter((p) => !badPrograms.has(p.id) && p.refs > 0 && !lstatOrNull(layout.versionDir(p.name, p.version)))
    .map((p) => layout.rel(layout.versionDir(p.name, p.version)))
  let trash: string[] = []
  try {
    trash = fs.readdirSync(layout.trashDir)
  } catch {
    /* no trash directory */
  }

  if (fix) {
    if (missingFiles.length && opts.cas) {
      for (const m of missingFiles) {
        layout.cfs.mkdirp(path.dirname(m.dest))
        if (await opts.cas.has(m.blob)) await opts.cas.importTo(m.blob, m.dest)
      }
    }
    // Tampered or missing program files: re-placed as `nip verify --repair` does (the same code).
    if (opts.repairFiles) findings.push(await opts.repairFiles())
    if (driftNames.size && opts.cas) {
      await reconcile({ db, layout, cas: opts.cas, txn: `doctor-${process.pid}` }, { names: [...driftNames], dirs: [], links: [], previousCurrent: {} })
    }
    for (const abs of danglingOurs) layout.cfs.rm(abs, { force: true, recursive: expandLeftovers.includes(abs) })
    pruneEmptyDirs(layout, danglingOurs.map((a) => path.dirname(a)))
    if (drift2.length) db.transaction(() => db.recountBlobs())
    if (refDrift.length || deadSpans || activeDrift.length) {
      db.transaction(() => {
        db.recountProgramRefs()
        db.fixActiveFlags()
      })
    }
    if (trash.length) emptyTrash(layout)
  }

  const finding = (check: DoctorFinding['check'], bad: string[], okMsg: string, badMsg: string, fixable: boolean, fixed: boolean): DoctorFinding =>
    bad.length
      ? { check, severity: 'error', message: badMsg, paths: bad.slice(0, 100), fixable, ...(fix ? { fixed } : {}) }
      : { check, severity: 'ok', message: okMsg, fixable: false }

  findings.push(finding('db-drift', drift, 'Every grafted program has its full tree and Current link.', `${drift.length} path(s) differ from the database.`, true, fix && !!opts.cas))
  findings.push(finding('broken-links', broken, 'Every link nip owns resolves.', `${broken.length} link(s) nip owns are missing or broken.`, true, fix && !!opts.cas))
  const un = finding('unowned-links', unowned, 'No link in the farm is unowned.', `${unowned.length} link(s) in the farm are not owned by any program (${danglingOurs.length} dangling into the programs directory).`, danglingOurs.length > 0, fix && danglingOurs.length === unowned.length)
  if (unowned.length && danglingOurs.length < unowned.length) un.severity = 'warning'
  findings.push(un)
  findings.push(
    drift2.length
      ? { check: 'cas-refcounts', severity: 'error', message: `${drift2.length} blob reference count(s) differ from the files table.`, paths: drift2.slice(0, 100).map((d) => `${d.key}: stored ${d.stored}, actual ${d.actual}`), fixable: true, ...(fix ? { fixed: true } : {}) }
      : { check: 'cas-refcounts', severity: 'ok', message: 'Blob reference counts match the files table.', fixable: false },
  )
  findings.push(
    badBlobs.length
      ? { check: 'blob-hash', severity: 'error', message: `${badBlobs.length} of ${hashed} blob(s) re-hashed do not match their address; nip verify --repair refetches them.`, paths: badBlobs.slice(0, 100), fixable: false }
      : { check: 'blob-hash', severity: 'ok', message: opts.cas ? `${hashed} blob(s) re-hashed${opts.full ? ' (all)' : ' (a sample; --full re-hashes all)'}: all match.` : 'Blob contents not checked.', fixable: false },
  )
  findings.push(
    refDrift.length || deadSpans
      ? { check: 'program-refcounts', severity: 'error', message: `${refDrift.length} program reference count(s) differ from the generations and pins; ${deadSpans} dead generation span(s).`, paths: refDrift.slice(0, 100).map((d) => `${d.name} ${d.version}: stored ${d.stored}, actual ${d.actual}`), fixable: true, ...(fix ? { fixed: true } : {}) }
      : { check: 'program-refcounts', severity: 'ok', message: 'Program reference counts match the generations and pins.', fixable: false },
  )
  const genBad = [...activeDrift.map((d) => `${d.name} ${d.version}: active ${d.active} but ${d.active ? 'not in' : 'in'} the current generation`), ...missingMembers.map((m) => `${m}: kept by a generation or pin, but its tree is missing`)]
  findings.push(
    genBad.length
      ? { check: 'generations', severity: 'error', message: `${genBad.length} generation problem(s).`, paths: genBad.slice(0, 100), fixable: true, ...(fix ? { fixed: !!opts.cas } : {}) }
      : { check: 'generations', severity: 'ok', message: 'Every generation names programs that exist with their trees.', fixable: false },
  )
  findings.push(
    trash.length
      ? { check: 'trash', severity: 'warning', message: `${trash.length} item(s) left in the trash by an interrupted deletion.`, paths: trash.slice(0, 100).map((t) => layout.rel(path.join(layout.trashDir, t))), fixable: true, ...(fix ? { fixed: true } : {}) }
      : { check: 'trash', severity: 'ok', message: 'The trash is empty.', fixable: false },
  )
  findings.push(
    programDangling.length
      ? { check: 'program-links', severity: 'warning', message: `${programDangling.length} link(s) that programs ship point to files no grafted program provides (each is that program's own dangling link, not farm breakage; grafting the program that ships the target resolves it).`, paths: programDangling.slice(0, 100), fixable: false }
      : { check: 'program-links', severity: 'ok', message: 'Every link that programs ship and the farm exposes resolves.', fixable: false },
  )
  if (fix) await recheck(opts, findings)
  return { healthy: isHealthy(findings), findings }
}

/** A program's own dangling links are reported, not held against the root: they are the package's. */
export function isHealthy(findings: readonly DoctorFinding[]): boolean {
  return findings.every((f) => f.severity === 'ok' || f.fixed === true || f.check === 'program-links')
}

/**
 * What --fix claims is checked again with a second, read-only run: a finding it marked fixed that
 * the second run still reports is marked not fixed, with what is still there.
 */
async function recheck(opts: { db: Database | null; layout: Layout }, findings: DoctorFinding[]): Promise<void> {
  const again = await runDoctor({ db: opts.db, layout: opts.layout, fix: false })
  for (const f of findings) {
    if (f.fixed !== true) continue
    const now = again.findings.find((g) => g.check === f.check)
    if (now === undefined || now.severity === 'ok') continue
    f.fixed = false
    f.message = `${f.message} Still there after --fix: ${now.message}`
    if (now.paths) f.paths = now.paths
  }
}

/** The program-side symlink behind a farm link, when it is a symlink that dangles (`path -> target`), else null. */
function ownDanglingLink(layout: Layout, l: { program: string; entry: string }): string | null {
  const abs = l.entry.startsWith('Settings/') ? path.join(layout.programSettingsDir(l.program), l.entry.slice('Settings/'.length)) : path.join(layout.currentLink(l.program), l.entry)
  const st = lstatOrNull(abs)
  if (!st?.isSymbolicLink() || fs.existsSync(abs)) return null
  return `${layout.rel(abs)} -> ${fs.readlinkSync(abs)}`
}

/** Every symlink under `dir`, not following any; the half-made twin of an interrupted fold expansion goes to `onLeftover`. */
function walkLinks(dir: string, onLink: (abs: string) => void, onLeftover: (abs: string) => void): void {
  let entries: fs.Dirent[]
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true })
  } catch {
    return
  }
  for (const e of entries) {
    const abs = path.join(dir, e.name)
    if (e.isSymbolicLink()) onLink(abs)
    else if (e.isDirectory() && e.name.endsWith(EXPAND_SUFFIX)) onLeftover(abs)
    else if (e.isDirectory()) walkLinks(abs, onLink, onLeftover)
  }
}

/**
 * Every directory nip's layout has, and every program directory: a symlink or a non-directory
 * there (planted, or left by a tampered backup) is reported; nip refuses to write through it.
 * Not fixable by nip: what such a link points to is not nip's to judge; the user moves it away.
 */
function unsafePathsFinding(layout: Layout, fix: boolean): DoctorFinding {
  const bad: string[] = []
  const look = (abs: string, want: 'dir' | 'file'): void => {
    // Each component from the root down: the first that is not a real directory is the culprit.
    let at = layout.root
    const rest = abs === layout.root ? [] : abs.slice(layout.root === '/' ? 1 : layout.root.length + 1).split('/')
    for (const [i, part] of rest.entries()) {
      at = at === '/' ? `/${part}` : `${at}/${part}`
      const st = fs.lstatSync(at, { throwIfNoEntry: false })
      if (st === undefined) return
      const last = i === rest.length - 1
      if (last && want === 'file' ? st.isFile() : st.isDirectory()) continue
      const rel = layout.rel(at)
      if (!bad.some((b) => b.startsWith(`${rel} `))) bad.push(`${rel} (${st.isSymbolicLink() ? `a symlink to ${fs.readlinkSync(at)}` : 'not a directory'})`)
      return
    }
  }
  for (const d of [layout.programsDir, layout.linksDir, layout.settingsDir, layout.stateDir, layout.casDir, layout.cacheDir, layout.logDir, layout.trashDir, layout.tmpDir, path.dirname(layout.dbPath)]) look(d, 'dir')
  for (const d of Object.keys(LINK_DIRS)) look(path.join(layout.linksDir, d), 'dir')
  for (const f of [layout.lockPath, layout.reservePath, layout.dbPath, `${layout.dbPath}-wal`, `${layout.dbPath}-shm`]) look(f, 'file')
  let names: string[] = []
  try {
    names = fs.readdirSync(layout.programsDir)
  } catch {
    /* none */
  }
  for (const n of names) {
    if (n.startsWith('.')) continue
    look(path.join(layout.programsDir, n), 'dir')
    look(path.join(layout.programsDir, n, 'Settings'), 'dir')
  }
  void fix
  return bad.length
    ? { check: 'unsafe-paths', severity: 'error', message: `${bad.length} path(s) inside the root are symlinks or files where nip needs real directories (or its own files); nip refuses to write through them. Move them away.`, paths: bad.slice(0, 100), fixable: false }
    : { check: 'unsafe-paths', severity: 'ok', message: 'Every directory and state file of the layout is nip\'s own (no planted symlink).', fixable: false }
}
