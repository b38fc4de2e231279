/**
 * Relocation of programs built for `/usr`: every dynamically linked ELF file under `bin/`,
 * `sbin/`, `lib/`, `lib64/`, `libexec/` that has DT_NEEDED entries gets a RUNPATH through which
 * the loader finds grafted libraries in `System/Links/Libraries` (runpath.ts says which
 * directories and why), so grafted programs run under any root without LD_LIBRARY_PATH.
 *
 * Contract:
 * - Input: a program's TreeEntry list whose blobs are in the CAS. Output: the same list with
 *   the blob and size of each patched file replaced by the patched blob (added to the CAS). No
 *   entry is mutated; other entries are returned as they came.
 * - Only files whose headers say ELF, ET_EXEC or ET_DYN, PT_DYNAMIC and at least one DT_NEEDED
 *   are handed to patchelf: scripts, data, static binaries, relocatable objects are untouched.
 *   Candidates are files with an execute bit or a `.so` name (Debian ships shared libraries
 *   0644); other files are not even opened.
 * - A file whose RUNPATH already starts with nip's directories is left as it is (idempotent).
 * - Without patchelf, nothing is patched: one `relocation-unavailable` warning per reporter (one
 *   per command), and the program is grafted as built (LD_LIBRARY_PATH then finds its libraries).
 *   A file patchelf refuses, or whose result does not read back with the new RUNPATH, keeps its
 *   original blob (`relocation-failed` warning). Relocation never fails an install.
 * - The original blobs stay in the CAS unreferenced by the DB (an adapter checks its package's
 *   hashes on them before relocation); `nip gc --verify` collects them.
 * - Writes nothing but CAS blobs and a private temporary directory under `tmpDir`, removed
 *   before returning.
 */
import { constants } from 'node:fs'
import { chmod, copyFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { cacheMkdir } from '../download/cacheFiles.js'
import os from 'node:os'
import path from 'node:path'
import type { Cas } from '@nip/cas'
import type { TreeEntry } from '../adapter.js'
import type { Layout } from '../layout.js'
import type { Reporter } from '../reporter.js'
import { readElfDynamic, readElfDynamicBuffer } from './elf.js'
import { findPatchelf, setRunpath } from './patchelf.js'
import { inRelocatedDir, mergedRunpath, relocatedRunpath } from './runpath.js'

export { readElfDynamic, hasElfMagic, type ElfDynamic } from './elf.js'
export { findPatchelf } from './patchelf.js'
export { RELOCATED_DIRS, inRelocatedDir, mergedRunpath, relocatedRunpath } from './runpath.js'

export interface RelocateOptions {
  cas: Cas
  layout: Pick<Layout, 'programsDir' | 'linksDir'>
  reporter?: Reporter
  /** Names the program in warnings (e.g. "jq 1.6-2.1"). */
  label?: string
  /** The patchelf to run; default: the first on PATH. null: behave as if it were absent. */
  patchelf?: string | null
  /** Where the private temporary directory is made (default: the OS temporary directory). */
  tmpDir?: string
  signal?: AbortSignal
}

export interface RelocateResult {
  entries: TreeEntry[]
  /** Tree paths whose blob was replaced by a patched one. */
  patched: string[]
  /** Tree paths that needed relocation but kept their original blob (patchelf absent or failed). */
  unpatched: string[]
  /** Whether patchelf was needed and not found. */
  unavailable: boolean
  /** The original blobs of patched files: no entry names them any more (FetchResult.scratchBlobs). */
  replacedBlobs: string[]
}

const HEADER_CONCURRENCY = 16
const IO_CONCURRENCY = 4
/** Files per patchelf run, and runs under way at once. */
const CHUNK = 32
const CHUNK_CONCURRENCY = Math.max(2, Math.min(4, os.availableParallelism()))
/** Patched files up to this size are read into memory once (checked and stored from there). */
const IN_MEMORY_MAX = 16 * 1024 * 1024

interface Job {
  blob: string
  runpath: string
  paths: string[]
  tmp?: string
  result?: { key: string; size: number }
}
const warnedUnavailable = new WeakSet<Reporter>()

export async function relocateTree(entries: TreeEntry[], opts: RelocateOptions): Promise<RelocateResult> {
  const label = opts.label ? `${opts.label}: ` : ''
  const candidates = entries.filter(
    (e) => e.type === 'file' && !e.settings && e.blob !== undefined && inRelocatedDir(e.path) && ((e.mode & 0o111) !== 0 || /\.so(\.|$)/.test(path.posix.basename(e.path))),
  )
  const needs: { entry: TreeEntry; existing: string | undefined }[] = []
  await eachLimited(candidates, HEADER_CONCURRENCY, async (entry) => {
    const elf = await readElfDynamic(opts.cas.pathOf(entry.blob!))
    if (elf === null || !elf.dynamic || elf.needed.length === 0) return
    needs.push({ entry, existing: elf.runpath ?? elf.rpath })
  })
  const none: RelocateResult = { entries, patched: [], unpatched: [], unavailable: false, replacedBlobs: [] }
  if (needs.length === 0) return none
  const ownLibs = entries.some((e) => e.type !== 'dir' && /^lib\/[^/]+$/.test(e.path))
  /** One job per (blob, runpath): hardlinked copies of a file are patched once. */
  const jobs = new Map<string, Job>()
  for (const { entry, existing } of needs) {
    const runpath = mergedRunpath(relocatedRunpath(entry.path, opts.layout, { ownLibs }), existing)
    if (runpath === null) continue
    const id = `${entry.blob}\0${runpath}`
    const job = jobs.get(id) ?? { blob: entry.blob!, runpath, paths: [] }
    job.paths.push(entry.path)
    jobs.set(id, job)
  }
  if (jobs.size === 0) return none
  const all = [...jobs.values()]
  const patchelf = opts.patchelf === undefined ? await findPatchelf() : opts.patchelf
  if (patchelf === null) {
    if (opts.reporter && !warnedUnavailable.has(opts.reporter)) {
      warnedUnavailable.add(opts.reporter)
      opts.reporter.emit({
        type: 'warning',
        code: 'relocation-unavailable',
        message: `${label}patchelf is not installed: ELF files are grafted without a RUNPATH; run them with LD_LIBRARY_PATH=<root>/System/Links/Libraries (or install patchelf and graft again)`,
        data: { files: all.flatMap((j) => j.paths) },
      })
    }
    return { entries, patched: [], unpatched: all.flatMap((j) => j.paths).sort(), unavailable: true, replacedBlobs: [] }
  }
  const base = opts.tmpDir ?? os.tmpdir()
  cacheMkdir(base) // var/nip/tmp: through the root's confined layer
  const dir = await mkdtemp(path.join(base, 'nip-relocate-'))
  try {
    const copy = async (job: Job): Promise<void> => {
      await copyFile(opts.cas.pathOf(job.blob), job.tmp!, constants.COPYFILE_FICLONE)
      await chmod(job.tmp!, 0o600)
    }
    const failed = new Map<Job, string>()
    const store = async (job: Job): Promise<void> => {
      const executable = job.blob.endsWith('-x')
      const size = (await stat(job.tmp!)).size
      // Small results are read once: checked and stored from memory.
      const content = size <= IN_MEMORY_MAX ? await readFile(job.tmp!) : null
      const after = content !== null ? await readElfDynamicBuffer(content) : await readElfDynamic(job.tmp!)
      if (after === null || (after.runpath ?? after.rpath) !== job.runpath) {
        failed.set(job, 'the patched file does not read back with the new RUNPATH')
        return
      }
      const info = content !== null ? await opts.cas.addBuffer(content, { executable }) : await opts.cas.addFile(job.tmp!, { executable })
      job.result = { key: info.key, size: info.size }
    }
    all.forEach((job, n) => (job.tmp = path.join(dir, String(n))))
    // One patchelf run per chunk of files sharing a RUNPATH (a package has one or two RUNPATHs:
    // bin/, lib/); chunks go through copy → patchelf → store as a pipeline, a few at a time.
    // When a run fails, each of its files is tried alone so one odd file does not cost the others.
    const byRunpath = new Map<string, Job[]>()
    for (const job of all) byRunpath.set(job.runpath, [...(byRunpath.get(job.runpath) ?? []), job])
    const chunks: Job[][] = []
    for (const group of byRunpath.values()) for (let i = 0; i < group.length; i += CHUNK) chunks.push(group.slice(i, i + CHUNK))
    await eachLimited(chunks, CHUNK_CONCURRENCY, async (chunk) => {
      const runpath = chunk[0].runpath
      await eachLimited(chunk, IO_CONCURRENCY, copy)
      const err = await setRunpath(patchelf, runpath, chunk.map((j) => j.tmp!), opts.signal)
      opts.signal?.throwIfAborted()
      if (err !== null && chunk.length === 1) failed.set(chunk[0], err.message)
      else if (err !== null) {
        for (const job of chunk) {
          await copy(job)
          const one = await setRunpath(patchelf, runpath, [job.tmp!], opts.signal)
          if (one !== null) failed.set(job, one.message)
        }
      }
      opts.signal?.throwIfAborted()
      await eachLimited(
        chunk.filter((job) => !failed.has(job)),
        IO_CONCURRENCY,
        store,
      )
    })
    for (const [job, message] of failed) {
      opts.reporter?.emit({
        type: 'warning',
        code: 'relocation-failed',
        message: `${label}${job.paths.join(', ')} keeps its original RUNPATH: patchelf failed (${message})`,
        data: { paths: job.paths, runpath: job.runpath },
      })
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  const replaced = new Map<string, { key: string; size: number }>()
  for (const job of all) if (job.result) for (const p of job.paths) replaced.set(p, job.result)
  const out = entries.map((e) => {
    const r = replaced.get(e.path)
    return r === undefined ? e : { ...e, blob: r.key, size: r.size }
  })
  return {
    entries: out,
    patched: [...replaced.keys()].sort(),
    unpatched: all.filter((j) => j.result === undefined).flatMap((j) => j.paths).sort(),
    unavailable: false,
    replacedBlobs: [...new Set(all.filter((j) => j.result !== undefined && j.result.key !== j.blob).map((j) => j.blob))],
  }
}

/** Runs fn over items, at most `limit` at a time; on a failure starts no more and rethrows it once all running calls have ended. */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  let failure: { error: unknown } | null = null
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      try {
        await fn(items[next++])
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (failure !== null) throw (failure as { error: unknown }).error
}
