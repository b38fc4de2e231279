/**
 * Downloads for the pacman source: mirrors in order (failover), resume of a partial file
 * (`<dest>.part`, HTTP Range), conditional refresh (`<dest>.meta` keeps ETag/Last-Modified),
 * size and SHA-256 checked before the file is renamed into place.
 *
 * Contract: `dest` appears only complete and verified (rename); a mirror that serves bad bytes
 * is skipped and the next one tried; when every mirror fails the error names each of them.
 * http(s):// and file:// URLs are supported.
 */
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { NipError, isNipError } from '@nip/core'

export interface FetchFileOptions {
  urls: string[]
  dest: string
  expectSize?: number
  sha256?: string
  /** Send If-None-Match / If-Modified-Since from the last download of `dest`. */
  conditional?: boolean
  signal?: AbortSignal
  /** Called with bytes received so far. */
  onProgress?: (done: number) => void
}

export interface FetchFileResult {
  path: string
  url: string
  notModified: boolean
  /** Bytes transferred by this call. */
  transferred: number
}

interface Validators {
  etag?: string
  lastModified?: string
}

/** Download to `dest`, verified. */
export async function fetchFile(o: FetchFileOptions): Promise<FetchFileResult> {
  await mkdir(path.dirname(o.dest), { recursive: true })
  const failures: { url: string; reason: string; error: unknown }[] = []
  for (const url of o.urls) {
    try {
      return await fetchOne(url, o)
    } catch (e) {
      if (o.signal?.aborted) throw e
      failures.push({ url, reason: (e as Error).message, error: e })
    }
  }
  const verification = failures.map((f) => f.error).find((e) => isNipError(e, 'ERR_NIP_HASH_MISMATCH') || isNipError(e, 'ERR_NIP_SIZE_MISMATCH'))
  if (verification && failures.every((f) => isNipError(f.error))) throw verification
  const name = path.basename(o.dest)
  throw new NipError('ERR_NIP_FETCH_FAILED', `Cannot download ${name}:\n${failures.map((f) => `  ${f.url}: ${f.reason}`).join('\n') || '  (no mirror configured)'}`, {
    hint: 'Check the repository servers in the [pacman] configuration and your network.',
    data: { file: name, mirrors: failures.map((f) => ({ url: f.url, reason: f.reason })) },
  })
}

async function fetchOne(url: string, o: FetchFileOptions): Promise<FetchFileResult> {
  const part = `${o.dest}.part`
  if (url.startsWith('file://')) {
    await pipeline(createReadStream(fileURLToPath(url)), createWriteStream(part))
    const size = await verify(part, url, o)
    await rename(part, o.dest)
    return { path: o.dest, url, notModified: false, transferred: size }
  }
  if (!/^https?:\/\//.test(url)) throw new Error(`unsupported URL scheme`)
  const headers: Record<string, string> = {}
  const metaFile = `${o.dest}.meta`
  if (o.conditional) {
    const v = await readValidators(metaFile)
    const have = await stat(o.dest).catch(() => null)
    if (have && v?.etag) headers['if-none-match'] = v.etag
    if (have && v?.lastModified) headers['if-modified-since'] = v.lastModified
  }
  const partSize = (await stat(part).catch(() => null))?.size ?? 0
  if (partSize > 0 && !o.conditional) headers.range = `bytes=${partSize}-`
  const res = await fetch(url, { headers, ...(o.signal ? { signal: o.signal } : {}) })
  if (res.status === 304) {
    await res.body?.cancel()
    return { path: o.dest, url, notModified: true, transferred: 0 }
  }
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel()
    throw new Error(`HTTP ${res.status}`)
  }
  const append = res.status === 206 && headers.range !== undefined
  let done = append ? partSize : 0
  let transferred = 0
  const counted = async function* (): AsyncGenerator<Uint8Array> {
    for await (const chunk of Readable.fromWeb(res.body! as never) as AsyncIterable<Uint8Array>) {
      done += chunk.length
      transferred += chunk.length
      if (o.expectSize !== undefined && done > o.expectSize) throw sizeError(url, o, done)
      o.onProgress?.(done)
      yield chunk
    }
  }
  await pipeline(counted(), createWriteStream(part, { flags: append ? 'a' : 'w' }))
  await verify(part, url, o)
  await rename(part, o.dest)
  const v: Validators = {}
  const etag = res.headers.get('etag')
  const lm = res.headers.get('last-modified')
  if (etag) v.etag = etag
  if (lm) v.lastModified = lm
  await writeFile(metaFile, JSON.stringify(v))
  return { path: o.dest, url, notModified: false, transferred }
}

/** Check size and digest of a downloaded part; a bad part is deleted. Returns its size. */
async function verify(part: string, url: string, o: FetchFileOptions): Promise<number> {
  const size = (await stat(part)).size
  if (o.expectSize !== undefined && size !== o.expectSize) {
    await rm(part, { force: true })
    throw sizeError(url, o, size)
  }
  if (o.sha256 !== undefined) {
    const h = createHash('sha256')
    for await (const chunk of createReadStream(part)) h.update(chunk as Buffer)
    const got = h.digest('hex')
    if (got !== o.sha256) {
      await rm(part, { force: true })
      throw new NipError('ERR_NIP_HASH_MISMATCH', `${path.basename(o.dest)} from ${url} has SHA-256 ${got}, but the database says ${o.sha256}.`, {
        hint: 'The mirror serves a corrupted or tampered file. Try again later or use another mirror.',
        data: { file: path.basename(o.dest), mirror: url, expected: o.sha256, actual: got },
      })
    }
  }
  return size
}

function sizeError(url: string, o: FetchFileOptions, got: number): NipError {
  return new NipError('ERR_NIP_SIZE_MISMATCH', `${path.basename(o.dest)} from ${url} is ${got} bytes, but the database says ${o.expectSize}.`, {
    hint: 'The mirror serves a corrupted or tampered file. Try again later or use another mirror.',
    data: { file: path.basename(o.dest), mirror: url, expected: o.expectSize, actual: got },
  })
}

async function readValidators(file: string): Promise<Validators | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Validators
  } catch {
    return undefined
  }
}

/**
 * A small optional file (a `.sig`): its bytes from the first mirror that has it, or null when
 * every mirror answers 404 / the file does not exist. Larger than `maxSize` is an error.
 */
export async function fetchOptional(urls: string[], maxSize: number, signal?: AbortSignal): Promise<{ data: Buffer; url: string } | null> {
  const failures: string[] = []
  let missing = 0
  for (const url of urls) {
    try {
      if (url.startsWith('file://')) {
        const file = fileURLToPath(url)
        const st = await stat(file).catch(() => null)
        if (st === null) {
          missing++
          continue
        }
        if (st.size > maxSize) throw new Error(`larger than ${maxSize} bytes`)
        return { data: await readFile(file), url }
      }
      const res = await fetch(url, signal ? { signal } : {})
      if (res.status === 404 || res.status === 410) {
        await res.body?.cancel()
        missing++
        continue
      }
      if (res.status !== 200) {
        await res.body?.cancel()
        throw new Error(`HTTP ${res.status}`)
      }
      const data = Buffer.from(await res.arrayBuffer())
      if (data.length > maxSize) throw new Error(`larger than ${maxSize} bytes`)
      return { data, url }
    } catch (e) {
      failures.push(`${url}: ${(e as Error).message}`)
    }
  }
  if (failures.length === 0 && missing > 0) return null
  if (failures.length === 0) return null
  throw new NipError('ERR_NIP_FETCH_FAILED', `Cannot download ${path.basename(urls[0] ?? '')}:\n  ${failures.join('\n  ')}`, {
    hint: 'Check the repository servers in the [pacman] configuration and your network.',
    data: { mirrors: failures },
  })
}
