/**
 * A pkgsrc binary repository: its `pkg_summary`, fetched in the first compression the
 * repository offers (pkg_summary.zst, .xz, .bz2, .gz, then plain — pkgin's preference),
 * revalidated conditionally (If-None-Match / If-Modified-Since through core's downloader)
 * and cached in the adapter's cache directory. When the repository cannot be reached, the
 * cached copy is used and a warning says so.
 */
import { createHash } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { NipError, decompressStream, download, isNipError, type AdapterContext, cacheRename, cacheWrite, describeAge } from '@nip/core'
import type { DownloadSettings, PkgsrcRepository } from './pkgsrcConfig.js'
import { parseSummary, type SummaryEntry } from './summary.js'

export const SUMMARY_NAMES = ['pkg_summary.zst', 'pkg_summary.xz', 'pkg_summary.bz2', 'pkg_summary.gz', 'pkg_summary'] as const

export interface LoadedRepository extends PkgsrcRepository {
  entries: SummaryEntry[]
  /** Which summary file was used. */
  summary: string
  /** True when the repository was unreachable and a cached summary was used. */
  stale: boolean
  /** Fresh from the repository, unchanged there (304), or the local copy. */
  state: 'downloaded' | 'not-modified' | 'local'
  /** Why the repository could not be read (stale). */
  reason?: string
}

/** The cache directory of one repository (named by a digest of its URL). */
export function repositoryCacheDir(cacheDir: string, url: string): string {
  return path.join(cacheDir, 'repos', createHash('sha256').update(url).digest('hex').slice(0, 16))
}

/** The last refresh from the repository: when, and which summary file it served. */
async function lastRefresh(dir: string): Promise<{ at: Date; summary: string } | null> {
  try {
    const r = JSON.parse(await readFile(path.join(dir, 'updated-at.json'), 'utf8')) as { at?: string; summary?: string }
    const t = Date.parse(r.at ?? '')
    return Number.isNaN(t) || !(SUMMARY_NAMES as readonly string[]).includes(r.summary ?? '') ? null : { at: new Date(t), summary: r.summary! }
  } catch {
    return null
  }
}

async function recordRefresh(dir: string, summary: string): Promise<void> {
  const tmp = path.join(dir, `updated-at.json.tmp-${process.pid}`)
  cacheWrite(tmp, JSON.stringify({ at: new Date().toISOString(), summary }))
  cacheRename(tmp, path.join(dir, 'updated-at.json'))
}


/**
 * The repository's summary: the local copy when it was refreshed less than index-max-age ago
 * (no network), else from the repository (conditionally), else — unreachable — the local copy
 * with a warning giving its age.
 */
export async function loadRepository(repo: PkgsrcRepository, ctx: AdapterContext, settings: DownloadSettings = {}): Promise<LoadedRepository> {
  const dir = repositoryCacheDir(ctx.cacheDir, repo.url)
  const last = await lastRefresh(dir)
  const age = last === null ? null : Math.max(0, (Date.now() - last.at.getTime()) / 1000)
  if (last !== null && age !== null && age < (ctx.index?.maxAgeSeconds ?? 86400) && ctx.index?.refresh !== 'force' && existsSync(path.join(dir, last.summary))) {
    try {
      return { ...repo, entries: await parseSummaryFile(path.join(dir, last.summary), `${repo.url}/${last.summary}`), summary: last.summary, stale: false, state: 'local' }
    } catch {
      // A damaged local copy: fetched again below.
    }
  }
  const failures: string[] = []
  for (const name of SUMMARY_NAMES) {
    const dest = path.join(dir, name)
    try {
      const got = await download({
        urls: [repo.url, ...repo.mirrors].map((u) => `${u}/${name}`),
        dest,
        conditional: true,
        resume: false,
        retries: 1,
        ...settings,
        reporter: ctx.reporter,
        label: `pkgsrc ${name}`,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      })
      const entries = await parseSummaryFile(dest, `${repo.url}/${name}`)
      await recordRefresh(dir, name)
      return { ...repo, entries, summary: name, stale: false, state: got.notModified ? 'not-modified' : 'downloaded' }
    } catch (e) {
      if (isNotFound(e)) continue
      failures.push(`${name}: ${(e as Error).message}`)
      break
    }
  }
  for (const name of SUMMARY_NAMES) {
    const dest = path.join(dir, name)
    if (failures.length > 0 && existsSync(dest)) {
      const when = age === null ? '' : ` from ${describeAge(age)} ago`
      ctx.reporter.emit({ type: 'warning', code: 'pkgsrc-stale-summary', message: `${repo.url} is unreachable; using the cached ${name}${when}`, data: { url: repo.url, ageSeconds: age === null ? null : Math.round(age) } })
      return { ...repo, entries: await parseSummaryFile(dest, `${repo.url}/${name}`), summary: name, stale: true, state: 'local', reason: failures.join('; ') }
    }
  }
  throw new NipError('ERR_NIP_SOURCE_UNAVAILABLE', `The pkgsrc repository ${repo.url} offers no pkg_summary${failures.length ? `: ${failures.join('; ')}` : ''}.`, {
    hint: 'Check the URL in [pkgsrc] repositories: it must name the directory holding pkg_summary.gz (PKG_PATH style, usually ending in /All).',
    data: { url: repo.url, tried: SUMMARY_NAMES.map((n) => `${repo.url}/${n}`) },
  })
}

async function parseSummaryFile(file: string, source: string): Promise<SummaryEntry[]> {
  const chunks: Buffer[] = []
  for await (const c of decompressStream(createReadStream(file), { archive: source })) chunks.push(c as Buffer)
  return parseSummary(Buffer.concat(chunks).toString('utf8'), source)
}

/** A 404 (or a missing file:// path): this compression is simply not offered. */
function isNotFound(e: unknown): boolean {
  if (!isNipError(e, 'ERR_NIP_FETCH_FAILED')) return false
  const attempts = (e.data.attempts ?? []) as Array<{ reason?: string; status?: number }>
  return attempts.length > 0 && attempts.every((a) => a.reason === 'not-found' || a.status === 404 || a.status === 410)
}
