/**
 * verify: re-hash every file of a program against the DB and give it one of the integrity
 * states of the original nip:
 *
 *   VERIFIED  every file matches
 *   MODIFIED  only Settings files differ (the user edited them: expected, never "repaired")
 *   MISSING   a file, directory or symlink of the tree is gone (and nothing is tampered)
 *   TAMPERED  a program file's content or a symlink's target differs from the DB
 *
 * Program files are hardlinks of CAS blobs, so a changed file usually means a changed blob:
 * --repair re-imports a file from the CAS when the blob still matches its address, and
 * otherwise asks the program's source for it again (through the dispatcher: the adapter's fetch
 * re-adds the content, and the CAS replaces a damaged blob atomically), then re-imports it.
 * The result is stored on the program row (`nip list` shows it).
 */
import fs from 'node:fs'
import path from 'node:path'
import { Cas, hashFile } from '@nip/cas'
import type { IntegrityState, VerifiedProgram, VerifyOptions, VerifyProblem, VerifyResult } from './api.js'
import type { Database, FileRow, ProgramRow } from './db/database.js'
import type { Dispatcher } from './dispatcher.js'
import type { Layout } from './layout.js'
import type { Reporter } from './reporter.js'
import { NipError } from './errors.js'
import { lstatOrNull } from './linkFarm.js'

export interface VerifyContext {
  db: Database
  layout: Layout
  cas: Cas
  dispatcher: Dispatcher
  reporter: Reporter
}

export async function verifyPrograms(ctx: VerifyContext, names: string[], opts: VerifyOptions = {}): Promise<VerifyResult> {
  const { db } = ctx
  let rows: ProgramRow[]
  if (names.length === 0) rows = db.activePrograms()
  else {
    rows = []
    for (const n of names) {
      const found = db.activeNamed(n)
      if (found.length === 0) throw new NipError('ERR_NIP_NOT_INSTALLED', `${n} is not grafted.`, { hint: 'nip list shows what is grafted.', data: { name: n } })
      rows.push(...found)
    }
  }
  const out: VerifiedProgram[] = []
  for (const p of rows) {
    ctx.reporter.emit({ type: 'phase', phase: 'verify', message: `Verifying ${p.name} ${p.version}` })
    const files = db.files(p.id)
    const problems = await checkProgram(ctx, p, files)
    const state = stateOf(problems)
    const result: VerifiedProgram = { name: p.name, version: p.version, state, files: files.length, problems }
    if (opts.repair && (state === 'TAMPERED' || state === 'MISSING')) {
      await repairProgram(ctx, p, files, problems)
      const after = stateOf(await checkProgram(ctx, p, files))
      result.repairedState = after
      db.setVerifyState(p.id, after)
    } else db.setVerifyState(p.id, state)
    out.push(result)
  }
  return { programs: out, ok: out.every((r) => (r.repairedState ?? r.state) === 'VERIFIED' || (r.repairedState ?? r.state) === 'MODIFIED') }
}

function stateOf(problems: VerifyProblem[]): IntegrityState {
  const left = problems.filter((p) => !p.repaired)
  if (left.some((p) => p.problem === 'tampered' || p.problem === 'blob-damaged')) return 'TAMPERED'
  if (left.some((p) => p.problem === 'missing')) return 'MISSING'
  if (left.some((p) => p.problem === 'modified')) return 'MODIFIED'
  return 'VERIFIED'
}

async function checkProgram(ctx: VerifyContext, p: ProgramRow, files: FileRow[]): Promise<VerifyProblem[]> {
  const { layout } = ctx
  const vdir = layout.versionDir(p.name, p.version)
  const settingsDir = layout.programSettingsDir(p.name)
  const problems: VerifyProblem[] = []
  for (const f of files) {
    const settings = f.settings === 1
    if (settings && f.type === 'dir') continue
    const abs = settings ? path.join(settingsDir, f.path.slice('Settings/'.length)) : path.join(vdir, f.path)
    const rel = layout.rel(abs)
    const st = lstatOrNull(abs)
    if (!st) {
      problems.push({ path: rel, problem: 'missing' })
      continue
    }
    if (f.type === 'dir') {
      if (!st.isDirectory()) problems.push({ path: rel, problem: 'tampered' })
    } else if (f.type === 'symlink') {
      if (!st.isSymbolicLink() || fs.readlinkSync(abs) !== f.target) problems.push({ path: rel, problem: settings ? 'modified' : 'tampered' })
    } else if (!st.isFile() || !(await contentMatches(abs, f))) {
      problems.push({ path: rel, problem: settings ? 'modified' : 'tampered' })
    }
  }
  return problems
}

async function contentMatches(abs: string, f: FileRow): Promise<boolean> {
  if (!f.blob) return false
  const { digest } = Cas.parseKey(f.blob)
  try {
    return (await hashFile(abs)).digest === digest
  } catch {
    return false
  }
}

async function repairProgram(ctx: VerifyContext, p: ProgramRow, files: FileRow[], problems: VerifyProblem[]): Promise<void> {
  const { layout, cas } = ctx
  const vdir = layout.versionDir(p.name, p.version)
  const byPath = new Map(files.filter((f) => !f.settings).map((f) => [layout.rel(path.join(vdir, f.path)), f]))
  let refetched = false
  for (const prob of problems) {
    const f = byPath.get(prob.path)
    if (!f || prob.problem === 'modified') continue
    const abs = layout.abs(prob.path)
    if (f.type === 'file' && f.blob && !(await cas.verify(f.blob))) {
      // The blob itself is damaged (the program file is the same inode): fetch the content again.
      prob.problem = 'blob-damaged'
      if (!refetched) {
        await refetch(ctx, p)
        refetched = true
      }
      if (!(await cas.verify(f.blob))) continue
    }
    fs.mkdirSync(path.dirname(abs), { recursive: true })
    const st = lstatOrNull(abs)
    if (st && f.type !== 'dir') fs.rmSync(abs, { force: true })
    if (f.type === 'dir') fs.mkdirSync(abs, { recursive: true, mode: (f.mode & 0o777) | 0o700 })
    else if (f.type === 'symlink') fs.symlinkSync(f.target ?? '', abs)
    else if (f.blob) await cas.importTo(f.blob, abs)
    prob.repaired = true
  }
}

/** Ask the program's source for its package again: its fetch re-adds (and so repairs) the blobs. */
async function refetch(ctx: VerifyContext, p: ProgramRow): Promise<void> {
  ctx.reporter.emit({ type: 'phase', phase: 'fetch', message: `Fetching ${p.name} ${p.version} again from ${p.source} (a blob is damaged)` })
  try {
    const adapter = await ctx.dispatcher.adapter(p.source)
    await adapter.fetch({ source: p.source, name: p.name, version: p.version, id: p.package_id }, ctx.dispatcher.context(p.source))
  } catch (e) {
    ctx.reporter.emit({ type: 'warning', code: 'refetch-failed', message: `Cannot fetch ${p.name} ${p.version} again: ${(e as Error).message}` })
  }
}
