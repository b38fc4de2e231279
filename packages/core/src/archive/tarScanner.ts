/**
 * A synchronous tar block scanner: bytes in, header and content events out, no streams and no
 * promises per entry (a 50,000-entry package is 50,000 events in a loop, not 50,000 stream
 * round trips).
 *
 * It reads exactly what tar-stream 3 (the reader nip used before) reads, so readTar's checks see
 * the same headers: ustar and GNU headers (v7 and other formats are refused), checksums over the
 * header with the checksum field as spaces, octal fields with leading spaces or NULs and GNU
 * base-256 numbers, the ustar prefix, GNU long
 * names and link names (types L, N and K), pax extended (x) and global (g) headers (path,
 * linkpath, size; global records under each extended one), all-zero blocks skipped, and
 * padding to 512 bytes after every member. A directory's declared size is not skipped (as
 * there). The header field decoding follows tar-stream's headers.js (MIT).
 *
 * Contract: push() appends events to `events` (take() hands them over); content of a member up
 * to `wholeLimit` bytes comes as one Buffer with its `entry` event (a view of the input when it
 * lies in one chunk), a larger member as `begin`, `data`…, `end`. finish() throws when the input
 * stopped inside a header, a member or its padding. Errors are plain Errors whose messages match
 * tar-stream's; readTar maps them to ERR_NIP_ARCHIVE_CORRUPT.
 */

export interface RawHeader {
  name: string
  mode: number | null
  uid: number | null
  gid: number | null
  size: number | null
  mtime: Date
  /** tar-stream's type names: 'file', 'link', 'symlink', 'directory', 'contiguous-file', 'fifo', …; null when unknown. */
  type: string | null
  linkname: string | null
  pax: Record<string, string> | null
}

export type ScanEvent =
  | { kind: 'entry'; header: RawHeader; content?: Buffer }
  | { kind: 'begin'; header: RawHeader }
  | { kind: 'data'; chunk: Buffer }
  | { kind: 'end' }

/** Long headers (GNU names, pax records) larger than this are refused, as in tar-stream. */
const MAX_HEADER_SIZE = 4 * 1024 * 1024

const EMPTY = Buffer.alloc(0)

export class TarScanner {
  readonly wholeLimit: number
  #events: ScanEvent[] = []
  /** Bytes of a header (or long header, or whole member) gathered across chunks. */
  #parts: Buffer[] = []
  #partBytes = 0
  /** What the next bytes are. */
  #state: 'header' | 'long' | 'whole' | 'stream' | 'skip' = 'header'
  /** Bytes still wanted in the current state. */
  #missing = 512
  #header: RawHeader | null = null
  #longType: string | null = null
  #pax: Record<string, string> | null = null
  #paxGlobal: Record<string, string> | null = null
  #gnuLongPath: string | null = null
  #gnuLongLinkPath: string | null = null
  /** Padding to skip after the current member. */
  #padding = 0

  constructor(wholeLimit: number) {
    this.wholeLimit = wholeLimit
  }

  /** The events produced so far (and forgets them). */
  take(): ScanEvent[] {
    const e = this.#events
    this.#events = []
    return e
  }

  push(chunk: Buffer): void {
    let at = 0
    const n = chunk.length
    while (at < n) {
      const avail = n - at
      switch (this.#state) {
        case 'header':
        case 'long':
        case 'whole': {
          const piece = this.#take(chunk, at, avail)
          at += piece?.taken ?? avail
          if (piece !== undefined) {
            if (this.#state === 'header') this.#onHeader(piece.bytes)
            else this.#onGathered(piece.bytes)
          }
          break
        }
        case 'stream': {
          const take = Math.min(this.#missing, avail)
          this.#events.push({ kind: 'data', chunk: chunk.subarray(at, at + take) })
          at += take
          this.#missing -= take
          if (this.#missing === 0) {
            this.#events.push({ kind: 'end' })
            this.#skipPadding()
          }
          break
        }
        case 'skip': {
          const take = Math.min(this.#missing, avail)
          at += take
          this.#missing -= take
          if (this.#missing === 0) this.#expectHeader()
          break
        }
      }
    }
  }

  /** The input ended: it must end between members. */
  finish(): void {
    if (this.#state !== 'header' || this.#partBytes !== 0) throw new Error('Unexpected end of data')
  }

  /**
   * The #missing bytes of a header or whole member, from `chunk` at `at` (`avail` bytes left):
   * a view of the chunk when they are all there and nothing is gathered yet, else gathered
   * across chunks. Undefined while incomplete (everything available was taken); else the bytes
   * and how many of this chunk's were taken.
   */
  #take(chunk: Buffer, at: number, avail: number): { bytes: Buffer; taken: number } | undefined {
    if (this.#partBytes === 0 && avail >= this.#missing) {
      const taken = this.#missing
      this.#missing = 0
      return { bytes: chunk.subarray(at, at + taken), taken }
    }
    const taken = Math.min(this.#missing, avail)
    this.#gather(chunk.subarray(at, at + taken))
    return this.#missing === 0 ? { bytes: this.#gathered(), taken } : undefined
  }

  #gather(part: Buffer): void {
    if (part.length === 0) return
    this.#parts.push(part)
    this.#partBytes += part.length
    this.#missing -= part.length
  }

  #gathered(): Buffer {
    const b = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#partBytes)
    this.#parts = []
    this.#partBytes = 0
    return b
  }

  #expectHeader(): void {
    this.#state = 'header'
    this.#missing = 512
  }

  #skipPadding(): void {
    if (this.#padding > 0) {
      this.#state = 'skip'
      this.#missing = this.#padding
      this.#padding = 0
    } else this.#expectHeader()
  }

  #onHeader(block: Buffer): void {
    const header = decodeHeader(block)
    if (header === null) {
      this.#expectHeader()
      return
    }
    switch (header.type) {
      case 'gnu-long-path':
      case 'gnu-long-link-path':
      case 'pax-global-header':
      case 'pax-header': {
        const size = header.size
        if (size !== null && size > MAX_HEADER_SIZE) throw new Error('Header exceeds max size')
        this.#header = header
        this.#longType = header.type
        this.#padding = overflow(size ?? 0)
        if (!(size! > 0)) {
          this.#onLongHeader(EMPTY)
          return
        }
        this.#state = 'long'
        this.#missing = size!
        return
      }
    }
    this.#applyLongHeaders(header)
    const size = header.size
    if (!(size !== null && size >= 0)) throw new Error('Invalid header')
    if (size === 0 || header.type === 'directory') {
      this.#events.push({ kind: 'entry', header })
      this.#expectHeader()
      return
    }
    this.#header = header
    this.#padding = overflow(size)
    if (size <= this.wholeLimit) {
      this.#state = 'whole'
      this.#missing = size
    } else {
      this.#events.push({ kind: 'begin', header })
      this.#state = 'stream'
      this.#missing = size
    }
  }

  #onGathered(body: Buffer): void {
    if (this.#state === 'long') {
      this.#onLongHeader(body)
      return
    }
    this.#events.push({ kind: 'entry', header: this.#header!, content: body })
    this.#header = null
    this.#skipPadding()
  }

  #onLongHeader(buf: Buffer): void {
    switch (this.#longType) {
      case 'gnu-long-path':
        this.#gnuLongPath = decodeStr(buf, 0, buf.length)
        break
      case 'gnu-long-link-path':
        this.#gnuLongLinkPath = decodeStr(buf, 0, buf.length)
        break
      case 'pax-global-header':
        this.#paxGlobal = decodePax(buf)
        break
      case 'pax-header':
        this.#pax = this.#paxGlobal === null ? decodePax(buf) : Object.assign({}, this.#paxGlobal, decodePax(buf))
        break
    }
    this.#header = null
    this.#longType = null
    this.#skipPadding()
  }

  #applyLongHeaders(header: RawHeader): void {
    if (this.#gnuLongPath) {
      header.name = this.#gnuLongPath
      this.#gnuLongPath = null
    }
    if (this.#gnuLongLinkPath) {
      header.linkname = this.#gnuLongLinkPath
      this.#gnuLongLinkPath = null
    }
    if (this.#pax) {
      if (this.#pax.path) header.name = this.#pax.path
      if (this.#pax.linkpath) header.linkname = this.#pax.linkpath
      if (this.#pax.size) header.size = parseInt(this.#pax.size, 10)
      header.pax = this.#pax
      this.#pax = null
    }
  }
}

function overflow(size: number): number {
  size &= 511
  return size === 0 ? 0 : 512 - size
}

const ZERO = 0x30

/** One 512-byte header block; null for an all-zero (end-of-archive) block. */
export function decodeHeader(buf: Buffer): RawHeader | null {
  const typeflag = buf[156] === 0 ? 0 : buf[156]! - ZERO
  let name = decodeStr(buf, 0, 100)
  const mode = decodeOct(buf, 100, 8)
  const uid = decodeOct(buf, 108, 8)
  const gid = decodeOct(buf, 116, 8)
  const size = decodeOct(buf, 124, 12)
  const mtime = decodeOct(buf, 136, 12)
  const linkname = buf[157] === 0 ? null : decodeStr(buf, 157, 100)
  const c = cksum(buf)
  // The checksum is still its initial value when the block is all zeros.
  if (c === 8 * 32) return null
  if (c !== decodeOct(buf, 148, 8)) throw new Error('Invalid tar header. Maybe the tar is corrupted or it needs to be gunzipped?')
  if (isUstar(buf)) {
    if (buf[345]) name = decodeStr(buf, 345, 155) + '/' + name
  } else if (!isGnu(buf)) {
    throw new Error('Invalid tar header: unknown format.')
  }
  // (tar-stream's rule "a regular file whose name ends in / is a directory" never reached the
  // type it returns; the member stays a file, which readTar's checks then refuse or accept.)
  return { name, mode, uid, gid, size, mtime: new Date(1000 * (mtime ?? 0)), type: toType(typeflag), linkname, pax: null }
}

function isUstar(buf: Buffer): boolean {
  return buf[257] === 0x75 && buf[258] === 0x73 && buf[259] === 0x74 && buf[260] === 0x61 && buf[261] === 0x72 && buf[262] === 0x00
}

function isGnu(buf: Buffer): boolean {
  return buf[257] === 0x75 && buf[258] === 0x73 && buf[259] === 0x74 && buf[260] === 0x61 && buf[261] === 0x72 && buf[262] === 0x20 && buf[263] === 0x20 && buf[264] === 0x00
}

function toType(flag: number): string | null {
  switch (flag) {
    case 0:
      return 'file'
    case 1:
      return 'link'
    case 2:
      return 'symlink'
    case 3:
      return 'character-device'
    case 4:
      return 'block-device'
    case 5:
      return 'directory'
    case 6:
      return 'fifo'
    case 7:
      return 'contiguous-file'
    case 72:
      return 'pax-header'
    case 55:
      return 'pax-global-header'
    case 27:
      return 'gnu-long-link-path'
    case 28:
    case 30:
      return 'gnu-long-path'
  }
  return null
}

function indexOf(block: Buffer, num: number, offset: number, end: number): number {
  for (; offset < end; offset++) if (block[offset] === num) return offset
  return end
}

function cksum(block: Buffer): number {
  let sum = 8 * 32
  for (let i = 0; i < 148; i++) sum += block[i]!
  for (let j = 156; j < 512; j++) sum += block[j]!
  return sum
}

function decodeStr(buf: Buffer, offset: number, length: number): string {
  return buf.toString('utf8', offset, indexOf(buf, 0, offset, offset + length))
}

function decodeOct(buf: Buffer, offset: number, length: number): number | null {
  const end0 = offset + length
  if (buf[offset]! & 0x80) return parse256(buf.subarray(offset, end0))
  let at = offset
  // Older tars pad with leading spaces.
  while (at < end0 && buf[at] === 32) at++
  const end = indexOf(buf, 32, at, end0)
  while (at < end && buf[at] === 0) at++
  if (end === at) return 0
  return parseInt(buf.toString('latin1', at, end), 8)
}

/** GNU base-256: 0x80 positive, 0xff negative (two's complement). */
function parse256(buf: Buffer): number | null {
  let positive: boolean
  if (buf[0] === 0x80) positive = true
  else if (buf[0] === 0xff) positive = false
  else return null
  let sum = 0
  let scale = 1
  for (let i = buf.length - 1; i > 0; i--) {
    const byte = positive ? buf[i]! : 0xff - buf[i]!
    sum += byte * scale
    scale *= 256
  }
  return positive ? sum : -1 * sum
}

function decodePax(buf: Buffer): Record<string, string> {
  const result: Record<string, string> = {}
  while (buf.length) {
    let i = 0
    while (i < buf.length && buf[i] !== 32) i++
    const len = parseInt(buf.toString('utf8', 0, i), 10)
    if (!len) return result
    const b = buf.toString('utf8', i + 1, len - 1)
    const keyIndex = b.indexOf('=')
    if (keyIndex === -1) return result
    result[b.slice(0, keyIndex)] = b.slice(keyIndex + 1)
    buf = buf.subarray(len)
  }
  return result
}
