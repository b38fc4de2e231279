/**
 * A real registry for the tests: Debian's `docker-registry` (CNCF Distribution) on 127.0.0.1 with
 * a filesystem backend in a temporary directory, optionally with htpasswd (bcrypt) auth. Also a
 * small HTTP proxy in front of it that can corrupt, cut or fail chosen requests, or demand Bearer
 * tokens, to test the client's answers to misbehaving registries.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createPrivateKey, sign, X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

export function which(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })
}

export interface Registry {
  host: string
  dir: string
  stop(): Promise<void>
}

/**
 * A token service for Distribution's `auth: token`: Basic credentials in, a JWT (ES256, signed by
 * a self-signed certificate made with openssl and named in the registry's rootcertbundle) out,
 * granting the scopes asked for.
 */
async function startTokenService(dir: string, users: Record<string, string>): Promise<{ realm: string; cert: string; close(): Promise<void> }> {
  const key = path.join(dir, 'token.key')
  const cert = path.join(dir, 'token.crt')
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=nip-test-token'])
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`)
  const der = new X509Certificate(readFileSync(cert)).raw.toString('base64')
  const privateKey = createPrivateKey(readFileSync(key))
  const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    const [user, pass] = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString().split(':')
    if (!user || users[user] !== pass) {
      res.writeHead(401, { 'content-type': 'application/json' })
      return res.end('{"details":"invalid credentials"}')
    }
    const access = u.searchParams.getAll('scope').map((sc) => {
      const [type, name, actions] = sc.split(':')
      return { type, name, actions: actions.split(',') }
    })
    const now = Math.floor(Date.now() / 1000)
    const claims = { iss: 'nip-test-issuer', sub: user, aud: u.searchParams.get('service'), exp: now + 300, nbf: now - 10, iat: now, jti: String(Math.random()), access }
    const signing = `${b64({ typ: 'JWT', alg: 'ES256', x5c: [der] })}.${b64(claims)}`
    const sig = sign('sha256', Buffer.from(signing), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ token: `${signing}.${sig}` }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { realm: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/token`, cert, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

export async function startRegistry(opts: { users?: Record<string, string>; tokenUsers?: Record<string, string> } = {}): Promise<Registry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nip-registry-'))
  const port = await freePort()
  let auth = ''
  let tokens: Awaited<ReturnType<typeof startTokenService>> | undefined
  if (opts.tokenUsers) {
    tokens = await startTokenService(dir, opts.tokenUsers)
    auth = `auth:\n  token:\n    realm: ${tokens.realm}\n    service: nip-test\n    issuer: nip-test-issuer\n    rootcertbundle: ${tokens.cert}\n`
  }
  if (opts.users) {
    const file = path.join(dir, 'htpasswd')
    writeFileSync(file, '')
    for (const [user, pass] of Object.entries(opts.users)) {
      const r = spawnSync('htpasswd', ['-B', '-b', file, user, pass])
      if (r.status !== 0) throw new Error(`htpasswd failed: ${r.stderr}`)
    }
    auth = `auth:\n  htpasswd:\n    realm: nip-test\n    path: ${file}\n`
  }
  writeFileSync(path.join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${auth}`)
  const child: ChildProcess = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += String(d)))
  const host = `127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`http://${host}/v2/`)
      await res.body?.cancel()
      if (res.status === 200 || res.status === 401) break
    } catch {
      // not up yet
    }
    if (i > 100 || child.exitCode !== null) {
      await tokens?.close()
      throw new Error(`docker-registry did not start: ${stderr}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    host,
    dir,
    async stop() {
      if (child.exitCode === null) {
        const done = new Promise((r) => child.once('exit', r))
        child.kill('SIGTERM')
        await done
      }
      await tokens?.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface ProxyRule {
  /** Which requests: method and a test on the path. */
  method?: string
  path?: RegExp
  /** What to do: answer with a status, flip a byte of the response body, drop the connection, or pass on only the first half of the request body. */
  action: 'fail500' | 'corrupt' | 'drop' | 'truncate'
  /** How many times (default: always). */
  times?: number
}

export interface Proxy {
  host: string
  rules: ProxyRule[]
  /** Requests seen, as "METHOD path". */
  log: string[]
  /** Bytes of response bodies passed on. */
  served: number
  stop(): Promise<void>
}

/**
 * A proxy to `upstream` applying `rules`. With `bearer`, it demands `Authorization: Bearer <token>`
 * (challenging with a realm on itself at /token, which hands the token to `user`:`password`)
 * and forwards without it, as a registry with a token service does.
 */
export async function startProxy(upstream: string, opts: { rules?: ProxyRule[]; bearer?: { user: string; password: string; token: string } } = {}): Promise<Proxy> {
  const rules = opts.rules ?? []
  const log: string[] = []
  const state = { served: 0 }
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/'
    log.push(`${req.method} ${url}`)
    const b = opts.bearer
    if (b) {
      if (url.startsWith('/token')) {
        const want = `Basic ${Buffer.from(`${b.user}:${b.password}`).toString('base64')}`
        if (req.headers.authorization !== want) {
          res.writeHead(401, { 'content-type': 'application/json' })
          return res.end('{"details":"bad credentials"}')
        }
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end(JSON.stringify({ token: b.token }))
      }
      if (req.headers.authorization !== `Bearer ${b.token}`) {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${proxy.host}/token",service="nip-test",scope="repository:x:pull"`, 'content-type': 'application/json' })
        return res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')
      }
    }
    const rule = rules.find((r) => (r.times === undefined || r.times > 0) && (!r.method || r.method === req.method) && (!r.path || r.path.test(url)))
    if (rule && rule.times !== undefined) rule.times--
    if (rule?.action === 'fail500') {
      req.resume()
      res.writeHead(500, { 'content-type': 'application/json' })
      return res.end('{"errors":[{"code":"UNKNOWN","message":"injected failure"}]}')
    }
    if (rule?.action === 'drop') {
      req.resume()
      return req.socket.destroy()
    }
    const headers = { ...req.headers }
    if (b) delete headers.authorization
    const up = http.request({ host: '127.0.0.1', port: Number(upstream.split(':')[1]), method: req.method, path: url, headers }, (ur) => {
      const out = { ...ur.headers }
      if (out.location && out.location.startsWith(`http://${upstream}`)) out.location = out.location.replace(`http://${upstream}`, `http://${proxy.host}`)
      res.writeHead(ur.statusCode ?? 502, out)
      let first = true
      ur.on('data', (chunk: Buffer) => {
        if (rule?.action === 'corrupt' && first && chunk.length > 0) {
          chunk = Buffer.from(chunk)
          chunk[0] ^= 0xff
        }
        first = false
        state.served += chunk.length
        res.write(chunk)
      })
      ur.on('end', () => res.end())
    })
    up.on('error', () => res.destroy())
    if (rule?.action === 'truncate') {
      const parts: Buffer[] = []
      req.on('data', (d: Buffer) => parts.push(d))
      req.on('end', () => {
        const body = Buffer.concat(parts)
        const half = body.subarray(0, Math.floor(body.length / 2))
        up.setHeader('content-length', String(half.length))
        up.end(half)
      })
      return
    }
    req.pipe(up)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const proxy: Proxy = {
    host: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    rules,
    log,
    get served() {
      return state.served
    },
    async stop() {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    },
  }
  return proxy
}
