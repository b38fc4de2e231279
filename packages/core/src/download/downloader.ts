/**
 * The shared downloader every adapter uses: mirrors in order, retries with backoff, resume of
 * an interrupted `.part`, conditional requests, and verification (size, digest) before the file
 * is published at `dest` by rename. See docs/download.md for the behaviour in full.
 *
 * Contract: `dest` only ever holds a complete, verified file (the old one, or the new one).
 * `${dest}.part` holds bytes not yet verified; it is deleted when its bytes are proven wrong
 * (size, digest, over the limit, ENOSPC) and kept when a transfer was merely cut short, so the
 * next call resumes it.
 */
import { open, stat } from 'node:fs/promises'
import { cacheMkdir } from './cacheFiles.js'
import { basename, dirname } from 'node:path'
import { NipError, fromSystemError } from '../errors.js'
import type { Reporter } from '../reporter.js'
import { AttemptError } from './attemptError.js'
import { backoffDelay, sleep } from './backoff.js'
import { createDigest, DIGEST_ALGORITHMS, DIGEST_HEX_LENGTH, type DigestAlgorithm } from './digest.js'
import { BufferSink, PartFile } from './sink.js'
import { metaPath, readValidators, removeQuietly, writeValidators } from './sidecar.js'
import { algorithmOf, transfer, type TransferJob, type TransferOutcome } from './transfer.js'

export interface DownloadOptions {
  /** Mirrors in order: http://, https://, file:// and absolute paths (read as file://). */
  urls: string[]
  /** Final path (inside the adapter's cacheDir); published atomically (tmp + rename). */
  dest: string
  /** Exact size; a mismatch is ERR_NIP_SIZE_MISMATCH for that mirror, then the next is tried. */
  expectSize?: number
  /** Hex digest computed while streaming; a mismatch is ERR_NIP_HASH_MISMATCH for that mirror. */
  expectHash?: { algorithm: DigestAlgorithm; digest: string }
  /** Refuse bodies larger than this (ERR_NIP_FETCH_FAILED with data.reason 'too-large'). */
  maxSize?: number
  /** Default true: continue `${dest}.part` with Range (+ If-Range with the saved validator). */
  resume?: boolean
  /** Default false: revalidate an existing dest with its `${dest}.meta.json` (304 keeps it). */
  conditional?: boolean
  /** Extra tries per URL (default 3) for transient failures, with exponential backoff + jitter. */
  retries?: number
  /** Idle timeout per request: no byte for this long aborts the request (default 30000). */
  timeoutMs?: number
  /** Base of the exponential backoff in ms (default 200). Retry-After overrides it (max 30 s). */
  backoffMs?: number
  reporter?: Reporter
  label?: string
  signal?: AbortSignal
}

export interface DownloadResult {
  path: string
  url: string
  size: number
  notModified: boolean
  /** Hex digest in expectHash.algorithm, or sha256 when no hash was expected. */
  hash?: string
}

/** One failed attempt, as listed in the final error's `data.attempts`. */
export interface FailedAttempt {
  url: string
  error: string
  reason: string
  status?: number
}

const DEFAULT_RETRIES = 3
const DEFAULT_TIMEOUT_MS = 30_000
const DEFAULT_BACKOFF_MS = 200

export async function download(opts: DownloadOptions): Promise<DownloadResult> {
  validate(opts)
  const { dest } = opts
  try {
    cacheMkdir(dirname(dest))
  } catch (e) {
    throw fromSystemError(e, 'preparing the download directory', dirname(dest))
  }
  const part = new PartFile(dest)
  if (opts.resume === false) await part.reset()
  const destExists = await exists(dest)
  const job: TransferJob = {
    ...jobOptions(opts),
    sink: part,
    dest,
    conditional: opts.conditional && destExists ? await readValidators(metaPath(dest)) : undefined,
    progressId: `download:${dest}`,
  }
  try {
    for (;;) {
      const outcome = await tryMirrors(opts, job)
      if (outcome.kind === 'not-modified') {
        const kept = await checkExisting(dest, job)
        if (kept) return { path: dest, url: outcome.url, size: kept.size, notModified: true, hash: kept.hash }
        // The server says unchanged but the file on disk is wrong: fetch it again, unconditionally.
        await removeQuietly(dest)
        await removeQuietly(metaPath(dest))
        job.conditional = undefined
        continue
      }
      await removeQuietly(metaPath(dest))
      await part.publish()
      if (outcome.validators.etag || outcome.validators.lastModified) {
        await writeValidators(metaPath(dest), outcome.validators).catch(() => undefined)
      }
      return { path: dest, url: outcome.url, size: outcome.size, notModified: false, hash: outcome.hash }
    }
  } finally {
    await part.close()
  }
}

/** Fetches a small file (an index, a signature) into memory with the same mirror logic. */
export async function downloadToBuffer(
  opts: Omit<DownloadOptions, 'dest' | 'resume' | 'conditional'> & { maxSize: number },
): Promise<{ data: Buffer; url: string }> {
  validate(opts)
  const sink = new BufferSink()
  const job: TransferJob = { ...jobOptions(opts), sink, progressId: `download:${opts.urls[0] ?? ''}` }
  const outcome = await tryMirrors(opts, job)
  if (outcome.kind !== 'complete') throw new NipError('ERR_NIP_INTERNAL', 'unexpected conditional answer to an unconditional request')
  return { data: sink.data(), url: outcome.url }
}

type MirrorOptions = Pick<DownloadOptions, 'urls' | 'retries' | 'backoffMs' | 'signal' | 'label' | 'expectHash'> & { dest?: string }

/**
 * Tries each URL in order; on each, up to 1 + retries attempts while the failure is transient.
 * Throws the summary NipError when every URL failed.
 */
async function tryMirrors(opts: MirrorOptions, job: TransferJob): Promise<TransferOutcome> {
  const retries = opts.retries ?? DEFAULT_RETRIES
  const backoff = opts.backoffMs ?? DEFAULT_BACKOFF_MS
  const attempts: FailedAttempt[] = []
  const lastByUrl: AttemptError[] = []
  for (const url of opts.urls) {
    let last: AttemptError | undefined
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await sleep(last?.retryAfterMs ?? backoffDelay(attempt - 1, backoff), job.signal)
      try {
        return await transfer(url, job)
      } catch (e) {
        if (job.signal?.aborted) throw job.signal.reason
        if (!(e instanceof AttemptError)) throw e // ENOSPC, I/O on our side: no mirror can fix that
        last = e
        attempts.push({ url, error: e.message, reason: e.reason, ...(e.status !== undefined ? { status: e.status } : {}) })
        if (!e.retryable) break
      }
    }
    lastByUrl.push(last!)
  }
  throw summarize(opts, job, attempts, lastByUrl)
}

function summarize(opts: MirrorOptions, job: TransferJob, attempts: FailedAttempt[], lastByUrl: AttemptError[]): NipError {
  const name = job.label
  const lines = opts.urls.map((url, i) => {
    const n = attempts.filter((a) => a.url === url).length
    return `  ${url}: ${lastByUrl[i]!.message}${n > 1 ? ` (${n} attempts)` : ''}`
  })
  const verification = lastByUrl[0]?.verification
  if (verification && lastByUrl.every((e) => e.verification === verification)) {
    const what = verification === 'ERR_NIP_HASH_MISMATCH' ? `the wrong ${algorithmOf(job)} digest` : 'the wrong size'
    return new NipError(verification, `Every mirror delivered ${name} with ${what}:\n${lines.join('\n')}`, {
      hint: 'The mirrors disagree with the index that named this file: refresh the source (its index may be stale) or check whether the mirrors were tampered with.',
      data: { file: name, urls: opts.urls, attempts, ...(job.expectHash ? { expected: job.expectHash } : { expectedSize: job.expectSize }) },
    })
  }
  const reasons = new Set(lastByUrl.map((e) => e.reason))
  const reason = reasons.size === 1 ? [...reasons][0] : undefined
  return new NipError('ERR_NIP_FETCH_FAILED', `Could not download ${name} from any mirror:\n${lines.join('\n')}`, {
    hint:
      reason === 'too-large'
        ? 'The file is larger than the configured limit; raise the limit if the source is trusted.'
        : 'Check the network and the configured mirrors; an interrupted download is resumed by the next run.',
    data: { file: name, urls: opts.urls, attempts, ...(reason ? { reason } : {}) },
  })
}

/** The existing dest's size and digest when it passes the job's checks, else undefined. */
async function checkExisting(dest: string, job: TransferJob): Promise<{ size: number; hash: string } | undefined> {
  const digest = createDigest(algorithmOf(job))
  const fh = await open(dest, 'r').catch(() => undefined)
  if (!fh) return undefined
  let size = 0
  try {
    const buf = Buffer.allocUnsafe(1 << 20)
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null)
      if (bytesRead === 0) break
      digest.update(buf.subarray(0, bytesRead))
      size += bytesRead
    }
  } finally {
    await fh.close()
  }
  const hash = digest.digestHex()
  if (job.expectSize !== undefined && size !== job.expectSize) return undefined
  if (job.expectHash && hash !== job.expectHash.digest.toLowerCase()) return undefined
  return { size, hash }
}

function jobOptions(opts: Omit<DownloadOptions, 'dest'> & { dest?: string }): Omit<TransferJob, 'sink' | 'progressId'> {
  return {
    expectSize: opts.expectSize,
    expectHash: opts.expectHash,
    maxSize: opts.maxSize,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    signal: opts.signal,
    reporter: opts.reporter,
    label: opts.label ?? (opts.dest ? basename(opts.dest) : lastSegment(opts.urls[0] ?? '')),
  }
}

function lastSegment(url: string): string {
  return url.replace(/[?#].*$/, '').replace(/\/+$/, '').split('/').pop() || url
}

function validate(opts: Omit<DownloadOptions, 'dest'> & { dest?: string }): void {
  const bad = (message: string): NipError => new NipError('ERR_NIP_INTERNAL', `download: ${message}`)
  if (!Array.isArray(opts.urls) || opts.urls.length === 0) throw bad('no URL given')
  if (opts.expectHash) {
    const { algorithm, digest } = opts.expectHash
    if (!DIGEST_ALGORITHMS.includes(algorithm)) throw bad(`unknown digest algorithm ${String(algorithm)}`)
    if (!new RegExp(`^[0-9a-fA-F]{${DIGEST_HEX_LENGTH[algorithm]}}$`).test(digest)) {
      throw bad(`expected ${algorithm} digest ${JSON.stringify(digest)} is not ${DIGEST_HEX_LENGTH[algorithm]} hex characters`)
    }
  }
  for (const [k, v] of [['expectSize', opts.expectSize], ['maxSize', opts.maxSize], ['retries', opts.retries], ['timeoutMs', opts.timeoutMs]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw bad(`${k} must be a non-negative integer, got ${String(v)}`)
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile()
  } catch {
    return false
  }
}
