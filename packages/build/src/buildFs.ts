/**
 * Every filesystem change @nip/build makes under a root, in one place, through the root's
 * confined layer (core's ConfinedFs, found with ConfinedFs.covering; docs/security.md): no
 * directory on the way is followed if it is a symlink, no file is opened through one. All paths are absolute and inside the root's
 * cache directory (`<cache>/build/…`: work directories, the record of stored outputs) or its log
 * directory (`<log>/build/<name>/…`). Source archives are written by core's downloader into
 * `<cache>/build/sources/`, and blobs by the CAS; nothing here touches /Programs or /System:
 * grafting is core's transaction.
 */
import { closeSync, lchownSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { ConfinedFs } from '@nip/core'

/** The confined layer of the open root that holds `p` (undefined outside any root: plain calls). */
const cfsFor = (p: string): ConfinedFs | undefined => ConfinedFs.covering(p)

export function mkdirp(dir: string): void {
  const cfs = cfsFor(dir)
  if (cfs !== undefined) cfs.mkdirp(dir)
  else mkdirSync(dir, { recursive: true })
}

/** A fresh work directory `<parent>/<label>-<random>` with the sandbox's subdirectories. */
export function makeWorkDir(parent: string, label: string): string {
  mkdirp(parent)
  const dir = path.join(parent, `${label}-${randomBytes(4).toString('hex')}`)
  const cfs = cfsFor(dir)
  for (const d of [dir, ...['src', 'dest', 'home', 'sources'].map((sub) => path.join(dir, sub))]) {
    if (cfs !== undefined) cfs.mkdirNew(d)
    else mkdirSync(d)
  }
  return dir
}

/** A fresh, empty directory `<parent>/<label>-<random>` (a staging directory an external tool fills). */
export function makeStagingDir(parent: string, label: string): string {
  mkdirp(parent)
  const dir = path.join(parent, `${label}-${randomBytes(4).toString('hex')}`)
  const cfs = cfsFor(dir)
  if (cfs !== undefined) cfs.mkdirNew(dir)
  else mkdirSync(dir)
  return dir
}

export function removeTree(dir: string): void {
  const cfs = cfsFor(dir)
  if (cfs !== undefined) cfs.rm(dir, { recursive: true, force: true })
  else rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
}

/** Opens (truncating) a build log for appending step output; returns the descriptor. */
export function openLog(file: string): number {
  const cfs = cfsFor(file)
  if (cfs !== undefined) return cfs.openWrite(file, { mode: 0o644 })
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
  const cfs = cfsFor(file)
  if (cfs !== undefined) {
    cfs.mkdirp(path.dirname(file))
    return cfs.replaceFile(file, JSON.stringify(value) + '\n', 0o644)
  }
  mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`
  writeFileSync(tmp, JSON.stringify(value) + '\n', { mode: 0o644 })
  renameSync(tmp, file)
}

/** Creates the dependency link view (linkView.ts) under `dir` (inside a work directory). */
export function writeLinkView(dir: string, links: readonly { path: string; target: string }[]): void {
  mkdirp(dir)
  const cfs = cfsFor(dir)
  for (const l of links) {
    const at = path.join(dir, l.path)
    mkdirp(path.dirname(at))
    if (cfs !== undefined) cfs.symlink(l.target, at)
    else symlinkSync(l.target, at)
  }
}

/** Hands a work directory (and everything in it) to the build's uid, for executors that build unprivileged (podman.ts). */
export function chownTree(dir: string, uid: number, gid: number): void {
  // lchown and an lstat walk: nothing the build made (a symlink) is followed.
  cfsFor(dir)?.parent(dir)
  lchownSync(dir, uid, gid)
  if (!lstatSync(dir).isDirectory()) return
  for (const n of readdirSync(dir)) chownTree(path.join(dir, n), uid, gid)
}

/** Writes a small file (a configuration file of a work directory) through the confined layer. */
export function writeFileConfined(file: string, data: string | Buffer, mode = 0o644): void {
  const cfs = cfsFor(file)
  if (cfs !== undefined) {
    cfs.mkdirp(path.dirname(file))
    return cfs.replaceFile(file, data, mode)
  }
  mkdirSync(path.dirname(file), { recursive: true })
  writeFileSync(file, data, { mode })
}

export function symlinkConfined(target: string, at: string): void {
  const cfs = cfsFor(at)
  if (cfs !== undefined) return cfs.symlink(target, at)
  mkdirSync(path.dirname(at), { recursive: true })
  symlinkSync(target, at)
}
