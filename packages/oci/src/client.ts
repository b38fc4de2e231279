/**
 * A client of the OCI distribution API (distribution-spec 1.1), on Node's fetch:
 * blobs (HEAD, GET with resume, monolithic and chunked uploads with resume after a failed
 * chunk, cross-repository mounts), manifests (PUT/GET, verified against their digest when asked
 * by digest), tags (paged with `Link`). Authentication as registries do it: anonymous, Basic,
 * and Bearer tokens from the `WWW-Authenticate` challenge's realm, cached per scope.
 *
 * Contracts:
 * - Idempotent requests (GET, HEAD, PUT of content-addressed things) are retried on network
 *   failures, 5xx and 429 with the downloader's backoff; a PATCH is never blindly repeated: the
 *   upload's state is asked (`GET` on the session, `Range: 0-N`) and the upload continues there.
 * - Every blob read is checked against its sha256 before it is returned; a manifest asked for by
 *   digest is checked likewise. Nothing is written to disk here.
 * - Plain HTTP is used only when the caller says the registry is insecure.
 * Why fetch and not node:http (which core's downloader uses to see bytes on the wire): registries
 * answer blobs as application/octet-stream without Content-Encoding, and the sha256 check
 * catches any transformation.
 */
import { createHash } from 'node:crypto'
import { NipError, backoffDelay, parseRetryAfter, type Reporter } from '@nip/core'
import { parseChallenge, type Credentials } from './credentials.js'
import { ACCEPT_MANIFESTS } from './mediaTypes.js'
import type { RegistryRef } from './reference.js'

export interface ClientOptions {
  ref: RegistryRef
  /** Plain HTTP (the configuration lists the host in insecure-registries). */
  insecure?: boolean
  credentials?: Credentials
  /** Extra tries of an idempotent request after a transient failure (default 3). */
  retries?: number
  /** Idle timeout per request in ms (default 30000). */
  timeoutMs?: number
  /** Upload chunk size in bytes (default 8 MiB); blobs up to this size go in one PUT. */
  chunkSize?: number
  /** Base of the exponential backoff in ms (default 200). */
  backoffMs?: number
  reporter?: Reporter
  signal?: AbortSignal
}

export interface Traffic {
  /** Bytes of blob content sent and received (not manifests or headers). */
  sent: number
  received: number
  /** Blobs uploaded, found already present, and mounted from another repository. */
  uploaded: number
  present: number
  mounted: number
}

type Scope = 'pull' | 'pull,push'

interface RequestInit2 {
  headers?: Record<string, string>
  body?: Buffer
  scope: Scope
  /** Also ask for pull on these repositories (a cross-repository mount). */
  extraScopes?: string[]
  /** Do not repeat on a transient failure (PATCH). */
  once?: boolean
}

/** Distribution refuses manifests over 4 MiB; nip reads none larger. */
export const MAX_MANIFEST = 4 * 1024 * 1024

const TOUCH = Symbol('touch')
/** Resets a response's idle timer (a byte arrived). */
function touch(res: Response): void {
  ;(res as Response & { [TOUCH]?: () => void })[TOUCH]?.()
}

const TRANSIENT = (status: number) => status >= 500 || status === 429 || status === 408

export function sha256Digest(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`
}

export class RegistryClient {
  readonly ref: RegistryRef
  readonly base: string
  readonly traffic: Traffic = { sent: 0, received: 0, uploaded: 0, present: 0, mounted: 0 }
  private readonly retries: number
  private readonly timeoutMs: number
  private readonly backoffMs: number
  readonly chunkSize: number
  /** Authorization header per scope key, once a challenge was answered. */
  private readonly authorization = new Map<string, string>()
  /** Basic credentials, once the registry asked for them (they hold for every scope). */
  private basic: string | undefined

  constructor(private readonly opts: ClientOptions) {
    this.ref = opts.ref
    this.base = `${opts.insecure ? 'http' : 'https'}://${opts.ref.host}`
    this.retries = opts.retries ?? 3
    this.timeoutMs = opts.timeoutMs ?? 30_000
    this.backoffMs = opts.backoffMs ?? 200
    this.chunkSize = opts.chunkSize ?? 8 * 1024 * 1024
  }

  private repoPath(rest: string): string {
    return `/v2/${this.ref.repository}/${rest}`
  }

  private scopeKey(scope: Scope, extra: string[] = []): string {
    return [`repository:${this.ref.repository}:${scope}`, ...extra.map((r) => `repository:${r}:pull`)].join(' ')
  }

  private fail(message: string, hint: string, data: Record<string, unknown>, code: 'ERR_NIP_REGISTRY' | 'ERR_NIP_REGISTRY_AUTH' | 'ERR_NIP_FETCH_FAILED' = 'ERR_NIP_REGISTRY'): NipError {
    return new NipError(code, message, { hint, data: { registry: this.ref.url, ...data } })
  }

  /** One HTTP exchange with authentication and retries. The caller reads (or cancels) the body. */
  async request(method: string, target: string, init: RequestInit2): Promise<Response> {
    const url = /^https?:\/\//.test(target) ? target : this.base + target
    const key = this.scopeKey(init.scope, init.extraScopes)
    let answeredChallenge = false
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { 'Accept-Encoding': 'identity', ...init.headers }
      const auth = this.authorization.get(key) ?? this.basic
      if (auth) headers.Authorization = auth
      let res: Response
      try {
        res = await this.exchange(method, url, headers, init.body)
      } catch (e) {
        if (this.opts.signal?.aborted) throw e
        if (init.once || attempt >= this.retries) throw this.networkError(method, url, e)
        await sleep(backoffDelay(attempt, this.backoffMs), this.opts.signal)
        continue
      }
      if (res.status === 401 && !answeredChallenge) {
        await res.body?.cancel()
        answeredChallenge = true
        await this.answerChallenge(res.headers.get('www-authenticate'), key, url)
        attempt--
        continue
      }
      if (res.status === 401 || res.status === 403) {
        const detail = await errorText(res)
        const creds = this.opts.credentials
        throw this.fail(
          `${this.ref.host} refused ${method} ${new URL(url).pathname}: ${res.status}${detail ? ` (${detail})` : ''}${creds ? ` with the credentials of ${creds.username} from ${creds.from}` : ' without credentials'}.`,
          creds ? 'Check the user name and password, and that the user may push to (or pull from) this repository.' : `Log in (skopeo login ${this.ref.host}, or docker login), or set [oci] credentials in nip's configuration.`,
          { status: res.status, method, url },
          'ERR_NIP_REGISTRY_AUTH',
        )
      }
      if (TRANSIENT(res.status) && !init.once && attempt < this.retries) {
        const wait = parseRetryAfter(res.headers.get('retry-after') ?? undefined) ?? backoffDelay(attempt, this.backoffMs)
        await res.body?.cancel()
        await sleep(Math.min(wait, 30_000), this.opts.signal)
        continue
      }
      return res
    }
  }

  private async exchange(method: string, url: string, headers: Record<string, string>, body?: Buffer): Promise<Response> {
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(new Error(`no answer for ${this.timeoutMs} ms`)), this.timeoutMs)
    const signal = this.opts.signal ? AbortSignal.any([controller.signal, this.opts.signal]) : controller.signal
    let res: Response
    try {
      res = await fetch(url, { method, headers, ...(body ? { body } : {}), signal, redirect: 'follow' })
    } finally {
      clearTimeout(timer)
    }
    // The body has the same idle timeout: readers call touch() on every chunk. Unreferenced, so
    // that a body read to its end (or cancelled) keeps no timer alive.
    const idle = setTimeout(() => controller.abort(new Error(`no byte for ${this.timeoutMs} ms`)), this.timeoutMs)
    idle.unref()
    ;(res as Response & { [TOUCH]?: () => void })[TOUCH] = () => idle.refresh()
    return res
  }

  private networkError(method: string, url: string, e: unknown): NipError {
    const cause = (e as { cause?: { code?: string; message?: string } })?.cause
    const code = cause?.code ?? ''
    const tls = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)
    return this.fail(
      `${method} ${url} failed: ${cause?.message ?? (e as Error)?.message ?? String(e)}${code ? ` (${code})` : ''}.`,
      tls
        ? 'The registry\'s TLS certificate is not trusted: add its CA with NODE_EXTRA_CA_CERTS, or (a test registry on a trusted network only) list the host in [oci] insecure-registries to use plain HTTP.'
        : 'Check that the registry is running and reachable; nip retried with backoff.',
      { method, url, code },
      tls ? 'ERR_NIP_REGISTRY' : 'ERR_NIP_FETCH_FAILED',
    )
  }

  private async answerChallenge(header: string | null, key: string, url: string): Promise<void> {
    const ch = parseChallenge(header)
    const creds = this.opts.credentials
    if (ch?.scheme === 'basic') {
      if (!creds) {
        throw this.fail(`${this.ref.host} asks for a user name and password, and none is configured for it.`, `Log in (skopeo login ${this.ref.host}, or docker login), or set [oci] credentials."${this.ref.host}" in nip's configuration.`, { url }, 'ERR_NIP_REGISTRY_AUTH')
      }
      this.basic = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`
      return
    }
    if (ch?.scheme === 'bearer' && ch.params.realm) {
      const realm = new URL(ch.params.realm)
      if (ch.params.service) realm.searchParams.set('service', ch.params.service)
      for (const s of key.split(' ')) realm.searchParams.append('scope', s)
      const headers: Record<string, string> = {}
      if (creds) headers.Authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`
      let res: Response
      try {
        res = await this.exchange('GET', realm.toString(), headers)
      } catch (e) {
        throw this.networkError('GET', realm.toString(), e)
      }
      if (!res.ok) {
        const detail = await errorText(res)
        throw this.fail(`The token service of ${this.ref.host} refused a token (${res.status}${detail ? `: ${detail}` : ''}) ${creds ? `for ${creds.username} (from ${creds.from})` : 'without credentials'}.`, creds ? 'Check the user name and password.' : `Log in (skopeo login ${this.ref.host}) or set [oci] credentials in nip's configuration.`, { status: res.status, realm: ch.params.realm }, 'ERR_NIP_REGISTRY_AUTH')
      }
      const doc = (await res.json().catch(() => ({}))) as { token?: string; access_token?: string }
      const token = doc.token ?? doc.access_token
      if (!token) throw this.fail(`The token service of ${this.ref.host} answered without a token.`, 'The registry\'s token service is misconfigured.', { realm: ch.params.realm }, 'ERR_NIP_REGISTRY_AUTH')
      this.authorization.set(key, `Bearer ${token}`)
      return
    }
    throw this.fail(`${this.ref.host} asks for authentication nip does not speak (${header ?? 'no WWW-Authenticate header'}).`, 'nip speaks Basic and Bearer token authentication.', { url, challenge: header }, 'ERR_NIP_REGISTRY_AUTH')
  }

  private async unexpected(res: Response, what: string): Promise<NipError> {
    const detail = await errorText(res)
    return this.fail(`${what}: the registry answered ${res.status}${detail ? ` (${detail})` : ''}.`, res.status >= 500 ? 'The registry failed; nip retried. Try again later, or use another registry.' : 'The registry does not accept this request; see its log.', { status: res.status })
  }

  /** `GET /v2/`: reachable, and are the credentials accepted? */
  async ping(): Promise<void> {
    const res = await this.request('GET', '/v2/', { scope: 'pull' })
    await res.body?.cancel()
    if (!res.ok) throw await this.unexpected(res, `${this.base}/v2/`)
  }

  async hasBlob(digest: string, scope: Scope = 'pull'): Promise<boolean> {
    const res = await this.request('HEAD', this.repoPath(`blobs/${digest}`), { scope })
    await res.body?.cancel()
    if (res.status === 200) return true
    if (res.status === 404) return false
    throw await this.unexpected(res, `HEAD blob ${digest}`)
  }

  /**
   * The blob's content, checked against its digest (and size). A body cut short is continued
   * with `Range` from where it stopped. A wrong digest is ERR_NIP_HASH_MISMATCH.
   */
  async getBlob(digest: string, expectSize?: number): Promise<Buffer> {
    const parts: Buffer[] = []
    let got = 0
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = got > 0 ? { Range: `bytes=${got}-` } : {}
      const res = await this.request('GET', this.repoPath(`blobs/${digest}`), { scope: 'pull', headers })
      if (res.status === 404) {
        await res.body?.cancel()
        throw this.fail(`The registry does not hold blob ${digest}.`, 'The artifact is incomplete in this registry; push it again, or use a mirror that holds it.', { digest, status: 404 })
      }
      if (!(res.status === 200 || (res.status === 206 && got > 0))) throw await this.unexpected(res, `GET blob ${digest}`)
      if (res.status === 200 && got > 0) {
        parts.length = 0
        got = 0
      }
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          touch(res)
          parts.push(Buffer.from(chunk))
          got += chunk.byteLength
          this.traffic.received += chunk.byteLength
          if (expectSize !== undefined && got > expectSize) break
        }
      } catch (e) {
        if (attempt >= this.retries) throw this.networkError('GET', this.base + this.repoPath(`blobs/${digest}`), e)
        continue
      }
      break
    }
    const data = Buffer.concat(parts)
    const actual = sha256Digest(data)
    if ((expectSize !== undefined && data.length !== expectSize) || actual !== digest) {
      throw new NipError('ERR_NIP_HASH_MISMATCH', `Blob ${digest} from ${this.ref.url} hashes to ${actual} (${data.length} bytes${expectSize !== undefined ? `, expected ${expectSize}` : ''}).`, {
        hint: 'The registry (or something between it and nip) served wrong content; nothing was grafted. Try another mirror.',
        data: { registry: this.ref.url, expected: digest, actual, size: data.length },
      })
    }
    return data
  }

  /**
   * Makes the blob present in this repository: nothing when it already is, a cross-repository
   * mount from `mountFrom` when the registry offers one, else an upload (one PUT up to the chunk
   * size, else PATCH chunks resumed from the registry's `Range` after a failure).
   */
  async putBlob(data: Buffer, opts: { digest?: string; mountFrom?: string[] } = {}): Promise<'present' | 'mounted' | 'uploaded'> {
    const digest = opts.digest ?? sha256Digest(data)
    if (await this.hasBlob(digest, 'pull,push')) {
      this.traffic.present++
      return 'present'
    }
    let location: string | undefined
    for (const from of opts.mountFrom ?? []) {
      if (from === this.ref.repository) continue
      const q = new URLSearchParams({ mount: digest, from })
      const res = await this.request('POST', this.repoPath(`blobs/uploads/?${q}`), { scope: 'pull,push', extraScopes: [from] })
      await res.body?.cancel()
      if (res.status === 201) {
        this.traffic.mounted++
        return 'mounted'
      }
      if (res.status === 202 && res.headers.get('location')) {
        location = res.headers.get('location')!
        break
      }
    }
    for (let session = 0; ; session++) {
      try {
        location ??= await this.startUpload()
        await this.upload(location, data, digest)
        this.traffic.uploaded++
        return 'uploaded'
      } catch (e) {
        // An upload session the registry forgot (404) starts over; anything else is final.
        if (!(e instanceof NipError && e.data?.restart === true) || session >= this.retries) throw e
        location = undefined
      }
    }
  }

  private async startUpload(): Promise<string> {
    const res = await this.request('POST', this.repoPath('blobs/uploads/'), { scope: 'pull,push', headers: { 'Content-Length': '0' } })
    await res.body?.cancel()
    const loc = res.headers.get('location')
    if (res.status !== 202 || !loc) throw await this.unexpected(res, 'Starting an upload')
    return loc
  }

  private absolute(location: string): string {
    return new URL(location, this.base).toString()
  }

  private withDigest(location: string, digest: string): string {
    const u = new URL(location, this.base)
    u.searchParams.set('digest', digest)
    return u.toString()
  }

  private async upload(location: string, data: Buffer, digest: string): Promise<void> {
    let loc = location
    if (data.length <= this.chunkSize) {
      const res = await this.request('PUT', this.withDigest(loc, digest), { scope: 'pull,push', body: data, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(data.length) } })
      await res.body?.cancel()
      if (res.status === 404) throw this.restart(res.status)
      if (res.status !== 201) throw await this.unexpected(res, `Uploading blob ${digest}`)
      this.traffic.sent += data.length
      return
    }
    let offset = 0
    let resumes = 0
    while (offset < data.length) {
      const end = Math.min(offset + this.chunkSize, data.length)
      const chunk = data.subarray(offset, end)
      let res: Response | undefined
      try {
        res = await this.request('PATCH', this.absolute(loc), { scope: 'pull,push', once: true, body: Buffer.from(chunk), headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${end - 1}`, 'Content-Length': String(chunk.length) } })
      } catch (e) {
        if (!(e instanceof NipError) || e.code !== 'ERR_NIP_FETCH_FAILED' || resumes >= this.retries) throw e
      }
      if (res && res.status === 202) {
        await res.body?.cancel()
        this.traffic.sent += chunk.length
        loc = res.headers.get('location') ?? loc
        offset = end
        continue
      }
      if (res?.status === 404) throw this.restart(404)
      if (res && !TRANSIENT(res.status) && res.status !== 416) throw await this.unexpected(res, `Uploading a chunk of blob ${digest}`)
      await res?.body?.cancel()
      // Ask the registry how much it has, and go on from there.
      if (++resumes > this.retries) throw this.fail(`Uploading blob ${digest} failed ${resumes} times.`, 'The registry keeps failing; try again later.', { digest })
      await sleep(backoffDelay(resumes - 1, this.backoffMs), this.opts.signal)
      const state = await this.request('GET', this.absolute(loc), { scope: 'pull,push' })
      await state.body?.cancel()
      if (state.status === 404) throw this.restart(404)
      if (state.status !== 204) throw await this.unexpected(state, `Asking the state of the upload of ${digest}`)
      loc = state.headers.get('location') ?? loc
      const m = /^(?:bytes=)?0-(\d+)$/.exec(state.headers.get('range') ?? '')
      // Distribution answers `0-0` for an empty upload as well as for one byte; nip's first
      // chunk is never one byte, so `0-0` means nothing arrived.
      offset = m && m[1] !== '0' ? Number(m[1]) + 1 : 0
      if (offset > data.length) throw this.restart(416)
    }
    const res = await this.request('PUT', this.withDigest(loc, digest), { scope: 'pull,push', headers: { 'Content-Length': '0' } })
    await res.body?.cancel()
    if (res.status === 404) throw this.restart(404)
    if (res.status !== 201) throw await this.unexpected(res, `Completing the upload of blob ${digest}`)
  }

  private restart(status: number): NipError {
    return this.fail('The registry lost the upload session.', 'nip starts the upload again.', { status, restart: true })
  }

  /** PUT a manifest under a tag or its digest. Returns the manifest's digest. */
  async putManifest(reference: string, body: Buffer, mediaType: string): Promise<string> {
    const res = await this.request('PUT', this.repoPath(`manifests/${reference}`), { scope: 'pull,push', body, headers: { 'Content-Type': mediaType } })
    await res.body?.cancel()
    if (res.status !== 201) throw await this.unexpected(res, `Storing manifest ${reference}`)
    return sha256Digest(body)
  }

  /** The manifest under a tag or digest, or null when absent. Asked by digest, it is verified. */
  async getManifest(reference: string): Promise<{ body: Buffer; mediaType: string; digest: string } | null> {
    const res = await this.request('GET', this.repoPath(`manifests/${reference}`), { scope: 'pull', headers: { Accept: ACCEPT_MANIFESTS } })
    if (res.status === 404) {
      await res.body?.cancel()
      return null
    }
    if (res.status !== 200) throw await this.unexpected(res, `GET manifest ${reference}`)
    const parts: Buffer[] = []
    let size = 0
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      touch(res)
      size += chunk.byteLength
      if (size > MAX_MANIFEST) {
        await res.body?.cancel().catch(() => undefined)
        throw this.fail(`Manifest ${reference} is larger than ${MAX_MANIFEST} bytes.`, 'Registries cap manifests at 4 MiB; this one is not what nip expects.', { reference })
      }
      parts.push(Buffer.from(chunk))
    }
    const body = Buffer.concat(parts)
    const digest = sha256Digest(body)
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new NipError('ERR_NIP_HASH_MISMATCH', `Manifest ${reference} from ${this.ref.url} hashes to ${digest}.`, { hint: 'The registry served a wrong manifest; nothing was grafted.', data: { registry: this.ref.url, expected: reference, actual: digest } })
    }
    return { body, mediaType: (res.headers.get('content-type') ?? '').split(';')[0], digest }
  }

  async deleteManifest(digest: string): Promise<void> {
    const res = await this.request('DELETE', this.repoPath(`manifests/${digest}`), { scope: 'pull,push' })
    await res.body?.cancel()
    if (res.status !== 202 && res.status !== 404) throw await this.unexpected(res, `DELETE manifest ${digest}`)
  }

  /** Every tag, following `Link: <…>; rel="next"` pages. */
  async listTags(): Promise<string[]> {
    const tags: string[] = []
    let next: string | undefined = this.repoPath('tags/list?n=1000')
    while (next) {
      const res: Response = await this.request('GET', next, { scope: 'pull' })
      if (res.status === 404) {
        await res.body?.cancel()
        return tags
      }
      if (res.status !== 200) throw await this.unexpected(res, 'Listing tags')
      const doc = (await res.json()) as { tags?: string[] | null }
      tags.push(...(doc.tags ?? []))
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.get('link') ?? '')
      next = link ? link[1] : undefined
    }
    return tags
  }
}

async function errorText(res: Response): Promise<string> {
  try {
    const text = await res.text()
    const doc = JSON.parse(text) as { errors?: { code?: string; message?: string }[] }
    const e = doc.errors?.[0]
    return e ? [e.code, e.message].filter(Boolean).join(': ') : text.slice(0, 200)
  } catch {
    return ''
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(t)
      reject(signal.reason)
    }, { once: true })
  })
}
