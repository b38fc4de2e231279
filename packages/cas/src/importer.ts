/**
 * Placing blobs into program trees: reflink → hardlink → copy.
 *
 * Contracts:
 * - The destination must not exist; nothing is ever overwritten and a symlink at the destination
 *   is never followed (every method creates the destination exclusively: link(2), or
 *   open(O_CREAT|O_EXCL) inside copyFile).
 * - The method is probed once per destination filesystem (st_dev of the destination's parent)
 *   and remembered in memory and in <casDir>/import-methods.json. When the remembered method
 *   later fails with an errno that means "not on this filesystem" (EXDEV, EPERM, ENOTSUP, ...),
 *   the next method down the chain is tried and remembered instead. EMLINK (one blob has
 *   reached the filesystem's link limit) copies that one file without changing what is remembered.
 * - Hardlinks share the blob's read-only mode; reflinks and copies are private inodes and get a
 *   writable mode (default 0644, or 0755 for executable blobs).
 */
import { constants } from 'node:fs'
import { chmod, copyFile, link, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { dirname, join } from 'node:path'
import type { ImportMethod } from './types.js'
import { errnoOf, toCasError } from './casError.js'
import { tempPath } from './tempFile.js'

export const IMPORT_METHODS_FILE = 'import-methods.json'

const CHAIN: readonly ImportMethod[] = ['reflink', 'hardlink', 'copy']

/** Errnos meaning a method is unavailable between the store and that filesystem. */
const UNAVAILABLE = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EINVAL', 'ENOSYS', 'ENOTTY'])

export interface PlaceOptions {
  executable: boolean
  /** Always make a private writable copy. */
  copy?: boolean
  /** Mode of a private copy (reflink or copy). */
  mode?: number
}

/** Remembers import methods per filesystem and places blobs. One per store. */
export class Importer {
  readonly #casDir: string
  readonly #file: string
  #remembered: Map<string, ImportMethod> | undefined

  constructor(casDir: string) {
    this.#casDir = casDir
    this.#file = join(casDir, IMPORT_METHODS_FILE)
  }

  /** The method for the filesystem holding `destDir`, probing it on first use. */
  async methodFor(destDir: string): Promise<ImportMethod> {
    const dev = await deviceOf(destDir)
    const remembered = (await this.#load()).get(dev)
    if (remembered !== undefined) return remembered
    const probed = await this.#probe(destDir)
    await this.#remember(dev, probed)
    return probed
  }

  /** Places the blob file `src` at `dest` and returns the method used. */
  async place(src: string, dest: string, options: PlaceOptions): Promise<ImportMethod> {
    const mode = options.mode ?? (options.executable ? 0o755 : 0o644)
    if (options.copy === true) {
      await guard(copyPrivate(src, dest, mode, constants.COPYFILE_FICLONE), dest)
      return 'copy'
    }
    const destDir = dirname(dest)
    const dev = await guard(deviceOf(destDir), destDir)
    let method = await guard(this.methodFor(destDir), destDir)
    for (;;) {
      try {
        await attempt(method, src, dest, mode)
        return method
      } catch (err) {
        const errno = errnoOf(err)
        if (method === 'hardlink' && errno === 'EMLINK') {
          await guard(attempt('copy', src, dest, mode), dest)
          return 'copy'
        }
        if (method === 'copy' || errno === undefined || !UNAVAILABLE.has(errno)) throw toCasError(err, 'import a blob to', dest)
        method = CHAIN[CHAIN.indexOf(method) + 1]
        await guard(this.#remember(dev, method), this.#file)
      }
    }
  }

  async #probe(destDir: string): Promise<ImportMethod> {
    const src = tempPath(this.#casDir, 'probe')
    await mkdir(dirname(src), { recursive: true })
    const dest = join(destDir, `.nip-import-probe-${process.pid}-${randomBytes(8).toString('hex')}`)
    await writeFile(src, 'nip import probe\n', { flag: 'wx', mode: 0o444 })
    try {
      for (const method of CHAIN) {
        try {
          await attempt(method, src, dest, 0o644)
          return method
        } catch (err) {
          const errno = errnoOf(err)
          if (method === 'copy' || errno === undefined || !UNAVAILABLE.has(errno)) throw err
        } finally {
          await unlink(dest).catch(() => undefined)
        }
      }
      return 'copy'
    } finally {
      await unlink(src).catch(() => undefined)
    }
  }

  async #load(): Promise<Map<string, ImportMethod>> {
    if (this.#remembered === undefined) this.#remembered = await this.#read()
    return this.#remembered
  }

  /** Reads the persisted table; a missing or unreadable file is an empty table (it is only a cache). */
  async #read(): Promise<Map<string, ImportMethod>> {
    const table = new Map<string, ImportMethod>()
    let parsed: unknown
    try {
      parsed = JSON.parse(await readFile(this.#file, 'utf8'))
    } catch {
      return table
    }
    if (parsed !== null && typeof parsed === 'object') {
      for (const [dev, method] of Object.entries(parsed)) {
        if (CHAIN.includes(method as ImportMethod)) table.set(dev, method as ImportMethod)
      }
    }
    return table
  }

  /** Records a method in memory and merges it into the file (atomic replace; last writer wins per device). */
  async #remember(dev: string, method: ImportMethod): Promise<void> {
    ;(await this.#load()).set(dev, method)
    const merged = await this.#read()
    merged.set(dev, method)
    const tmp = tempPath(this.#casDir, 'import-methods')
    await mkdir(dirname(tmp), { recursive: true })
    await writeFile(tmp, JSON.stringify(Object.fromEntries([...merged].sort()), null, 2) + '\n', { flag: 'wx', mode: 0o644 })
    try {
      await rename(tmp, this.#file)
    } catch (err) {
      await unlink(tmp).catch(() => undefined)
      throw err
    }
  }
}

async function deviceOf(dir: string): Promise<string> {
  return (await stat(dir, { bigint: true })).dev.toString()
}

async function attempt(method: ImportMethod, src: string, dest: string, mode: number): Promise<void> {
  switch (method) {
    case 'hardlink':
      await link(src, dest)
      return
    case 'reflink':
      await copyPrivate(src, dest, mode, constants.COPYFILE_FICLONE_FORCE)
      return
    case 'copy':
      await copyPrivate(src, dest, mode, 0)
      return
  }
}

/** Exclusive copy then chmod; the destination is removed again if the chmod fails. */
async function copyPrivate(src: string, dest: string, mode: number, flags: number): Promise<void> {
  await copyFile(src, dest, constants.COPYFILE_EXCL | flags)
  try {
    await chmod(dest, mode)
  } catch (err) {
    await unlink(dest).catch(() => undefined)
    throw err
  }
}

async function guard<T>(promise: Promise<T>, path: string): Promise<T> {
  try {
    return await promise
  } catch (err) {
    throw toCasError(err, 'import a blob to', path)
  }
}
