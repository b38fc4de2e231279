/**
 * The sync databases of the configured repositories: downloaded into the adapter's cache
 * (`<cacheDir>/sync/<repo>.db`, refreshed with conditional requests), their signatures checked
 * under the repository's Database SigLevel, and parsed.
 *
 * Contract: a database whose signature fails is never parsed, and a failed refresh never
 * replaces a cached copy; when a refresh fails and a verified cached copy exists, the cached copy
 * is used with a warning.
 */
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { download, isNipError, type AdapterContext, cacheRename, cacheRm, cacheWrite, describeAge } from '@nip/core'
import { downloadOptional } from './optionalFile.js'
import type { PacmanConfig, RepositoryConfig } from './pacmanConfig.js'
import { checkSignature, MAX_SIGNATURE_SIZE, type Keyring } from './signature.js'
import { readSyncDatabase, type SyncPackage } from './syncDatabase.js'

export interface Repository {
  config: RepositoryConfig
  packages: SyncPackage[]
  /** Where the verified database came from. */
  origin: string
  /** How it was obtained: fresh from a mirror, unchanged there (304), or the local copy (fresh enough, or the refresh failed). */
  state: 'downloaded' | 'not-modified' | 'local'
  /** Set when a refresh failed and the local copy is used: why, and its age in seconds. */
  stale?: { reason: string; ageSeconds: number | null }
}

/** When the repository's database was last refreshed from a mirror (null: never, or unknown). */
async function updatedAt(dest: string): Promise<Date | null> {
  const t = Date.parse((await readFile(`${dest}.updated-at`, 'utf8').catch(() => '')).trim())
  return Number.isNaN(t) ? null : new Date(t)
}


export function joinUrl(server: string, file: string): string {
  return `${server.replace(/\/+$/, '')}/${file}`
}

export async function loadRepository(repo: RepositoryConfig, opts: { config: PacmanConfig; keyring: Keyring; ctx: AdapterContext }): Promise<Repository> {
  const { ctx, keyring } = opts
  const dir = path.join(ctx.cacheDir, 'sync')
  const dest = path.join(dir, `${repo.name}.db`)
  const file = `${repo.name}.db`
  const urls = repo.servers.map((s) => joinUrl(s, file))
  let origin = urls[0] ?? dest
  const refreshed = await updatedAt(dest)
  const age = refreshed === null ? null : Math.max(0, (Date.now() - refreshed.getTime()) / 1000)
  // The local index: a database refreshed less than index-max-age ago is read without the network.
  if (age !== null && age < (ctx.index?.maxAgeSeconds ?? 86400) && ctx.index?.refresh !== 'force') {
    const cached = await readFile(dest).catch(() => null)
    if (cached !== null) {
      const sig = await readFile(`${dest}.sig`).catch(() => null)
      try {
        await checkSignature({ what: file, origin: dest, data: cached, signature: sig, keyring, policy: repo.siglevel.database })
        return { config: repo, packages: await readSyncDatabase(cached, { repo: repo.name, source: dest, limits: ctx.limits }), origin: dest, state: 'local' }
      } catch {
        // Refreshed from the network below.
      }
    }
  }
  try {
    // Conditional refresh: an unchanged database (304) is re-verified from the cache. A fresh
    // one that fails its signature is deleted, so nothing unverified is ever parsed or kept.
    const got = await download({
      urls,
      dest,
      conditional: true,
      ...opts.config.download,
      reporter: ctx.reporter,
      label: file,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    })
    origin = got.url
    const data = await readFile(dest)
    let sig: Buffer | null
    if (got.notModified) {
      sig = await readFile(`${dest}.sig`).catch(() => null)
    } else {
      cacheRm(`${dest}.sig`)
      const sigUrls = repo.servers.map((s) => joinUrl(s, `${file}.sig`))
      sig =
        repo.siglevel.database.check === 'never'
          ? null
          : ((await downloadOptional({ urls: sigUrls, maxSize: MAX_SIGNATURE_SIZE, label: `${file}.sig`, settings: opts.config.download, ctx }))?.data ?? null)
      if (sig) cacheWrite(`${dest}.sig`, sig)
    }
    try {
      await checkSignature({ what: file, origin, data, signature: sig, keyring, policy: repo.siglevel.database })
    } catch (e) {
      for (const f of [dest, `${dest}.sig`, `${dest}.meta.json`]) cacheRm(f)
      throw e
    }
    const packages = await readSyncDatabase(data, { repo: repo.name, source: origin, limits: ctx.limits })
    cacheWrite(`${dest}.updated-at.tmp`, `${new Date().toISOString()}\n`)
    cacheRename(`${dest}.updated-at.tmp`, `${dest}.updated-at`)
    return { config: repo, packages, origin, state: got.notModified ? 'not-modified' : 'downloaded' }
  } catch (e) {
    if (!isNipError(e, 'ERR_NIP_FETCH_FAILED')) throw e
    const cached = await readFile(dest).catch(() => null)
    if (cached === null) throw e
    const sig = await readFile(`${dest}.sig`).catch(() => null)
    await checkSignature({ what: file, origin: dest, data: cached, signature: sig, keyring, policy: repo.siglevel.database })
    const when = age === null ? '' : ` from ${describeAge(age)} ago`
    ctx.reporter.emit({ type: 'warning', code: 'pacman-stale-database', message: `Using the cached ${file}${when}: ${e.message}`, data: { repo: repo.name, ageSeconds: age === null ? null : Math.round(age) } })
    return { config: repo, packages: await readSyncDatabase(cached, { repo: repo.name, source: dest, limits: ctx.limits }), origin: dest, state: 'local', stale: { reason: e.message, ageSeconds: age === null ? null : Math.round(age) } }
  }
}
