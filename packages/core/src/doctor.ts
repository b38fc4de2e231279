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
import type { Layout } from './layout.js'
import type { Engine } from './transaction.js'
import { lstatOrNull, pruneEmptyDirs } from './linkFarm.js'
import { reconcile } from './reconcile.js'

export async function runDoctor(opts: { db: Database | null; layout: Layout; fix: boolean; engine?: Engine; cas?: Cas }): Promise<DoctorReport> {
  const { db, layout, fix } = opts
  const findings: DoctorFinding[] = []
  if (!db) return { healthy: true, findings: [{ check: 'db-drift', severity: 'ok', message: 'No programs grafted yet.', fixable: false }] }

  // interrupted transactions (a writer recovers them before doctor --fix gets here)
  const journal = db.journal()
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
    const vdir = layout.versionDir(p.name, p.version)
    if (!lstatOrNull(vdir)) {
      drift.push(layout.rel(vdir))
      driftNames.add(p.name)
      continue
    }
    for (const f of db.files(p.id)) {
      if (f.settings) continue
      const abs = path.join(vdir, f.path)
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
  const owned = new Set<string>()
  for (const l of db.links()) {
    owned.add(l.path)
    const abs = layout.abs(l.path)
    const st = lstatOrNull(abs)
    let ok = false
    if (st?.isSymbolicLink() && fs.readlinkSync(abs) === l.target) ok = fs.existsSync(abs)
    if (!ok) {
      broken.push(l.path)
      driftNames.add(l.program)
    }
  }

  // links nobody owns
  const unowned: string[] = []
  const danglingOurs: string[] = []
  const programsPrefix = layout.programsDir + path.sep
  for (const top of [layout.linksDir, layout.settingsDir]) {
    walkLinks(top, (abs) => {
      const rel = layout.rel(abs)
      if (owned.has(rel)) return
      unowned.push(rel)
      const resolved = path.resolve(path.dirname(abs), fs.readlinkSync(abs))
      if (!fs.existsSync(abs) && resolved.startsWith(programsPrefix)) danglingOurs.push(abs)
    })
  }

  const drift2 = db.refcountDrift()

  if (fix) {
    if (missingFiles.length && opts.cas) {
      for (const m of missingFiles) {
        fs.mkdirSync(path.dirname(m.dest), { recursive: true })
        if (await opts.cas.has(m.blob)) await opts.cas.importTo(m.blob, m.dest)
      }
    }
    if (driftNames.size && opts.cas) {
      await reconcile({ db, layout, cas: opts.cas, txn: `doctor-${process.pid}` }, { names: [...driftNames], dirs: [], links: [], previousCurrent: {} })
    }
    for (const abs of danglingOurs) fs.rmSync(abs, { force: true })
    pruneEmptyDirs(layout, danglingOurs.map((a) => path.dirname(a)))
    if (drift2.length) db.transaction(() => db.recountBlobs())
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
  const healthy = findings.every((f) => f.severity === 'ok' || f.fixed === true)
  return { healthy, findings }
}

function walkLinks(dir: string, onLink: (abs: string) => void): void {
  let entries: fs.Dirent[]
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true })
  } catch {
    return
  }
  for (const e of entries) {
    const abs = path.join(dir, e.name)
    if (e.isSymbolicLink()) onLink(abs)
    else if (e.isDirectory()) walkLinks(abs, onLink)
  }
}
