/**
 * Pins: a pinned program version is a GC root (one reference in programs.refs) and stays
 * Current when another version of it is grafted (install grafts the new one beside it). A pin is
 * a DB-only change: nothing on disk moves, so it records no generation.
 */
import type { PinResult } from './api.js'
import type { Database, ProgramRow } from './db/database.js'
import { NipError } from './errors.js'
import { graftedNameHint } from './suggest.js'

/** NAME (its Current version, else its only active one) or NAME@VERSION (any kept version). */
export function findPinTarget(db: Database, spec: string): ProgramRow {
  const at = spec.lastIndexOf('@')
  const name = at > 0 ? spec.slice(0, at) : spec
  const version = at > 0 ? spec.slice(at + 1) : undefined
  const rows = db.programsNamed(name)
  const p = version !== undefined ? rows.find((r) => r.version === version) : (rows.find((r) => r.current === 1) ?? (rows.length === 1 ? rows[0] : undefined))
  if (!p) {
    throw new NipError('ERR_NIP_NOT_INSTALLED', version ? `${name} ${version} is not grafted.` : `${name} has no Current version to pin.`, {
      hint: rows.length ? `Grafted versions of ${name}: ${rows.map((r) => r.version).join(', ')} (pin one with NAME@VERSION).` : graftedNameHint(db.programs().map((r) => r.name), name, 'nip list shows what is grafted.').hint,
      data: { name, ...(version ? { version } : {}) },
    })
  }
  return p
}

export function setPin(db: Database, spec: string, pinned: boolean): PinResult {
  const p = findPinTarget(db, spec)
  const changed = db.transaction(() => db.setPinned(p.id, pinned))
  return { name: p.name, version: p.version, pinned, changed }
}
