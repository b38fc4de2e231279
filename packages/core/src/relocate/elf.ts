/**
 * The few ELF facts relocation needs, read from the headers (never by running a tool):
 * whether a file is an ELF executable or shared object (`e_type` ET_EXEC/ET_DYN), whether it is
 * dynamically linked (a PT_DYNAMIC segment), its DT_NEEDED names and its DT_RUNPATH / DT_RPATH.
 *
 * Contract: `readElfDynamic` returns null for anything that is not a well-formed ELF file of a
 * kind relocation may touch (not ELF, relocatable objects, core dumps, truncated or inconsistent
 * headers). It reads at most the ELF header, the program headers, the dynamic section and the
 * strings it names, each bounded; it never throws for malformed content (only for I/O errors
 * other than the file being unreadable, which also yield null).
 */
import { open, type FileHandle } from 'node:fs/promises'

export interface ElfDynamic {
  /** ET_EXEC (a fixed-address executable) or ET_DYN (a shared object or a PIE executable). */
  type: 'exec' | 'dyn'
  /** Whether the file has a PT_DYNAMIC segment (false: statically linked). */
  dynamic: boolean
  /** Whether the file names an interpreter (PT_INTERP): a dynamically linked program. */
  interpreter: boolean
  /** The interpreter's path, when there is one. */
  interpreterPath?: string
  /** DT_NEEDED sonames, in order. */
  needed: string[]
  /** DT_RUNPATH, when present (the raw string, `:`-separated). */
  runpath?: string
  /** DT_RPATH, when present. */
  rpath?: string
}

const ELF_MAGIC = 0x7f454c46
const ET_EXEC = 2
const ET_DYN = 3
const PT_LOAD = 1
const PT_DYNAMIC = 2
const PT_INTERP = 3
const DT_NULL = 0
const DT_NEEDED = 1
const DT_STRTAB = 5
const DT_STRSZ = 10
const DT_RPATH = 15
const DT_RUNPATH = 29
/** Program header and dynamic tables larger than this are not read: not an ELF file nip patches. */
const MAX_TABLE = 4 * 1024 * 1024
/** Longest string read from the dynamic string table (a soname or a search path). */
const MAX_STRING = 64 * 1024
const MAX_NEEDED = 4096

/** Whether the first bytes of a file are the ELF magic (cheap pre-check). */
export function hasElfMagic(head: Buffer): boolean {
  return head.length >= 4 && head.readUInt32BE(0) === ELF_MAGIC
}

export async function readElfDynamic(file: string): Promise<ElfDynamic | null> {
  let fh: FileHandle
  try {
    fh = await open(file, 'r')
  } catch {
    return null
  }
  try {
    const size = (await fh.stat()).size
    return await parse(size, async (offset, length) => {
      const buf = Buffer.alloc(length)
      const { bytesRead } = await fh.read(buf, 0, length, offset)
      return bytesRead === length ? buf : null
    })
  } catch {
    return null
  } finally {
    await fh.close()
  }
}

/** readElfDynamic of a file's content already in memory. */
export async function readElfDynamicBuffer(content: Buffer): Promise<ElfDynamic | null> {
  try {
    return await parse(content.length, async (offset, length) => content.subarray(offset, offset + length))
  } catch {
    return null
  }
}

async function parse(fileSize: number, readAt: (offset: number, length: number) => Promise<Buffer | null>): Promise<ElfDynamic | null> {
  const read = async (offset: number, length: number): Promise<Buffer | null> => {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || length > MAX_TABLE || offset + length > fileSize) return null
    return readAt(offset, length)
  }
  const ident = await read(0, Math.min(64, fileSize))
  if (ident === null || ident.length < 52 || !hasElfMagic(ident)) return null
  const cls = ident[4]
  const data = ident[5]
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2) || ident[6] !== 1) return null
  const is64 = cls === 2
  if (is64 && ident.length < 64) return null
  const le = data === 1
  const u16 = (b: Buffer, o: number): number => (le ? b.readUInt16LE(o) : b.readUInt16BE(o))
  const u32 = (b: Buffer, o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o))
  const word = (b: Buffer, o: number): number => {
    if (!is64) return u32(b, o)
    const v = le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.NaN : Number(v)
  }
  const eType = u16(ident, 16)
  if (eType !== ET_EXEC && eType !== ET_DYN) return null
  const phoff = word(ident, is64 ? 0x20 : 0x1c)
  const phentsize = u16(ident, is64 ? 0x36 : 0x2a)
  const phnum = u16(ident, is64 ? 0x38 : 0x2c)
  if (phentsize < (is64 ? 56 : 32) || phnum === 0) return null
  const ph = await read(phoff, phentsize * phnum)
  if (ph === null) return null
  const loads: { vaddr: number; offset: number; filesz: number }[] = []
  let dynamic: { offset: number; size: number } | undefined
  let interpreter = false
  let interpreterPath: string | undefined
  for (let i = 0; i < phnum; i++) {
    const o = i * phentsize
    const type = u32(ph, o)
    const offset = word(ph, is64 ? o + 8 : o + 4)
    const vaddr = word(ph, is64 ? o + 16 : o + 8)
    const filesz = word(ph, is64 ? o + 32 : o + 16)
    if (type === PT_LOAD) loads.push({ vaddr, offset, filesz })
    else if (type === PT_DYNAMIC) dynamic = { offset, size: filesz }
    else if (type === PT_INTERP) {
      interpreter = true
      const b = await read(offset, Math.min(filesz, MAX_STRING))
      if (b === null) return null
      interpreterPath = b.toString('latin1').replace(/\0.*$/s, '')
    }
  }
  const result: ElfDynamic = { type: eType === ET_EXEC ? 'exec' : 'dyn', dynamic: dynamic !== undefined, interpreter, needed: [], ...(interpreterPath !== undefined ? { interpreterPath } : {}) }
  if (dynamic === undefined) return result
  const dyn = await read(dynamic.offset, dynamic.size)
  if (dyn === null) return null
  const entSize = is64 ? 16 : 8
  const needed: number[] = []
  let runpath: number | undefined
  let rpath: number | undefined
  let strtab: number | undefined
  let strsz: number | undefined
  for (let o = 0; o + entSize <= dyn.length; o += entSize) {
    const tag = word(dyn, o)
    const val = word(dyn, o + entSize / 2)
    if (tag === DT_NULL) break
    if (tag === DT_NEEDED) {
      if (needed.length >= MAX_NEEDED) return null
      needed.push(val)
    } else if (tag === DT_RUNPATH) runpath = val
    else if (tag === DT_RPATH) rpath = val
    else if (tag === DT_STRTAB) strtab = val
    else if (tag === DT_STRSZ) strsz = val
  }
  if (needed.length === 0 && runpath === undefined && rpath === undefined) return result
  if (strtab === undefined || !Number.isSafeInteger(strtab)) return null
  // DT_STRTAB is an address: map it to a file offset through the PT_LOAD segment holding it.
  const seg = loads.find((l) => strtab! >= l.vaddr && strtab! < l.vaddr + l.filesz)
  if (seg === undefined) return null
  const strOffset = strtab - seg.vaddr + seg.offset
  const strEnd = Math.min(fileSize, seg.offset + seg.filesz, strsz !== undefined && Number.isSafeInteger(strsz) ? strOffset + strsz : Number.MAX_SAFE_INTEGER)
  const readStr = async (at: number): Promise<string | null> => {
    const start = strOffset + at
    if (!Number.isSafeInteger(start) || start < strOffset || start >= strEnd) return null
    const b = await read(start, Math.min(MAX_STRING, strEnd - start))
    if (b === null) return null
    const end = b.indexOf(0)
    if (end < 0) return null
    return b.toString('latin1', 0, end)
  }
  for (const n of needed) {
    const s = await readStr(n)
    if (s === null) return null
    result.needed.push(s)
  }
  if (runpath !== undefined) {
    const s = await readStr(runpath)
    if (s === null) return null
    result.runpath = s
  }
  if (rpath !== undefined) {
    const s = await readStr(rpath)
    if (s === null) return null
    result.rpath = s
  }
  return result
}
