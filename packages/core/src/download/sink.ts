/**
 * Where a download's bytes go while it runs: a `.part` file next to the destination (kept
 * across runs so an interrupted transfer can be resumed) or memory (downloadToBuffer).
 */
import { open, stat } from 'node:fs/promises'
import { APPEND_NOFOLLOW, cacheParent, cacheRename, cacheRm } from './cacheFiles.js'
import type { FileHandle } from 'node:fs/promises'
import { fromSystemError } from '../errors.js'
import type { Digest } from './digest.js'
import { partMetaPath, partPath, removeQuietly } from './sidecar.js'

export interface Sink {
  /** Whether bytes left by an earlier attempt (or run) may be continued with a Range request. */
  readonly resumable: boolean
  /** Bytes currently held. */
  size(): Promise<number>
  /** Feeds the bytes currently held into `digest` (before a resumed transfer continues). */
  replay(digest: Digest): Promise<void>
  /** Discards everything held. */
  reset(): Promise<void>
  /** Appends `chunk`. ENOSPC becomes ERR_NIP_NO_SPACE with the partial data removed. */
  write(chunk: Buffer): Promise<void>
  /** Releases open handles; keeps the data. */
  close(): Promise<void>
}

/**
 * `${dest}.part`, opened lazily in append mode. The owner publishes it with `publish()` only
 * after verifying size and digest, so `dest` never holds partial or unverified bytes.
 */
export class PartFile implements Sink {
  readonly resumable = true
  readonly path: string
  #handle: FileHandle | undefined

  constructor(readonly dest: string) {
    this.path = partPath(dest)
  }

  async size(): Promise<number> {
    try {
      return (await stat(this.path)).size
    } catch {
      return 0
    }
  }

  async replay(digest: Digest): Promise<void> {
    await this.close()
    const fh = await open(this.path, 'r').catch(() => undefined)
    if (!fh) return
    try {
      const buf = Buffer.allocUnsafe(1 << 20)
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null)
        if (bytesRead === 0) break
        digest.update(buf.subarray(0, bytesRead))
      }
    } finally {
      await fh.close()
    }
  }

  async reset(): Promise<void> {
    await this.close()
    await removeQuietly(this.path)
    await removeQuietly(partMetaPath(this.dest))
  }

  async write(chunk: Buffer): Promise<void> {
    try {
      this.#handle ??= await this.#openAppend()
      let off = 0
      while (off < chunk.length) {
        const { bytesWritten } = await this.#handle.write(chunk, off, chunk.length - off)
        off += bytesWritten
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC') await this.reset()
      throw fromSystemError(e, 'writing a download', this.path)
    }
  }

  /** The part file, its parents checked by the confined layer, never followed if it is a symlink. */
  async #openAppend(): Promise<FileHandle> {
    cacheParent(this.path)
    return open(this.path, APPEND_NOFOLLOW, 0o644)
  }

  async close(): Promise<void> {
    const h = this.#handle
    this.#handle = undefined
    await h?.close().catch(() => undefined)
  }

  /** Flushes the verified part to disk and renames it to `dest` (atomic on one filesystem). */
  async publish(): Promise<void> {
    try {
      this.#handle ??= await this.#openAppend()
      await this.#handle.sync()
      await this.close()
      cacheRename(this.path, this.dest)
      cacheRm(partMetaPath(this.dest))
    } catch (e) {
      await this.close()
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC') await this.reset()
      throw fromSystemError(e, 'publishing a download', this.dest)
    }
  }
}

/** Bytes in memory; never resumed (a new attempt starts from zero). */
export class BufferSink implements Sink {
  readonly resumable = false
  #chunks: Buffer[] = []
  #size = 0

  async size(): Promise<number> {
    return this.#size
  }
  async replay(digest: Digest): Promise<void> {
    for (const c of this.#chunks) digest.update(c)
  }
  async reset(): Promise<void> {
    this.#chunks = []
    this.#size = 0
  }
  async write(chunk: Buffer): Promise<void> {
    // The chunk is copied: stream chunks may be pooled.
    this.#chunks.push(Buffer.from(chunk))
    this.#size += chunk.length
  }
  async close(): Promise<void> {}
  data(): Buffer {
    return Buffer.concat(this.#chunks, this.#size)
  }
}
