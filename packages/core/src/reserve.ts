/**
 * The space reserve: a 1 MiB file in the state directory, written with real blocks while space is
 * free. On a full disk, a command that frees space (remove, rollback, generations delete, gc) that
 * fails with ERR_NIP_NO_SPACE releases the reserve and runs once more, so the journal, the WAL and
 * the generation rows have room: nip can always clean up the disk it filled (Nix's collector can
 * deadlock there). Any later command re-creates the reserve once space allows.
 */
import fs from 'node:fs'
import type { Layout } from './layout.js'

export const RESERVE_BYTES = 1024 * 1024

/** Writes the reserve if it is missing or short; best effort (a full disk leaves it absent). */
export function keepReserve(layout: Layout): void {
  try {
    if (fs.statSync(layout.reservePath).size === RESERVE_BYTES) return
  } catch {
    /* absent */
  }
  const tmp = `${layout.reservePath}.tmp`
  try {
    layout.cfs.rm(tmp, { force: true })
    layout.cfs.writeFile(tmp, Buffer.alloc(RESERVE_BYTES), { mode: 0o600, flag: 'wx' })
    layout.cfs.rename(tmp, layout.reservePath)
  } catch (e) {
    // A planted link is nip's to refuse, not to ignore; a full disk leaves the reserve absent.
    if ((e as { code?: string }).code === 'ERR_NIP_CONFINED') throw e
    try {
      layout.cfs.rm(tmp, { force: true })
    } catch {
      /* refused or gone */
    }
  }
}

/** Deletes the reserve; true when there was one to release. */
export function releaseReserve(layout: Layout): boolean {
  try {
    layout.cfs.unlink(layout.reservePath)
    return true
  } catch {
    return false
  }
}
