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
 *   are edited: scripts, data, static binaries, relocatable objects are untouched. Candidates
 *   are files with an execute bit or a `.so` name (Debian ships shared libraries 0644); other
 *   files are not even opened.
 * - A file whose RUNPATH already starts with nip's directories is left as it is (idempotent).
 * - nip's own ELF editor (elfEdit.ts) sets the RUNPATH, so no host tool is needed and the result
 *   is the same bytes on every machine. A file the editor refuses is handed to `patchelf` when
 *   one is installed. Every result is read back (same DT_NEEDED, the new RUNPATH).
 * - A file that can be made to run by neither is `ERR_NIP_RELOCATION_FAILED`: the fetch fails,
 *   so the transaction grafts nothing (never a program that cannot find its libraries).
 * - The original blobs stay in the CAS unreferenced by the DB (an adapter checks its package's
 *   hashes on them before relocation); they are returned as `replacedBlobs`.
 * - Writes nothing but CAS blobs and, when patchelf runs, a private temporary directory under
 *   `tmpDir`, removed before returning.
 */
import { constants } from 'node:fs'
import { chmod, copyFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { cacheMkdir } from '../download/cacheFiles.js'
import os from 'node:os'
import path from 'node:path'
import type { Cas } from '@nip/cas'
import type { TreeEntry } from '../adapter.js'
import { NipError } from '../errors.js'
import type { Layout } from '../layout.js'
import type { Reporter } from '../reporter.js'
import { readElfDynamic, readElfDynamicBuffer, type ElfDynamic } from './elf.js'
import { setElfRunpath } from './elfEdit.js'
import { findPatchelf, setRunpath } from './patchelf.js'
import { inRelocatedDir, mergedRunpath, relocatedRunpath } from './runpath.js'

export { readElfDynamic, readElfDynamicBuffer, hasElfMagic, type ElfDynamic } from './elf.js'
export { setElfRunpath, type ElfEditResult } from './elfEdit.js'
export { findPatchelf } from './patchelf.js'
export { RELOCATED_DIRS, inRelocatedDir, mergedRunpath, relocatedRunpath } from './runpath.js'

export interface RelocateOptions {
  cas: Cas
  layout: Pick<Layout, 'programsDir' | 'linksDir'>
  reporter?: Reporter
  /** Names the program in errors and warnings (e.g. "jq 1.6-2.1"). */
  label?: string
  /**
   * The patchelf to run on files nip's editor refuses; default: the first on PATH. null: behave
   * as if it were absent (the editor alone).
   */
  patchelf?: string | null
  /** Where patchelf's private temporary directory is made (default: the OS temporary directory). */
  tmpDir?: string
  signal?: AbortSignal
}

export interface RelocateResult {
  entries: TreeEntry[]
  /** Tree paths whose blob was replaced by a patched one. */
  patched: string[]
  /** How many distinct files each tool patched (the editor, or patchelf for what it refused). */
  by: { editor: number; patchelf: number }
  /** The original blobs of patched files: no entry names them any more (FetchResult.scratchBlobs). */
  replacedBlobs: string[]
}

const HEADER_CONCURRENCY = 16
/** Files edited at once: each is held in memory twice (a browser's main library is 100+ MB). */
const EDIT_CONCURRENCY = 2
const IO_CONCURRENCY = 4
/** Files per patchelf run. */
const CHUNK = 32
/** Files larger than this are not edited (the editor works in memory); patchelf may take them. */
const EDIT_MAX = 1024 * 1024 * 1024

interface Job {
  blob: string
  runpath: string
  paths: string[]
  before: ElfDynamic
  result?: { key: string; size: number }
  refused?: string
}

export async function relocateTree(entries: TreeEntry[], opts: RelocateOptions): Promise<RelocateResult> {
  const label = opts.label ? `${opts.label}: ` : ''
  const candidates = entries.filter(
    (e) => e.type === 'file' && !e.settings && e.blob !== undefined && inRelocatedDir(e.path) && ((e.mode & 0o111) !== 0 || /\.so(\.|$)/.test(path.posix.basename(e.path))),
  )
  const needs: { entry: TreeEntry; elf: ElfDynamic }[] = []
  await eachLimited(candidates, HEADER_CONCURRENCY, async (entry) => {
    const elf = await readElfDynamic(opts.cas.pathOf(entry.blob!))
    if (elf === null || !elf.dynamic || elf.needed.length === 0) return
    needs.push({ entry, elf })
  })
  const none: RelocateResult = { entries, patched: [], by: { editor: 0, patchelf: 0 }, replacedBlobs: [] }
  if (needs.length === 0) return none
  const ownLibs = entries.some((e) => e.type !== 'dir' && /^lib\/[^/]+$/.test(e.path))
  /** One job per (blob, runpath): hardlinked copies of a file are patched once. */
  const jobs = new Map<string, Job>()
  for (const { entry, elf } of needs) {
    const runpath = mergedRunpath(relocatedRunpath(entry.path, opts.layout, { ownLibs }), elf.runpath ?? elf.rpath)
    if (runpath === null) continue
    const id = `${entry.blob}\0${runpath}`
    const job = jobs.get(id) ?? { blob: entry.blob!, runpath, paths: [], before: elf }
    job.paths.push(entry.path)
    jobs.set(id, job)
  }
  if (jobs.size === 0) return none
  const all = [...jobs.values()]
  const store = async (job: Job, content: Buffer | null, file?: string): Promise<string | null> => {
    const after = content !== null ? await readElfDynamicBuffer(content) : await readElfDynamic(file!)
    if (after === null || (after.runpath ?? after.rpath) !== job.runpath || after.type !== job.before.type || after.needed.join('\0') !== job.before.needed.join('\0')) {
      return 'the result does not read back with the new RUNPATH and the same DT_NEEDED'
    }
    const executable = job.blob.endsWith('-x')
    const info = content !== null ? await opts.cas.addBuffer(content, { executable }) : await opts.cas.addFile(file!, { executable })
    job.result = { key: info.key, size: info.size }
    return null
  }

  // nip's editor first.
  let edited = 0
  await eachLimited(all, EDIT_CONCURRENCY, async (job) => {
    opts.signal?.throwIfAborted()
    const file = opts.cas.pathOf(job.blob)
    if ((await stat(file)).size > EDIT_MAX) {
      job.refused = 'too large to edit in memory'
      return
    }
    const r = setElfRunpath(await readFile(file), job.runpath)
    if (!r.ok) {
      job.refused = r.reason
      return
    }
    const bad = await store(job, r.content)
    if (bad !== null) job.refused = bad
    else edited++
  })

  // patchelf, where installed, for what the editor refused.
  const refused = all.filter((j) => j.result === undefined)
  const failures = new Map<Job, string>()
  let patchelfCount = 0
  let patchelf: string | null = null
  if (refused.length > 0) {
    patchelf = opts.patchelf === undefined ? await findPatchelf() : opts.patchelf
    if (patchelf === null) for (const job of refused) failures.set(job, `${job.refused}; patchelf is not installed`)
    else {
      const base = opts.tmpDir ?? os.tmpdir()
      cacheMkdir(base) // var/nip/tmp: through the root's confined layer
      const dir = await mkdtemp(path.join(base, 'nip-relocate-'))
      try {
        const tmp = new Map<Job, string>(refused.map((job, n) => [job, path.join(dir, String(n))]))
        const copy = async (job: Job): Promise<void> => {
          await copyFile(opts.cas.pathOf(job.blob), tmp.get(job)!, constants.COPYFILE_FICLONE)
          await chmod(tmp.get(job)!, 0o600)
        }
        const byRunpath = new Map<string, Job[]>()
        for (const job of refused) byRunpath.set(job.runpath, [...(byRunpath.get(job.runpath) ?? []), job])
        const chunks: Job[][] = []
        for (const group of byRunpath.values()) for (let i = 0; i < group.length; i += CHUNK) chunks.push(group.slice(i, i + CHUNK))
        for (const chunk of chunks) {
          await eachLimited(chunk, IO_CONCURRENCY, copy)
          const err = await setRunpath(patchelf, chunk[0].runpath, chunk.map((j) => tmp.get(j)!), opts.signal)
          opts.signal?.throwIfAborted()
          // When a run fails, each of its files is tried alone so one odd file does not cost the others.
          const ok: Job[] = []
          if (err === null) ok.push(...chunk)
          else if (chunk.length === 1) failures.set(chunk[0], `${chunk[0].refused}; patchelf: ${err.message}`)
          else {
            for (const job of chunk) {
              await copy(job)
              const one = await setRunpath(patchelf, job.runpath, [tmp.get(job)!], opts.signal)
              if (one === null) ok.push(job)
              else failures.set(job, `${job.refused}; patchelf: ${one.message}`)
            }
          }
          await eachLimited(ok, IO_CONCURRENCY, async (job) => {
            const bad = await store(job, null, tmp.get(job)!)
            if (bad !== null) failures.set(job, `${job.refused}; patchelf: ${bad}`)
            else patchelfCount++
          })
        }
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    }
  }
  if (failures.size > 0) {
    const list = [...failures].map(([job, why]) => ({ paths: job.paths, reason: why }))
    throw new NipError('ERR_NIP_RELOCATION_FAILED', `${label}cannot give ${list.flatMap((f) => f.paths).join(', ')} a RUNPATH into System/Links/Libraries (${list[0].reason})`, {
      hint: `Nothing was grafted. ${patchelf === null ? 'Installing patchelf lets nip try another way; or t' : 'T'}urn relocation off for the source (its \`relocate = false\` key) and run the program with LD_LIBRARY_PATH=<root>/System/Links/Libraries.`,
      data: { files: list },
    })
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
    by: { editor: edited, patchelf: patchelfCount },
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
