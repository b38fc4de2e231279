/**
 * What `nip cache push` and `nip build --push` publish: grafted programs, read from the root's
 * database (read-only) and the CAS. The cache key of a built program is its build fingerprint
 * (the `#…` of its package id); of any other program, its tree digest.
 */
import { Cas, treeDigest } from '@nip/cas'
import { NipError, type Database, type ProgramRow, type Reporter, type TreeEntry } from '@nip/core'
import type { RegistryClient } from './client.js'
import { pushProgram, type PushedProgram, type PushResult } from './push.js'
import type { SecretKey } from './signing.js'

/** The root's CAS, for reading blobs to push (push never writes to it). */
export function storeReader(casDir: string): Cas {
  return new Cas(casDir)
}

/** The grafted versions `names` select (`NAME` = every version, `NAME@VERSION` = one); none = every grafted program. */
export function selectPrograms(db: Database, names: string[]): ProgramRow[] {
  if (names.length === 0) return db.programs()
  const out: ProgramRow[] = []
  for (const n of names) {
    const at = n.indexOf('@', 1)
    const name = at > 0 ? n.slice(0, at) : n
    const rows = db.programsNamed(name).filter((r) => at < 0 || r.version === n.slice(at + 1))
    if (rows.length === 0) throw new NipError('ERR_NIP_NOT_INSTALLED', `${n} is not grafted in this root.`, { hint: 'nip list --all shows what can be pushed.', data: { name: n } })
    out.push(...rows)
  }
  return out
}

export function fingerprintOf(row: ProgramRow, entries: TreeEntry[]): string {
  const m = row.source === 'build' ? /#([0-9a-f]{16,})$/.exec(row.package_id) : null
  return m ? m[1] : treeDigestOf(entries)
}

export function treeDigestOf(entries: TreeEntry[]): string {
  return treeDigest(entries.map((e) => ({ path: e.path, type: e.type, mode: e.mode, ...(e.blob ? { key: e.blob } : {}), ...(e.target !== undefined ? { target: e.target } : {}) })))
}

export function pushedProgramOf(db: Database, row: ProgramRow, extra: { fingerprint?: string; variants?: string[]; summary?: string } = {}): PushedProgram {
  const entries: TreeEntry[] = db.files(row.id).map((f) => ({
    path: f.path,
    type: f.type,
    mode: f.mode,
    ...(f.type === 'file' ? { blob: f.blob ?? undefined, size: f.size ?? 0 } : {}),
    ...(f.type === 'symlink' ? { target: f.target ?? '' } : {}),
    ...(f.settings ? { settings: true } : {}),
  }))
  return {
    name: row.name,
    version: row.version,
    source: row.source,
    packageId: row.package_id,
    variants: extra.variants ?? [],
    fingerprint: extra.fingerprint ?? fingerprintOf(row, entries),
    ...(extra.summary ? { summary: extra.summary } : {}),
    dependencies: db.dependencies(row.id).map((d) => ({ name: d.name, ...(d.constraint_text ? { constraint: d.constraint_text } : {}), raw: d.raw })),
    treeDigest: treeDigestOf(entries),
    entries,
  }
}

export async function pushPrograms(opts: { db: Database; cas: Cas; rows: ProgramRow[]; client: RegistryClient; key?: SecretKey; jobs?: number; mountFrom?: string[]; reporter?: Reporter; extra?: (row: ProgramRow) => { fingerprint?: string; variants?: string[] } }): Promise<PushResult[]> {
  const results: PushResult[] = []
  for (const row of opts.rows) {
    opts.reporter?.emit({ type: 'info', message: `pushing ${row.name} ${row.version} to ${opts.client.ref.url}` })
    const program = pushedProgramOf(opts.db, row, opts.extra?.(row) ?? {})
    results.push(await pushProgram(program, { client: opts.client, cas: opts.cas, ...(opts.key ? { key: opts.key } : {}), ...(opts.jobs ? { jobs: opts.jobs } : {}), ...(opts.mountFrom ? { mountFrom: opts.mountFrom } : {}) }))
  }
  return results
}
