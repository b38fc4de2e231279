/**
 * A small file a repository may or may not publish (a detached `.sig`), fetched into memory
 * through core's downloader from the mirrors in order.
 *
 * Contract: the bytes from the first mirror that has the file; null when every mirror says it
 * does not exist (404/410, or a missing file:// path) — pacman then treats the file as unsigned;
 * any other failure is core's ERR_NIP_FETCH_FAILED naming each mirror.
 */
import { downloadToBuffer, isNipError, type AdapterContext } from '@nip/core'
import type { DownloadSettings } from './pacmanConfig.js'

export interface OptionalFileRequest {
  urls: string[]
  maxSize: number
  label: string
  settings: DownloadSettings
  ctx: AdapterContext
}

export async function downloadOptional(r: OptionalFileRequest): Promise<{ data: Buffer; url: string } | null> {
  if (r.urls.length === 0) return null
  try {
    return await downloadToBuffer({
      urls: r.urls,
      maxSize: r.maxSize,
      label: r.label,
      ...r.settings,
      ...(r.ctx.signal ? { signal: r.ctx.signal } : {}),
    })
  } catch (e) {
    if (isNotFound(e)) return null
    throw e
  }
}

function isNotFound(e: unknown): boolean {
  if (!isNipError(e, 'ERR_NIP_FETCH_FAILED')) return false
  const attempts = (e.data.attempts ?? []) as { reason?: string; status?: number }[]
  return attempts.length > 0 && attempts.every((a) => a.reason === 'not-found' || a.status === 404 || a.status === 410)
}
