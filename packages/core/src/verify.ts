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
import { fileAbs } from './stateCheck.js'
import { dirMode, mapCasError } from './stage.js'
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
import { graftedNameHint } from './suggest.js'

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
      if (found.length === 0) {
        const { hint, suggestions } = graftedNameHint(db.programs().map((p) => p.name), n, 'nip list shows what is grafted.')
        throw new NipError('ERR_NIP_NOT_INSTALLED', `${n} is not grafted.`, { hint, data: { name: n, ...(suggestions ? { suggestions } : {}) } })
      }
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
  const byPath = new Map(files.filter((f) => !f.settings).map((f) => [layout.rel(fileAbs(vdir, f.path)), f]))
  let refetched = false
  // Parents before children: a directory replaced by a symlink is made a directory again before
  // anything below it is placed (through the confined layer, which never follows that symlink).
  const queue = [...problems].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  for (let i = 0; i < queue.length; i++) {
    const prob = queue[i]
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
    const { cfs } = layout
    try {
      cfs.mkdirp(path.dirname(abs))
      const st = lstatOrNull(abs)
      if (f.type === 'dir') {
        if (st && !st.isDirectory()) {
          cfs.rm(abs, { force: true })
          // What was checked below it was read through that symlink: every row under the new,
          // empty directory is placed again (reported as missing), parents first.
          const under = [...byPath.keys()].filter((k) => k.startsWith(`${prob.path}/`)).sort()
          const extra = under.map((k): VerifyProblem => ({ path: k, problem: 'missing' }))
          queue.splice(i + 1, 0, ...extra)
          for (const x of extra) if (!problems.some((q) => q.path === x.path)) problems.push(x)
        }
        cfs.mkdirp(abs)
        cfs.chmod(abs, dirMode(f.mode))
      } else {
        if (st) cfs.rm(abs, { force: true, recursive: st.isDirectory() })
        if (f.type === 'symlink') cfs.symlink(f.target ?? '', abs, false)
        else if (f.blob) await cas.importTo(f.blob, abs)
      }
    } catch (e) {
      throw mapCasError(e, 'repairing a program file', abs)
    }
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
