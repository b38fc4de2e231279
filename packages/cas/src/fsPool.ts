/**
 * A few worker threads that run batches of file-system calls (create a blob file, hardlink,
 * symlink) synchronously, one batch per message.
 *
 * Why: a graft creates an inode or a directory entry per file, three times over (blob, program
 * tree, link farm). Those calls are kernel work; on the main thread they run one at a time and
 * nothing else happens meanwhile. Sent to a worker in batches, they run beside the main
 * thread's parsing and hashing, and two workers creating entries in different directories
 * overlap in the kernel too. A batch costs one message each way, not one thread-pool round trip
 * per call, which is why this is not fs/promises.
 *
 * Contract: results come back in the order of the calls, each null or the error's code and
 * message; the pool never retries or falls back (callers do, synchronously, on their thread).
 * Starting a worker costs a few tens of milliseconds: callers use the pool for large batches only
 * (POOL_MIN_OPS) and close() it when done.
 */
import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'

export type FsOp =
  | { op: 'symlink'; target: string; path: string }
  | { op: 'link'; from: string; path: string }
  /**
   * Create `path` with O_CREAT|O_EXCL and write data[offset, offset + length) (FsBatch.data);
   * its parent directory (a store bucket) is made when missing.
   * With `place`: create the file there instead (its parent directories too), then hardlink it
   * to `path`; when that link fails the file at `place` is removed again. The inode is then
   * allocated beside the tree that uses it, in the tree's order, as an unpacking tool's would be.
   */
  | { op: 'write'; path: string; mode: number; offset: number; length: number; place?: string }

export interface FsBatch {
  ops: FsOp[]
  /**
   * Also digest every write op's bytes with this node:crypto algorithm (FsBatchResult.digests),
   * so a caller that checks a package's own digests (pacman's .MTREE) leaves that to the worker.
   */
  digest?: string
  /**
   * The bytes of the batch's writes (transferred to the worker; returned with the results only
   * when a write found its path taken, for the caller's fallback).
   */
  data?: ArrayBuffer
  /**
   * A store directory: every write op's address is its content's, computed by the worker — the
   * BLAKE3 key (with "-x" for an executable mode) under `<store>/<key[0:2]>/` — and its `path`
   * is not used. FsBatchResult.keys has the keys.
   */
  store?: string
  /** Return `data` with every answer (transferred back), so that the caller can reuse it. */
  returnData?: boolean
  /**
   * A write op whose address holds a complete-looking blob already (a regular file with the
   * op's mode and length: see Cas's contract on existing blobs) writes nothing: the blob is
   * hardlinked to its `place`, if any, and the op is listed in FsBatchResult.existed.
   */
  trustStored?: boolean
}

/** The form a batch travels in: write ops packed into one string and one array (cheap to clone; see WORKER_SOURCE for the other end). */
export interface PackedBatch {
  ops?: FsOp[]
  /** Link and symlink ops: kinds ('l' link, 's' symlink) and, NUL-joined, each op's two paths (from/target, path). */
  linkKinds?: string
  linkPaths?: string
  /** Paths of write ops, joined by NUL. */
  writePaths?: string
  /** Their `place` paths, joined by NUL ('' for none), when any op has one. */
  placePaths?: string
  /** mode, offset, length of each write op. */
  writeMeta?: Float64Array
  digest?: string
  data?: ArrayBuffer
  store?: string
  returnData?: boolean
  trustStored?: boolean
}

export function packBatch(batch: FsBatch): { packed: PackedBatch; transfer: ArrayBuffer[] } {
  // Cloning one string is far cheaper than cloning tens of thousands of small objects.
  if (batch.ops.length > 0 && batch.ops.every((o) => o.op !== 'write')) {
    let kinds = ''
    const paths: string[] = []
    for (const o of batch.ops as Exclude<FsOp, { op: 'write' }>[]) {
      if (o.op === 'link') {
        kinds += 'l'
        paths.push(o.from, o.path)
      } else {
        kinds += 's'
        paths.push(o.target, o.path)
      }
    }
    if (!paths.some((p) => p.includes('\0'))) return { packed: { linkKinds: kinds, linkPaths: paths.join('\0') }, transfer: [] }
  }
  if (batch.ops.length === 0 || batch.ops.some((o) => o.op !== 'write')) return { packed: batch, transfer: batch.data ? [batch.data] : [] }
  const writes = batch.ops as Extract<FsOp, { op: 'write' }>[]
  const meta = new Float64Array(writes.length * 3)
  writes.forEach((w, i) => {
    meta[i * 3] = w.mode
    meta[i * 3 + 1] = w.offset
    meta[i * 3 + 2] = w.length
  })
  const transfer = [meta.buffer as ArrayBuffer, ...(batch.data ? [batch.data] : [])]
  const placed = writes.some((w) => w.place !== undefined)
  return {
    packed: {
      writePaths: batch.store !== undefined ? '\0'.repeat(writes.length - 1) : writes.map((w) => w.path).join('\0'),
      ...(placed ? { placePaths: writes.map((w) => w.place ?? '').join('\0') } : {}),
      writeMeta: meta,
      ...(batch.digest ? { digest: batch.digest } : {}),
      ...(batch.data ? { data: batch.data } : {}),
      ...(batch.store !== undefined ? { store: batch.store } : {}),
      ...(batch.returnData === true ? { returnData: true } : {}),
      ...(batch.trustStored === true ? { trustStored: true } : {}),
    },
    transfer,
  }
}

/**
 * The worker thread: runs each batch synchronously and answers with one result per call (null,
 * or the error's code and message), or null for "all succeeded". It decides nothing: every
 * fallback (an existing blob, an occupied link path) is the caller's. A write creates its file
 * with O_CREAT|O_EXCL (never replaces, never follows a symlink) and removes it again when the
 * write fails. The bytes go back only when a write found its path taken.
 */
const WORKER_SOURCE = `
const fs = require('node:fs')
const crypto = require('node:crypto')
const { parentPort, workerData } = require('node:worker_threads')
let blake
// BLAKE3 of a write's bytes, as the store's hash.ts computes it (the same native module).
function blake3Hex(bytes) {
  blake ??= require(workerData.blake)
  return blake.blake3(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString('hex')
}
const digestOf = typeof crypto.hash === 'function' ? (a, b) => crypto.hash(a, b, 'hex') : (a, b) => crypto.createHash(a).update(b).digest('hex')
const EXCLUSIVE_CREATE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL
const { dirname } = require('node:path')
// A write op's file goes into a store bucket that may not exist yet: made here, on first use.
function inBucket(path, make) {
  try {
    return make()
  } catch (e) {
    if (e.code !== 'ENOENT') throw e
    try {
      fs.mkdirSync(dirname(path), 0o755)
    } catch (m) {
      if (m.code !== 'EEXIST') throw e
    }
    return make()
  }
}
function ops(batch) {
  if (batch.ops !== undefined) return batch.ops
  if (batch.linkKinds !== undefined) {
    const p = batch.linkPaths.split('\\0')
    const out = new Array(batch.linkKinds.length)
    for (let i = 0; i < out.length; i++) {
      out[i] = batch.linkKinds[i] === 'l' ? { op: 'link', from: p[2 * i], path: p[2 * i + 1] } : { op: 'symlink', target: p[2 * i], path: p[2 * i + 1] }
    }
    return out
  }
  const meta = batch.writeMeta
  const places = batch.placePaths === undefined ? undefined : batch.placePaths.split('\\0')
  return batch.writePaths.split('\\0').map((path, i) => ({ op: 'write', path, mode: meta[i * 3], offset: meta[i * 3 + 1], length: meta[i * 3 + 2], place: places === undefined || places[i] === '' ? undefined : places[i] }))
}
// Whether the file went to op.place (else it was written at op.path only, or the call threw).
function placeNew(op, bytes) {
  try {
    try {
      writeNew(op.place, op.mode, bytes)
    } catch (e) {
      if (e.code !== 'ENOENT') throw e
      fs.mkdirSync(dirname(op.place), { recursive: true })
      writeNew(op.place, op.mode, bytes)
    }
  } catch {
    // The place is taken or cannot be made: the tree's staging will deal with it.
    inBucket(op.path, () => writeNew(op.path, op.mode, bytes))
    return false
  }
  try {
    inBucket(op.path, () => fs.linkSync(op.place, op.path))
    return true
  } catch (e) {
    try { fs.unlinkSync(op.place) } catch {}
    // Something is at the store's address already: the caller verifies it.
    if (e.code === 'EEXIST') throw e
  }
  inBucket(op.path, () => writeNew(op.path, op.mode, bytes))
  return false
}
// Whether a complete-looking blob is at path already: a regular file with the op's mode and
// length (a write killed half-way leaves it shorter). Its content is not read (see Cas).
// (No exception for a missing blob, the common case of a new store: throwing one per file cost
// more than the lookup.)
function storedLooksComplete(path, mode, length) {
  let st
  try {
    st = fs.lstatSync(path, { throwIfNoEntry: false })
  } catch {
    return false
  }
  return st !== undefined && st.isFile() && (st.mode & 0o7777) === mode && st.size === length
}
// Hardlink an existing blob to op.place (its parent directories made when missing); false when
// the place is taken or cannot be made (the tree's staging will deal with it).
function linkPlace(op) {
  try {
    try {
      fs.linkSync(op.path, op.place)
    } catch (e) {
      if (e.code !== 'ENOENT') throw e
      fs.mkdirSync(dirname(op.place), { recursive: true })
      fs.linkSync(op.path, op.place)
    }
    return true
  } catch {
    return false
  }
}
function writeNew(path, mode, bytes) {
  const fd = fs.openSync(path, EXCLUSIVE_CREATE, mode)
  try {
    for (let offset = 0; offset < bytes.byteLength; ) offset += fs.writeSync(fd, bytes, offset, bytes.byteLength - offset)
  } catch (e) {
    try {
      const mine = fs.fstatSync(fd)
      const there = fs.lstatSync(path)
      if (mine.ino === there.ino && mine.dev === there.dev) fs.unlinkSync(path)
    } catch {}
    fs.closeSync(fd)
    throw e
  }
  fs.closeSync(fd)
}
function run(batch, digests, unplaced, keys, existed) {
  const data = batch.data === undefined ? undefined : new Uint8Array(batch.data)
  return ops(batch).map((op, i) => {
    try {
      if (op.op === 'symlink') fs.symlinkSync(op.target, op.path)
      else if (op.op === 'link') fs.linkSync(op.from, op.path)
      else {
        const bytes = data.subarray(op.offset, op.offset + op.length)
        if (keys !== undefined) {
          const key = blake3Hex(bytes) + ((op.mode & 0o111) !== 0 ? '-x' : '')
          keys[i] = key
          op.path = batch.store + '/' + key.slice(0, 2) + '/' + key
        }
        if (digests !== undefined) digests[i] = digestOf(batch.digest, bytes)
        if (batch.trustStored === true && storedLooksComplete(op.path, op.mode, op.length)) {
          // Content the store holds already: nothing is written, the blob is linked in place.
          existed.push(i)
          if (op.place !== undefined && !linkPlace(op)) unplaced.push(i)
          return null
        }
        if (op.place === undefined) inBucket(op.path, () => writeNew(op.path, op.mode, bytes))
        else if (!placeNew(op, bytes)) unplaced.push(i)
      }
      return null
    } catch (e) {
      const r = { code: e.code || 'EIO', message: e.message }
      if (e.errno !== undefined) r.errno = e.errno
      if (e.syscall) r.syscall = e.syscall
      return r
    }
  })
}
parentPort.on('message', (msg) => {
  const digests = msg.batch.digest === undefined ? undefined : []
  const unplaced = []
  const keys = msg.batch.store === undefined ? undefined : []
  const existed = []
  const results = run(msg.batch, digests, unplaced, keys, existed)
  const data = msg.batch.returnData === true || results.some((r) => r !== null && r.code === 'EEXIST') ? msg.batch.data : undefined
  const reply = { id: msg.id, results: results.every((r) => r === null) ? null : results }
  if (digests !== undefined) reply.digests = digests
  if (unplaced.length > 0) reply.unplaced = unplaced
  if (keys !== undefined) reply.keys = keys
  if (existed.length > 0) reply.existed = existed
  if (data) reply.data = data
  parentPort.postMessage(reply, data ? [data] : [])
})
`

/** Where the workers load the BLAKE3 binding from (resolved once, here, where it is a dependency). */
let BLAKE_MODULE: string | undefined

export interface FsOpError {
  code: string
  message: string
  errno?: number
  syscall?: string
}

export interface FsBatchResult {
  results: (FsOpError | null)[]
  /** With FsBatch.digest: each write op's digest (lowercase hex), computed before it was written. */
  digests?: string[]
  /** FsBatch.data, returned (when a write found its path taken, or with FsBatch.returnData). */
  data?: ArrayBuffer
  /** Write ops with a `place` that succeeded without using it (written at `path` only). */
  unplaced?: number[]
  /** With FsBatch.store: each write op's key (set even when the write failed, unless hashing did). */
  keys?: string[]
  /** With FsBatch.trustStored: write ops that found their blob stored already and wrote nothing. */
  existed?: number[]
}

/** Below this many calls a batch is not worth starting a thread for. */
export const POOL_MIN_OPS = 2048

/** Threads worth using: two where the machine has two cores or more (measured), none on one. */
export function poolThreads(): number {
  return availableParallelism() > 1 ? 2 : 0
}

/** Thrown for a worker that died: not a file-system error of any one call. */
export class FsPoolError extends Error {}

export class FsPool {
  readonly threads: number
  readonly #workers: (Worker | undefined)[]
  readonly #pending = new Map<number, { resolve: (r: FsBatchResult) => void; reject: (e: unknown) => void; worker: number; size: number }>()
  readonly #inflight = new Set<Promise<FsBatchResult>>()
  #nextId = 0
  #closed = false

  constructor(threads: number) {
    this.threads = Math.max(1, threads)
    this.#workers = new Array(this.threads).fill(undefined)
  }

  /** Run one batch on worker `worker` (0..threads-1). */
  submit(batch: FsBatch, worker = 0): Promise<FsBatchResult> {
    if (this.#closed) return Promise.reject(new FsPoolError('the file-system pool is closed'))
    const w = this.#worker(worker)
    const id = this.#nextId++
    const answer = new Promise<FsBatchResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, worker, size: batch.ops.length })
      w.ref()
      const { packed, transfer } = packBatch(batch)
      w.postMessage({ id, batch: packed }, transfer)
    })
    this.#inflight.add(answer)
    const done = (): void => {
      this.#inflight.delete(answer)
    }
    answer.then(done, done)
    return answer
  }

  /** Run `ops` split into contiguous parts, one per thread (so each mostly works in its own directories). */
  async run(ops: FsOp[]): Promise<(FsOpError | null)[]> {
    const per = Math.ceil(ops.length / this.threads)
    const parts: Promise<FsBatchResult>[] = []
    for (let k = 0; k * per < ops.length; k++) parts.push(this.submit({ ops: ops.slice(k * per, (k + 1) * per) }, k))
    return (await Promise.all(parts)).flatMap((p) => p.results)
  }

  /** Stop the workers (after the batches already sent are answered, or failed). */
  async close(): Promise<void> {
    this.#closed = true
    await Promise.allSettled([...this.#inflight])
    await Promise.all(this.#workers.map((w) => w?.terminate()))
    this.#workers.fill(undefined)
  }

  #worker(k: number): Worker {
    let w = this.#workers[k]
    if (w !== undefined) return w
    // The worker's code is inline (below), so it runs the same from dist and from the sources.
    BLAKE_MODULE ??= createRequire(import.meta.url).resolve('@napi-rs/blake-hash')
    w = new Worker(WORKER_SOURCE, { eval: true, workerData: { blake: BLAKE_MODULE } })
    w.unref()
    const fail = (e: unknown): void => {
      for (const [id, p] of this.#pending) {
        if (p.worker !== k) continue
        this.#pending.delete(id)
        p.reject(e)
      }
      this.#workers[k] = undefined
    }
    w.on('message', (msg: { id: number; results: (FsOpError | null)[] | null; data?: ArrayBuffer; digests?: string[]; unplaced?: number[]; keys?: string[]; existed?: number[] }) => {
      const p = this.#pending.get(msg.id)
      if (p === undefined) return
      this.#pending.delete(msg.id)
      if (![...this.#pending.values()].some((q) => q.worker === k)) w!.unref()
      // null: every call succeeded.
      const results = msg.results ?? new Array<null>(p.size).fill(null)
      p.resolve({ results, ...(msg.data ? { data: msg.data } : {}), ...(msg.digests ? { digests: msg.digests } : {}), ...(msg.unplaced ? { unplaced: msg.unplaced } : {}), ...(msg.keys ? { keys: msg.keys } : {}), ...(msg.existed ? { existed: msg.existed } : {}) })
    })
    w.on('error', (e) => fail(e))
    w.on('exit', (code) => fail(new FsPoolError(`a file-system worker exited (code ${code})`)))
    this.#workers[k] = w
    return w
  }
}
