/**
 * One repository file into the adapter's cache through core's downloader (mirrors in order,
 * retries, resume, size and SHA256 checked before the file is published at `dest`).
 *
 * Contract: `dest` holds only a file whose size and SHA256 match what the signed metadata
 * promised (or, for InRelease, which has no promise, a complete download that the caller then
 * verifies by its signature). A file already at `dest` is reused — nothing is downloaded — only
 * after re-hashing it. Failures are core's: ERR_NIP_SIZE_MISMATCH / ERR_NIP_HASH_MISMATCH when
 * every mirror served the wrong bytes, otherwise ERR_NIP_FETCH_FAILED naming each URL.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createDigest, download, type Reporter } from '@nip/core'
import type { DownloadSettings } from './debianConfig.js'

export interface VerifiedDownload {
  /** The file on each mirror, in order. */
  urls: string[]
  dest: string
  /** Expected size and SHA256 (hex); unchecked when absent (only InRelease, which is signed). */
  size?: number
  sha256?: string
  /** Refuse more than this many bytes when no size is known. */
  maxSize?: number
  /** Revalidate an existing `dest` with a conditional request (InRelease). */
  conditional?: boolean
  settings: DownloadSettings
  label: string
  reporter?: Reporter
  signal?: AbortSignal
}

export async function downloadVerified(r: VerifiedDownload): Promise<{ path: string; downloaded: number }> {
  if (r.sha256 !== undefined && (await holds(r.dest, r.sha256, r.size))) return { path: r.dest, downloaded: 0 }
  const got = await download({
    urls: r.urls,
    dest: r.dest,
    ...(r.size !== undefined ? { expectSize: r.size } : {}),
    ...(r.sha256 !== undefined ? { expectHash: { algorithm: 'sha256' as const, digest: r.sha256 } } : {}),
    ...(r.maxSize !== undefined ? { maxSize: r.maxSize } : {}),
    ...(r.conditional ? { conditional: true } : {}),
    ...r.settings,
    ...(r.reporter ? { reporter: r.reporter } : {}),
    label: r.label,
    ...(r.signal ? { signal: r.signal } : {}),
  })
  return { path: got.path, downloaded: got.notModified ? 0 : got.size }
}

/** Whether `file` already holds exactly the expected content. */
export async function holds(file: string, sha256: string, size: number | undefined): Promise<boolean> {
  try {
    const st = await stat(file)
    if (size !== undefined && st.size !== size) return false
    const digest = createDigest('sha256')
    for await (const chunk of createReadStream(file)) digest.update(chunk as Buffer)
    return digest.digestHex() === sha256.toLowerCase()
  } catch {
    return false
  }
}
