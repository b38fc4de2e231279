/**
 * Downloading one repository file into the adapter's cache, verified while it streams.
 *
 * Contract: the file appears at `dest` (by rename) only once its size and SHA256 match what the
 * signed metadata promised; a file already at `dest` is reused only after re-hashing it. A
 * mismatch is ERR_NIP_SIZE_MISMATCH / ERR_NIP_HASH_MISMATCH and leaves nothing at `dest`.
 * `file://` URLs are read directly (a repository on disk).
 */
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { NipError, fromSystemError } from '@nip/core'

export interface FetchFileOptions {
  url: string
  dest: string
  /** Expected size and SHA256 (hex); unchecked when absent (only InRelease, which is signed). */
  size?: number
  sha256?: string
  /** Refuse to read more than this many bytes when no size is known. */
  maxSize?: number
  signal?: AbortSignal
  onProgress?: (done: number) => void
}

export async function fetchFile(opts: FetchFileOptions): Promise<{ path: string; downloaded: number }> {
  if (opts.sha256 !== undefined && (await matches(opts.dest, opts))) return { path: opts.dest, downloaded: 0 }
  await mkdir(path.dirname(opts.dest), { recursive: true })
  const tmp = `${opts.dest}.part-${process.pid}`
  const hash = createHash('sha256')
  let done = 0
  const limit = opts.size ?? opts.maxSize ?? Number.MAX_SAFE_INTEGER
  try {
    const body = await openUrl(opts.url, opts.signal)
    const out = createWriteStream(tmp)
    try {
      for await (const chunk of body) {
        const buf = chunk as Buffer
        done += buf.length
        if (done > limit) throw sizeMismatch(opts, done)
        hash.update(buf)
        if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()))
        opts.onProgress?.(done)
      }
    } finally {
      await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())))
    }
    if (opts.size !== undefined && done !== opts.size) throw sizeMismatch(opts, done)
    const digest = hash.digest('hex')
    if (opts.sha256 !== undefined && digest !== opts.sha256.toLowerCase()) {
      throw new NipError('ERR_NIP_HASH_MISMATCH', `${opts.url} has SHA256 ${digest}, but the signed metadata says ${opts.sha256}`, {
        hint: 'The mirror serves a damaged or altered file; nothing from it was used. Try again later or use another mirror.',
        data: { url: opts.url, expected: opts.sha256, actual: digest },
      })
    }
    await rename(tmp, opts.dest)
    return { path: opts.dest, downloaded: done }
  } catch (e) {
    await rm(tmp, { force: true })
    if (e instanceof NipError) throw e
    throw fromSystemError(e, `downloading ${opts.url}`, opts.dest)
  }
}

async function openUrl(url: string, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
  if (url.startsWith('file://')) {
    try {
      const p = fileURLToPath(url)
      await stat(p)
      return createReadStream(p, signal ? { signal } : {})
    } catch (e) {
      throw fetchFailed(url, (e as Error).message, e)
    }
  }
  let res: Response
  try {
    res = await fetch(url, signal ? { signal, redirect: 'follow' } : { redirect: 'follow' })
  } catch (e) {
    throw fetchFailed(url, (e as Error).message, e)
  }
  if (!res.ok || res.body === null) throw fetchFailed(url, `HTTP ${res.status} ${res.statusText}`, undefined, res.status)
  return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>)
}

/** Whether `dest` already holds exactly the expected content. */
async function matches(dest: string, opts: FetchFileOptions): Promise<boolean> {
  try {
    const st = await stat(dest)
    if (opts.size !== undefined && st.size !== opts.size) return false
    const hash = createHash('sha256')
    for await (const chunk of createReadStream(dest)) hash.update(chunk as Buffer)
    return hash.digest('hex') === opts.sha256!.toLowerCase()
  } catch {
    return false
  }
}

function sizeMismatch(opts: FetchFileOptions, got: number): NipError {
  return new NipError('ERR_NIP_SIZE_MISMATCH', `${opts.url} is ${got} bytes${opts.size !== undefined ? `, but the signed metadata says ${opts.size}` : ` or more, over the limit of ${opts.maxSize}`}`, {
    hint: 'The mirror serves a damaged or altered file; nothing from it was used.',
    data: { url: opts.url, expected: opts.size ?? opts.maxSize, actual: got },
  })
}

function fetchFailed(url: string, why: string, cause?: unknown, status?: number): NipError {
  return new NipError('ERR_NIP_FETCH_FAILED', `Cannot download ${url}: ${why}`, {
    hint: 'Check the network and the repository URL.',
    data: { url, ...(status !== undefined ? { status } : {}) },
    ...(cause !== undefined ? { cause } : {}),
  })
}
