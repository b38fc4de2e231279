/**
 * The content-addressable store: every regular file of every program is stored once, as a
 * read-only blob addressed by its BLAKE3 digest and executable bit (see blobKey.ts).
 *
 * Contracts:
 * - Adding is idempotent and safe to interrupt: streamed content is hashed while it is written to
 *   a unique temporary file in <dir>/tmp, and only complete, verified content is published, by
 *   link(2) (atomic, never replaces); killing nip leaves at most temporary files, which
 *   cleanTmp() removes. Buffered content (addBufferSync, blobWriter) is hashed before it is
 *   written and is created at its address directly; a kill in the middle of that write leaves a
 *   short blob, which is handled like a torn blob (below). A blobWriter's blobs are written by a
 *   worker thread and exist once its flush() has resolved.
 * - An existing blob is taken as it is when it looks complete: a regular file with its key's mode
 *   and the content's size (`existed: true`). Its content is not read again: re-hashing every
 *   blob an install shares with the store made deduplication cost more than writing. A write
 *   killed half-way leaves a blob shorter than its content, which does not look complete: such a
 *   blob, or one of the wrong mode or kind, is replaced atomically (rename) with the freshly
 *   verified content, and the add reports `repaired: true`. A blob damaged in place at its full
 *   size (a power loss under a filesystem that does not order data before size, a user editing a
 *   program's file, which is the same inode) is found where blobs are re-hashed: verify() (so
 *   `nip verify` and `nip doctor`). A key verify() found damaged is re-hashed by every later add
 *   in the same Cas instance, so an add of that content (`nip verify --repair` fetches it again)
 *   repairs it.
 * - Safe between processes: two processes adding the same content both succeed; whichever
 *   links first publishes, the other verifies and discards its temporary file.
 * - fsync: off by default. The database commit, not the blob write, is nip's point of no return,
 *   and a blob torn by a power loss no longer matches its address, so verify() finds it and the
 *   next add of that content repairs it. `new Cas(dir, { fsync: true })` syncs each blob before
 *   it is published, for stores on hardware where re-fetching is not an option.
 * - Errors are CasError: ERR_NIP_HASH_MISMATCH / ERR_NIP_SIZE_MISMATCH when expectations are not
 *   met, ERR_NIP_NO_SPACE on ENOSPC, ERR_NIP_IO for other filesystem failures,
 *   ERR_NIP_CAS_CORRUPT for malformed keys and missing blobs. The temporary file is always removed.
 */
import { closeSync, constants, createReadStream, fstatSync, fsyncSync, lstatSync, mkdirSync, opendirSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import * as nodeCrypto from 'node:crypto'
import type { FileHandle } from 'node:fs/promises'
import { chmod, link, lstat, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { AddOptions, BlobInfo, ImportMethod, ImportOptions } from './types.js'
import { CasError, errnoOf, toCasError } from './casError.js'
import { blobMode, blobPath, isDigest, keyOf, parseKey } from './blobKey.js'
import { blake3Hex, createBlake3, hashFile, HASH_CHUNK_SIZE } from './hash.js'
import { Importer } from './importer.js'
import { isStale, TEMP_DIR, tempPath } from './tempFile.js'
import { FsPool, poolThreads, type FsOp, type FsOpError } from './fsPool.js'
import { ConfinedFs } from './confinedFs.js'

export interface CasOptions {
  /** fsync every blob before publishing it (default false; see the file comment). */
  fsync?: boolean
  /**
   * The confined layer of the root the store lies in (confinedFs.ts): the store's directory,
   * its tmp directory and its buckets are made and checked through it. Without one, the store
   * is confined to its own directory.
   */
  confined?: ConfinedFs
}

export interface CleanTmpOptions {
  /** Temporary files older than this are removed even when their process still runs (default 24 h). */
  maxAgeMs?: number
}

const BUCKET = /^[0-9a-f]{2}$/
/** link(2) errnos meaning the store's filesystem has no hardlinks at all. */
const NO_HARDLINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'])
const DAY_MS = 24 * 60 * 60 * 1000
/** open(2) flags that create a new file and fail when the name exists (symlinks included). */
const EXCLUSIVE_CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL

/** BlobWriter: adds stored synchronously before a worker thread is worth starting. */
const WRITER_SYNC_FIRST = 512
/** BlobWriter: a batch is sent when it holds this many blobs or bytes. */
const WRITER_BATCH_BLOBS = 256
const WRITER_BATCH_BYTES = 4 * 1024 * 1024
/** BlobWriter: batches in flight before add() asks its caller to wait (see BlobWriter.ready). */
const WRITER_MAX_INFLIGHT = 4

/**
 * Many small blobs, written by a worker thread while the caller goes on (see Cas.blobWriter).
 * Contract: add() returns the blob's info at once (hashed and checked on the caller's thread);
 * the blob exists only once flush() has resolved. Nothing may link or read a blob before that.
 */
export interface BlobWriter {
  /**
   * Store `buf`; `label` names it in the error flush() throws if its write fails. With `place`
   * (an absolute path in a tree being assembled, on the store's filesystem), a blob this writer
   * writes itself is created there first and hardlinked into the store, so the tree needs no
   * link of its own (see placements()). Whether that happened is known only after flush(): a
   * blob that already existed, was written synchronously, or whose place was taken, is stored
   * as usual and `place` left alone.
   */
  add(buf: Buffer | Uint8Array, opts?: AddOptions, label?: string, place?: string): BlobInfo
  /** After flush(): each `place` where the blob of that add now is (place → key). */
  placements(): ReadonlyMap<string, string>
  /** A promise to wait for when too many writes are in flight, else null. */
  ready(): Promise<void> | null
  /** Wait for every write; throws the first failure (a CasError carrying `label`). */
  flush(): Promise<void>
  /** Wait for the writes in flight (ignoring their failures) and stop the worker. */
  close(): Promise<void>
  /**
   * With `digest` (blobWriter's option), after flush(): that digest of the content of a blob
   * this writer added (lowercase hex), computed by the worker that wrote it; undefined for other keys.
   */
  digestOf(key: string): string | undefined
}

/** crypto.hash where Node has it (20.12+), else a Hash object. */
function oneShotDigest(algorithm: string, data: Buffer | Uint8Array): string {
  const c = nodeCrypto as unknown as { hash?: (a: string, d: Buffer | Uint8Array, e: 'hex') => string }
  return typeof c.hash === 'function' ? c.hash(algorithm, data, 'hex') : nodeCrypto.createHash(algorithm).update(data).digest('hex')
}

export class Cas {
  readonly dir: string
  readonly #fsync: boolean
  readonly #importer: Importer
  readonly #confined: ConfinedFs
  #ready: Promise<void> | undefined

  constructor(dir: string, options: CasOptions = {}) {
    this.dir = dir
    this.#fsync = options.fsync === true
    this.#confined = options.confined ?? new ConfinedFs(dir)
    this.#importer = new Importer(dir)
  }

  /**
   * Creates the store directory, its tmp directory and its 256 buckets (idempotent), each a real
   * directory reached through real directories (a symlink planted at any of them is refused, so
   * no blob, temporary file or worker write lands outside the root).
   */
  async init(): Promise<void> {
    try {
      this.#confined.ensureRoot()
      this.#confined.mkdirp(join(this.dir, TEMP_DIR))
      for (let i = 0; i < 256; i++) this.#confined.mkdirp(`${this.dir}/${i.toString(16).padStart(2, '0')}`)
    } catch (err) {
      throw toCasError(err, 'create the store at', this.dir)
    }
  }

  keyOf(digest: string, executable: boolean): string {
    return keyOf(digest, executable)
  }

  pathOf(key: string): string {
    return blobPath(this.dir, key)
  }

  static parseKey(key: string): { digest: string; executable: boolean } {
    return parseKey(key)
  }

  async has(key: string): Promise<boolean> {
    return (await this.stat(key)) !== null
  }

  /** Size of a stored blob, or null when it is absent. */
  async stat(key: string): Promise<{ size: number } | null> {
    const path = this.pathOf(key)
    try {
      const st = await lstat(path)
      return st.isFile() ? { size: st.size } : null
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return null
      throw toCasError(err, 'stat', path)
    }
  }

  /**
   * Stores the content of `src`. See the file comment for the contracts; the returned info says
   * whether the blob was already present (`existed`) or had to be repaired (`repaired`).
   */
  async addStream(src: AsyncIterable<Uint8Array | string> | NodeJS.ReadableStream, opts: AddOptions = {}): Promise<BlobInfo> {
    // A Node stream may fail before iteration starts (a missing file): keep that from being an
    // unhandled 'error' event; the iterator reports the stream's stored error when it starts.
    // The iterator is always closed below, which destroys the stream.
    if (typeof (src as NodeJS.ReadableStream).on === 'function') (src as NodeJS.ReadableStream).on('error', ignore)
    const iterator = (src as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]()
    const tmp = tempPath(this.dir, 'blob')
    let handle: FileHandle | undefined
    let published = false
    try {
      const executable = opts.executable === true
      const expectDigest = opts.expectDigest?.toLowerCase()
      if (expectDigest !== undefined && !isDigest(expectDigest)) {
        throw new CasError('ERR_NIP_HASH_MISMATCH', `expected digest is not a BLAKE3 hex digest: ${JSON.stringify(opts.expectDigest)}`, {
          hint: 'The source metadata gives a malformed BLAKE3 digest.',
          data: { expected: opts.expectDigest },
        })
      }
      await this.#ensureReady()
      handle = await open(tmp, 'wx', 0o600)
      const { digest, size } = await writeHashed(handle, iterator, opts.expectSize)
      if (opts.expectSize !== undefined && size !== opts.expectSize) throw sizeMismatch(opts.expectSize, size, false)
      if (expectDigest !== undefined && digest !== expectDigest) {
        throw new CasError('ERR_NIP_HASH_MISMATCH', `content hashes to ${digest}, expected ${expectDigest}`, {
          hint: 'The download is corrupt or was tampered with; retry, or try another mirror or source.',
          data: { expected: expectDigest, actual: digest, size },
        })
      }
      if (this.#fsync) await handle.sync()
      await handle.close()
      handle = undefined
      const key = keyOf(digest, executable)
      await chmod(tmp, blobMode(executable))
      const final = this.pathOf(key)
      this.#ensureBucketSync(final)
      const info: BlobInfo = { key, digest, executable, size, existed: false }
      try {
        await link(tmp, final)
      } catch (err) {
        const errno = errnoOf(err)
        if (errno !== undefined && NO_HARDLINKS.has(errno)) {
          // A store on a filesystem without hardlinks: rename publishes too; racing renames
          // replace verified content with identical verified content.
          await rename(tmp, final)
          published = true
          return info
        }
        if (errno !== 'EEXIST') throw err
        if (this.#suspect.has(key) ? await matches(final, digest, executable, size) : looksComplete(final, executable, size)) {
          info.existed = true
        } else {
          await rename(tmp, final)
          published = true
          info.repaired = true
        }
      }
      return info
    } catch (err) {
      throw toCasError(err, 'add a blob via', tmp)
    } finally {
      await iterator.return?.().catch(() => undefined)
      await handle?.close().catch(() => undefined)
      if (!published) await unlink(tmp).catch(() => undefined)
    }
  }

  async addBuffer(buf: Buffer | Uint8Array, opts: AddOptions = {}): Promise<BlobInfo> {
    return this.addStream(once(buf), opts)
  }

  /**
   * addBuffer without the thread-pool round trips: the same contracts (verify expectations,
   * verify an existing blob, repair a corrupt one), in synchronous calls. Unpacking thousands
   * of small files is dominated by per-call cost, not by bytes, so the unpacker buffers small
   * members and comes here. Call init() once before.
   *
   * The digest is known before anything is written, so the blob is created at its address
   * directly (O_CREAT|O_EXCL: never replaces, never follows a symlink) instead of through a
   * temporary file and a rename: one directory operation per blob instead of three. A process
   * killed in the middle of the write leaves a short blob at its address: it does not look
   * complete (see the file comment), so the next add of that content repairs it, and verify()
   * reports it. Nothing links such a blob before an add of its content has returned. With `fsync: true` the
   * blob is written, synced and published through a temporary file as addStream does.
   */
  addBufferSync(buf: Buffer | Uint8Array, opts: AddOptions = {}): BlobInfo {
    const info = checkedInfo(buf, opts)
    const { digest, executable, size } = info
    const final = this.pathOf(info.key)
    this.#ensureBucketSync(final)
    if (!this.#fsync) {
      let fd: number
      try {
        fd = openSync(final, EXCLUSIVE_CREATE, blobMode(executable))
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') throw toCasError(err, 'add a blob at', final)
        if (this.#storedMatchesSync(info.key, final, digest, executable, size)) {
          info.existed = true
          return info
        }
        this.#publishSync(buf, final, executable)
        info.repaired = true
        return info
      }
      try {
        writeAllSync(fd, buf)
        closeSync(fd)
      } catch (err) {
        removeIfSame(final, fd)
        throw toCasError(err, 'add a blob at', final)
      }
      return info
    }
    if (this.#storedMatchesSync(info.key, final, digest, executable, size)) {
      info.existed = true
      return info
    }
    if (this.#publishSync(buf, final, executable)) info.repaired = true
    return info
  }

  /**
   * A writer for many small blobs: addBufferSync's contracts, with the writes made by a worker
   * thread in batches while the caller goes on (unpacking thousands of files: the main thread
   * parses and hashes while the worker creates the files). The first few hundred adds, and
   * every add of a store with `fsync: true`, are plain addBufferSync calls. Content whose blob
   * the store holds already, complete-looking (see the file comment), is not written at all:
   * the worker finds it with one lstat after hashing, and hardlinks it to the add's `place`.
   * A blob that exists but does not look complete (EEXIST from the worker) is checked and
   * repaired by addBufferSync on return, as is every stored blob while this store has keys
   * verify() found damaged.
   *
   * With `keysByWorkers`, the workers also compute the BLAKE3 addresses of the blobs they
   * write: add() then returns a BlobInfo whose `key` and `digest` are empty strings until
   * flush() resolves, when the same object holds them (content added twice is then written
   * twice, the second write finding the first's blob, verified as above).
   */
  blobWriter(opts: { large?: boolean; digest?: string; keysByWorkers?: boolean } = {}): BlobWriter {
    const keysByWorkers = opts.keysByWorkers === true
    const digestAlgorithm = opts.digest
    /** With `digest`: each added key's digest, once known. */
    const digests = new Map<string, string>()
    const placed = new Map<string, string>()
    const digestHere = (key: string, buf: Buffer | Uint8Array): void => {
      if (digestAlgorithm !== undefined && !digests.has(key)) digests.set(key, oneShotDigest(digestAlgorithm, buf))
    }
    const threads = this.#fsync ? 0 : poolThreads()
    let pool: FsPool | undefined
    /** Whether the workers look for each blob before writing it (see send()). */
    let lookFirst: boolean | undefined
    // A caller that knows the archive is large skips the synchronous start (the workers pay off).
    let syncLeft = opts.large === true ? 0 : WRITER_SYNC_FIRST
    let batchNo = 0
    /** Keys written (or being written) by this writer: identical content is written once. */
    const queued = new Set<string>()
    let ops: FsOp[] = []
    let labels: string[] = []
    let keys: string[] = []
    let adds: { opts: AddOptions; offset: number; length: number }[] = []
    /** With keysByWorkers: the BlobInfo each op's key goes into. */
    let infos: BlobInfo[] = []
    /** Batch buffers the workers gave back, for the next batches (fewer large allocations, less GC). */
    const spare: ArrayBuffer[] = []
    let data = Buffer.allocUnsafeSlow(WRITER_BATCH_BYTES)
    let used = 0
    const inflight: Promise<void>[] = []
    let failure: unknown
    const settle = (
      results: (FsOpError | null)[],
      back: ArrayBuffer | undefined,
      sent: { ops: FsOp[]; labels: string[]; adds: typeof adds; keys: string[]; infos: BlobInfo[] },
      got?: string[],
      unplaced?: number[],
      computed?: string[],
      existed?: number[],
    ): void => {
      if (computed !== undefined) {
        for (const [i, key] of computed.entries()) {
          if (key === undefined || key === null) continue
          sent.keys[i] = key
          const info = sent.infos[i]
          info.key = key
          info.digest = key.endsWith('-x') ? key.slice(0, -2) : key
        }
      }
      if (got !== undefined) for (const [i, d] of got.entries()) if (d) digests.set(sent.keys[i], d)
      if (existed !== undefined) for (const i of existed) sent.infos[i].existed = true
      const notPlaced = new Set(unplaced)
      results.forEach((r, i) => {
        const op = sent.ops[i] as Extract<FsOp, { op: 'write' }>
        /** The blob's path (a write op whose key a worker computed carries none). */
        const where = (): string => op.path || (sent.keys[i] ? this.pathOf(sent.keys[i]) : this.dir)
        if (r === null) {
          if (op.place !== undefined && !notPlaced.has(i)) placed.set(op.place, sent.keys[i])
          return
        }
        if (failure !== undefined) return
        try {
          if (r.code !== 'EEXIST' || back === undefined) throw Object.assign(new Error(r.message), r, { path: where() })
          // Something is at the address already: verify it, repair it if it does not match.
          const a = sent.adds[i]
          const bytes = new Uint8Array(back, a.offset, a.length)
          const stored = this.addBufferSync(bytes, a.opts)
          if (keysByWorkers) Object.assign(sent.infos[i], { key: stored.key, digest: stored.digest, existed: stored.existed, ...(stored.repaired ? { repaired: true } : {}) })
          digestHere(stored.key, bytes)
        } catch (err) {
          failure = labelled(toCasError(err, 'add a blob at', where()), sent.labels[i])
        }
      })
    }
    const send = (): void => {
      if (ops.length === 0) return
      const sent = { ops, labels, adds, keys, infos }
      // The batch's buffer is handed over (transferred, not copied); the next batch gets a new one.
      const buffer = data.buffer as ArrayBuffer
      const reuse = spare.pop()
      data = reuse !== undefined ? Buffer.from(reuse) : Buffer.allocUnsafeSlow(WRITER_BATCH_BYTES)
      ops = []
      labels = []
      adds = []
      keys = []
      infos = []
      used = 0
      pool ??= new FsPool(threads)
      // A store holding no blob yet (a first install) has nothing to find: no lookup per blob.
      lookFirst ??= !this.#looksEmpty()
      const p = pool.submit({ ops: sent.ops, data: buffer, ...(digestAlgorithm !== undefined ? { digest: digestAlgorithm } : {}), ...(keysByWorkers ? { store: this.dir } : {}), returnData: true, ...(lookFirst && this.#suspect.size === 0 ? { trustStored: true } : {}) }, batchNo++ % threads).then(
        (r) => {
          settle(r.results, r.data, sent, r.digests, r.unplaced, r.keys, r.existed)
          if (r.data !== undefined && r.data.byteLength === WRITER_BATCH_BYTES && spare.length < WRITER_MAX_INFLIGHT) spare.push(r.data)
        },
        (e: unknown) => {
          failure ??= labelled(toCasError(e, 'add a blob at', this.dir), sent.labels[0])
        },
      )
      inflight.push(p)
      const drop = (): void => {
        inflight.splice(inflight.indexOf(p), 1)
      }
      p.then(drop, drop)
    }
    return {
      add: (buf, opts = {}, label = '', place) => {
        if (failure !== undefined) throw failure
        if (threads === 0 || syncLeft > 0 || buf.byteLength > WRITER_BATCH_BYTES) {
          syncLeft--
          const info = this.addBufferSync(buf, opts)
          queued.add(info.key)
          digestHere(info.key, buf)
          return info
        }
        let info: BlobInfo
        if (keysByWorkers && opts.expectDigest === undefined) {
          // The worker hashes it: the key arrives with the batch's answer (settle).
          if (opts.expectSize !== undefined && buf.byteLength !== opts.expectSize) throw sizeMismatch(opts.expectSize, buf.byteLength, false)
          info = { key: '', digest: '', executable: opts.executable === true, size: buf.byteLength, existed: false }
        } else {
          info = checkedInfo(buf, opts)
          if (queued.has(info.key)) return { ...info, existed: true }
          queued.add(info.key)
        }
        if (used + buf.byteLength > WRITER_BATCH_BYTES) send()
        data.set(buf, used)
        // The worker makes the bucket directory if it is missing.
        ops.push({ op: 'write', path: info.key === '' ? '' : this.pathOf(info.key), mode: blobMode(info.executable), offset: used, length: buf.byteLength, ...(place !== undefined ? { place } : {}) })
        labels.push(label)
        keys.push(info.key)
        infos.push(info)
        adds.push({ opts, offset: used, length: buf.byteLength })
        used += buf.byteLength
        if (ops.length >= WRITER_BATCH_BLOBS) send()
        return info
      },
      ready: () => (inflight.length >= WRITER_MAX_INFLIGHT ? inflight[0] : null),
      flush: async () => {
        send()
        while (inflight.length > 0) await inflight[0]
        if (failure !== undefined) throw failure
      },
      digestOf: (key) => digests.get(key),
      placements: () => placed,
      close: async () => {
        ops = []
        await Promise.allSettled([...inflight])
        await pool?.close()
        data = Buffer.alloc(0)
      },
    }
  }

  /**
   * Writes `buf` to a temporary file (synced when the store asks for it) and renames it to
   * `final`: the content appears complete or not at all. A process racing us to the same key
   * renames identical, verified content, which is harmless. Returns whether something was
   * replaced (a corrupt blob).
   */
  #publishSync(buf: Buffer | Uint8Array, final: string, executable: boolean): boolean {
    const tmp = tempPath(this.dir, 'blob')
    let published = false
    try {
      const fd = openSync(tmp, EXCLUSIVE_CREATE, blobMode(executable))
      try {
        writeAllSync(fd, buf)
        if (this.#fsync) fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
      const existedBefore = lstatOrNull(final) !== null
      renameSync(tmp, final)
      published = true
      return existedBefore
    } catch (err) {
      throw toCasError(err, 'add a blob via', tmp)
    } finally {
      if (!published) {
        try {
          unlinkSync(tmp)
        } catch {
          /* already gone */
        }
      }
    }
  }

  /** Creates the bucket directory of a blob path once per store instance (saves a mkdir per blob). */
  #ensureBucketSync(final: string): void {
    const bucket = dirname(final)
    if (this.#buckets.has(bucket)) return
    try {
      this.#confined.mkdirp(bucket)
    } catch (err) {
      throw toCasError(err, 'create the bucket', bucket)
    }
    this.#buckets.add(bucket)
  }

  /** Bucket directories known to exist. */
  readonly #buckets = new Set<string>()

  /** Stores a file's content; executable defaults to whether any execute bit of the file is set. */
  async addFile(path: string, opts: AddOptions = {}): Promise<BlobInfo> {
    let executable = opts.executable
    if (executable === undefined) {
      try {
        executable = ((await stat(path)).mode & 0o111) !== 0
      } catch (err) {
        throw toCasError(err, 'read', path)
      }
    }
    return this.addStream(createReadStream(path, { highWaterMark: HASH_CHUNK_SIZE }), { ...opts, executable })
  }

  /**
   * Re-hashes a blob: true when it exists, is a regular file with its key's mode, and matches its
   * digest. A key found damaged is re-hashed by this instance's later adds (which repair it).
   */
  async verify(key: string): Promise<boolean> {
    const { digest, executable } = parseKey(key)
    const ok = await matches(this.pathOf(key), digest, executable)
    if (!ok) this.#suspect.add(key)
    return ok
  }

  /**
   * Whether the blob at `final` may stand for this content (see the file comment): complete-looking,
   * or, for a key verify() found damaged, re-hashed and matching.
   */
  #storedMatchesSync(key: string, final: string, digest: string, executable: boolean, size: number): boolean {
    return this.#suspect.has(key) ? matchesSync(final, digest, executable, size) : looksComplete(final, executable, size)
  }

  /**
   * Whether no bucket holds an entry (a store before its first blobs): up to 256 directory
   * reads, stopping at the first entry. Only a hint: content that appears meanwhile (another
   * writer of this process) is found by the write itself (EEXIST) and checked as usual.
   */
  #looksEmpty(): boolean {
    for (let i = 0; i < 256; i++) {
      let d
      try {
        d = opendirSync(`${this.dir}/${i.toString(16).padStart(2, '0')}`)
      } catch {
        continue
      }
      try {
        if (d.readSync() !== null) return false
      } finally {
        d.closeSync()
      }
    }
    return true
  }

  /** Keys verify() found damaged: their blobs are re-hashed on every add. */
  readonly #suspect = new Set<string>()

  /** Removes a blob; false when it was not there. */
  async remove(key: string): Promise<boolean> {
    const path = this.pathOf(key)
    try {
      await unlink(path)
      return true
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return false
      throw toCasError(err, 'remove', path)
    }
  }

  /** Every key in the store (a full scan of the bucket directories, in no particular order). */
  async *keys(): AsyncIterable<string> {
    for (const bucket of await listDir(this.dir)) {
      if (!BUCKET.test(bucket)) continue
      for (const name of await listDir(join(this.dir, bucket))) {
        if (isKeyIn(name, bucket)) yield name
      }
    }
  }

  /**
   * Places blob `key` at `dest` by reflink → hardlink → copy (see importer.ts). `dest` must not
   * exist (ERR_NIP_IO with errno EEXIST otherwise); a missing blob is ERR_NIP_CAS_CORRUPT.
   */
  async importTo(key: string, dest: string, opts: ImportOptions = {}): Promise<ImportMethod> {
    const { executable } = parseKey(key)
    const src = this.pathOf(key)
    if ((await this.stat(key)) === null) {
      throw new CasError('ERR_NIP_CAS_CORRUPT', `blob ${key} is missing from the store`, {
        hint: 'Run nip doctor --fix, or reinstall the program so the blob is fetched again.',
        data: { key, path: src },
      })
    }
    await this.#ensureReady()
    return this.#importer.place(src, dest, { executable, copy: opts.copy, mode: opts.mode })
  }

  /** The import method for the filesystem holding `destDir` (probed once, then remembered). */
  async importMethod(destDir: string): Promise<ImportMethod> {
    await this.#ensureReady()
    try {
      return await this.#importer.methodFor(destDir)
    } catch (err) {
      throw toCasError(err, 'probe the import method for', destDir)
    }
  }

  /** Removes stale temporary files (see tempFile.ts) and returns how many were removed. */
  async cleanTmp(options: CleanTmpOptions = {}): Promise<number> {
    const maxAgeMs = options.maxAgeMs ?? DAY_MS
    const tmpDir = join(this.dir, TEMP_DIR)
    let removed = 0
    for (const name of await listDir(tmpDir)) {
      const path = join(tmpDir, name)
      try {
        const st = await lstat(path)
        if (!isStale(name, Date.now() - st.mtimeMs, maxAgeMs)) continue
        await rm(path, { recursive: true, force: true })
        removed++
      } catch (err) {
        if (errnoOf(err) !== 'ENOENT') throw toCasError(err, 'remove', path)
      }
    }
    return removed
  }

  #ensureReady(): Promise<void> {
    this.#ready ??= this.init().catch((err: unknown) => {
      this.#ready = undefined
      throw err
    })
    return this.#ready
  }
}

/**
 * Hashes and writes every chunk of `src`; the write of one chunk overlaps reading and hashing
 * the next. Stops as soon as more than `maxSize` bytes arrive, so oversized input never fills
 * the disk.
 */
async function writeHashed(
  handle: FileHandle,
  iterator: AsyncIterator<Uint8Array | string>,
  maxSize: number | undefined,
): Promise<{ digest: string; size: number }> {
  const src: AsyncIterable<Uint8Array | string> = { [Symbol.asyncIterator]: () => iterator }
  const hasher = createBlake3()
  let size = 0
  let pending: Promise<void> | undefined
  let writeError: { error: unknown } | undefined
  const settle = async (): Promise<void> => {
    if (pending !== undefined) await pending
    if (writeError !== undefined) throw writeError.error
  }
  try {
    for await (const raw of src) {
      const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw
      if (chunk.byteLength === 0) continue
      size += chunk.byteLength
      if (maxSize !== undefined && size > maxSize) throw sizeMismatch(maxSize, size, true)
      hasher.update(chunk)
      await settle()
      pending = writeAll(handle, chunk).catch((error: unknown) => {
        writeError = { error }
      })
    }
  } finally {
    await pending
  }
  await settle()
  return { digest: hasher.digestHex(), size }
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset)
    offset += bytesWritten
  }
}

/**
 * Closes `fd` and removes `path` when it is still the file `fd` was opened on (a process racing
 * us may have replaced it with the complete blob meanwhile, which must stay).
 */
function removeIfSame(path: string, fd: number): void {
  try {
    const mine = fstatSync(fd)
    const there = lstatSync(path)
    if (mine.ino === there.ino && mine.dev === there.dev) unlinkSync(path)
  } catch {
    /* already gone */
  }
  try {
    closeSync(fd)
  } catch {
    /* already closed */
  }
}

function writeAllSync(fd: number, buf: Uint8Array): void {
  for (let offset = 0; offset < buf.byteLength; ) offset += writeSync(fd, buf, offset, buf.byteLength - offset)
}

function lstatOrNull(path: string): import('node:fs').Stats | null {
  try {
    return lstatSync(path)
  } catch {
    return null
  }
}

/**
 * Whether the file at `path` looks like a complete blob of this content: a regular file with the
 * blob mode and the content's size. Reads no content (see the file comment).
 */
function looksComplete(path: string, executable: boolean, size: number): boolean {
  let st
  try {
    st = lstatSync(path, { throwIfNoEntry: false })
  } catch (err) {
    throw toCasError(err, 'look at', path)
  }
  return st !== undefined && st.isFile() && (st.mode & 0o7777) === blobMode(executable) && st.size === size
}

/** Whether the file at `path` is a regular file with the blob mode, the given size and digest. */
function matchesSync(path: string, digest: string, executable: boolean, size: number): boolean {
  let st
  try {
    st = lstatSync(path)
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return false
    throw toCasError(err, 'verify', path)
  }
  if (!st.isFile() || (st.mode & 0o7777) !== blobMode(executable) || st.size !== size) return false
  const fd = openSync(path, 'r')
  try {
    const h = createBlake3()
    const chunk = Buffer.allocUnsafe(Math.min(HASH_CHUNK_SIZE, Math.max(size, 1)))
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null)
      if (n === 0) break
      h.update(chunk.subarray(0, n))
    }
    return h.digestHex() === digest
  } finally {
    closeSync(fd)
  }
}

async function matches(path: string, digest: string, executable: boolean, size?: number): Promise<boolean> {
  try {
    const st = await lstat(path)
    if (!st.isFile() || (st.mode & 0o7777) !== blobMode(executable)) return false
    if (size !== undefined && st.size !== size) return false
    return (await hashFile(path)).digest === digest
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return false
    throw toCasError(err, 'verify', path)
  }
}

/** Hashes `buf` and checks it against the expectations of `opts`: the info of a not-yet-stored blob. */
function checkedInfo(buf: Buffer | Uint8Array, opts: AddOptions): BlobInfo {
  const executable = opts.executable === true
  const digest = blake3Hex(buf)
  const size = buf.length
  if (opts.expectSize !== undefined && size !== opts.expectSize) throw sizeMismatch(opts.expectSize, size, false)
  const expectDigest = opts.expectDigest?.toLowerCase()
  if (expectDigest !== undefined && digest !== expectDigest) {
    throw new CasError('ERR_NIP_HASH_MISMATCH', `content hashes to ${digest}, expected ${expectDigest}`, {
      hint: 'The download is corrupt or was tampered with; retry, or try another mirror or source.',
      data: { expected: expectDigest, actual: digest, size },
    })
  }
  return { key: keyOf(digest, executable), digest, executable, size, existed: false }
}

function sizeMismatch(expected: number, actual: number, atLeast: boolean): CasError {
  const got = atLeast ? `more than ${expected} bytes` : `${actual} bytes`
  return new CasError('ERR_NIP_SIZE_MISMATCH', `content is ${got}, expected ${expected} bytes`, {
    hint: 'The download is truncated, oversized or corrupt; retry, or try another mirror or source.',
    data: { expected, actual, ...(atLeast ? { atLeast: true } : {}) },
  })
}

function ignore(): void {}

/** The error, naming the blob whose write failed as `label` (BlobWriter). */
function labelled(e: unknown, label: string): unknown {
  return typeof e === 'object' && e !== null ? Object.assign(e, { label }) : e
}

async function* once(buf: Uint8Array): AsyncIterable<Uint8Array> {
  yield buf
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return []
    throw toCasError(err, 'list', dir)
  }
}

function isKeyIn(name: string, bucket: string): boolean {
  if (!name.startsWith(bucket)) return false
  try {
    parseKey(name)
    return true
  } catch {
    return false
  }
}
