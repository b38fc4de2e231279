/**
 * Lock: one writer per root. The lock file holds the owner's PID, command and start time;
 * a lock whose PID no longer runs on this host is stale and is taken over. A second writer
 * waits (polling), tells the user once who holds the lock, and gives up with ERR_NIP_LOCKED
 * after the configured timeout. Readers never take the lock.
 */
import fs from 'node:fs'
import os from 'node:os'
import type { ConfinedFs } from '@nip/cas'
import { setTimeout as sleep } from 'node:timers/promises'
import { NipError, fromSystemError } from './errors.js'
import type { Reporter } from './reporter.js'

export interface LockOwner {
  pid: number
  host: string
  command: string
  since: string
}

export function readLockOwner(lockPath: string): LockOwner | null {
  try {
    const o = JSON.parse(fs.readFileSync(lockPath, 'utf8')) as LockOwner
    return typeof o.pid === 'number' ? o : null
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return null
    // Unparsable (a writer died between create and write): treat as stale with pid 0.
    return { pid: 0, host: os.hostname(), command: '(unknown)', since: new Date(0).toISOString() }
  }
}

export function isAlive(pid: number): boolean {
  if (pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function isStale(owner: LockOwner): boolean {
  return owner.host === os.hostname() && !isAlive(owner.pid)
}

export class Lock {
  private held = false
  private constructor(readonly lockPath: string, readonly owner: LockOwner, private readonly cfs: ConfinedFs) {}

  /** Every file the lock writes, links, renames or deletes goes through `cfs` (the root's confined layer). */
  static async acquire(opts: { cfs: ConfinedFs; lockPath: string; command: string; timeoutSeconds: number; reporter: Reporter }): Promise<Lock> {
    const owner: LockOwner = { pid: process.pid, host: os.hostname(), command: opts.command, since: new Date().toISOString() }
    const { cfs } = opts
    try {
      cfs.parent(opts.lockPath, true)
    } catch (e) {
      throw fromSystemError(e, 'taking the lock', opts.lockPath)
    }
    const deadline = Date.now() + opts.timeoutSeconds * 1000
    let told = false
    let delay = 50
    for (;;) {
      try {
        // Write to a private file, then link it into place: the lock appears complete or not at all.
        const tmp = `${opts.lockPath}.${process.pid}.${Date.now()}`
        cfs.writeFile(tmp, JSON.stringify(owner) + '\n', { flag: 'wx' })
        try {
          cfs.link(tmp, opts.lockPath, false)
        } finally {
          cfs.rm(tmp, { force: true })
        }
        const lock = new Lock(opts.lockPath, owner, cfs)
        lock.held = true
        return lock
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fromSystemError(e, 'taking the lock', opts.lockPath)
      }
      const holder = readLockOwner(opts.lockPath)
      if (holder && isStale(holder)) {
        opts.reporter.emit({
          type: 'warning',
          code: 'stale-lock',
          message: `Removing a stale lock left by PID ${holder.pid} (${holder.command}, since ${holder.since}).`,
          data: { ...holder },
        })
        // Rename first so two waiters cannot both delete a fresh lock.
        const aside = `${opts.lockPath}.stale-${process.pid}`
        try {
          cfs.rename(opts.lockPath, aside)
          const moved = readLockOwner(aside)
          if (moved && moved.pid === holder.pid && moved.since === holder.since) cfs.rm(aside, { force: true })
          else if (moved) cfs.rename(aside, opts.lockPath) // someone else's fresh lock: put it back
        } catch {
          /* another waiter handled it */
        }
        continue
      }
      if (Date.now() >= deadline) {
        throw new NipError('ERR_NIP_LOCKED', `Another nip (PID ${holder?.pid ?? '?'}, "${holder?.command ?? '?'}") holds the lock since ${holder?.since ?? '?'}.`, {
          hint: 'Wait for it to finish, or raise lock-timeout. If that process is gone, run nip doctor --fix.',
          data: { holder, lockPath: opts.lockPath },
        })
      }
      if (!told && holder) {
        told = true
        opts.reporter.emit({
          type: 'info',
          message: `Waiting for the lock held by PID ${holder.pid} (${holder.command}) since ${holder.since}…`,
        })
      }
      await sleep(delay)
      delay = Math.min(delay * 2, 500)
    }
  }

  release(): void {
    if (!this.held) return
    this.held = false
    const holder = readLockOwner(this.lockPath)
    if (holder && holder.pid === this.owner.pid && holder.since === this.owner.since) this.cfs.rm(this.lockPath, { force: true })
  }
}
