/**
 * One HTTP(S) GET with redirects, on node:http / node:https.
 *
 * Why node:http and not the global fetch: fetch (undici) transparently decodes
 * `Content-Encoding: gzip`, so a mirror that serves `foo.tar.gz` with that header would hand us
 * bytes whose hash is not the published one; node:http gives the bytes on the wire. It also
 * gives a true idle timeout (the socket's, reset by every byte) and lets a short body be told
 * apart from a complete one. We ask for `Accept-Encoding: identity` anyway.
 */
import http from 'node:http'
import https from 'node:https'
import type { IncomingMessage } from 'node:http'
import { AttemptError } from './attemptError.js'

export const MAX_REDIRECTS = 10

export interface HttpGetOptions {
  headers: Record<string, string>
  /** Idle timeout: no byte for this long (while connecting, waiting or reading) aborts. */
  timeoutMs: number
  signal?: AbortSignal
}

export interface HttpResponse {
  /** The URL that answered (after redirects). */
  url: string
  status: number
  headers: http.IncomingHttpHeaders
  body: IncomingMessage
  /** True once the idle timeout fired; the body then fails and the failure is a stall. */
  stalled(): boolean
}

/**
 * GET `url`, following up to 10 redirects (301/302/303/307/308 to http/https only; a URL seen
 * twice is a loop). Resolves with the first non-redirect response, body unread. Range and
 * conditional headers are re-sent to the redirect target, which is where the content lives.
 */
export async function httpGet(url: string, opts: HttpGetOptions): Promise<HttpResponse> {
  const seen = new Set<string>()
  let current = url
  for (let hop = 0; ; hop++) {
    seen.add(current)
    const res = await requestOnce(current, opts)
    if (![301, 302, 303, 307, 308].includes(res.status)) return res
    res.body.resume() // discard the redirect's body so the socket can be reused
    const location = res.headers.location
    if (!location) {
      throw new AttemptError('bad-redirect', `HTTP ${res.status} without a Location header`, { retryable: false, status: res.status })
    }
    let next: string
    try {
      next = new URL(location, current).toString()
    } catch {
      throw new AttemptError('bad-redirect', `HTTP ${res.status} to an invalid Location ${JSON.stringify(location)}`, { retryable: false, status: res.status })
    }
    if (!/^https?:$/.test(new URL(next).protocol)) {
      throw new AttemptError('bad-redirect', `redirect to a non-HTTP URL ${next}`, { retryable: false, status: res.status })
    }
    if (seen.has(next)) throw new AttemptError('redirect-loop', `redirect loop back to ${next}`, { retryable: false, status: res.status })
    if (hop + 1 >= MAX_REDIRECTS) {
      throw new AttemptError('too-many-redirects', `more than ${MAX_REDIRECTS} redirects`, { retryable: false, status: res.status })
    }
    current = next
  }
}

function requestOnce(url: string, opts: HttpGetOptions): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const parsed = new URL(url)
    const mod = parsed.protocol === 'https:' ? https : http
    let stalled = false
    const req = mod.request(parsed, {
      method: 'GET',
      headers: { 'accept-encoding': 'identity', 'user-agent': 'nip', ...opts.headers },
      signal: opts.signal,
    })
    req.setTimeout(opts.timeoutMs, () => {
      stalled = true
      req.destroy(new AttemptError('stalled', `no data for ${opts.timeoutMs} ms`, { retryable: true }))
    })
    req.on('error', (e) => reject(classifyNetworkError(e, stalled, opts.timeoutMs)))
    req.on('response', (body) => {
      resolve({ url, status: body.statusCode ?? 0, headers: body.headers, body, stalled: () => stalled })
    })
    req.end()
  })
}

/** A socket-level failure as an AttemptError (DNS failures go to the next mirror at once). */
export function classifyNetworkError(e: unknown, stalled: boolean, timeoutMs: number): unknown {
  if (e instanceof AttemptError) return e
  const err = e as NodeJS.ErrnoException
  if (err?.name === 'AbortError') return e
  if (stalled) return new AttemptError('stalled', `no data for ${timeoutMs} ms`, { retryable: true, cause: e })
  if (err?.code === 'ENOTFOUND' || err?.code === 'EAI_NONAME') {
    return new AttemptError('network', `host not found (${err.code})`, { retryable: false, cause: e })
  }
  if (err?.code === 'ECONNRESET' || err?.message === 'aborted') {
    return new AttemptError('reset', 'connection reset', { retryable: true, cause: e })
  }
  return new AttemptError('network', `${err?.code ?? 'error'}: ${err?.message ?? String(e)}`, { retryable: true, cause: e })
}
