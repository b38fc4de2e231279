/**
 * Sidecar files next to a download:
 * - `${dest}.meta.json`: the validators (ETag, Last-Modified) and URL `dest` came from; used
 *   for conditional requests (If-None-Match / If-Modified-Since).
 * - `${dest}.part.meta.json`: the same for an unfinished `${dest}.part`, used as If-Range when
 *   resuming, so a changed file on the server restarts the transfer instead of being spliced.
 * Both are advisory: a missing or unreadable sidecar only costs a full download. They are
 * written by temp file + rename, so a reader sees an old or a new sidecar, never half of one.
 */
import { readFile } from 'node:fs/promises'
import { cacheRename, cacheRm, cacheWrite } from './cacheFiles.js'

export interface Validators {
  url: string
  etag?: string
  lastModified?: string
}

export function metaPath(dest: string): string {
  return `${dest}.meta.json`
}

export function partPath(dest: string): string {
  return `${dest}.part`
}

export function partMetaPath(dest: string): string {
  return `${dest}.part.meta.json`
}

/** The validators in `path`, or undefined when absent or malformed. */
export async function readValidators(path: string): Promise<Validators | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    return undefined
  }
  try {
    const v = JSON.parse(text) as Partial<Validators>
    if (typeof v.url !== 'string') return undefined
    return {
      url: v.url,
      ...(typeof v.etag === 'string' ? { etag: v.etag } : {}),
      ...(typeof v.lastModified === 'string' ? { lastModified: v.lastModified } : {}),
    }
  } catch {
    return undefined
  }
}

export async function writeValidators(path: string, v: Validators): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`
  cacheRm(tmp)
  cacheWrite(tmp, JSON.stringify(v) + '\n')
  cacheRename(tmp, path)
}

export async function removeQuietly(path: string): Promise<void> {
  try {
    cacheRm(path)
  } catch (e) {
    // A planted link above a cache file is refused, not ignored.
    if ((e as { code?: string }).code === 'ERR_NIP_CONFINED') throw e
  }
}
