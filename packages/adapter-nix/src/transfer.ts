/**
 * Downloads through core's shared downloader (retries, resume, mirror failover, size and digest
 * checks while streaming). A digest algorithm the downloader does not compute (sha1, in old
 * narinfo files) is checked here after each URL's download; a file that fails it is deleted
 * before the next URL is tried, so the cache never keeps it.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { NipError, download, downloadToBuffer, type DigestAlgorithm, type NipErrorCode, type Reporter, cacheRm } from '@nip/core'

export interface ExpectHash {
  algorithm: string
  /** Hex digest. */
  digest: string
}

/** What `[nix] retries` and `timeout` pass to the downloader (absent: its defaults). */
export interface TransferTuning {
  retries?: number
  timeoutMs?: number
}

export interface DownloadRequest extends TransferTuning {
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
export async function fetchSmall(
  urls: string[],
  opts: TransferTuning & { maxSize: number; signal?: AbortSignal; label?: string },
): Promise<{ data: Buffer; url: string } | null> {
  try {
    return await downloadToBuffer({
      urls,
      maxSize: opts.maxSize,
      retries: opts.retries ?? 1,
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.label ? { label: opts.label } : {}),
    })
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
export async function fetchToFile(req: DownloadRequest): Promise<{ path: string; size: number; url: string }> {
  const native = req.expectHash && DOWNLOADER_DIGESTS.has(req.expectHash.algorithm)
  const once = (urls: string[]) =>
    download({
      urls,
      dest: req.dest,
      ...(req.expectSize !== undefined ? { expectSize: req.expectSize } : {}),
      ...(native ? { expectHash: { algorithm: req.expectHash!.algorithm as DigestAlgorithm, digest: req.expectHash!.digest } } : {}),
      ...(req.conditional ? { conditional: true } : {}),
      ...(req.retries !== undefined ? { retries: req.retries } : {}),
      ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}),
      ...(req.label ? { label: req.label } : {}),
      ...(req.reporter ? { reporter: req.reporter } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
    })
  if (!req.expectHash || native) {
    const r = await once(req.urls)
    return { path: r.path, size: r.size, url: r.url }
  }
  // The downloader cannot check this digest: one URL at a time, checked here.
  const { algorithm, digest } = req.expectHash
  const failures: { url: string; error: NipError }[] = []
  for (const url of req.urls) {
    let r
    try {
      r = await once([url])
    } catch (e) {
      if (!(e instanceof NipError) || !['ERR_NIP_FETCH_FAILED', 'ERR_NIP_SIZE_MISMATCH'].includes(e.code)) throw e
      failures.push({ url, error: e })
      continue
    }
    const h = createHash(algorithm)
    for await (const c of readStream(r.path)) h.update(c)
    const actual = h.digest('hex')
    if (actual === digest.toLowerCase()) return { path: r.path, size: r.size, url: r.url }
    cacheRm(req.dest)
    cacheRm(`${req.dest}.meta.json`)
    failures.push({
      url,
      error: new NipError('ERR_NIP_HASH_MISMATCH', `${url}: ${algorithm} ${actual}, expected ${digest}`, { data: { url, expected: digest, actual } }),
    })
  }
  throw combineFailures(req.label ?? req.dest, failures, 'mirror')
}

/**
 * One error for a file no URL delivered: each URL with how it failed (the downloader's own lines
 * when it gave them). The code is the one every failure shares (e.g. ERR_NIP_HASH_MISMATCH when
 * each URL served wrong bytes), else ERR_NIP_FETCH_FAILED. `data.urls` lists every URL tried.
 */
export function combineFailures(label: string, failures: { url: string; error: NipError }[], what: 'mirror' | 'substituter'): NipError {
  if (failures.length === 1) return failures[0].error
  const codes = new Set(failures.map((f) => f.error.code))
  const code: NipErrorCode = codes.size === 1 ? failures[0].error.code : 'ERR_NIP_FETCH_FAILED'
  const lines: string[] = []
  const urls: string[] = []
  const attempts: unknown[] = []
  for (const { url, error } of failures) {
    const data = error.data as { urls?: unknown; attempts?: unknown }
    const own = error.message.split('\n').filter((l) => l.startsWith('  '))
    lines.push(...(own.length > 0 ? own : [`  ${url}: ${error.message.split('\n')[0]}`]))
    urls.push(...(Array.isArray(data.urls) ? (data.urls as string[]) : [url]))
    if (Array.isArray(data.attempts)) attempts.push(...(data.attempts as unknown[]))
    else attempts.push({ url, error: error.message.split('\n')[0], code: error.code })
  }
  const headline =
    code === 'ERR_NIP_HASH_MISMATCH' ? `Every ${what} delivered ${label} with the wrong digest` : code === 'ERR_NIP_SIZE_MISMATCH' ? `Every ${what} delivered ${label} with the wrong size` : `Could not get ${label} from any ${what}`
  return new NipError(code, `${headline}:\n${lines.join('\n')}`, {
    hint: failures[failures.length - 1].error.hint ?? 'Check the network and the configured substituters.',
    data: { file: label, urls, attempts },
  })
}

export function readStream(file: string): AsyncIterable<Buffer> {
  return createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>
}
