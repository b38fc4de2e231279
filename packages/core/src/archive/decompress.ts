/**
 * Compression detection by magic bytes and streaming decompression.
 *
 * Contract: `decompressStream` never buffers more than the first few bytes of its input; every
 * decoder failure surfaces as a NipError on the returned stream — ERR_NIP_ARCHIVE_CORRUPT when
 * the compressed data ends early, ERR_NIP_ARCHIVE_COMPRESSION for any other decoder error —
 * with the format named in the message and in `data.compression`. Errors of the source itself
 * pass through unchanged (NipError) or as ERR_NIP_IO.
 */
import { PassThrough, Readable, pipeline as streamPipeline, type Duplex } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { createRequire } from 'node:module'
import zstdBinding from 'zstd-napi/binding.js'

const { DCtx } = zstdBinding

// xz and bzip2 decoders are loaded when an archive needs them (lzma-native alone costs ~18 ms
// of every command's start-up otherwise).
const requireLazily = createRequire(import.meta.url)
const createDecompressor = (): ReturnType<typeof import('lzma-native').createDecompressor> =>
  (requireLazily('lzma-native') as typeof import('lzma-native')).createDecompressor()
const unbzip2Stream = (): NodeJS.ReadWriteStream => (requireLazily('unbzip2-stream') as () => NodeJS.ReadWriteStream)()
import { NipError, fromSystemError } from '../errors.js'

export type Compression = 'none' | 'gzip' | 'xz' | 'zstd' | 'bzip2'

export interface DecompressOptions {
  /** Skip detection and use this format. */
  compression?: Compression
  /** Name of the archive, for messages. */
  archive?: string
}

/** Bytes `detectCompression` needs to decide (the longest magic, xz's, is 6 bytes). */
export const COMPRESSION_MAGIC_LENGTH = 6

/** The compression of a stream, judged by its first bytes; 'none' when no magic matches. */
export function detectCompression(head: Uint8Array): Compression {
  const b = head
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip'
  if (b.length >= 6 && b[0] === 0xfd && b[1] === 0x37 && b[2] === 0x7a && b[3] === 0x58 && b[4] === 0x5a && b[5] === 0x00) {
    return 'xz'
  }
  if (b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd'
  if (b.length >= 4 && b[0] === 0x42 && b[1] === 0x5a && b[2] === 0x68 && b[3] >= 0x31 && b[3] <= 0x39) return 'bzip2'
  return 'none'
}

/** Whether a (decompressed) block looks like a ustar/GNU tar header: "ustar" at offset 257. */
export function looksLikeTar(head: Uint8Array): boolean {
  return head.length >= 262 && Buffer.from(head.subarray(257, 262)).toString('latin1') === 'ustar'
}

/** Decompress `src` (auto-detected unless `opts.compression` is given), as a stream. */
export function decompressStream(
  src: NodeJS.ReadableStream | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: DecompressOptions = {},
): Readable {
  return Readable.from(decompressChunks(src, opts), { objectMode: false })
}

/**
 * Decompress `src` like decompressStream, as an async iterable of chunks: no stream in between,
 * so no chunk is copied to join it with its neighbours (a Readable read whole does that), and
 * zstd is decoded straight into 1 MiB chunks. Closing the iteration early stops reading `src`.
 */
export async function* decompressChunks(
  src: NodeJS.ReadableStream | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: DecompressOptions = {},
): AsyncGenerator<Buffer> {
  const iterator = toAsyncIterable(src)[Symbol.asyncIterator]()
  const source = { iterator, ended: false }
  try {
    yield* decode(source, opts)
  } finally {
    // Stopped early or failed: the source is not read any further.
    if (!source.ended) await iterator.return?.()?.catch(() => {})
  }
}

/** Marks an error raised by the source, so it is not blamed on the decoder. */
class SourceError extends Error {
  constructor(readonly original: unknown) {
    super('source error')
  }
}

async function* decode(source: { iterator: AsyncIterator<Uint8Array>; ended: boolean }, opts: DecompressOptions): AsyncGenerator<Buffer> {
  const { iterator } = source
  const head: Buffer[] = []
  let headLength = 0
  try {
    while (headLength < COMPRESSION_MAGIC_LENGTH) {
      const r = await iterator.next()
      if (r.done) {
        source.ended = true
        break
      }
      const chunk = toBuffer(r.value)
      head.push(chunk)
      headLength += chunk.length
    }
  } catch (e) {
    throw sourceFailure(e)
  }
  const compression = opts.compression ?? detectCompression(Buffer.concat(head))

  async function* replay(): AsyncGenerator<Buffer> {
    yield* head
    if (source.ended) return
    try {
      for (;;) {
        const r = await iterator.next()
        if (r.done) {
          source.ended = true
          return
        }
        yield toBuffer(r.value)
      }
    } catch (e) {
      throw new SourceError(e)
    }
  }

  if (compression === 'none') {
    try {
      yield* replay()
    } catch (e) {
      throw sourceFailure(e instanceof SourceError ? e.original : e)
    }
    return
  }
  if (compression === 'zstd') {
    try {
      yield* zstdChunks(replay())
    } catch (e) {
      if (e instanceof SourceError) throw sourceFailure(e.original)
      throw decoderFailure(compression, e, opts.archive)
    }
    return
  }
  const input = Readable.from(replay(), { objectMode: false })
  const output = connectDecoder(input, compression)
  try {
    for await (const chunk of output) yield chunk as Buffer
  } catch (e) {
    if (e instanceof SourceError) throw sourceFailure(e.original)
    if (e instanceof NipError) throw e
    throw decoderFailure(compression, e, opts.archive)
  } finally {
    input.destroy()
    output.destroy()
  }
}

/** zstd output is decoded into chunks of this size (fewer, larger chunks than the stream's 128 KiB). */
const ZSTD_CHUNK = 1024 * 1024

/** ZSTD_decompressStream over the input, every frame in turn; input ending inside a frame is an error. */
async function* zstdChunks(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const dctx = new DCtx()
  let inFrame = false
  for await (const chunk of input) {
    // An empty chunk changes nothing (and asked of the decoder, it would report a frame begun).
    if (chunk.length === 0) continue
    let src = chunk
    for (;;) {
      const dst = Buffer.allocUnsafe(ZSTD_CHUNK)
      const [ret, produced, consumed] = dctx.decompressStream(dst, src)
      src = src.subarray(consumed)
      if (produced > 0) yield dst.subarray(0, produced)
      // Done with this input once it is all consumed and nothing is left to flush.
      if (src.length === 0 && (produced < dst.length || ret === 0)) {
        inFrame = ret !== 0
        break
      }
    }
  }
  if (inFrame) throw new Error('Stream ended in middle of compressed data frame')
}

function toBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
}

/** Pipe `input` through the decoder for `compression`; errors of either end up on the result. */
function connectDecoder(input: Readable, compression: 'gzip' | 'xz' | 'bzip2'): Readable {
  if (compression === 'bzip2') {
    // unbzip2-stream is a classic (through) stream that closes itself right after 'end'; a
    // wrapping Readable would drop what it had not yet handed on, so bridge it by hand.
    const decoder = unbzip2Stream() as unknown as NodeJS.ReadWriteStream
    const output = new PassThrough()
    decoder.on('data', (chunk: Buffer) => {
      if (!output.write(chunk)) decoder.pause()
    })
    output.on('drain', () => decoder.resume())
    decoder.on('end', () => output.end())
    decoder.on('error', (e: Error) => output.destroy(e))
    input.on('error', (e) => output.destroy(e))
    input.pipe(decoder)
    return output
  }
  const decoder = createDecoder(compression)
  streamPipeline(input, decoder, () => {})
  return decoder
}

/** Async iteration over any byte source: async iterables, sync iterables and classic streams. */
export function toAsyncIterable(src: NodeJS.ReadableStream | AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncIterable<Uint8Array> {
  if (typeof (src as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') return src as AsyncIterable<Uint8Array>
  if (typeof (src as Iterable<Uint8Array>)[Symbol.iterator] === 'function') return Readable.from(src as Iterable<Uint8Array>)
  return new PassThrough().wrap(src as NodeJS.ReadableStream)
}

function createDecoder(compression: 'gzip' | 'xz'): Duplex {
  switch (compression) {
    case 'gzip':
      // zlib's Gunzip continues across concatenated gzip members on its own.
      return createGunzip()
    case 'xz':
      return createDecompressor() as unknown as Duplex
  }
}

function sourceFailure(e: unknown): NipError {
  return e instanceof NipError ? e : fromSystemError(e, 'reading an archive')
}

/** Messages and codes by which each decoder reports input that ends too early. */
const TRUNCATION = /unexpected end|ended prematurely|No progress is possible|ended in middle|LZMA_BUF_ERROR|Z_BUF_ERROR|truncated/i

function decoderFailure(compression: Compression, e: unknown, archive?: string): NipError {
  const err = e as { message?: string; code?: string; name?: string }
  const detail = `${err?.code ?? ''} ${err?.name ?? ''} ${err?.message ?? String(e)}`
  const what = archive ?? 'the archive'
  // unbzip2-stream has no truncation error of its own: its bit reader runs off the end of the
  // buffered input, which shows up as a TypeError.
  const truncated = TRUNCATION.test(detail) || (compression === 'bzip2' && e instanceof TypeError)
  if (truncated) {
    return new NipError('ERR_NIP_ARCHIVE_CORRUPT', `The ${compression} stream of ${what} ends early: ${err?.message ?? String(e)}`, {
      hint: 'The archive is truncated; download it again.',
      data: { compression, archive },
      cause: e,
    })
  }
  return new NipError('ERR_NIP_ARCHIVE_COMPRESSION', `Cannot decompress ${what} as ${compression}: ${err?.message ?? String(e)}`, {
    hint: `The archive is not valid ${compression}; it may be damaged or mislabelled. Download it again.`,
    data: { compression, archive },
    cause: e,
  })
}
