/**
 * Temporary files of the store. Every temporary file lives in <casDir>/tmp and is named
 * `<pid>.<purpose>.<random>.tmp`, so a later run can tell whose it was: a file is stale when
 * its process is gone or when it is older than a maximum age (which also covers PIDs reused
 * after a reboot and processes in another PID namespace sharing the store).
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'

export const TEMP_DIR = 'tmp'

/** A fresh, unique temporary path in the store's tmp directory. */
export function tempPath(casDir: string, purpose: string): string {
  return join(casDir, TEMP_DIR, `${process.pid}.${purpose}.${randomBytes(8).toString('hex')}.tmp`)
}

/** The PID encoded in a temporary file name, or undefined when the name is not ours. */
export function ownerOf(name: string): number | undefined {
  const match = /^(\d+)\.[a-z-]+\.[0-9a-f]+\.tmp$/.exec(name)
  return match === null ? undefined : Number(match[1])
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM'
  }
}

/**
 * Whether a file in the tmp directory may be removed: anything not named by the store, a file
 * whose owner process no longer exists, or a file older than `maxAgeMs`.
 */
export function isStale(name: string, ageMs: number, maxAgeMs: number): boolean {
  const owner = ownerOf(name)
  if (owner === undefined || ageMs > maxAgeMs) return true
  return owner !== process.pid && !isProcessAlive(owner)
}
