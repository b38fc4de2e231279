/**
 * State read back is validated before use (docs/security.md): every name, version and path in
 * a journal payload or a database row must be a safe component or a normal relative path inside
 * its own area. A bad row is refused (never followed) and reported by nip doctor, which can drop
 * it with --fix; nothing on disk is touched for it.
 */
import path from 'node:path'
import type { Database, JournalRow } from './db/database.js'
import { isSafeComponent, type Layout } from './layout.js'
import { isNormalRelative } from './archive/entryPath.js'
import { NipError } from './errors.js'
import type { JournalPayload } from './reconcile.js'

export interface StateProblem {
  kind: 'journal' | 'program' | 'link' | 'file'
  /** The row: journal id, program id, or link path. */
  id: string
  message: string
}

const TXN = /^[0-9a-z]+-[0-9a-f]+$/
/** A directory a transaction creates or retires: a version, its staging twin, or a retired tree. */
const TXN_DIR = /^\.(.+)\.tmp-[0-9a-z]+-[0-9a-f]+(\.old)?$/s

/** Why `payload` may not be acted on, or null when every entry is safe. */
export function payloadProblem(layout: Layout, payload: unknown): string | null {
  if (payload === null || typeof payload !== 'object') return 'the payload is not an object'
  const p = payload as Partial<JournalPayload>
  if (!Array.isArray(p.names) || !Array.isArray(p.dirs) || !Array.isArray(p.links)) return 'the payload lacks names, dirs or links'
  for (const n of [...p.names, ...(p.touched ?? [])]) if (typeof n !== 'string' || !isSafeComponent(n)) return `the program name ${JSON.stringify(n)} is not a safe path component`
  for (const d of p.dirs) {
    const why = dirProblem(layout, d)
    if (why !== null) return why
  }
  for (const l of p.links) {
    if (l === null || typeof l !== 'object' || typeof l.path !== 'string' || typeof l.target !== 'string') return 'a link entry is malformed'
    const why = linkProblem(layout, l.path)
    if (why !== null) return why
  }
  for (const [n, v] of Object.entries(p.previousCurrent ?? {})) {
    if (!isSafeComponent(n) || (v !== null && (typeof v !== 'string' || !isSafeComponent(v)))) return `the previous Current ${JSON.stringify(n)} ${JSON.stringify(v)} is not safe`
  }
  for (const [n, vs] of Object.entries(p.previousActive ?? {})) {
    if (!isSafeComponent(n) || !Array.isArray(vs) || vs.some((v) => typeof v !== 'string' || !isSafeComponent(v))) return `the previous versions of ${JSON.stringify(n)} are not safe`
  }
  return null
}

function dirProblem(layout: Layout, d: unknown): string | null {
  if (typeof d !== 'string' || !isNormalRelative(d)) return `the directory ${JSON.stringify(d)} is not a normal relative path`
  const programs = layout.rel(layout.programsDir)
  if (!d.startsWith(`${programs}/`)) return `the directory ${d} lies outside the programs directory`
  const parts = d.slice(programs.length + 1).split('/')
  if (parts.length !== 2 || !isSafeComponent(parts[0])) return `the directory ${d} is not a program version directory`
  const m = TXN_DIR.exec(parts[1])
  if (!isSafeComponent(parts[1]) && !(m !== null && isSafeComponent(m[1]))) return `the directory ${d} is not a program version directory`
  return null
}

function linkProblem(layout: Layout, p: string): string | null {
  if (!isNormalRelative(p)) return `the link ${JSON.stringify(p)} is not a normal relative path`
  const abs = layout.abs(p)
  if (!abs.startsWith(`${layout.linksDir}/`) && !abs.startsWith(`${layout.settingsDir}/`)) return `the link ${p} lies outside the link farm`
  return null
}

/** Refuses a journal row whose payload is unsafe (ERR_NIP_STATE_INVALID); returns the parsed payload. */
export function checkedPayload(layout: Layout, row: JournalRow): JournalPayload {
  let payload: unknown
  try {
    payload = JSON.parse(row.payload)
  } catch {
    payload = null
  }
  const why = TXN.test(row.id) ? payloadProblem(layout, payload) : `the transaction id ${JSON.stringify(row.id)} is malformed`
  if (why !== null) {
    throw new NipError('ERR_NIP_STATE_INVALID', `The interrupted transaction ${row.id} (${row.command}) cannot be recovered safely: ${why}.`, {
      hint: 'The journal was tampered with or restored from a bad backup. nip doctor --fix drops the row without acting on it.',
      data: { transaction: row.id, problem: why },
    })
  }
  return payload as JournalPayload
}

/** Every unsafe row of the database and the journal (doctor). */
export function stateProblems(db: Database, layout: Layout): StateProblem[] {
  const out: StateProblem[] = []
  for (const j of db.journal()) {
    try {
      checkedPayload(layout, j)
    } catch (e) {
      out.push({ kind: 'journal', id: j.id, message: (e as Error).message })
    }
  }
  for (const p of db.programs()) {
    if (!isSafeComponent(p.name) || !isSafeComponent(p.version)) {
      out.push({ kind: 'program', id: String(p.id), message: `The program row ${JSON.stringify(p.name)} ${JSON.stringify(p.version)} does not name a safe directory.` })
      continue
    }
    for (const f of db.files(p.id)) {
      if (!isNormalRelative(f.path) || (f.type === 'symlink' && (f.target ?? '').startsWith('/'))) {
        out.push({ kind: 'file', id: String(p.id), message: `${p.name} ${p.version}: the file row ${JSON.stringify(f.path)} is not a normal path inside its tree.` })
        break
      }
    }
  }
  for (const l of db.links()) {
    const why = linkProblem(layout, l.path) ?? (isSafeComponent(l.program) ? null : `its program name ${JSON.stringify(l.program)} is not safe`)
    if (why !== null) out.push({ kind: 'link', id: l.path, message: `The link row ${JSON.stringify(l.path)}: ${why}.` })
  }
  return out
}

/** doctor --fix: drop the unsafe rows (never acting on what they name). */
export function dropUnsafeRows(db: Database, problems: readonly StateProblem[]): void {
  db.transaction(() => {
    for (const p of problems) {
      if (p.kind === 'journal') db.deleteJournal(p.id)
      else if (p.kind === 'link') db.deleteLinkRow(p.id)
      else db.deleteProgram(Number(p.id))
    }
  })
}

/** A root-relative path from a file row, inside the version directory `vdir`. */
export function fileAbs(vdir: string, rel: string): string {
  if (!isNormalRelative(rel)) {
    throw new NipError('ERR_NIP_STATE_INVALID', `The file row "${rel}" is not a normal path inside ${path.basename(vdir)}; nip will not act on it.`, {
      hint: 'The database holds a bad row. nip doctor reports it (and --fix drops the program row).',
      data: { path: rel },
    })
  }
  return `${vdir}/${rel}`
}
