/**
 * The RUNPATH a grafted ELF file gets: directories relative to `$ORIGIN`, so the tree stays
 * movable (a root can be copied or mounted elsewhere) and no absolute root path is written into
 * a binary.
 *
 * What `$ORIGIN` is, per glibc (elf/dl-object.c, elf/dl-origin.c):
 * - for the main program, the directory of /proc/self/exe, i.e. the real path
 *   `Programs/<Name>/<Version>/bin`, also when it was started through `System/Links/Executables`
 *   or `Current` (both symlinks; hardlinks from the CAS are real files there);
 * - for a shared object, the directory of the path it was *found under*, symlinks not resolved:
 *   `System/Links/Libraries` when found through the link farm, `Programs/<Name>/<Version>/lib`
 *   when found through a program's own lib directory.
 *
 * So a file under `bin/`, `sbin/`, `libexec/` gets
 *   [$ORIGIN/<to its version's lib>, when the program has libraries of its own]
 *   $ORIGIN/<up to the root>/System/Links/Libraries
 *   [$ORIGIN/../Libraries for bin/ and sbin/: when the loader is handed the link's path, as `ldd
 *    <root>/System/Links/Executables/x` does, `$ORIGIN` is the link's directory]
 * and a file the link farm puts into Libraries (`lib/…`, `lib64/…`) gets
 *   $ORIGIN/<up to Libraries, as seen from its link>   (its own lib dir when found by real path)
 *   $ORIGIN/<up to the root>/System/Links/Libraries     (when found by real path)
 * in that order, followed by whatever RUNPATH/RPATH the file already had. DT_RUNPATH applies to
 * the object's own DT_NEEDED only (not transitively), which is why libraries need their own.
 */
import path from 'node:path'
import { LINK_DIRS, type Layout } from '../layout.js'
import { linkSlots } from '../linkFarm.js'

/** Top-level directories of a version whose ELF files are relocated. */
export const RELOCATED_DIRS: readonly string[] = ['bin', 'sbin', 'lib', 'lib64', 'libexec']

/** Whether a tree path lies in one of RELOCATED_DIRS (below it, not the directory itself). */
export function inRelocatedDir(treePath: string): boolean {
  const slash = treePath.indexOf('/')
  return slash > 0 && slash < treePath.length - 1 && RELOCATED_DIRS.includes(treePath.slice(0, slash))
}

/** `$ORIGIN` joined with a relative POSIX path ('' or '.' → `$ORIGIN` itself). */
function origin(rel: string): string {
  return rel === '' || rel === '.' ? '$ORIGIN' : `$ORIGIN/${rel}`
}

/**
 * The directories nip puts first in the RUNPATH of the tree file `treePath` (relative to its
 * version directory). `ownLibs`: the program has files directly in `lib/`.
 */
export function relocatedRunpath(treePath: string, layout: Pick<Layout, 'programsDir' | 'linksDir'>, opts: { ownLibs: boolean }): string[] {
  // Name and version are single path components; any stand-ins give the same relative path.
  const versionDir = path.join(layout.programsDir, 'n', 'v')
  const fileDir = path.join(versionDir, path.posix.dirname(treePath))
  const libraries = path.join(layout.linksDir, 'Libraries')
  const rel = (from: string, to: string): string => path.relative(from, to).split(path.sep).join('/')
  const out: string[] = []
  const slots = linkSlots(treePath)
  const slot = slots.find((s) => s.base === 'Libraries')
  if (slot !== undefined) {
    // Found through its link <links>/Libraries/<rest>: Libraries is as many levels up as <rest>
    // has directories; found by real path, the same string names its own lib directory.
    const up = slot.rest.split('/').length - 1
    out.push(origin(Array(up).fill('..').join('/')))
  } else if (opts.ownLibs) {
    out.push(origin(rel(fileDir, path.join(versionDir, LINK_DIRS.Libraries[0]))))
  }
  out.push(origin(rel(fileDir, libraries)))
  // An executable loaded by the path of its link rather than by exec (`ldd <links>/Executables/x`,
  // `ld.so <links>/Executables/x`) has the link's directory as `$ORIGIN`.
  const exe = slots.find((s) => s.base === 'Executables')
  if (exe !== undefined) out.push(origin(rel(path.join(layout.linksDir, 'Executables', path.posix.dirname(exe.rest)), libraries)))
  return [...new Set(out)]
}

/**
 * The RUNPATH string for a file that has `existing` (its DT_RUNPATH, else DT_RPATH): nip's
 * directories first, then the existing ones not already listed. Null when the file already
 * starts with nip's directories (relocated before: nothing to do).
 */
export function mergedRunpath(ours: string[], existing: string | undefined): string | null {
  const old = (existing ?? '').split(':').filter((d) => d !== '')
  if (ours.length <= old.length && ours.every((d, i) => old[i] === d)) return null
  return [...ours, ...old.filter((d) => !ours.includes(d))].join(':')
}
