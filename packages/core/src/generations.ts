/**
 * Generations: every committed transaction that changes the grafted set records one — which
 * program versions are in it and which of them is Current (the link farm follows from that),
 * its parent (the generation it was made from) and what changed.
 *
 * Contracts:
 * - A generation row is written inside the register step's SQLite transaction, so it exists
 *   iff that transaction committed; undo (reconcileOrUndo) removes it again.
 * - Membership is stored as spans (see migration 2): a transaction opens and closes spans only
 *   for the programs it changes, so recording costs O(changes), not O(store).
 * - programs.refs counts live spans (plus a pin). Deleting generations releases only the spans
 *   lying wholly between two kept generations, so GC's candidates are kept incrementally and
 *   gc selects them with `WHERE refs = 0` through an index.
 * - The current generation (the newest) is never deleted, nor generation 0: the empty root,
 *   written by migration 3 when the database is created. It holds nothing (every span starts
 *   at 1 or later) and is the parent of the first graft, so even that can be rolled back.
 */
import type { Database, GenerationRow, ProgramRow } from './db/database.js'
import type { GenerationChange, GenerationSummary, GenerationDiff, MemberState } from './api.js'
import { NipError } from './errors.js'
import { crashPoint } from './crash.js'

export interface RecordOptions {
  /** Program names the transaction touched; only their versions are compared with their spans. */
  names: string[]
  kind: string
  command: string
  txn: string
  /** For a rollback: the generation whose set is restored (its parent becomes the new parent). */
  restores?: GenerationRow
}

function stateOf(p: Pick<ProgramRow, 'active' | 'current'>): MemberState {
  return p.active !== 1 ? 'absent' : p.current === 1 ? 'current' : 'grafted'
}

/** Inside the register transaction: record the new generation for what changed among `names`. */
export function recordGeneration(db: Database, o: RecordOptions): number {
  const cur = db.currentGeneration()
  const id = (cur?.id ?? 0) + 1
  const changes: GenerationChange[] = []
  for (const name of o.names) {
    for (const p of db.programsNamed(name)) {
      const open = db.openSpan(p.id)
      const before: MemberState = open ? (open.current === 1 ? 'current' : 'grafted') : 'absent'
      const after = stateOf(p)
      if (before === after) continue
      if (open) db.endSpan(p.id, id)
      if (after !== 'absent') db.startSpan(p.id, after === 'current', id)
      changes.push({ name: p.name, version: p.version, before, after })
    }
  }
  db.insertGeneration({
    id,
    parent: o.restores ? o.restores.parent : (cur?.id ?? null),
    created_at: new Date().toISOString(),
    command: o.command,
    kind: o.kind,
    txn: o.txn,
    restores: o.restores?.id ?? null,
    changes: JSON.stringify(changes),
  })
  return id
}

export function summarizeGeneration(g: GenerationRow, currentId: number | undefined): GenerationSummary {
  return {
    id: g.id,
    parent: g.parent,
    createdAt: g.created_at,
    command: g.command,
    kind: g.kind,
    current: g.id === currentId,
    ...(g.restores !== null ? { restores: g.restores } : {}),
    changes: JSON.parse(g.changes) as GenerationChange[],
  }
}

export function listGenerations(db: Database | null): GenerationSummary[] {
  if (!db) return []
  const cur = db.currentGeneration()?.id
  return db.generations().map((g) => summarizeGeneration(g, cur))
}

export function requireGeneration(db: Database | null, id: number): GenerationRow {
  const g = db?.generation(id)
  if (!g) {
    const kept = db?.generations().map((x) => x.id) ?? []
    throw new NipError('ERR_NIP_NO_GENERATION', `Generation ${id} does not exist (or was deleted).`, {
      hint: kept.length ? `Kept generations: ${kept.join(', ')} (nip generations lists them).` : 'No generation is recorded yet: graft something first.',
      data: { generation: id, kept },
    })
  }
  return g
}

/** The program versions of generation `id`, keyed by program id, with their state there. */
export function membersOf(db: Database, id: number): Map<number, MemberState> {
  return new Map(db.members(id).map((m) => [m.program_id, m.current === 1 ? 'current' : 'grafted'] as const))
}

export function diffGenerations(db: Database | null, a: number, b: number): GenerationDiff {
  requireGeneration(db, a)
  requireGeneration(db, b)
  const d = db as Database
  const ma = membersOf(d, a)
  const mb = membersOf(d, b)
  const changes: GenerationChange[] = []
  for (const id of new Set([...ma.keys(), ...mb.keys()])) {
    const before = ma.get(id) ?? 'absent'
    const after = mb.get(id) ?? 'absent'
    if (before === after) continue
    const p = d.programById(id)
    if (p) changes.push({ name: p.name, version: p.version, before, after })
  }
  changes.sort((x, y) => x.name.localeCompare(y.name) || x.version.localeCompare(y.version))
  return { from: a, to: b, changes }
}

/** Generation 0: the empty root. It holds nothing and always stays. */
export const EMPTY_GENERATION = 0

export interface DeleteSelection {
  ids?: number[]
  /** Keep the newest N generations (the current one always stays; generation 0 is not counted). */
  keep?: number
  /** Delete generations created before this instant. */
  olderThan?: Date
}

/**
 * Delete generations (never the current one) and release the spans no kept generation needs,
 * in one SQLite transaction. Nothing on disk changes: trees go when gc finds them unreferenced.
 */
export function deleteGenerations(db: Database, sel: DeleteSelection): { deleted: number[]; released: number } {
  const all = db.generations()
  const current = all[all.length - 1]
  if (!current) return { deleted: [], released: 0 }
  const doomed = new Set<number>()
  for (const id of sel.ids ?? []) {
    requireGeneration(db, id)
    if (id === EMPTY_GENERATION) {
      throw new NipError('ERR_NIP_USAGE', 'Generation 0 is the empty root and cannot be deleted.', {
        hint: 'It holds nothing, so keeping it costs nothing; nip rollback --to 0 returns to it.',
        data: { generation: id },
      })
    }
    if (id === current.id) {
      throw new NipError('ERR_NIP_USAGE', `Generation ${id} is the current generation and cannot be deleted.`, {
        hint: 'Roll back or make a new generation first; the current one always stays.',
        data: { generation: id },
      })
    }
    doomed.add(id)
  }
  const grafts = all.filter((g) => g.id !== EMPTY_GENERATION)
  if (sel.keep !== undefined) for (const g of grafts.slice(0, Math.max(0, grafts.length - Math.max(1, sel.keep)))) doomed.add(g.id)
  if (sel.olderThan) for (const g of grafts) if (Date.parse(g.created_at) < sel.olderThan.getTime()) doomed.add(g.id)
  doomed.delete(current.id)
  if (doomed.size === 0) return { deleted: [], released: 0 }
  crashPoint('generations-delete:selected')
  let released = 0
  db.transaction(() => {
    for (const id of doomed) db.deleteGenerationRow(id)
    // Gaps between consecutive kept generations that now contain deleted ones. Generation 0
    // is always kept and no span starts there, so it is the lower bound of the first gap.
    const kept = all.filter((g) => !doomed.has(g.id)).map((g) => g.id)
    let lo = EMPTY_GENERATION
    for (const hi of kept) {
      if (all.some((g) => doomed.has(g.id) && g.id > lo && g.id < hi)) released += db.releaseSpansBetween(lo, hi)
      lo = hi
    }
  })
  crashPoint('generations-delete:committed')
  return { deleted: [...doomed].sort((x, y) => x - y), released }
}

/** Parse "30d", "12h", "90m", "2w" into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)\s*(s|m|h|d|w)$/.exec(text.trim())
  if (!m) {
    throw new NipError('ERR_NIP_USAGE', `"${text}" is not a duration.`, { hint: 'Use a number and a unit: 90m, 12h, 30d, 2w.', data: { duration: text } })
  }
  const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }[m[2] as 's' | 'm' | 'h' | 'd' | 'w']
  return Number(m[1]) * unit
}
