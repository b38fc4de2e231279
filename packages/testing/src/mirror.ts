/**
 * A loopback HTTP mirror for download tests (node:http on 127.0.0.1, ephemeral port). It serves
 * files with ETag/Last-Modified, Range (honouring If-Range) and conditional requests
 * (If-None-Match / If-Modified-Since → 304), follows a route table that tests may change while
 * it runs, injects faults one request at a time, and logs every request it sees.
 */
import { createHash } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** What goes wrong with one response. */
export type MirrorFault =
  /** Headers and `after` bytes (default half), then the connection is reset. */
  | { type: 'reset'; after?: number }
  /** Full Content-Length, `after` bytes (default half), then the connection is closed. */
  | { type: 'truncate'; after?: number }
  /** This status instead of the file (Retry-After when given). */
  | { type: 'status'; status: number; retryAfter?: string }
  /** Headers and `after` bytes (default 0), then silence until the client gives up. */
  | { type: 'stall'; after?: number }
  /** Same length, different bytes (each byte inverted). */
  | { type: 'corrupt' }
  /** Answers a Range request with the whole file (200). */
  | { type: 'ignore-range' }

export interface MirrorFileRoute {
  body: Buffer | string
  /** Default: a strong ETag derived from the content; false sends none. */
  etag?: string | false
  lastModified?: string
  /** Default true. */
  ranges?: boolean
  /** Consumed one per request, in order; afterwards the file is served normally. */
  faults?: MirrorFault[]
  /** Applied to every request (after `faults` is exhausted). */
  fault?: MirrorFault
  headers?: Record<string, string>
}

export interface MirrorRedirectRoute {
  /** A path on this mirror or an absolute URL. */
  redirect: string
  status?: 301 | 302 | 303 | 307 | 308
}

export type MirrorRoute = MirrorFileRoute | MirrorRedirectRoute

export interface MirrorRequest {
  method: string
  path: string
  headers: http.IncomingHttpHeaders
  status: number
}

export interface Mirror {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:41234 */
  readonly url: string
  /** The full URL of `path` ("/a/b"). */
  urlOf(path: string): string
  /** Every request seen, in order. */
  readonly requests: MirrorRequest[]
  /** Requests for `path`. */
  requestsFor(path: string): MirrorRequest[]
  setRoute(path: string, route: MirrorRoute | undefined): void
  close(): Promise<void>
}

export async function startMirror(routes: Record<string, MirrorRoute> = {}): Promise<Mirror> {
  const table = new Map(Object.entries(routes))
  const requests: MirrorRequest[] = []
  const sockets = new Set<Socket>()
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const log: MirrorRequest = { method: req.method ?? 'GET', path, headers: req.headers, status: 0 }
    requests.push(log)
    const send = (status: number, headers: Record<string, string | number> = {}, body?: Buffer): void => {
      log.status = status
      res.writeHead(status, headers)
      res.end(body)
    }
    const route = table.get(path)
    if (!route) return send(404, { 'content-length': 9 }, Buffer.from('not found'))
    if ('redirect' in route) {
      const location = route.redirect.startsWith('/') ? `http://127.0.0.1:${port()}${route.redirect}` : route.redirect
      return send(route.status ?? 302, { location, 'content-length': 0 })
    }
    serveFile(route, req, res, log, send)
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (): number => (server.address() as AddressInfo).port
  const base = `http://127.0.0.1:${port()}`
  return {
    url: base,
    urlOf: (p) => base + p,
    requests,
    requestsFor: (p) => requests.filter((r) => r.path === p),
    setRoute(p, r) {
      if (r) table.set(p, r)
      else table.delete(p)
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function serveFile(
  route: MirrorFileRoute,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  log: MirrorRequest,
  send: (status: number, headers?: Record<string, string | number>, body?: Buffer) => void,
): void {
  const body = Buffer.isBuffer(route.body) ? route.body : Buffer.from(route.body)
  const etag = route.etag === false ? undefined : (route.etag ?? `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`)
  const fault = route.faults?.length ? route.faults.shift() : route.fault
  const validators: Record<string, string> = { ...(etag ? { etag } : {}), ...(route.lastModified ? { 'last-modified': route.lastModified } : {}) }
  if (fault?.type === 'status') {
    return send(fault.status, { 'content-length': 0, ...(fault.retryAfter ? { 'retry-after': fault.retryAfter } : {}) })
  }
  const inm = req.headers['if-none-match']
  const ims = req.headers['if-modified-since']
  if ((inm && etag && inm === etag) || (!inm && ims && route.lastModified && ims === route.lastModified)) {
    return send(304, validators)
  }
  let status = 200
  let payload = body
  const extra: Record<string, string | number> = { ...validators, ...(route.headers ?? {}), 'accept-ranges': route.ranges === false ? 'none' : 'bytes' }
  const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''))
  const ifRange = req.headers['if-range']
  const rangeApplies = range && route.ranges !== false && fault?.type !== 'ignore-range' && (!ifRange || ifRange === etag || ifRange === route.lastModified)
  if (range && rangeApplies) {
    const start = Number(range[1])
    if (start >= body.length) return send(416, { 'content-range': `bytes */${body.length}`, 'content-length': 0 })
    status = 206
    payload = body.subarray(start)
    extra['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`
  }
  if (fault?.type === 'corrupt') payload = Buffer.from(payload.map((b) => b ^ 0xff))
  log.status = status
  res.writeHead(status, { ...extra, 'content-length': payload.length })
  if (fault?.type === 'reset' || fault?.type === 'truncate' || fault?.type === 'stall') {
    const after = fault.after ?? (fault.type === 'stall' ? 0 : Math.floor(payload.length / 2))
    res.flushHeaders()
    res.write(payload.subarray(0, after), () => {
      if (fault.type === 'reset') setTimeout(() => req.socket.resetAndDestroy(), 20)
      else if (fault.type === 'truncate') setTimeout(() => req.socket.end(), 20)
      // stall: nothing more; close() destroys the socket
    })
    return
  }
  res.end(payload)
}
