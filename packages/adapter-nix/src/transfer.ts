/**
 * Downloads through core's shared downloader (retries, resume, substituter failover, size and
 * digest checks while streaming). A digest algorithm the downloader does not compute (sha1, in
 * old narinfo files) is checked here after the download, with the same error code.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { NipError, download, downloadToBuffer, type DigestAlgorithm, type Reporter } from '@nip/core'

export interface ExpectHash {
  algorithm: string
  /** Hex digest. */
  digest: string
}

export interface DownloadRequest {
  urls: string[]
  dest: string
  expectSize?: number
  expectHash?: ExpectHash
  /** Revalidate an existing dest instead of downloading it again. */
  conditional?: boolean
  label?: string
  reporter?: Reporter
  signal?: AbortSignal
}

const DOWNLOADER_DIGESTS = new Set<string>(['sha256', 'sha512', 'md5'])

/** The body of the first URL that answers, or null when every URL says the file is absent. */
export async function fetchSmall(urls: string[], opts: { maxSize: number; signal?: AbortSignal; label?: string }): Promise<{ data: Buffer; url: string } | null> {
  try {
    return await downloadToBuffer({ urls, maxSize: opts.maxSize, retries: 1, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.label ? { label: opts.label } : {}) })
  } catch (e) {
    if (e instanceof NipError && e.code === 'ERR_NIP_FETCH_FAILED' && isNotFound(e)) return null
    throw e
  }
}

/** Whether every attempt failed because the file is absent (HTTP 404/410, or a missing file). */
function isNotFound(e: NipError): boolean {
  const attempts = (e.data as { attempts?: { status?: number; reason?: string }[] }).attempts
  return Array.isArray(attempts) && attempts.length > 0 && attempts.every((a) => a.status === 404 || a.status === 410 || a.reason === 'not-found')
}

/** Download to `dest` (published atomically by the downloader), verifying size and hash. */
export async function fetchToFile(req: DownloadRequest): Promise<{ path: string; size: number }> {
  const native = req.expectHash && DOWNLOADER_DIGESTS.has(req.expectHash.algorithm)
  const r = await download({
    urls: req.urls,
    dest: req.dest,
    ...(req.expectSize !== undefined ? { expectSize: req.expectSize } : {}),
    ...(native ? { expectHash: { algorithm: req.expectHash!.algorithm as DigestAlgorithm, digest: req.expectHash!.digest } } : {}),
    ...(req.conditional ? { conditional: true } : {}),
    ...(req.label ? { label: req.label } : {}),
    ...(req.reporter ? { reporter: req.reporter } : {}),
    ...(req.signal ? { signal: req.signal } : {}),
  })
  if (req.expectHash && !native) {
    const h = createHash(req.expectHash.algorithm)
    for await (const c of readStream(r.path)) h.update(c)
    const actual = h.digest('hex')
    if (actual !== req.expectHash.digest) {
      throw new NipError('ERR_NIP_HASH_MISMATCH', `${r.url} hashes to ${req.expectHash.algorithm}:${actual}, expected ${req.expectHash.digest}`, {
        hint: 'The download is corrupt or was tampered with; try another substituter.',
        data: { url: r.url, expected: req.expectHash.digest, actual },
      })
    }
  }
  return { path: r.path, size: r.size }
}

export function readStream(file: string): AsyncIterable<Buffer> {
  return createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>
}
