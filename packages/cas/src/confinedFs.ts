/**
 * The confined filesystem layer: the only way nip writes, renames, links, deletes or creates
 * directories under a root. See docs/security.md for the threat model.
 *
 * Contract:
 * - Every path is absolute and lexically inside the root (no `.`/`..` components, no `//`), or
 *   the call is refused before anything happens.
 * - Every directory from the root down to the parent of the path acted on is a real directory,
 *   checked component by component with lstat(2). A symlink (or a file, a device…) where a
 *   directory is needed is a refusal (ERR_NIP_CONFINED) naming the path, never followed. Missing
 *   directories are created by the same walk, one mkdir(2) at a time (never a recursive mkdir
 *   through the OS, which follows symlinks).
 * - The path acted on itself is never followed either: files are opened with O_NOFOLLOW,
 *   `unlink`/`rename`/`symlink`/`link` act on the name, `chmod` refuses a symlink, `rm` removes a
 *   symlink as a name and a directory without following the links inside it.
 * - Directories checked or created are remembered for the life of the instance (one lstat per
 *   directory, not per file); every rename, rmdir and rm forgets what lies under its paths. The
 *   cache is sound while nip holds its lock and nobody else writes inside the root; a second
 *   writer racing nip inside the root is outside the threat model (docs/security.md).
 *
 * The root directory itself is the user's choice and is trusted as given (it may be a symlink).
 * The layer lives in the lowest package so that the store (cas) writes through it too; core
 * re-exports it as its confined layer.
 */
import fs from 'node:fs'
import path from 'node:path'
import { CasError } from './casError.js'

const { O_WRONLY, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NOFOLLOW } = fs.constants
/** A `.` or `..` component anywhere in a relative path. */
const ODD_COMPONENT = /(^|\/)\.\.?(\/|$)/

export interface ConfinedWriteOptions {
  mode?: number
  /** 'w' (default): create or truncate; 'wx': create, fail when the name exists; 'a': append. */
  flag?: 'w' | 'wx' | 'a'
}

/** The confined layer of every root open in this process (latest per root): see ConfinedFs.covering. */
const registry = new Map<string, ConfinedFs>()

export class ConfinedFs {
  /**
   * Makes `cfs` the layer that code without a handle on the layout (the downloader, an adapter's
   * cache files) finds for paths below its root.
   */
  static register(cfs: ConfinedFs): void {
    registry.set(cfs.root, cfs)
  }

  /** The registered layer whose root holds `abs` (the deepest such root), or undefined. */
  static covering(abs: string): ConfinedFs | undefined {
    let best: ConfinedFs | undefined
    for (const cfs of registry.values()) if (cfs.contains(abs) && (best === undefined || cfs.root.length > best.root.length)) best = cfs
    return best
  }

  readonly root: string
  readonly #prefix: string
  /** Directories known to be real directories reached through real directories. */
  readonly #dirs = new Set<string>()

  constructor(root: string) {
    this.root = path.resolve(root)
    this.#prefix = this.root === '/' ? '/' : `${this.root}/`
  }

  /** Creates the root itself when missing (the root is the caller's choice, trusted as given). */
  ensureRoot(): void {
    fs.mkdirSync(this.root, { recursive: true })
  }

  /** True when `abs` is the root or lexically below it (no `.`, `..` or empty components). */
  contains(abs: string): boolean {
    if (abs === this.root) return true
    if (!abs.startsWith(this.#prefix) || abs.includes('\0')) return false
    const rest = abs.slice(this.#prefix.length)
    // One regular expression instead of a split: this runs once per file placed.
    return rest !== '' && !rest.endsWith('/') && !rest.includes('//') && !ODD_COMPONENT.test(rest)
  }

  /** Root-relative POSIX form (for messages). */
  rel(abs: string): string {
    return abs === this.root ? '.' : abs.startsWith(this.#prefix) ? abs.slice(this.#prefix.length) : abs
  }

  /** Refuses a path that is not lexically inside the root. */
  check(abs: string): void {
    if (!this.contains(abs)) {
      throw new CasError('ERR_NIP_CONFINED', `${abs} is not a normal path inside the root ${this.root}; nip will not act on it.`, {
        hint: 'A path from a package, the database or the journal leaves the root. nip doctor reports such rows; nothing was changed.',
        data: { path: abs, root: this.root, reason: 'outside' },
      })
    }
  }

  /**
   * Makes sure `dir` and every directory above it up to the root are real directories, creating
   * missing ones (mode `mode`, subject to the umask) when `create` is set. Returns false when a
   * directory is missing and `create` is not set.
   */
  ensureDir(dir: string, create = true, mode = 0o755): boolean {
    if (this.#dirs.has(dir)) return true
    if (dir === this.root) {
      // The root is trusted as given (followed if it is a symlink); made when missing.
      if (fs.statSync(this.root, { throwIfNoEntry: false })?.isDirectory() !== true) {
        if (!create) return false
        this.ensureRoot()
      }
      this.#dirs.add(this.root)
      return true
    }
    this.check(dir)
    if (!this.ensureDir(path.dirname(dir), create, mode)) return false
    let st = lstatOrNull(dir)
    if (st === null) {
      if (!create) return false
      try {
        fs.mkdirSync(dir, mode)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      }
      st = lstatOrNull(dir)
    }
    if (st === null || !st.isDirectory()) throw this.refusal(dir, st)
    this.#dirs.add(dir)
    return true
  }

  /** mkdir -p, confined. */
  mkdirp(dir: string, mode = 0o755): void {
    this.ensureDir(dir, true, mode)
  }

  /** A new directory: its parent is made as needed, the directory itself must not exist (EEXIST). */
  mkdirNew(dir: string, mode = 0o755): void {
    this.#parent(dir, true)
    fs.mkdirSync(dir, mode)
    this.#dirs.add(dir)
  }

  /** The parent directories of `abs` are real (created when `create`); throws ENOENT when missing. */
  parent(abs: string, create = false): void {
    this.#parent(abs, create)
  }

  #parent(abs: string, create: boolean): void {
    this.check(abs)
    if (abs === this.root) throw this.refusal(abs, null, 'the root itself')
    const dir = path.dirname(abs)
    if (!this.ensureDir(dir, create)) throw enoent(abs)
  }

  /** Opens `abs` for writing (O_NOFOLLOW added); parents are created. Returns the fd. */
  openWrite(abs: string, opts: ConfinedWriteOptions = {}): number {
    this.#parent(abs, true)
    const flag = opts.flag ?? 'w'
    const flags = O_WRONLY | O_CREAT | O_NOFOLLOW | (flag === 'wx' ? O_EXCL : flag === 'a' ? O_APPEND : O_TRUNC)
    try {
      return fs.openSync(abs, flags, opts.mode ?? 0o644)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw this.refusal(abs, lstatOrNull(abs))
      throw e
    }
  }

  writeFile(abs: string, data: string | Uint8Array, opts: ConfinedWriteOptions = {}): void {
    const fd = this.openWrite(abs, opts)
    try {
      const buf = typeof data === 'string' ? Buffer.from(data) : data
      for (let off = 0; off < buf.byteLength; ) off += fs.writeSync(fd, buf, off, buf.byteLength - off)
    } finally {
      fs.closeSync(fd)
    }
  }

  appendFile(abs: string, data: string | Uint8Array, mode = 0o644): void {
    this.writeFile(abs, data, { flag: 'a', mode })
  }

  /** Writes `data` to a temporary name beside `abs` and renames it over `abs` (atomic replace). */
  replaceFile(abs: string, data: string | Uint8Array, mode = 0o644): void {
    const tmp = `${abs}.nip-tmp-${process.pid}`
    this.rm(tmp, { force: true })
    this.writeFile(tmp, data, { flag: 'wx', mode })
    try {
      this.rename(tmp, abs)
    } catch (e) {
      this.rm(tmp, { force: true })
      throw e
    }
  }

  symlink(target: string, abs: string, createParents = true): void {
    this.#parent(abs, createParents)
    fs.symlinkSync(target, abs)
  }

  /** A hardlink at `abs` to `existing` (which is not followed if it is a symlink). */
  link(existing: string, abs: string, createParents = true): void {
    this.#parent(abs, createParents)
    fs.linkSync(existing, abs)
  }

  rename(from: string, to: string): void {
    this.#parent(from, false)
    this.#parent(to, false)
    this.#forget(from)
    this.#forget(to)
    fs.renameSync(from, to)
  }

  /** unlink(2): a file or a symlink (never what it points to). */
  unlink(abs: string): void {
    this.#parent(abs, false)
    fs.unlinkSync(abs)
  }

  rmdir(abs: string): void {
    this.#parent(abs, false)
    this.#forget(abs)
    fs.rmdirSync(abs)
  }

  /**
   * rm -r (with `recursive`) / rm -f (with `force`): a symlink at `abs` is removed as a name; a
   * directory is emptied without following the symlinks inside it (Node's rm uses lstat).
   */
  rm(abs: string, opts: { recursive?: boolean; force?: boolean } = {}): void {
    try {
      this.#parent(abs, false)
    } catch (e) {
      if (opts.force === true && (e as NodeJS.ErrnoException).code === 'ENOENT') return
      throw e
    }
    this.#forget(abs)
    fs.rmSync(abs, { recursive: opts.recursive === true, force: opts.force === true })
  }

  /** chmod(2) of a file or directory; a symlink at `abs` is refused (chmod would follow it). */
  chmod(abs: string, mode: number): void {
    this.#parent(abs, false)
    const st = fs.lstatSync(abs)
    if (st.isSymbolicLink()) throw this.refusal(abs, st)
    fs.chmodSync(abs, mode)
  }

  /** The error for `abs` being something other than a real directory (or a followed symlink). */
  refusal(abs: string, st: fs.Stats | null, what?: string): CasError {
    const rel = this.rel(abs)
    let found = what ?? 'missing'
    let target: string | undefined
    if (st?.isSymbolicLink()) {
      found = 'a symlink'
      try {
        target = fs.readlinkSync(abs)
      } catch {
        /* gone */
      }
    } else if (st?.isFile()) found = 'a file'
    else if (st !== null && st !== undefined && !st.isDirectory()) found = 'a special file'
    return new CasError('ERR_NIP_CONFINED', `${rel} is ${found}${target !== undefined ? ` (→ ${target})` : ''} where nip needs a real directory or a name of its own; nip will not write through it.`, {
      hint: `Something planted it inside the root (or a package tried to). Move ${rel} away — it is not nip's — then try again; nip doctor lists such paths.`,
      data: { path: rel, found, ...(target !== undefined ? { target } : {}), root: this.root },
    })
  }

  /** Forgets every remembered directory at or below `abs`. */
  #forget(abs: string): void {
    // The remembered set holds every ancestor of each member (ensureDir walks from the root):
    // when `abs` is not in it, nothing below it is either (a file's rename costs one lookup).
    if (!this.#dirs.has(abs)) return
    const prefix = `${abs}/`
    for (const d of this.#dirs) if (d === abs || d.startsWith(prefix)) this.#dirs.delete(d)
  }
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return null
    throw e
  }
}

function enoent(p: string): Error {
  return Object.assign(new Error(`ENOENT: no such file or directory, '${p}'`), { code: 'ENOENT', errno: -2, path: p })
}
