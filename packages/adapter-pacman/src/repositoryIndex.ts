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
import { download, isNipError, type AdapterContext, cacheRm, cacheWrite } from '@nip/core'
import { downloadOptional } from './optionalFile.js'
import type { PacmanConfig, RepositoryConfig } from './pacmanConfig.js'
import { checkSignature, MAX_SIGNATURE_SIZE, type Keyring } from './signature.js'
import { readSyncDatabase, type SyncPackage } from './syncDatabase.js'

export interface Repository {
  config: RepositoryConfig
  packages: SyncPackage[]
  /** Where the verified database came from. */
  origin: string
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
    return { config: repo, packages: await readSyncDatabase(data, { repo: repo.name, source: origin, limits: ctx.limits }), origin }
  } catch (e) {
    if (!isNipError(e, 'ERR_NIP_FETCH_FAILED')) throw e
    const cached = await readFile(dest).catch(() => null)
    if (cached === null) throw e
    const sig = await readFile(`${dest}.sig`).catch(() => null)
    await checkSignature({ what: file, origin: dest, data: cached, signature: sig, keyring, policy: repo.siglevel.database })
    ctx.reporter.emit({ type: 'warning', code: 'pacman-stale-database', message: `Using the cached ${file}: ${e.message}`, data: { repo: repo.name } })
    return { config: repo, packages: await readSyncDatabase(cached, { repo: repo.name, source: dest, limits: ctx.limits }), origin: dest }
  }
}
