/**
 * The check that a grafted program can run: for every ELF file of a version directory, its
 * interpreter (PT_INTERP) exists and every DT_NEEDED library is found in its DT_RUNPATH/DT_RPATH
 * (with $ORIGIN expanded) or is given as a path that exists. Reads headers only; follows
 * symlinks only while resolving libraries, never while walking the tree.
 */
import { open, readdir, realpath, stat, lstat } from 'node:fs/promises'
import path from 'node:path'

export interface ElfInfo {
  interpreter?: string
  needed: string[]
  runpath: string[]
}

export interface ElfProblem {
  /** The ELF file, relative to the checked directory. */
  file: string
  kind: 'interpreter' | 'library'
  /** The interpreter path or library name that does not resolve. */
  missing: string
}

const PT_LOAD = 1
const PT_DYNAMIC = 2
const PT_INTERP = 3
const DT_NULL = 0
const DT_NEEDED = 1
const DT_STRTAB = 5
const DT_RPATH = 15
const DT_RUNPATH = 29
/** Headers and tables larger than this are not read (not an ELF nip checks). */
const MAX_TABLE = 16 * 1024 * 1024

/** The ELF facts of `file`, or null when it is not an ELF file nip understands. */
export async function readElf(file: string): Promise<ElfInfo | null> {
  const fh = await open(file, 'r')
  try {
    const read = async (offset: number, length: number): Promise<Buffer> => {
      if (length > MAX_TABLE || length < 0) throw new Error('ELF table too large')
      const buf = Buffer.alloc(length)
      const { bytesRead } = await fh.read(buf, 0, length, offset)
      return buf.subarray(0, bytesRead)
    }
    const ident = await read(0, 64)
    if (ident.length < 52 || ident.readUInt32BE(0) !== 0x7f454c46) return null
    const is64 = ident[4] === 2
    const le = ident[5] === 1
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o))
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o))
    const word = (b: Buffer, o: number) => (is64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(b, o))
    const phoff = word(ident, is64 ? 0x20 : 0x1c)
    const phentsize = u16(ident, is64 ? 0x36 : 0x2a)
    const phnum = u16(ident, is64 ? 0x38 : 0x2c)
    const ph = await read(phoff, phentsize * phnum)
    const loads: { vaddr: number; offset: number; filesz: number }[] = []
    let interpreter: string | undefined
    let dynamic: { offset: number; size: number } | undefined
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize
      if (o + phentsize > ph.length) break
      const type = u32(ph, o)
      const offset = word(ph, is64 ? o + 8 : o + 4)
      const vaddr = word(ph, is64 ? o + 16 : o + 8)
      const filesz = word(ph, is64 ? o + 32 : o + 16)
      if (type === PT_LOAD) loads.push({ vaddr, offset, filesz })
      if (type === PT_INTERP) interpreter = (await read(offset, filesz)).toString('latin1').replace(/\0.*$/s, '')
      if (type === PT_DYNAMIC) dynamic = { offset, size: filesz }
    }
    const info: ElfInfo = { needed: [], runpath: [] }
    if (interpreter !== undefined) info.interpreter = interpreter
    if (dynamic === undefined) return info
    const dyn = await read(dynamic.offset, dynamic.size)
    const entSize = is64 ? 16 : 8
    const needed: number[] = []
    const paths: number[] = []
    let strtab: number | undefined
    for (let o = 0; o + entSize <= dyn.length; o += entSize) {
      const tag = word(dyn, o)
      const val = word(dyn, o + entSize / 2)
      if (tag === DT_NULL) break
      if (tag === DT_NEEDED) needed.push(val)
      else if (tag === DT_RUNPATH || tag === DT_RPATH) paths.push(val)
      else if (tag === DT_STRTAB) strtab = val
    }
    if (strtab === undefined) return info
    const seg = loads.find((l) => strtab! >= l.vaddr && strtab! < l.vaddr + l.filesz)
    const strOffset = seg ? strtab - seg.vaddr + seg.offset : strtab
    const readStr = async (at: number): Promise<string> => {
      const b = await read(strOffset + at, 4096)
      const end = b.indexOf(0)
      return b.toString('latin1', 0, end < 0 ? b.length : end)
    }
    for (const n of needed) info.needed.push(await readStr(n))
    for (const p of paths) info.runpath.push(...(await readStr(p)).split(':').filter((s) => s !== ''))
    return info
  } catch {
    return null
  } finally {
    await fh.close()
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p)
    return true
  } catch {
    return false
  }
}

/** Problems of one ELF file (absolute path). */
export async function checkElf(file: string): Promise<Omit<ElfProblem, 'file'>[] | null> {
  const info = await readElf(file)
  if (info === null) return null
  const problems: Omit<ElfProblem, 'file'>[] = []
  if (info.interpreter !== undefined && !(await exists(info.interpreter))) problems.push({ kind: 'interpreter', missing: info.interpreter })
  const origin = path.dirname(await realpath(file))
  const dirs = info.runpath.map((d) => d.replace(/\$(ORIGIN|\{ORIGIN\})/g, origin))
  for (const lib of info.needed) {
    if (lib.includes('/')) {
      if (!(await exists(path.resolve(origin, lib)))) problems.push({ kind: 'library', missing: lib })
      continue
    }
    let found = false
    for (const d of dirs) if ((found = await exists(path.join(d, lib)))) break
    if (!found && info.interpreter !== undefined && path.basename(info.interpreter) === lib) found = true
    if (!found) problems.push({ kind: 'library', missing: lib })
  }
  return problems
}

/** Check every ELF regular file below `dir` (symlinks are not followed while walking). */
export async function checkElfTree(dir: string): Promise<{ checked: number; problems: ElfProblem[] }> {
  const problems: ElfProblem[] = []
  let checked = 0
  const walk = async (rel: string): Promise<void> => {
    const abs = rel === '' ? dir : path.join(dir, rel)
    for (const name of await readdir(abs)) {
      const childRel = rel === '' ? name : `${rel}/${name}`
      const st = await lstat(path.join(dir, childRel))
      if (st.isDirectory()) await walk(childRel)
      else if (st.isFile()) {
        const found = await checkElf(path.join(dir, childRel))
        if (found === null) continue
        checked++
        for (const p of found) problems.push({ file: childRel, ...p })
      }
    }
  }
  await walk('')
  return { checked, problems }
}
