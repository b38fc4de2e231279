/**
 * The check that a grafted program can run: for every ELF file of a version directory, its
 * interpreter (PT_INTERP) exists and every DT_NEEDED library is found in its DT_RUNPATH/DT_RPATH
 * (with $ORIGIN expanded) or is given as a path that exists. Reads headers only; follows
 * symlinks only while resolving libraries, never while walking the tree.
 */
import { readdir, realpath, stat, lstat } from 'node:fs/promises'
import { readElfDynamic } from '@nip/core'
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

/**
 * The ELF facts of `file`, or null when it is not an ELF executable or shared object nip
 * understands. Core's header reader (the one relocation uses) does the parsing.
 */
export async function readElf(file: string): Promise<ElfInfo | null> {
  const elf = await readElfDynamic(file)
  if (elf === null) return null
  const runpath = [elf.runpath, elf.rpath].filter((p): p is string => p !== undefined).flatMap((p) => p.split(':')).filter((s) => s !== '')
  return { needed: elf.needed, runpath, ...(elf.interpreterPath !== undefined ? { interpreter: elf.interpreterPath } : {}) }
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
