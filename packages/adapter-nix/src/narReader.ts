/**
 * A strict, streaming NAR reader (grammar: NixOS/nix doc/manual/source/protocols/nix-archive;
 * checks: src/libutil/archive.cc parseDump). File contents are handed to the sink as a stream
 * of chunks while they are read; nothing buffers a whole NAR or a whole file.
 *
 * Refused, each with a NipError naming the entry:
 * - wrong magic, unexpected tags, tags over 32 bytes, names over 255, targets over 4095 bytes,
 *   nesting deeper than 64, non-zero padding, and input that ends early (ERR_NIP_ARCHIVE_CORRUPT);
 * - `executable` after `contents` or with a non-empty value (ERR_NIP_ARCHIVE_CORRUPT);
 * - entry names that are empty, contain "/" or NUL (ERR_NIP_UNSAFE_NAME), or are "." / ".."
 *   (ERR_NIP_UNSAFE_PARENT_PATH);
 * - entries not strictly increasing by bytes (ERR_NIP_UNSAFE_DUPLICATE for a repeat,
 *   ERR_NIP_ARCHIVE_CORRUPT otherwise), and two names of one directory that are equal after
 *   Unicode NFC normalisation (ERR_NIP_UNSAFE_DUPLICATE: on a normalising filesystem one would
 *   alias the other, the attack of Nix's unnormalized.nar);
 * - empty or NUL-containing symlink targets (ERR_NIP_UNSAFE_SYMLINK).
 * Reading stops right after the root object's closing ")"; trailing bytes stay unread.
 */
import { NipError, type NipErrorCode } from '@nip/core'
import { ByteReader } from './byteReader.js'

export const NAR_MAGIC = 'nix-archive-1'
const MAX_TAG = 32
const MAX_NAME = 255
const MAX_TARGET = 4095
export const NAR_MAX_DEPTH = 64

export interface NarSink {
  directory(path: string): void | Promise<void>
  /** `contents` must be consumed completely before the promise resolves. */
  file(path: string, info: { executable: boolean; size: number; contents: AsyncIterable<Buffer> }): Promise<void>
  symlink(path: string, target: string): void | Promise<void>
}

export interface ReadNarOptions {
  /** Name of the archive, for messages. */
  archive?: string
  /** The most content bytes accepted in total. */
  maxTotalSize?: number
  maxEntries?: number
}

/** Parse one NAR from `src` into `sink`. Returns the number of bytes the NAR occupied. */
export async function readNar(src: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, sink: NarSink, opts: ReadNarOptions = {}): Promise<number> {
  const parser = new NarParser(new ByteReader(src), sink, opts)
  await parser.parse()
  return parser.reader.consumed
}

class NarParser {
  private total = 0
  private entries = 0

  constructor(
    readonly reader: ByteReader,
    private readonly sink: NarSink,
    private readonly opts: ReadNarOptions,
  ) {}

  async parse(): Promise<void> {
    const magic = await this.readString(MAX_TAG, '')
    if (magic.toString('latin1') !== NAR_MAGIC) throw this.fail('ERR_NIP_ARCHIVE_CORRUPT', "input doesn't look like a Nix archive", '')
    await this.node('', 0)
  }

  private async node(path: string, depth: number): Promise<void> {
    if (depth > NAR_MAX_DEPTH) throw this.fail('ERR_NIP_ARCHIVE_CORRUPT', `NAR nesting is deeper than ${NAR_MAX_DEPTH}`, path)
    if (++this.entries > (this.opts.maxEntries ?? Infinity)) {
      throw this.fail('ERR_NIP_ARCHIVE_TOO_MANY_ENTRIES', `NAR has more than ${this.opts.maxEntries} entries`, path)
    }
    await this.expect('(', path)
    await this.expect('type', path)
    const type = await this.tag(path)
    if (type === 'regular') await this.regular(path)
    else if (type === 'symlink') await this.symlinkNode(path)
    else if (type === 'directory') await this.directory(path, depth)
    else throw this.fail('ERR_NIP_ARCHIVE_CORRUPT', `unknown file type '${type}'`, path)
  }

  private async regular(path: string): Promise<void> {
    let tag = await this.tag(path)
    let executable = false
    if (tag === 'executable') {
      const value = await this.readString(MAX_TAG, path)
      if (value.length !== 0) throw this.fail('ERR_NIP_ARCHIVE_CORRUPT', 'executable marker has non-empty value', path)
      executable = true
      tag = await this.tag(path)
    }
    if (tag !== 'contents') throw this.fail('ERR_NIP_ARCHIVE_CORRUPT', `expected tag 'contents', got '${tag}'`, path)
    const size = await this.readLength(path)
    this.total += size
    if (this.total > (this.opts.maxTotalSize ?? Infinity)) {
      throw this.fail('ERR_NIP_ARCHIVE_TOO_LARGE', `NAR contents exceed ${this.opts.maxTotalSize} bytes`, path)
    }
    let remaining = size
    const reader = this.reader
    const fail = (why: string) => this.fail('ERR_NIP_ARCHIVE_CORRUPT', why, path)
    async function* contents(): AsyncGenerator<Buffer> {
      while (remaining > 0) {
        const piece = await reader.take(Math.min(remaining, 1 << 20))
        if (piece === null) throw fail('unexpected end of NAR in file contents')
        remaining -= piece.length
        yield piece
      }
    }
    await this.sink.file(path, { executable, size, contents: contents() })
    if (remaining !== 0) throw this.fail('ERR_NIP_INTERNAL', 'NAR sink did not consume the file contents', path)
    await this.padding(size, path)
    const close = await this.tag(path)
    if (close !== ')') throw this.fail('ERR_NIP_ARCHIVE_CORRUPT', `expected tag ')', got '${close}'`, path)
  }

  private async symlinkNode(path: string): Promise<void> {
    await this.expect('target', path)
    const target = (await this.readString(MAX_TARGET, path)).toString('utf8')
    if (target.length === 0 || target.includes('\0')) throw this.fail('ERR_NIP_UNSAFE_SYMLINK', 'NAR symlink has an empty or NUL-containing target', path)
    await this.sink.symlink(path, target)
    await this.expect(')', path)
  }

  private async directory(path: string, depth: number): Promise<void> {
    await this.sink.directory(path)
    let prev: Buffer | null = null
    const normalized = new Set<string>()
    for (;;) {
      const tag = await this.tag(path)
      if (tag === ')') return
      if (tag !== 'entry') throw this.fail('ERR_NIP_ARCHIVE_CORRUPT', `expected tag 'entry' or ')', got '${tag}'`, path)
      await this.expect('(', path)
      await this.expect('name', path)
      const raw = await this.readString(MAX_NAME, path)
      const name = raw.toString('utf8')
      const child = path === '' ? name : `${path}/${name}`
      if (raw.length === 0 || raw.includes(0) || raw.includes(0x2f)) {
        throw this.fail('ERR_NIP_UNSAFE_NAME', `NAR contains invalid file name ${JSON.stringify(name)}`, child)
      }
      if (name === '.' || name === '..') throw this.fail('ERR_NIP_UNSAFE_PARENT_PATH', `NAR contains invalid file name '${name}'`, child)
      if (prev !== null) {
        const order = Buffer.compare(raw, prev)
        if (order === 0) throw this.fail('ERR_NIP_UNSAFE_DUPLICATE', 'NAR directory is not sorted (duplicate entry)', child)
        if (order < 0) throw this.fail('ERR_NIP_ARCHIVE_CORRUPT', 'NAR directory is not sorted', child)
      }
      const nfc = name.normalize('NFC')
      if (normalized.has(nfc)) {
        throw this.fail('ERR_NIP_UNSAFE_DUPLICATE', 'NAR directory holds two names that are equal after Unicode normalisation', child)
      }
      normalized.add(nfc)
      prev = Buffer.from(raw)
      await this.expect('node', child)
      await this.node(child, depth + 1)
      await this.expect(')', child)
    }
  }

  private async expect(want: string, path: string): Promise<void> {
    const got = await this.tag(path)
    if (got !== want) throw this.fail('ERR_NIP_ARCHIVE_CORRUPT', `expected tag '${want}', got '${got}'`, path)
  }

  private async tag(path: string): Promise<string> {
    return (await this.readString(MAX_TAG, path)).toString('latin1')
  }

  private async readLength(path: string): Promise<number> {
    const buf = await this.reader.read(8)
    if (buf === null) throw this.fail('ERR_NIP_ARCHIVE_CORRUPT', 'unexpected end of NAR', path)
    const n = buf.readBigUInt64LE(0)
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail('ERR_NIP_ARCHIVE_CORRUPT', 'NAR length field is too large', path)
    return Number(n)
  }

  private async readString(max: number, path: string): Promise<Buffer> {
    const len = await this.readLength(path)
    if (len > max) throw this.fail('ERR_NIP_ARCHIVE_CORRUPT', `NAR string of ${len} bytes exceeds its limit of ${max}`, path)
    const data = len === 0 ? Buffer.alloc(0) : await this.reader.read(len)
    if (data === null) throw this.fail('ERR_NIP_ARCHIVE_CORRUPT', 'unexpected end of NAR', path)
    const copy = Buffer.from(data)
    await this.padding(len, path)
    return copy
  }

  private async padding(len: number, path: string): Promise<void> {
    const pad = (8 - (len % 8)) % 8
    if (pad === 0) return
    const bytes = await this.reader.read(pad)
    if (bytes === null) throw this.fail('ERR_NIP_ARCHIVE_CORRUPT', 'unexpected end of NAR in padding', path)
    for (const b of bytes) if (b !== 0) throw this.fail('ERR_NIP_ARCHIVE_CORRUPT', 'non-zero padding', path)
  }

  private fail(code: NipErrorCode, why: string, path: string): NipError {
    const where = this.opts.archive ? ` in ${this.opts.archive}` : ''
    return new NipError(code, `bad archive: ${why} (entry ${JSON.stringify(path)}${where})`, {
      hint: 'The NAR is malformed or hostile; it was not grafted.',
      data: { entry: path, ...(this.opts.archive ? { archive: this.opts.archive } : {}) },
    })
  }
}
