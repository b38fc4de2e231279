/**
 * The last good copy of each Packages index of a suite: which verified file in the cache was in
 * use, and the Release (date) that vouched for it. When a newer Release names an index that no
 * mirror delivers intact, apt keeps using the old one ("old ones used instead"); so does nip.
 *
 * Contract: the record lives in the suite's list directory (`<listDir>/indexes.json`) inside
 * the adapter's cache and is written only after the file it names passed the signed Release's
 * SHA256 and size. This module is the adapter's only writer of that record; a damaged or
 * missing record only means there is no last good copy to fall back on.
 */
import { cacheMkdir, cacheRename, cacheWrite } from '@nip/core'
import { readFile } from 'node:fs/promises'
import path from 'node:path'

export interface GoodIndex {
  /** The file in the cache (absolute). */
  file: string
  /** The compressed file's name in the Release ("main/binary-all/Packages.xz"). */
  name: string
  sha256: string
  size: number
  /** The date of the Release whose signature covered it (ISO), when it had one. */
  releaseDate?: string
  /** When nip verified and recorded it (ISO). */
  recordedAt: string
}

const FILE = 'indexes.json'

export async function readGoodIndexes(listDir: string): Promise<Record<string, GoodIndex>> {
  try {
    const parsed = JSON.parse(await readFile(path.join(listDir, FILE), 'utf8')) as unknown
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {}
    const out: Record<string, GoodIndex> = {}
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
      const g = v as Partial<GoodIndex>
      if (typeof g?.file === 'string' && typeof g.sha256 === 'string' && typeof g.size === 'number' && typeof g.name === 'string') out[k] = g as GoodIndex
    }
    return out
  } catch {
    return {}
  }
}

/** Replaces the record (temporary file + rename, so a reader never sees half of it). */
export async function writeGoodIndexes(listDir: string, records: Record<string, GoodIndex>): Promise<void> {
  cacheMkdir(listDir)
  const tmp = path.join(listDir, `${FILE}.tmp-${process.pid}`)
  cacheWrite(tmp, JSON.stringify(records, null, 1))
  cacheRename(tmp, path.join(listDir, FILE))
}

/** When the suite's metadata was last refreshed from the network (null: never, or unknown). */
export async function readUpdatedAt(listDir: string): Promise<Date | null> {
  try {
    const t = Date.parse((await readFile(path.join(listDir, 'updated-at'), 'utf8')).trim())
    return Number.isNaN(t) ? null : new Date(t)
  } catch {
    return null
  }
}

/**
 * A freshly downloaded InRelease (`InRelease.new`) whose signature verified becomes the suite's
 * InRelease, and the refresh time is recorded. Until then the previous InRelease stays: a
 * download that fails verification never replaces the last good copy.
 */
export async function promoteInRelease(listDir: string, fetched: string, at: Date): Promise<void> {
  cacheRename(fetched, path.join(listDir, 'InRelease'))
  const tmp = path.join(listDir, `updated-at.tmp-${process.pid}`)
  cacheWrite(tmp, `${at.toISOString()}\n`)
  cacheRename(tmp, path.join(listDir, 'updated-at'))
}

/** A verified InRelease: the digest of its bytes and of the keyring that verified it, and the signer. */
export interface VerifiedMark {
  inRelease: string
  keyring: string
  fingerprint: string
}

export async function readVerifiedMark(listDir: string): Promise<VerifiedMark | null> {
  try {
    const m = JSON.parse(await readFile(path.join(listDir, 'verified.json'), 'utf8')) as Partial<VerifiedMark>
    return typeof m.inRelease === 'string' && typeof m.keyring === 'string' && typeof m.fingerprint === 'string' ? (m as VerifiedMark) : null
  } catch {
    return null
  }
}

/** Recorded after the suite's InRelease verified (temporary file + rename). */
export async function writeVerifiedMark(listDir: string, mark: VerifiedMark): Promise<void> {
  cacheMkdir(listDir)
  const tmp = path.join(listDir, `verified.json.tmp-${process.pid}`)
  cacheWrite(tmp, JSON.stringify(mark))
  cacheRename(tmp, path.join(listDir, 'verified.json'))
}

/**
 * The warnings already given about indexes that are not in use, per index: the refresh state
 * (the suite's InRelease digest and what was kept) each was given for. An offline query gives
 * the warning once per index and refresh state, not on every query; a refresh gives it again.
 */
export async function readWarned(listDir: string): Promise<Record<string, string>> {
  try {
    const m = JSON.parse(await readFile(path.join(listDir, 'warned.json'), 'utf8')) as unknown
    if (m === null || typeof m !== 'object' || Array.isArray(m)) return {}
    return Object.fromEntries(Object.entries(m as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'))
  } catch {
    return {}
  }
}

export async function writeWarned(listDir: string, warned: Record<string, string>): Promise<void> {
  cacheMkdir(listDir)
  const tmp = path.join(listDir, `warned.json.tmp-${process.pid}`)
  cacheWrite(tmp, JSON.stringify(warned))
  cacheRename(tmp, path.join(listDir, 'warned.json'))
}
