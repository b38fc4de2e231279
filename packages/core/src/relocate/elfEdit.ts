/**
 * nip's own ELF editor: sets an ELF file's DT_RUNPATH, so relocation needs no host tool.
 *
 * What it does, in the order it tries:
 * 1. **In place.** The file has a DT_RUNPATH (or a DT_RPATH, which becomes DT_RUNPATH, as
 *    `patchelf --set-rpath` does) whose string is at least as long as the new one, and no other
 *    reference of the dynamic string table points into that string (string tables may share
 *    tails): the string is overwritten and padded with NULs. The file keeps its size and layout.
 * 2. **A new segment** (patchelf's technique for shared objects, used here for every kind): a copy
 *    of `.dynstr` with the new string appended — and of `.dynamic` with one more entry, when the
 *    file has neither DT_RUNPATH nor DT_RPATH nor a spare DT_NULL slot — is written at the end of
 *    the file, page-aligned, and mapped by one new PT_LOAD (read-write, like `.dynamic` must be:
 *    the loader writes DT_DEBUG) placed above every existing segment; DT_STRTAB, DT_STRSZ,
 *    PT_DYNAMIC and the section headers point at the copies. The program header table grows by
 *    one entry where it is (it stays in the first PT_LOAD and PT_PHDR keeps its address, which the
 *    kernel and the loader need); the sections that follow it and would be overwritten
 *    (`.interp`, notes, hash tables, `.dynsym`, version tables, relocation tables — only kinds
 *    that are reached through program headers or dynamic tags, never code or data) are moved as
 *    one block into the new segment, keeping their alignment, and every program header, section
 *    header and dynamic tag that points into the block follows it.
 *
 * Contract: `setElfRunpath` never changes its input; it returns the edited bytes, or a refusal
 * naming why the file is not one it edits (big- and little-endian, 32 and 64 bit; not MIPS, whose
 * dynamic section has other rules; not a file without section headers when sections must move;
 * nothing inconsistent). The caller checks the result by reading it back (elf.ts).
 */

export type ElfEditResult = { ok: true; content: Buffer; method: 'in-place' | 'new-segment' } | { ok: false; reason: string }

const ET_EXEC = 2
const ET_DYN = 3
const EM_MIPS = 8
const PT_NULL = 0
const PT_LOAD = 1
const PT_DYNAMIC = 2
const PT_INTERP = 3
const PT_PHDR = 6
const PF_W = 2
const PF_R = 4
const DT_NULL = 0
const DT_NEEDED = 1
const DT_STRTAB = 5
const DT_STRSZ = 10
const DT_SONAME = 14
const DT_RPATH = 15
const DT_RUNPATH = 29
const DT_AUXILIARY = 0x7ffffffd
const DT_FILTER = 0x7fffffff
const SHT_NOBITS = 8
const SHT_DYNSYM = 11
const SHT_DYNAMIC = 6
const SHT_GNU_VERDEF = 0x6ffffffd
const SHT_GNU_VERNEED = 0x6ffffffe
/** Dynamic tags whose value is an address (d_ptr). */
const POINTER_TAGS = new Set([3, 4, 5, 6, 7, 12, 13, 17, 23, 25, 26, 32, 36, 0x6ffffef5, 0x6ffffff0, 0x6ffffffc, 0x6ffffffe, 0x6ffffef9, 0x6ffffefa, 0x6ffffefb, 0x6ffffefc, 0x6ffffefd, 0x6ffffefe, 0x6ffffeff])
/** Section types that may move with the block after the program headers: reached through headers or dynamic tags only. */
const MOVABLE_TYPES = new Set([
  7, // SHT_NOTE
  5, // SHT_HASH
  0x6ffffff6, // SHT_GNU_HASH
  11, // SHT_DYNSYM
  3, // SHT_STRTAB (.dynstr; checked by name below)
  0x6fffffff, // SHT_GNU_versym
  0x6ffffffe, // SHT_GNU_verneed
  0x6ffffffd, // SHT_GNU_verdef
  4, // SHT_RELA
  9, // SHT_REL
  19, // SHT_RELR
  1, // SHT_PROGBITS (.interp only; checked by name below)
])
const MIN_PAGE = 0x1000

interface Phdr {
  type: number
  flags: number
  offset: number
  vaddr: number
  paddr: number
  filesz: number
  memsz: number
  align: number
}
interface Shdr {
  index: number
  name: number
  nameStr: string
  type: number
  flags: number
  addr: number
  offset: number
  size: number
  link: number
  info: number
  addralign: number
  entsize: number
}
interface Dyn {
  tag: number
  val: number
}

class Refusal extends Error {}
const refuse = (reason: string): never => {
  throw new Refusal(reason)
}

/** Sets DT_RUNPATH of an ELF executable or shared object to `runpath` (see the header for how). */
export function setElfRunpath(input: Buffer, runpath: string): ElfEditResult {
  try {
    return edit(input, runpath)
  } catch (e) {
    if (e instanceof Refusal) return { ok: false, reason: e.message }
    if (e instanceof RangeError) return { ok: false, reason: `malformed ELF file (${e.message})` }
    throw e
  }
}

function edit(input: Buffer, runpath: string): ElfEditResult {
  if (runpath.includes('\0')) refuse('the RUNPATH contains NUL')
  const newString = Buffer.from(runpath, 'latin1')
  if (input.length < 52 || input.readUInt32BE(0) !== 0x7f454c46) refuse('not an ELF file')
  const cls = input[4]
  const data = input[5]
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2) || input[6] !== 1) refuse('unknown ELF class or byte order')
  const is64 = cls === 2
  const le = data === 1
  const io = new Io(input, is64, le)
  const eType = io.u16(16)
  if (eType !== ET_EXEC && eType !== ET_DYN) refuse('not an executable or shared object')
  if (io.u16(18) === EM_MIPS) refuse('MIPS dynamic sections are not edited')
  const phoff = io.word(is64 ? 0x20 : 0x1c)
  const shoff = io.word(is64 ? 0x28 : 0x20)
  const ehsize = io.u16(is64 ? 0x34 : 0x28)
  const phentsize = io.u16(is64 ? 0x36 : 0x2a)
  const phnum = io.u16(is64 ? 0x38 : 0x2c)
  const shentsize = io.u16(is64 ? 0x3a : 0x2e)
  const shnum = io.u16(is64 ? 0x3c : 0x30)
  const shstrndx = io.u16(is64 ? 0x3e : 0x32)
  if (phentsize !== (is64 ? 56 : 32) || phnum === 0 || phnum >= 0xfff0) refuse('unexpected program header table')
  if (phoff < ehsize || phoff + phnum * phentsize > input.length) refuse('program header table out of the file')
  const phdrs: Phdr[] = []
  for (let i = 0; i < phnum; i++) phdrs.push(io.readPhdr(phoff + i * phentsize))
  const shdrs: Shdr[] = []
  if (shoff !== 0 && shnum !== 0) {
    if (shentsize !== (is64 ? 64 : 40) || shoff + shnum * shentsize > input.length) refuse('section header table out of the file')
    for (let i = 0; i < shnum; i++) shdrs.push(io.readShdr(shoff + i * shentsize, i))
    const strs = shdrs[shstrndx]
    if (strs !== undefined && strs.type !== SHT_NOBITS && strs.offset + strs.size <= input.length) {
      for (const s of shdrs) s.nameStr = cString(input, strs.offset + s.name, strs.offset + strs.size) ?? ''
    }
  }
  const loads = phdrs.filter((p) => p.type === PT_LOAD)
  if (loads.length === 0) refuse('no PT_LOAD segment')
  for (const p of phdrs) if (p.type !== PT_NULL && p.filesz > 0 && p.offset + p.filesz > input.length) refuse('a segment lies outside the file')
  const toOffset = (addr: number): number => {
    const seg = loads.find((l) => addr >= l.vaddr && addr < l.vaddr + l.filesz)
    return seg === undefined ? refuse(`address 0x${addr.toString(16)} is not in the file`) : addr - seg.vaddr + seg.offset
  }
  const dynPh = phdrs.find((p) => p.type === PT_DYNAMIC)
  if (dynPh === undefined) refuse('statically linked (no PT_DYNAMIC)')
  const dynEnt = is64 ? 16 : 8
  const dyns: Dyn[] = []
  let slots = 0
  let terminated = false
  for (let o = dynPh!.offset; o + dynEnt <= dynPh!.offset + dynPh!.filesz; o += dynEnt) {
    slots++
    if (terminated) continue
    const d = { tag: io.word(o), val: io.word(o + dynEnt / 2) }
    if (d.tag === DT_NULL) terminated = true
    else dyns.push(d)
  }
  if (!terminated) refuse('the dynamic section has no DT_NULL')
  const tagVal = (tag: number): number | undefined => dyns.find((d) => d.tag === tag)?.val
  const strtab = tagVal(DT_STRTAB)
  const strsz = tagVal(DT_STRSZ)
  if (strtab === undefined || strsz === undefined) refuse('no DT_STRTAB/DT_STRSZ')
  const strOff = toOffset(strtab!)
  if (strOff + strsz! > input.length) refuse('the dynamic string table lies outside the file')

  let target = dyns.findIndex((d) => d.tag === DT_RUNPATH)
  if (target < 0) target = dyns.findIndex((d) => d.tag === DT_RPATH)

  // 1. In place.
  if (target >= 0) {
    const at = dyns[target].val
    const old = cString(input, strOff + at, strOff + strsz!)
    if (old !== null && newString.length <= old.length && !sharesString(io, { dyns, shdrs, strOff, strsz: strsz!, at, length: old.length, target, toOffset })) {
      const out = Buffer.from(input)
      out.fill(0, strOff + at, strOff + at + old.length + 1)
      newString.copy(out, strOff + at)
      if (dyns[target].tag === DT_RPATH) new Io(out, is64, le).setWord(dynPh!.offset + target * dynEnt, DT_RUNPATH)
      return { ok: true, content: out, method: 'in-place' }
    }
  }

  // 2. A new segment.
  if (shdrs.length === 0) refuse('no section headers')
  const newDyns = dyns.map((d) => ({ ...d }))
  const runpathOffset = strsz!
  if (target >= 0) newDyns[target] = { tag: DT_RUNPATH, val: runpathOffset }
  else newDyns.push({ tag: DT_RUNPATH, val: runpathOffset })
  const dynamicMoves = newDyns.length + 1 > slots

  // The program header table grows by one entry; what lies there moves into the new segment.
  const oldPhEnd = phoff + phnum * phentsize
  const newPhEnd = oldPhEnd + phentsize
  const firstLoad = loads.reduce((a, b) => (b.offset < a.offset ? b : a))
  if (!(phoff >= firstLoad.offset && newPhEnd <= firstLoad.offset + firstLoad.filesz)) refuse('the program header table is not at the start of the first segment')
  if (shoff < newPhEnd && shoff + shnum * shentsize > phoff) refuse('the section header table follows the program headers')
  const inFile = (s: Shdr): boolean => s.type !== SHT_NOBITS && s.size > 0
  let blockStart = Infinity
  let blockEnd = -Infinity
  // Closure: everything from the old end of the table to the new one, the segments (notes,
  // interpreter) those sections lie in, the sections of those segments, until nothing is added.
  for (let changed = true; changed; ) {
    changed = false
    const lo = oldPhEnd
    const hi = Math.max(blockEnd, newPhEnd)
    const grow = (start: number, end: number): void => {
      if (start < blockStart || end > blockEnd) {
        blockStart = Math.min(blockStart, start)
        blockEnd = Math.max(blockEnd, end)
        changed = true
      }
    }
    for (const s of shdrs) if (inFile(s) && s.offset < hi && s.offset + s.size > lo) grow(s.offset, s.offset + s.size)
    if (blockEnd === -Infinity) break
    for (const p of phdrs) {
      if (p.type === PT_LOAD || p.type === PT_PHDR || p.type === PT_NULL || p.filesz === 0) continue
      if (p.offset < blockEnd && p.offset + p.filesz > blockStart) grow(p.offset, p.offset + p.filesz)
    }
  }
  const moved = blockEnd === -Infinity ? [] : shdrs.filter((s) => inFile(s) && s.offset >= blockStart && s.offset + s.size <= blockEnd)
  if (blockEnd !== -Infinity) {
    for (const s of shdrs) if (inFile(s) && s.offset < blockEnd && s.offset + s.size > blockStart && !moved.includes(s)) refuse(`section ${s.nameStr || s.index} straddles the program headers' growth`)
    for (const s of moved) {
      const ok = MOVABLE_TYPES.has(s.type) && (s.type !== 1 || s.nameStr === '.interp') && (s.type !== 3 || s.nameStr === '.dynstr')
      if (!ok) refuse(`section ${s.nameStr || s.index} follows the program headers and cannot move`)
    }
    for (const p of phdrs) if (p.type !== PT_LOAD && p.type !== PT_PHDR && p.type !== PT_NULL && p.filesz > 0 && p.offset < blockEnd && p.offset + p.filesz > blockStart && !(p.offset >= blockStart && p.offset + p.filesz <= blockEnd)) refuse('a segment straddles the moved block')
    if (blockEnd > firstLoad.offset + firstLoad.filesz) refuse('the moved block leaves the first segment')
  }
  const blockLength = blockEnd === -Infinity ? 0 : blockEnd - blockStart
  const blockAddr = blockEnd === -Infinity ? 0 : blockStart - firstLoad.offset + firstLoad.vaddr

  // Layout of the new segment: [block][.dynstr + new string][.dynamic].
  let align = MIN_PAGE
  for (const l of loads) align = Math.max(align, l.align)
  // Up to 2 MiB (the largest max-page-size linkers use); the file grows by at most that much padding.
  if (align > 0x200000 || (align & (align - 1)) !== 0) refuse('unexpected segment alignment')
  const segOffset = roundUp(input.length, align)
  let segAddr = roundUp(Math.max(...phdrs.filter((p) => p.type === PT_LOAD).map((p) => p.vaddr + p.memsz)), align)
  // As patchelf does for executables: keep p_vaddr - p_offset of the new segment >= 0.
  if (phdrs.some((p) => p.type === PT_INTERP) && segOffset > segAddr) segAddr = segOffset
  let cursor = blockLength === 0 ? 0 : blockStart % align // keeps the block's alignment (up to a page)
  const blockAt = cursor
  cursor += blockLength
  cursor = roundUp(cursor, 16)
  const strAt = cursor
  const newStrsz = strsz! + newString.length + 1
  cursor += newStrsz
  cursor = roundUp(cursor, 16)
  const dynAt = cursor
  if (dynamicMoves) cursor += (newDyns.length + 1) * dynEnt
  const segSize = cursor
  // One byte after the segment: older readelf wants a segment to end before the file does.
  const out = Buffer.alloc(segOffset + segSize + 1)
  input.copy(out, 0)
  const w = new Io(out, is64, le)
  const dAddr = segAddr + blockAt - blockAddr
  const dOff = segOffset + blockAt - blockStart
  const inBlockAddr = (a: number): boolean => blockLength > 0 && a >= blockAddr && a < blockAddr + blockLength
  if (blockLength > 0) {
    input.copy(out, segOffset + blockAt, blockStart, blockEnd)
    out.fill(0, oldPhEnd, blockEnd)
  }
  input.copy(out, segOffset + strAt, strOff, strOff + strsz!)
  newString.copy(out, segOffset + strAt + strsz!)
  const newStrAddr = segAddr + strAt
  for (const d of newDyns) {
    if (d.tag === DT_STRTAB) d.val = newStrAddr
    else if (d.tag === DT_STRSZ) d.val = newStrsz
    else if (POINTER_TAGS.has(d.tag) && inBlockAddr(d.val)) d.val += dAddr
  }
  const dynBase = dynamicMoves ? segOffset + dynAt : dynPh!.offset
  out.fill(0, dynBase, dynBase + Math.max(newDyns.length + 1, dynamicMoves ? 0 : slots) * dynEnt)
  newDyns.forEach((d, i) => {
    w.setWord(dynBase + i * dynEnt, d.tag)
    w.setWord(dynBase + i * dynEnt + dynEnt / 2, d.val)
  })
  // Program headers: moved segments follow the block, PT_DYNAMIC its copy, PT_PHDR grows, one PT_LOAD more.
  for (const p of phdrs) {
    if (blockLength > 0 && p.type !== PT_LOAD && p.type !== PT_PHDR && p.filesz > 0 && p.offset >= blockStart && p.offset + p.filesz <= blockEnd) {
      p.offset += dOff
      p.vaddr += dAddr
      p.paddr += dAddr
    }
    if (p.type === PT_PHDR) {
      p.filesz += phentsize
      p.memsz += phentsize
    }
    if (p.type === PT_DYNAMIC && dynamicMoves) {
      p.offset = segOffset + dynAt
      p.vaddr = p.paddr = segAddr + dynAt
      p.filesz = p.memsz = (newDyns.length + 1) * dynEnt
    }
  }
  const lastLoad = phdrs.reduce((at, p, i) => (p.type === PT_LOAD ? i : at), -1)
  phdrs.splice(lastLoad + 1, 0, { type: PT_LOAD, flags: PF_R | PF_W, offset: segOffset, vaddr: segAddr, paddr: segAddr, filesz: segSize, memsz: segSize, align })
  phdrs.forEach((p, i) => w.writePhdr(phoff + i * phentsize, p))
  w.setU16(is64 ? 0x38 : 0x2c, phdrs.length)
  // Section headers.
  for (const s of shdrs) {
    let changed = false
    const isDynstr = s.type === 3 && s.addr === strtab && s.nameStr === '.dynstr'
    if (moved.includes(s)) {
      s.offset += dOff
      if (s.addr !== 0) s.addr += dAddr
      changed = true
    }
    if (isDynstr) {
      s.offset = segOffset + strAt
      s.addr = newStrAddr
      s.size = newStrsz
      changed = true
    } else if (s.type === SHT_DYNAMIC && dynamicMoves) {
      s.offset = segOffset + dynAt
      s.addr = segAddr + dynAt
      s.size = (newDyns.length + 1) * dynEnt
      changed = true
    }
    if (changed) w.writeShdr(shoff + s.index * shentsize, s)
  }
  return { ok: true, content: out, method: 'new-segment' }
}

/** Whether any other reference of the dynamic string table points into the string at `at` (tail sharing). */
function sharesString(
  io: Io,
  o: { dyns: Dyn[]; shdrs: Shdr[]; strOff: number; strsz: number; at: number; length: number; target: number; toOffset: (a: number) => number },
): boolean {
  const inside = (v: number): boolean => v >= o.at && v <= o.at + o.length
  for (let i = 0; i < o.dyns.length; i++) {
    if (i === o.target) continue
    const d = o.dyns[i]
    if ([DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH, DT_AUXILIARY, DT_FILTER].includes(d.tag) && inside(d.val)) return true
  }
  // Without section headers the symbol and version tables cannot be walked safely.
  if (o.shdrs.length === 0) return true
  // Version chains are walked for at most this many entries (a hostile file's loops end here):
  // beyond it the string counts as shared, and the new one goes into a new segment.
  let budget = 1 << 20
  for (const s of o.shdrs) {
    if (s.type === SHT_DYNSYM) {
      const ent = io.is64 ? 24 : 16
      if (s.entsize !== ent || s.offset + s.size > io.buf.length) return true
      for (let p = s.offset; p + ent <= s.offset + s.size; p += ent) if (inside(io.u32(p))) return true
    } else if (s.type === SHT_GNU_VERNEED) {
      let p = s.offset
      for (let n = 0; n < 65536 && p + 16 <= io.buf.length; n++) {
        if (--budget < 0) return true
        if (inside(io.u32(p + 4))) return true
        let a = p + io.u32(p + 8)
        for (let k = 0, cnt = io.u16(p + 2); k < cnt && a + 16 <= io.buf.length; k++) {
          if (--budget < 0) return true
          if (inside(io.u32(a + 8))) return true
          const next = io.u32(a + 12)
          if (next === 0) break
          a += next
        }
        const next = io.u32(p + 12)
        if (next === 0) break
        p += next
      }
    } else if (s.type === SHT_GNU_VERDEF) {
      let p = s.offset
      for (let n = 0; n < 65536 && p + 20 <= io.buf.length; n++) {
        if (--budget < 0) return true
        let a = p + io.u32(p + 12)
        for (let k = 0, cnt = io.u16(p + 6); k < cnt && a + 8 <= io.buf.length; k++) {
          if (--budget < 0) return true
          if (inside(io.u32(a))) return true
          const next = io.u32(a + 4)
          if (next === 0) break
          a += next
        }
        const next = io.u32(p + 16)
        if (next === 0) break
        p += next
      }
    }
  }
  return false
}

function cString(buf: Buffer, start: number, end: number): string | null {
  if (start < 0 || start >= Math.min(end, buf.length)) return null
  const nul = buf.indexOf(0, start)
  if (nul < 0 || nul >= Math.min(end, buf.length)) return null
  return buf.toString('latin1', start, nul)
}

function roundUp(n: number, align: number): number {
  return Math.ceil(n / align) * align
}

/** Endian- and class-aware reads and writes of one buffer. */
class Io {
  constructor(
    readonly buf: Buffer,
    readonly is64: boolean,
    readonly le: boolean,
  ) {}
  u16(o: number): number {
    return this.le ? this.buf.readUInt16LE(o) : this.buf.readUInt16BE(o)
  }
  u32(o: number): number {
    return this.le ? this.buf.readUInt32LE(o) : this.buf.readUInt32BE(o)
  }
  word(o: number): number {
    if (!this.is64) return this.u32(o)
    const v = this.le ? this.buf.readBigUInt64LE(o) : this.buf.readBigUInt64BE(o)
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      // Dynamic tags in the OS/processor ranges fit; a larger value is no address nip moves.
      return refuse('a 64-bit value beyond 2^53')
    }
    return Number(v)
  }
  setU16(o: number, v: number): void {
    if (this.le) this.buf.writeUInt16LE(v, o)
    else this.buf.writeUInt16BE(v, o)
  }
  setU32(o: number, v: number): void {
    if (this.le) this.buf.writeUInt32LE(v, o)
    else this.buf.writeUInt32BE(v, o)
  }
  setWord(o: number, v: number): void {
    if (!this.is64) return this.setU32(o, v)
    if (this.le) this.buf.writeBigUInt64LE(BigInt(v), o)
    else this.buf.writeBigUInt64BE(BigInt(v), o)
  }
  readPhdr(o: number): Phdr {
    return this.is64
      ? { type: this.u32(o), flags: this.u32(o + 4), offset: this.word(o + 8), vaddr: this.word(o + 16), paddr: this.word(o + 24), filesz: this.word(o + 32), memsz: this.word(o + 40), align: this.word(o + 48) }
      : { type: this.u32(o), offset: this.u32(o + 4), vaddr: this.u32(o + 8), paddr: this.u32(o + 12), filesz: this.u32(o + 16), memsz: this.u32(o + 20), flags: this.u32(o + 24), align: this.u32(o + 28) }
  }
  writePhdr(o: number, p: Phdr): void {
    if (this.is64) {
      this.setU32(o, p.type)
      this.setU32(o + 4, p.flags)
      this.setWord(o + 8, p.offset)
      this.setWord(o + 16, p.vaddr)
      this.setWord(o + 24, p.paddr)
      this.setWord(o + 32, p.filesz)
      this.setWord(o + 40, p.memsz)
      this.setWord(o + 48, p.align)
    } else {
      this.setU32(o, p.type)
      this.setU32(o + 4, p.offset)
      this.setU32(o + 8, p.vaddr)
      this.setU32(o + 12, p.paddr)
      this.setU32(o + 16, p.filesz)
      this.setU32(o + 20, p.memsz)
      this.setU32(o + 24, p.flags)
      this.setU32(o + 28, p.align)
    }
  }
  readShdr(o: number, index: number): Shdr {
    const w = this.is64 ? 8 : 4
    return {
      index,
      name: this.u32(o),
      nameStr: '',
      type: this.u32(o + 4),
      flags: this.word(o + 8),
      addr: this.word(o + 8 + w),
      offset: this.word(o + 8 + 2 * w),
      size: this.word(o + 8 + 3 * w),
      link: this.u32(o + 8 + 4 * w),
      info: this.u32(o + 12 + 4 * w),
      addralign: this.word(o + 16 + 4 * w),
      entsize: this.word(o + 16 + 5 * w),
    }
  }
  writeShdr(o: number, s: Shdr): void {
    const w = this.is64 ? 8 : 4
    this.setWord(o + 8 + w, s.addr)
    this.setWord(o + 8 + 2 * w, s.offset)
    this.setWord(o + 8 + 3 * w, s.size)
  }
}
