/**
 * Unpack a (possibly compressed) tar archive into the CAS and describe it as a program tree.
 *
 * Contract:
 * - Writes nothing but blobs, and only through the CAS (`addStream`, or a `blobWriter` for small
 *   members); a refused archive may leave blobs behind (garbage for gc) but nothing anywhere else.
 *   Every blob is complete when the promise resolves; after a failure no write is still running.
 * - Every entry passes readTar's checks under its archive path, then again under its mapped
 *   path: the mapped path must be safe, must not go through a mapped symlink, must keep its kind,
 *   and a mapped symlink's target must stay inside the tree.
 * - Hardlinks become file entries sharing the blob (and mode) of the file they name, even when
 *   that file itself was dropped by `mapPath`.
 * - The result is sorted by path (code-unit order) and lists every parent directory; parents
 *   the archive did not list get mode 0755.
 */
import crypto, { createHash, type Hash } from 'node:crypto'
import type { BlobInfo, BlobWriter, Cas } from '@nip/cas'
import type { StageTarget, TreeEntry } from '../adapter.js'
import { ERROR_CODES, NipError, fromSystemError, type NipErrorCode } from '../errors.js'
import type { Limits } from './limits.js'
import { decompressChunks, type Compression } from './decompress.js'
import { checkSymlinkTarget, normalizeEntryPath, parentPath } from './entryPath.js'
import { PathRegistry } from './pathRegistry.js'
import { refuse } from './refusal.js'
import { readTar, type ArchiveWarning, type TarEntry } from './tarReader.js'
import type { AbsoluteSymlinkPolicy } from './entryPath.js'

/** Members up to this size are buffered and stored synchronously (see store()). */
const BUFFERED_MAX = 8 * 1024 * 1024

/** The most bytes one captured metadata member may hold. */
export const MAX_METADATA_SIZE = 32 * 1024 * 1024

export interface UnpackOptions {
  cas: Cas
  limits: Limits
  /**
   * Where an entry goes in the program tree; null drops it. Receives the normalised archive path.
   * The result is re-validated like an archive path. It may replace a file entry's `body` (to
   * check the bytes as they are stored); the content is then read from that body only.
   */
  mapPath?: (path: string, entry: TarEntry) => string | null
  /** Whether a mapped file is a configuration file (TreeEntry.settings). */
  isSettings?: (mappedPath: string) => boolean
  /**
   * Keep this member's content in memory (result.metadata, keyed by archive path), at most
   * MAX_METADATA_SIZE bytes. A captured member whose mapPath is null is kept only in memory.
   */
  captureMetadata?: (path: string) => boolean
  onWarning?: (w: ArchiveWarning) => void
  absoluteSymlinks?: AbsoluteSymlinkPolicy
  stripComponents?: number
  /** Skip detection and use this compression. */
  compression?: Compression
  /** Name of the archive, for messages and error data. */
  archive?: string
  /**
   * Also compute these digests (node:crypto names, e.g. 'sha256', 'md5') of every stored file
   * while it streams by, for formats that list them (.MTREE, +CONTENTS, md5sums): checking them
   * needs no second read of the blobs. See UnpackResult.digests.
   */
  digests?: readonly string[]
  /** The archive's size on disk, when known: a large one has its blobs written by worker threads from the first. */
  sourceSize?: number
  /**
   * Create the tree's files in its staging directory as they are stored (AdapterContext.stage):
   * those the blob writer's workers write go there first and are hardlinked into the store.
   * Each one placed is recorded in `stage.placed` (tree path → blob key). Never a settings file
   * (not staged) and never a path the archive names twice.
   */
  stage?: StageTarget
}

/** Archives from this size on start the blob writer's workers at once (see Cas.blobWriter). */
const LARGE_SOURCE = 8 * 1024 * 1024

export interface UnpackResult {
  entries: TreeEntry[]
  /** Captured metadata members, by archive path. */
  metadata: Map<string, Buffer>
  /**
   * With `digests`: each stored file's digests (lowercase hex, by algorithm), by archive path;
   * a hardlink has the digests of the file it names. Captured members that were dropped are
   * not stored and have none.
   */
  digests: Map<string, Record<string, string>>
}

interface StoredFile {
  blob: string
  size: number
  mode: number
  digests?: Record<string, string>
  /** A blob whose key the writer's workers compute: `blob` is empty until their flush. */
  late?: BlobInfo
}

export async function unpackToCas(
  src: NodeJS.ReadableStream | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: UnpackOptions,
): Promise<UnpackResult> {
  const { archive } = opts
  const metadata = new Map<string, Buffer>()
  const digests = new Map<string, Record<string, string>>()
  const byArchivePath = new Map<string, StoredFile>()
  const tree = new Map<string, TreeEntry>()
  const registry = new PathRegistry()
  /** Archive paths seen so far: readTar already warned when one of them repeats. */
  const archivePaths = new Set<string>()
  const input = decompressChunks(src, { compression: opts.compression, archive })
  // One extra digest is computed by the writer's worker threads, beside the write (not here).
  const workerDigest = opts.digests?.length === 1 ? opts.digests[0] : undefined
  // The workers also compute the BLAKE3 keys: this thread only parses (see keysByWorkers).
  const writer = typeof opts.cas.blobWriter === 'function' ? opts.cas.blobWriter({ large: (opts.sourceSize ?? 0) >= LARGE_SOURCE, keysByWorkers: true, ...(workerDigest !== undefined ? { digest: workerDigest } : {}) }) : undefined
  /** Digest records the writer fills in (after its flush), with the blob whose digest they take. */
  const fromWriter: { record: Record<string, string>; info: BlobInfo }[] = []
  /** Tree entries whose blob key the writer's workers compute (filled in after the flush). */
  const lateEntries = new Map<TreeEntry, BlobInfo>()
  try {
    for await (const entry of readTar(input, {
      limits: opts.limits,
      onWarning: opts.onWarning,
      absoluteSymlinks: opts.absoluteSymlinks,
      stripComponents: opts.stripComponents,
      archive,
    })) {
      const ctx = { entry: entry.path, archive }
      const repeated = archivePaths.has(entry.path)
      archivePaths.add(entry.path)
      const captured = entry.type === 'file' && opts.captureMetadata?.(entry.path) === true ? await capture(entry, archive) : undefined
      if (captured !== undefined) metadata.set(entry.path, captured)

      const readerBody = entry.body
      const rawMapped = opts.mapPath ? opts.mapPath(entry.path, entry) : entry.path
      let mapped: string | null = null
      if (rawMapped !== null) {
        mapped = normalizeEntryPath(rawMapped, { ...ctx, limits: opts.limits })
        if (mapped === '' && entry.type !== 'dir') {
          throw refuse('ERR_NIP_UNSAFE_NAME', `mapPath sent a ${entry.type} to the tree root`, 'This is a bug in the adapter\'s path mapping.', ctx)
        }
      }

      if (entry.type === 'file') {
        // Hardlinks may name this file even when it is dropped, so it is stored regardless,
        // unless it was captured and dropped (metadata lives only in memory).
        if (mapped === null && captured !== undefined) continue
        // The reader's whole content, unless mapPath put a body of its own in place (a check
        // that must see every byte).
        const whole = captured ?? (entry.body === readerBody ? entry.content : undefined)
        let info: BlobInfo
        let fileDigests: Record<string, string> | undefined
        if (whole !== undefined && whole.length <= BUFFERED_MAX) {
          // In memory already: one add, and one-shot digests (no hash object per file) — by the
          // writer's worker when it can.
          info = await storeWhole(opts.cas, whole, entry, { archive, writer, place: placeOf(mapped) })
          if (opts.digests !== undefined) {
            if (writer !== undefined && workerDigest !== undefined) {
              fileDigests = {}
              fromWriter.push({ record: fileDigests, info })
            } else fileDigests = Object.fromEntries(opts.digests.map((algorithm) => [algorithm, oneShot(algorithm, whole)]))
          }
        } else {
          const hashers = opts.digests?.map((algorithm) => ({ algorithm, hash: createHash(algorithm) }))
          info = await store(opts.cas, whole ?? entry.body!, entry, { archive, hashers, writer, place: placeOf(mapped) })
          if (hashers !== undefined) fileDigests = Object.fromEntries(hashers.map((h) => [h.algorithm, h.hash.digest('hex')]))
        }
        const file: StoredFile = { blob: info.key, size: info.size, mode: entry.mode, ...(info.key === '' ? { late: info } : {}) }
        if (fileDigests !== undefined) {
          file.digests = fileDigests
          digests.set(entry.path, fileDigests)
        }
        byArchivePath.set(entry.path, file)
        if (mapped !== null) placeFile(mapped, file, repeated)
      } else if (entry.type === 'hardlink') {
        const file = byArchivePath.get(entry.target!)
        if (file === undefined) {
          throw refuse(
            'ERR_NIP_UNSAFE_HARDLINK',
            `An archive hardlink names ${JSON.stringify(entry.target)}, whose content was not kept`,
            'A hardlink must name a regular file earlier in the same archive.',
            ctx,
          )
        }
        byArchivePath.set(entry.path, file)
        if (file.digests !== undefined) digests.set(entry.path, file.digests)
        if (mapped !== null) placeFile(mapped, file, repeated)
      } else if (mapped === null || mapped === '') {
        continue
      } else if (entry.type === 'dir') {
        place(mapped, { path: mapped, type: 'dir', mode: entry.mode }, repeated)
      } else {
        const target = checkSymlinkTarget(mapped, entry.target!, { ...ctx, policy: 'refuse' })
        place(mapped, { path: mapped, type: 'symlink', mode: entry.mode, target }, repeated)
      }
    }
    registry.verifySymlinks()
    try {
      await writer?.flush()
    } catch (e) {
      throw asNipError(e, (e as { label?: string }).label ?? '', archive)
    }
    if (opts.stage !== undefined && writer !== undefined) {
      const prefix = opts.stage.dir.length + 1
      for (const [place, key] of writer.placements()) opts.stage.placed.set(place.slice(prefix), key)
    }
    for (const [e, info] of lateEntries) {
      if (info.key === '') throw new NipError('ERR_NIP_INTERNAL', `No blob key came back for ${e.path}`)
      e.blob = info.key
    }
    for (const f of fromWriter) {
      const d = writer!.digestOf(f.info.key)
      if (d === undefined) throw new NipError('ERR_NIP_INTERNAL', `No ${workerDigest} digest came back for blob ${f.info.key}`)
      f.record[workerDigest!] = d
    }
  } finally {
    await writer?.close()
  }

  for (const path of [...tree.keys()]) {
    for (let p = parentPath(path); p !== '' && !tree.has(p); p = parentPath(p)) {
      tree.set(p, { path: p, type: 'dir', mode: 0o755 })
    }
  }
  const entries = [...tree.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  return { entries, metadata, digests }

  /** Where in the staging directory a file stored now may be created (see UnpackOptions.stage). */
  function placeOf(mapped: string | null): string | undefined {
    if (opts.stage === undefined || writer === undefined || mapped === null || mapped === '') return undefined
    // A path the archive named before (the tree has it as soon as its file is stored) is not placed again.
    if (tree.has(mapped) || opts.isSettings?.(mapped) === true) return undefined
    return `${opts.stage.dir}/${mapped}`
  }

  function placeFile(path: string, file: StoredFile, repeated: boolean): void {
    const e: TreeEntry = { path, type: 'file', mode: file.mode, blob: file.blob, size: file.size }
    if (file.late !== undefined) lateEntries.set(e, file.late)
    place(path, e, repeated)
  }

  function place(path: string, treeEntry: TreeEntry, repeated: boolean): void {
    const ctx = { entry: path, archive }
    const replaced = registry.record(path, treeEntry.type, ctx, treeEntry.target)
    if (replaced && !repeated) {
      opts.onWarning?.({ code: 'duplicate-replaced', message: `A later entry replaces ${path}`, path })
    }
    if (treeEntry.type === 'file' && opts.isSettings?.(path) === true) treeEntry.settings = true
    tree.set(path, treeEntry)
  }
}

async function capture(entry: TarEntry, archive?: string): Promise<Buffer> {
  const tooLarge = (): NipError =>
    refuse(
      'ERR_NIP_ARCHIVE_TOO_LARGE',
      `A metadata member is larger than ${MAX_METADATA_SIZE} bytes`,
      'Package metadata this large is not plausible; the package is malformed or hostile.',
      { entry: entry.path, archive },
    )
  if (entry.size > MAX_METADATA_SIZE) throw tooLarge()
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of entry.body!) {
    total += chunk.length
    if (total > MAX_METADATA_SIZE) throw tooLarge()
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

interface StoreContext {
  archive?: string
  /** Hashes that see every byte of the content as well. */
  hashers?: { hash: Hash }[]
  /** Where small members go (written by a worker thread); without it, addBufferSync. */
  writer?: BlobWriter
  /** BlobWriter.add's `place`. */
  place?: string
}

async function store(cas: Cas, content: AsyncIterable<Buffer> | Buffer, entry: TarEntry, sctx: StoreContext): Promise<BlobInfo> {
  const { archive, hashers, writer, place } = sctx
  const body = Buffer.isBuffer(content) ? [content] : content
  // The archive's own failure (truncation, a limit) is the one to report, whatever the store
  // makes of a source that throws.
  let sourceError: unknown
  async function* watched(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of body) {
        if (hashers !== undefined) for (const h of hashers) h.hash.update(chunk)
        yield chunk
      }
    } catch (e) {
      sourceError = e
      throw e
    }
  }
  try {
    const add = { executable: (entry.mode & 0o111) !== 0, expectSize: entry.size }
    if (entry.size <= BUFFERED_MAX) {
      // Small members: collect in memory and store with synchronous calls. With thousands of
      // files the per-call latency of the async path, not the bytes, dominates unpacking
      // (handing the writes to the thread pool while reading on measured no faster).
      // (watched() inlined: one async layer fewer per member.)
      const chunks: Buffer[] = []
      let total = 0
      try {
        for await (const chunk of body) {
          if (hashers !== undefined) for (const h of hashers) h.hash.update(chunk)
          total += chunk.length
          if (total > entry.size) break
          chunks.push(chunk)
        }
      } catch (e) {
        sourceError = e
        throw e
      }
      const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total)
      if (writer === undefined) return cas.addBufferSync(buf, add)
      const info = writer.add(buf, add, entry.path, place)
      const wait = writer.ready()
      if (wait !== null) await wait
      return info
    }
    return await cas.addStream(watched(), add)
  } catch (e) {
    throw asNipError(sourceError ?? e, entry.path, archive)
  }
}

/** crypto.hash where Node has it (20.12+), else a Hash object. */
const oneShot: (algorithm: string, data: Buffer) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (algorithm, data) => (crypto as unknown as { hash: (a: string, d: Buffer, e: 'hex') => string }).hash(algorithm, data, 'hex')
    : (algorithm, data) => createHash(algorithm).update(data).digest('hex')

/** store() for content already in memory: no iteration, one synchronous add (or one queued write). */
async function storeWhole(cas: Cas, buf: Buffer, entry: TarEntry, sctx: StoreContext): Promise<BlobInfo> {
  const { archive, writer, place } = sctx
  try {
    const add = { executable: (entry.mode & 0o111) !== 0, expectSize: entry.size }
    if (writer === undefined) return cas.addBufferSync(buf, add)
    const info = writer.add(buf, add, entry.path, place)
    const wait = writer.ready()
    if (wait !== null) await wait
    return info
  } catch (e) {
    throw asNipError(e, entry.path, archive)
  }
}

/** CAS errors carry NipError codes: keep the code, message, hint and data. */
function asNipError(e: unknown, path: string, archive?: string): NipError {
  if (e instanceof NipError) return e
  const err = e as { code?: unknown; message?: string; hint?: string; data?: Record<string, unknown> }
  if (typeof err?.code === 'string' && Object.hasOwn(ERROR_CODES, err.code)) {
    return new NipError(err.code as NipErrorCode, err.message ?? String(e), {
      hint: err.hint,
      data: { ...(err.data ?? {}), entry: path, ...(archive === undefined ? {} : { archive }) },
      cause: e,
    })
  }
  return fromSystemError(e, 'storing an archive entry', path)
}
