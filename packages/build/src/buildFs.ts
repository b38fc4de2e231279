/**
 * Every filesystem change @nip/build makes under a root, in one place (so it can be routed
 * through core's confined-filesystem layer). All paths are absolute and inside the root's
 * cache directory (`<cache>/build/…`: work directories, the record of stored outputs) or its log
 * directory (`<log>/build/<name>/…`). Source archives are written by core's downloader into
 * `<cache>/build/sources/`, and blobs by the CAS; nothing here touches /Programs or /System:
 * grafting is core's transaction.
 */
import { closeSync, lchownSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'

export function mkdirp(dir: string): void {
  mkdirSync(dir, { recursive: true })
}

/** A fresh work directory `<parent>/<label>-<random>` with the sandbox's subdirectories. */
export function makeWorkDir(parent: string, label: string): string {
  mkdirSync(parent, { recursive: true })
  const dir = path.join(parent, `${label}-${randomBytes(4).toString('hex')}`)
  mkdirSync(dir)
  for (const sub of ['src', 'dest', 'home', 'sources']) mkdirSync(path.join(dir, sub))
  return dir
}

export function removeTree(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
}

/** Opens (truncating) a build log for appending step output; returns the descriptor. */
export function openLog(file: string): number {
  mkdirSync(path.dirname(file), { recursive: true })
  return openSync(file, 'w', 0o644)
}

export function appendLog(fd: number, text: string): void {
  writeFileSync(fd, text)
}

export function closeLog(fd: number): void {
  closeSync(fd)
}

/** Writes JSON atomically (temporary file + rename). */
export function writeJsonAtomic(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`
  writeFileSync(tmp, JSON.stringify(value) + '\n', { mode: 0o644 })
  renameSync(tmp, file)
}

/** Creates the dependency link view (linkView.ts) under `dir` (inside a work directory). */
export function writeLinkView(dir: string, links: readonly { path: string; target: string }[]): void {
  mkdirSync(dir, { recursive: true })
  for (const l of links) {
    const at = path.join(dir, l.path)
    mkdirSync(path.dirname(at), { recursive: true })
    symlinkSync(l.target, at)
  }
}

/** Hands a work directory (and everything in it) to the build's uid, for executors that build unprivileged (podman.ts). */
export function chownTree(dir: string, uid: number, gid: number): void {
  lchownSync(dir, uid, gid)
  if (!lstatSync(dir).isDirectory()) return
  for (const n of readdirSync(dir)) chownTree(path.join(dir, n), uid, gid)
}
