/**
 * A streaming, validating tar reader (ustar, GNU and pax; blocks scanned by tarScanner.ts).
 *
 * Contract:
 * - Entries are yielded in archive order, already normalised (see entryPath.ts) and checked
 *   against every earlier entry (see pathRegistry.ts). Every refusal is a NipError naming the
 *   entry; nothing is yielded for the refused entry.
 * - A file entry carries `body`, an async iterable over exactly `size` bytes. It can be iterated
 *   at most once and only until the caller asks for the next entry; whatever is not consumed by
 *   then is skipped automatically.
 * - Setuid, setgid and sticky bits are cleared (and reported) before an entry is yielded.
 * - After the last entry, every symlink is checked once more with the archive's other symlinks
 *   followed, so a chain of individually harmless links cannot leave the tree.
 * - Closing the generator early (break, throw) stops reading the source.
 */
import { NipError, fromSystemError } from '../errors.js'
import type { Limits } from './limits.js'
import { checkSymlinkTarget, normalizeEntryPath, splitPath, type AbsoluteSymlinkPolicy } from './entryPath.js'
import { PathRegistry } from './pathRegistry.js'
import { refuse, type RefusalContext } from './refusal.js'
import { toAsyncIterable } from './decompress.js'
import { TarScanner, type RawHeader, type ScanEvent } from './tarScanner.js'

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink'

export interface TarEntry {
  /** Normalised relative path ("" never occurs: the root entry "./" is skipped). */
  path: string
  type: TarEntryType
  /** Permission bits (0o777 at most): setuid/setgid/sticky already cleared. */
  mode: number
  /** The bits that were cleared from the header's mode (0 when none). */
  clearedBits: number
  /** Content bytes (0 for everything but files). */
  size: number
  /** Symlink target (as recorded, possibly rebased), or the normalised path a hardlink names. */
  target?: string
  mtime?: Date
  uid?: number
  gid?: number
  /** File content; see the module contract for when it must be read. */
  body?: AsyncIterable<Buffer>
  /**
   * The whole content, when the reader has it in memory (members up to 8 MiB): a consumer may
   * take it instead of iterating `body`.
   */
  content?: Buffer
}

export interface ArchiveWarning {
  /** 'setuid-cleared' | 'duplicate-replaced' */
  code: string
  message: string
  path: string
}

export interface ReadTarOptions {
  limits: Limits
  onWarning?: (w: ArchiveWarning) => void
  /** What to do with symlinks whose target is absolute (default 'refuse'). */
  absoluteSymlinks?: AbsoluteSymlinkPolicy
  /** Drop this many leading components from every path (and hardlink target), like tar's option. */
  stripComponents?: number
  /** Name of the archive, for messages and error data. */
  archive?: string
}

/**
 * Header bytes allowed per entry, plus a fixed allowance, beyond the declared content of the
 * entries seen so far: bounds the input a hostile archive can make us read outside any entry
 * (e.g. endless zero blocks after the end of the archive). The fixed part also covers the input
 * scanned ahead of the checks (at most one slice).
 */
const OVERHEAD_PER_ENTRY = 16 * 1024
const OVERHEAD_FIXED = 16 * 1024 * 1024
/** Input is scanned in slices of at most this size, so the overhead check runs often enough. */
const SCAN_SLICE = 1024 * 1024
/** Members up to this size are handed over whole (TarEntry.content); larger ones stream. */
const WHOLE_MAX = 8 * 1024 * 1024
const EMPTY = Buffer.alloc(0)

const SPECIAL_BITS = 0o7000

export async function* readTar(
  src: NodeJS.ReadableStream | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: ReadTarOptions,
): AsyncGenerator<TarEntry> {
  const { limits, archive } = opts
  const policy = opts.absoluteSymlinks ?? 'refuse'
  const strip = opts.stripComponents ?? 0
  const registry = new PathRegistry()
  /** Paths that the entry being checked replaces (checkHeader adds, the loop reports). */
  const replacedPaths = new Set<string>()
  const scanner = new TarScanner(WHOLE_MAX)
  const source = toAsyncIterable(src)[Symbol.asyncIterator]()
  let sourceDone = false
  let entryCount = 0
  let declaredTotal = 0
  let streamedTotal = 0
  let rawTotal = 0
  /** Declared member sizes, padded to 512-byte blocks, of every header seen. */
  let declaredBlocks = 0
  let queue: ScanEvent[] = []
  let at = 0

  const tooLarge = (ctx: RefusalContext): NipError =>
    refuse(
      'ERR_NIP_ARCHIVE_TOO_LARGE',
      `The archive expands to more than ${limits.maxTotalSize} bytes`,
      'Raise limits.maxTotalSize only if the package is trusted.',
      ctx,
    )

  /** The source chunk being scanned, one slice at a time (so a huge chunk is not scanned ahead of the checks). */
  let chunk: Buffer = EMPTY
  let chunkAt = 0
  /** The next scanner event, reading (and scanning) more of the source as needed; undefined at the end. */
  const nextEvent = async (): Promise<ScanEvent | undefined> => {
    while (at >= queue.length) {
      if (chunkAt >= chunk.length) {
        if (sourceDone) return undefined
        let r: IteratorResult<Uint8Array>
        try {
          r = await source.next()
        } catch (e) {
          throw e instanceof NipError ? e : fromSystemError(e, 'reading an archive', archive)
        }
        if (r.done) {
          sourceDone = true
          try {
            scanner.finish()
          } catch (e) {
            throw asReadError(e, archive)
          }
          return undefined
        }
        chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength)
        chunkAt = 0
        continue
      }
      const slice = chunkAt === 0 && chunk.length <= SCAN_SLICE ? chunk : chunk.subarray(chunkAt, chunkAt + SCAN_SLICE)
      chunkAt += slice.length
      rawTotal += slice.length
      // Input outside any member (headers, padding, zero blocks) is bounded: see OVERHEAD_*.
      if (rawTotal - declaredBlocks > OVERHEAD_FIXED + OVERHEAD_PER_ENTRY * entryCount) throw tooLarge({ entry: '', archive })
      try {
        scanner.push(slice)
      } catch (e) {
        throw asReadError(e, archive)
      }
      queue = scanner.take()
      at = 0
    }
    return queue[at++]
  }

  /**
   * The entry being read, for refusals and checks: one object, updated per entry (whatever
   * keeps a context for later copies it; see PathRegistry.record).
   */
  const ctx: HeaderContext = { entry: '', archive, limits, policy, strip, registry, replacedPaths }
  /** Counts streamed content against the limits. */
  const countChunk = (chunk: Buffer): void => {
    streamedTotal += chunk.length
    if (streamedTotal > limits.maxTotalSize) throw tooLarge(ctx)
  }
  /** Skips the rest of a streamed member (counting it against the limits). */
  const drain = async (): Promise<void> => {
    for (;;) {
      const d = await nextEvent()
      if (d === undefined || d.kind === 'end') return
      if (d.kind === 'data') countChunk(d.chunk)
    }
  }

  try {
    for (;;) {
      const ev = await nextEvent()
      if (ev === undefined) break
      if (ev.kind !== 'entry' && ev.kind !== 'begin') continue
      const header = ev.header
      ctx.entry = header.name
      declaredBlocks += Math.ceil((header.size ?? 0) / 512) * 512
      if (++entryCount > limits.maxEntries) {
        throw refuse(
          'ERR_NIP_ARCHIVE_TOO_MANY_ENTRIES',
          `The archive has more than ${limits.maxEntries} entries`,
          'Raise limits.maxEntries only if the package is trusted.',
          ctx,
        )
      }
      const streaming = ev.kind === 'begin'
      const entry = checkHeader(header, ctx)
      if (entry === null) {
        if (streaming) await drain()
        else if (ev.content !== undefined) countChunk(ev.content)
        continue
      }
      if (replacedPaths.delete(entry.path)) {
        opts.onWarning?.({ code: 'duplicate-replaced', message: `A later entry replaces ${entry.path}`, path: entry.path })
      }
      if (entry.clearedBits !== 0) {
        opts.onWarning?.({
          code: 'setuid-cleared',
          message: `Cleared mode bits ${entry.clearedBits.toString(8).padStart(4, '0')} from ${entry.path}`,
          path: entry.path,
        })
      }
      if (entry.type === 'file') {
        declaredTotal += entry.size
        if (declaredTotal > limits.maxTotalSize) throw tooLarge(ctx)
      }
      let claimed = false
      let done = !streaming
      if (!streaming && ev.content !== undefined) countChunk(ev.content)
      if (entry.type === 'file') {
        const content = streaming ? undefined : (ev.content ?? EMPTY)
        if (content !== undefined) entry.content = content
        entry.body = {
          [Symbol.asyncIterator]: () => {
            if (claimed) throw new NipError('ERR_NIP_INTERNAL', `The body of ${entry.path} was read twice`)
            claimed = true
            if (content !== undefined) return (async function* () {
              if (content.length > 0) yield content
            })()
            return (async function* () {
              for (;;) {
                const d = await nextEvent()
                if (d === undefined || d.kind === 'end') {
                  done = true
                  return
                }
                if (d.kind === 'data') {
                  countChunk(d.chunk)
                  yield d.chunk
                }
              }
            })()
          },
        }
      }
      yield entry
      if (!done) await drain()
    }
    registry.verifySymlinks()
  } finally {
    // Stop reading the source: nobody will read the rest now.
    if (!sourceDone) {
      const destroyable = src as { destroy?: () => void; readableEnded?: boolean }
      if (typeof destroyable.destroy === 'function' && destroyable.readableEnded !== true) destroyable.destroy()
      await source.return?.(undefined)?.catch(() => undefined)
    }
  }
}

interface HeaderContext extends RefusalContext {
  limits: Limits
  policy: AbsoluteSymlinkPolicy
  strip: number
  registry: PathRegistry
  replacedPaths: Set<string>
}

/** Validate one header; null for entries that are skipped (the root, stripped-away paths). */
function checkHeader(header: RawHeader, ctx: HeaderContext): TarEntry | null {
  const type = entryType(header, ctx)
  const normalized = normalizeEntryPath(header.name, ctx)
  const path = stripPath(normalized, ctx.strip)
  if (path === '') {
    if (type === 'dir' || ctx.strip > 0) return null
    throw refuse('ERR_NIP_UNSAFE_NAME', 'An archive entry that is not a directory names the tree root', 'The archive is malformed; do not install it.', ctx)
  }
  const rawMode = (header.mode ?? 0) & 0o7777
  const clearedBits = rawMode & SPECIAL_BITS
  const entry: TarEntry = {
    path,
    type,
    mode: rawMode & 0o777,
    clearedBits,
    size: type === 'file' ? header.size ?? 0 : 0,
  }
  if (header.mtime !== undefined) entry.mtime = header.mtime
  if (header.uid !== null) entry.uid = header.uid
  if (header.gid !== null) entry.gid = header.gid

  if (type === 'symlink') {
    entry.target = checkSymlinkTarget(path, header.linkname ?? '', { ...ctx, policy: ctx.policy })
  } else if (type === 'hardlink') {
    entry.target = checkHardlinkTarget(header.linkname ?? '', ctx)
  }
  const kind = type === 'hardlink' ? 'file' : type
  if (ctx.registry.record(path, kind, ctx, entry.target)) ctx.replacedPaths.add(path)
  return entry
}

function entryType(header: RawHeader, ctx: RefusalContext): TarEntryType {
  switch (header.type) {
    case 'file':
    case 'contiguous-file':
      return 'file'
    case 'directory':
      return 'dir'
    case 'symlink':
      return 'symlink'
    case 'link':
      return 'hardlink'
    default:
      throw refuse(
        'ERR_NIP_UNSAFE_DEVICE',
        `An archive entry is a ${header.type ?? 'entry of unknown type'}`,
        'Packages must not create device nodes, FIFOs or sockets; do not install it.',
        ctx,
      )
  }
}

function checkHardlinkTarget(linkname: string, ctx: HeaderContext): string {
  const hint = 'A hardlink must name a regular file earlier in the same archive; do not install it.'
  const fail = (why: string): NipError => refuse('ERR_NIP_UNSAFE_HARDLINK', `An archive hardlink ${why}`, hint, ctx)
  if (linkname.length === 0 || linkname.includes('\0')) throw fail('has an empty or NUL-containing target')
  if (linkname.startsWith('/')) throw fail(`has an absolute target ${JSON.stringify(linkname)}`)
  const parts = splitPath(linkname)
  if (parts.includes('..')) throw fail(`target ${JSON.stringify(linkname)} contains ".."`)
  const target = stripPath(parts.join('/'), ctx.strip)
  if (target === '' || ctx.registry.kindOf(target) !== 'file' || !ctx.registry.isExplicit(target)) {
    throw fail(`target ${JSON.stringify(linkname)} is not a regular file earlier in the archive`)
  }
  return target
}

function stripPath(path: string, strip: number): string {
  if (strip <= 0) return path
  return splitPath(path).slice(strip).join('/')
}

/** The scanner's errors (bad checksum, unexpected end, unknown format) mean a corrupt archive. */
function asReadError(e: unknown, archive?: string): NipError {
  if (e instanceof NipError) return e
  const message = (e as Error)?.message ?? String(e)
  return new NipError('ERR_NIP_ARCHIVE_CORRUPT', `The tar data${archive ? ` of ${archive}` : ''} is corrupt: ${message}`, {
    hint: 'The archive is truncated or damaged; download it again.',
    data: archive === undefined ? {} : { archive },
    cause: e,
  })
}
