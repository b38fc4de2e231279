/**
 * Read-only questions about grafted programs: the files of one (`nip files`), the chains of
 * programs that need one (`nip why`), and which programs are explicit, dependencies or orphans
 * (`nip list --explicit | --deps | --orphans`). Only the current generation counts.
 */
import path from 'node:path'
import type { Database, ProgramRow } from './db/database.js'
import type { Layout } from './layout.js'
import { NipError } from './errors.js'
import { planAutoremove } from './autoremove.js'
import { graftedNameHint } from './suggest.js'

export type ListFilter = 'explicit' | 'deps' | 'orphans'

export interface FilesResult {
  name: string
  version: string
  /** Absolute paths of the entries of the program's tree (directories end in `/`), sorted. */
  files: string[]
  /** The farm's links to them (absolute paths), sorted. */
  links: string[]
}

export interface WhyResult {
  name: string
  version: string
  explicit: boolean
  /** Each chain runs from an explicit program down to `name`: `[explicit, …, name]`. */
  chains: { name: string; version: string }[][]
}

/** The program's current version (or, when none is current, its newest active one); ERR_NIP_NOT_INSTALLED otherwise. */
export function requireCurrent(db: Database | null, name: string): ProgramRow {
  const rows = db?.activeNamed(name) ?? []
  const row = rows.find((r) => r.current === 1) ?? rows[rows.length - 1]
  if (!row) {
    const { hint, suggestions } = graftedNameHint((db?.programs() ?? []).map((p) => p.name), name, 'nip list shows what is grafted.')
    throw new NipError('ERR_NIP_NOT_INSTALLED', `${name} is not grafted.`, { hint, data: { name, ...(suggestions ? { suggestions } : {}) } })
  }
  return row
}

export function programFiles(db: Database | null, layout: Layout, name: string): FilesResult {
  const row = requireCurrent(db, name)
  const dir = layout.versionDir(row.name, row.version)
  // Settings live beside the versions (Programs/<Name>/Settings), shared by them.
  const abs = (p: string): string => (p === 'Settings' || p.startsWith('Settings/') ? path.join(layout.programDir(row.name), p) : path.join(dir, p))
  const files = db!
    .files(row.id)
    .map((f) => (f.type === 'dir' ? `${abs(f.path)}/` : abs(f.path)))
    .sort()
  const links = db!.linksOf(row.name).map((l) => layout.linkAbs(l.path)).sort()
  return { name: row.name, version: row.version, files, links }
}

/** Every chain of dependents from an explicit program down to `name` (shortest first, at most 20). */
export function whyNeeded(db: Database | null, name: string): WhyResult {
  const row = requireCurrent(db, name)
  const chains: { name: string; version: string }[][] = []
  const start = [{ name: row.name, version: row.version, explicit: row.explicit === 1 }]
  const queue: { name: string; version: string; explicit: boolean }[][] = [start]
  while (queue.length > 0 && chains.length < 20) {
    const chain = queue.shift()!
    const head = chain[0]
    if (head.explicit && chain.length > 1) chains.push(chain.map(({ name: n, version: v }) => ({ name: n, version: v })))
    const seen = new Set(chain.map((c) => c.name.toLowerCase()))
    for (const d of db!.dependents(head.name)) {
      if (d.active !== 1 || seen.has(d.name.toLowerCase())) continue
      queue.push([{ name: d.name, version: d.version, explicit: d.explicit === 1 }, ...chain])
    }
  }
  return { name: row.name, version: row.version, explicit: row.explicit === 1, chains }
}

/** Whether an active program passes a `list` filter; `orphans` are the programs autoremove would take. */
export function listFilter(db: Database, filter: ListFilter): (p: ProgramRow) => boolean {
  if (filter === 'explicit') return (p) => p.explicit === 1
  if (filter === 'deps') return (p) => p.explicit === 0
  const orphans = new Set(planAutoremove(db).map((p) => p.id))
  return (p) => orphans.has(p.id)
}
