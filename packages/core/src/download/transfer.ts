/**
 * One attempt to fetch one URL into a sink, with the checks every download gets: the size
 * against expectSize and maxSize (from the headers first, then while streaming), the digest
 * computed while streaming, truncation against Content-Length, and resume with Range/If-Range.
 * Failures are AttemptErrors that say whether the same URL deserves another try; a sink whose
 * bytes were proven wrong is reset before the error is thrown, one that was merely cut short
 * keeps its bytes for a resumed attempt.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Readable } from 'node:stream'
import type { Reporter } from '../reporter.js'
import { AttemptError, isRetryableStatus } from './attemptError.js'
import { parseRetryAfter } from './backoff.js'
import { createDigest, type Digest, type DigestAlgorithm } from './digest.js'
import { classifyNetworkError, httpGet } from './httpRequest.js'
import type { Sink } from './sink.js'
import { partMetaPath, readValidators, writeValidators, type Validators } from './sidecar.js'

export interface TransferJob {
  sink: Sink
  /** `dest` of a file download (for the part's sidecar); undefined for buffers. */
  dest?: string
  expectSize?: number
  expectHash?: { algorithm: DigestAlgorithm; digest: string }
  maxSize?: number
  timeoutMs: number
  /** Validators of an existing `dest`, for a conditional request. */
  conditional?: Validators
  signal?: AbortSignal
  reporter?: Reporter
  progressId: string
  label: string
}

export type TransferOutcome =
  | { kind: 'complete'; url: string; size: number; hash: string; validators: Validators }
  | { kind: 'not-modified'; url: string }

/** The digest algorithm of a job: the expected one, or sha256 for the result's record. */
export function algorithmOf(job: TransferJob): DigestAlgorithm {
  return job.expectHash?.algorithm ?? 'sha256'
}

/** `url` as a local path when it is file:// or absolute, else undefined. */
export function localPathOf(url: string): string | undefined {
  if (url.startsWith('/')) return url
  if (url.startsWith('file:')) return fileURLToPath(url)
  return undefined
}

export async function transfer(url: string, job: TransferJob): Promise<TransferOutcome> {
  const local = localPathOf(url)
  if (local !== undefined) return transferFile(url, local, job)
  if (!/^https?:\/\//i.test(url)) {
    throw new AttemptError('unsupported-url', 'unsupported URL scheme (use http, https, file or an absolute path)', { retryable: false })
  }
  return transferHttp(url, job)
}

async function transferFile(url: string, path: string, job: TransferJob): Promise<TransferOutcome> {
  let size: number
  try {
    const st = await stat(path)
    if (!st.isFile()) throw new AttemptError('not-found', 'not a regular file', { retryable: false })
    size = st.size
  } catch (e) {
    if (e instanceof AttemptError) throw e
    const code = (e as NodeJS.ErrnoException).code
    throw new AttemptError(code === 'ENOENT' ? 'not-found' : 'io', code === 'ENOENT' ? 'no such file' : String((e as Error).message), { retryable: false, cause: e })
  }
  await job.sink.reset()
  checkDeclaredSize(size, job)
  const digest = createDigest(algorithmOf(job))
  await consume(createReadStream(path), { job, digest, offset: 0, declared: size, stalled: () => false })
  return finish({ url, job, digest, offset: 0, validators: { url } })
}

async function transferHttp(url: string, job: TransferJob): Promise<TransferOutcome> {
  const { sink } = job
  let offset = sink.resumable ? await sink.size() : 0
  const headers: Record<string, string> = {}
  if (offset > 0) {
    const saved = job.dest ? await readValidators(partMetaPath(job.dest)) : undefined
    // If-Range needs a strong validator; a weak ETag falls back to Last-Modified.
    const ifRange = saved?.etag && !saved.etag.startsWith('W/') ? saved.etag : saved?.lastModified
    const tooBig = (job.expectSize !== undefined && offset >= job.expectSize) || (job.maxSize !== undefined && offset > job.maxSize)
    if (tooBig || (!ifRange && !job.expectHash)) {
      // Without a validator or a digest a spliced file could not be told from a good one.
      await sink.reset()
      offset = 0
    } else {
      headers.range = `bytes=${offset}-`
      if (ifRange) headers['if-range'] = ifRange
    }
  }
  const cond = offset === 0 && job.conditional?.url === url ? job.conditional : undefined
  if (cond?.etag) headers['if-none-match'] = cond.etag
  if (cond?.lastModified) headers['if-modified-since'] = cond.lastModified

  const res = await httpGet(url, { headers, timeoutMs: job.timeoutMs, signal: job.signal })
  const { status } = res
  if (status === 304 && cond) {
    res.body.resume()
    return { kind: 'not-modified', url: res.url }
  }
  if (status === 416 && offset > 0) {
    res.body.resume()
    await sink.reset()
    throw new AttemptError('range-mismatch', 'HTTP 416: the server cannot continue the partial download; restarting', { retryable: true, status })
  }
  if (status === 206) {
    const range = parseContentRange(res.headers['content-range'])
    if (offset === 0 || !range || range.start !== offset) {
      res.body.resume()
      await sink.reset()
      throw new AttemptError('range-mismatch', `HTTP 206 with Content-Range ${JSON.stringify(res.headers['content-range'] ?? '')} for bytes=${offset}-; restarting`, { retryable: true, status })
    }
  } else if (status >= 200 && status < 300) {
    if (offset > 0) await sink.reset() // a 200 answer to a Range request: the whole body, from zero
    offset = 0
  } else {
    res.body.resume()
    const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(header(res.headers['retry-after'])) : undefined
    throw new AttemptError('http-status', `HTTP ${status}`, { retryable: isRetryableStatus(status), status, retryAfterMs })
  }

  const lengthHeader = header(res.headers['content-length'])
  const bodyLength = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined
  const declared = bodyLength === undefined ? undefined : offset + bodyLength
  if (declared !== undefined) {
    try {
      checkDeclaredSize(declared, job)
    } catch (e) {
      res.body.destroy()
      await sink.reset()
      throw e
    }
  }
  const validators: Validators = { url: res.url, ...validatorsOf(res.headers) }
  if (offset === 0) {
    await sink.reset()
    if (job.dest && sink.resumable) await writeValidators(partMetaPath(job.dest), validators).catch(() => undefined)
  }
  // The digest covers the kept prefix (read back once) and then every byte as it arrives.
  const digest = createDigest(algorithmOf(job))
  if (offset > 0) await sink.replay(digest)
  await consume(res.body, { job, digest, offset, declared, stalled: res.stalled })
  return finish({ url: res.url, job, digest, offset, validators })
}

interface ConsumeState {
  job: TransferJob
  digest: Digest
  offset: number
  declared: number | undefined
  stalled: () => boolean
}

/** Streams `body` into the sink and the digest, checking the limits chunk by chunk. */
async function consume(body: Readable, st: ConsumeState): Promise<void> {
  const { job } = st
  let size = st.offset
  let lastReport = 0
  let lastReported = -1
  const report = (force: boolean): void => {
    if (!job.reporter) return
    const now = Date.now()
    if (!force && now - lastReport < 100) return
    // The closing report repeats nothing: the last chunk's may already have said the same.
    if (size === lastReported) return
    lastReport = now
    lastReported = size
    job.reporter.emit({ type: 'progress', id: job.progressId, label: job.label, done: size, total: st.declared ?? job.expectSize ?? 0, unit: 'bytes' })
  }
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length
      if (job.expectSize !== undefined && size > job.expectSize) {
        throw sizeMismatch(job.expectSize, `more than ${job.expectSize}`)
      }
      if (job.maxSize !== undefined && size > job.maxSize) throw tooLarge(job.maxSize, `more than ${job.maxSize}`)
      st.digest.update(chunk)
      await job.sink.write(chunk)
      report(false)
    }
  } catch (e) {
    body.destroy()
    if (e instanceof AttemptError && !e.retryable) await job.sink.reset()
    if (e instanceof AttemptError || (e as Error)?.name === 'NipError') throw e
    if (job.signal?.aborted) throw job.signal.reason
    throw classifyNetworkError(e, st.stalled(), job.timeoutMs)
  }
  report(true)
  if (st.declared !== undefined && size < st.declared) {
    throw new AttemptError('truncated', `body ended after ${size} of ${st.declared} bytes`, { retryable: true })
  }
}

/** Verifies what the sink holds against expectSize and expectHash; resets it when wrong. */
async function finish(f: { url: string; job: TransferJob; digest: Digest; offset: number; validators: Validators }): Promise<TransferOutcome> {
  const { url, job, offset, validators } = f
  const size = await job.sink.size()
  if (job.expectSize !== undefined && size !== job.expectSize) {
    await job.sink.reset()
    throw sizeMismatch(job.expectSize, String(size))
  }
  const hash = f.digest.digestHex()
  if (job.expectHash && hash !== job.expectHash.digest.toLowerCase()) {
    await job.sink.reset()
    const resumed = offset > 0
    throw new AttemptError(
      resumed ? 'resumed-hash-mismatch' : 'hash-mismatch',
      `${job.expectHash.algorithm} ${hash}, expected ${job.expectHash.digest.toLowerCase()}${resumed ? ' (after resuming; restarting from zero)' : ''}`,
      { retryable: resumed, verification: resumed ? undefined : 'ERR_NIP_HASH_MISMATCH' },
    )
  }
  return { kind: 'complete', url, size, hash, validators }
}

function checkDeclaredSize(size: number, job: TransferJob): void {
  if (job.expectSize !== undefined && size !== job.expectSize) throw sizeMismatch(job.expectSize, String(size))
  if (job.maxSize !== undefined && size > job.maxSize) throw tooLarge(job.maxSize, String(size))
}

function sizeMismatch(expected: number, got: string): AttemptError {
  return new AttemptError('size-mismatch', `size ${got} bytes, expected ${expected}`, { retryable: false, verification: 'ERR_NIP_SIZE_MISMATCH' })
}

function tooLarge(max: number, got: string): AttemptError {
  return new AttemptError('too-large', `size ${got} bytes exceeds the limit of ${max}`, { retryable: false })
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}

function validatorsOf(h: import('node:http').IncomingHttpHeaders): Omit<Validators, 'url'> {
  const etag = header(h.etag)
  const lastModified = header(h['last-modified'])
  return { ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) }
}

/** `bytes START-END/TOTAL` (TOTAL may be `*`). */
export function parseContentRange(v: string | string[] | undefined): { start: number; end: number; total?: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(v)?.trim() ?? '')
  if (!m) return undefined
  return { start: Number(m[1]), end: Number(m[2]), ...(m[3] !== '*' ? { total: Number(m[3]) } : {}) }
}
