/**
 * Legacy Portage binary packages (`.tbz2`/`.xpak`, lib/portage/xpak.py):
 *
 *   tarball || "XPAKPACK" || u32be(index_len) || u32be(data_len) || index || data || "XPAKSTOP"
 *           || u32be(xpak_len) || "STOP"
 *
 * Each index record is u32be(len(key)) || key || u32be(data_offset) || u32be(data_len). The
 * reader checks every length and offset against the file before using it; any inconsistency is
 * an XpakError (the caller reports ERR_NIP_BAD_PACKAGE).
 */
export class XpakError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'XpakError'
  }
}

export interface XpakSplit {
  /** Byte length of the leading (compressed) tarball. */
  tarballLength: number
  /** The metadata entries (CATEGORY, PF, SLOT, USE, ...). */
  metadata: Map<string, Buffer>
}

const PACK = Buffer.from('XPAKPACK')
const STOP = Buffer.from('XPAKSTOP')
/** Metadata segments larger than this are not plausible. */
const MAX_XPAK = 64 * 1024 * 1024

/** Split a package given its last bytes (`tail`, at least the xpak segment) and total size. */
export function parseXpakTrailer(tail: Buffer, fileSize: number): XpakSplit {
  if (tail.length < 8 || tail.subarray(tail.length - 4).toString('latin1') !== 'STOP') {
    throw new XpakError('the package does not end with an xpak trailer ("STOP")')
  }
  const xpakLen = tail.readUInt32BE(tail.length - 8)
  if (xpakLen < 24 || xpakLen > MAX_XPAK || xpakLen + 8 > fileSize || xpakLen + 8 > tail.length) {
    throw new XpakError(`xpak segment length ${xpakLen} does not fit the file`)
  }
  const seg = tail.subarray(tail.length - 8 - xpakLen, tail.length - 8)
  return { tarballLength: fileSize - 8 - xpakLen, metadata: parseXpakSegment(seg) }
}

/** Parse `XPAKPACK … XPAKSTOP`. */
export function parseXpakSegment(seg: Buffer): Map<string, Buffer> {
  if (seg.length < 24 || !seg.subarray(0, 8).equals(PACK) || !seg.subarray(seg.length - 8).equals(STOP)) {
    throw new XpakError('malformed xpak segment (XPAKPACK/XPAKSTOP markers)')
  }
  const indexLen = seg.readUInt32BE(8)
  const dataLen = seg.readUInt32BE(12)
  if (16 + indexLen + dataLen + 8 !== seg.length) throw new XpakError('xpak index and data lengths do not add up')
  const index = seg.subarray(16, 16 + indexLen)
  const data = seg.subarray(16 + indexLen, 16 + indexLen + dataLen)
  const out = new Map<string, Buffer>()
  let at = 0
  while (at < index.length) {
    if (at + 4 > index.length) throw new XpakError('truncated xpak index record')
    const keyLen = index.readUInt32BE(at)
    if (at + 4 + keyLen + 8 > index.length) throw new XpakError('truncated xpak index record')
    const key = index.subarray(at + 4, at + 4 + keyLen).toString('utf8')
    const off = index.readUInt32BE(at + 4 + keyLen)
    const len = index.readUInt32BE(at + 8 + keyLen)
    if (off + len > data.length) throw new XpakError(`xpak entry ${key} points outside the data`)
    if (out.has(key)) throw new XpakError(`xpak key ${key} appears twice`)
    out.set(key, Buffer.from(data.subarray(off, off + len)))
    at += 12 + keyLen
  }
  return out
}

/** Build an xpak segment (used by tests and fixtures; the writer Portage's reader accepts). */
export function buildXpakSegment(entries: Map<string, Buffer | string>): Buffer {
  const index: Buffer[] = []
  const data: Buffer[] = []
  let offset = 0
  for (const [key, value] of entries) {
    const v = Buffer.isBuffer(value) ? value : Buffer.from(value)
    const k = Buffer.from(key)
    const rec = Buffer.alloc(12 + k.length)
    rec.writeUInt32BE(k.length, 0)
    k.copy(rec, 4)
    rec.writeUInt32BE(offset, 4 + k.length)
    rec.writeUInt32BE(v.length, 8 + k.length)
    index.push(rec)
    data.push(v)
    offset += v.length
  }
  const indexBuf = Buffer.concat(index)
  const dataBuf = Buffer.concat(data)
  const head = Buffer.alloc(16)
  PACK.copy(head, 0)
  head.writeUInt32BE(indexBuf.length, 8)
  head.writeUInt32BE(dataBuf.length, 12)
  return Buffer.concat([head, indexBuf, dataBuf, STOP])
}

/** tarball || segment || u32be(len) || "STOP" */
export function buildXpakPackage(tarball: Buffer, entries: Map<string, Buffer | string>): Buffer {
  const seg = buildXpakSegment(entries)
  const len = Buffer.alloc(4)
  len.writeUInt32BE(seg.length)
  return Buffer.concat([tarball, seg, len, Buffer.from('STOP')])
}
