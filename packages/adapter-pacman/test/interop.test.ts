/**
 * Interop with the real pacman tools: packages built by makepkg, repositories made by repo-add
 * (one signed), served over HTTP on 127.0.0.1; nip's result compared with `pacman -U --root`.
 */
import { strict as assert } from 'node:assert'
import { execFileSync } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { isNipError } from '@nip/core'
import { listTree, openNip, tempRoot } from '@nip/testing'
import { createAdapter } from '../src/index.js'
import { mapMemberPath } from '../src/memberPath.js'
import { remapTarget } from '../src/packagePayload.js'
import { buildRealRepos, killAgent, missingTools, type RealRepos } from './helpers/realRepo.js'

let repos: RealRepos
let server: Server
let base: string
const roots: string[] = []

function serve(dir: string): Promise<Server> {
  const s = createServer((req, res) => {
    const file = path.join(dir, decodeURIComponent(new URL(req.url!, 'http://x').pathname))
    if (!file.startsWith(dir) || !existsSync(file) || !lstatSync(file).isFile()) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-length': String(lstatSync(file).size) }).end(readFileSync(file))
  })
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)))
}

async function freshRoot(): Promise<string> {
  const r = await tempRoot('nip-pacman-root-')
  roots.push(r)
  return r
}

function table(repo: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { 'use-host-config': false, architecture: 'x86_64', repositories: [{ name: 'niptest', servers: [`${base}/${repo}`], siglevel: extra.siglevel ?? 'Never' }], ...extra }
}

async function open(root: string, t: Record<string, unknown>) {
  return openNip(root, [createAdapter()], { sources: [{ id: 'pacman', enabled: true, priority: 10, table: t }] })
}

/** What pacman -U --root put in its root, mapped to the Gobo layout: path → description. */
function pacmanTree(root: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const rel of listTree(root)) {
    if (rel === 'var' || rel.startsWith('var/lib/pacman') || rel === 'var/lib' || rel === 'var/cache' || rel.startsWith('var/cache')) continue
    const mapped = mapMemberPath(rel)
    if (mapped === null || mapped === 'Settings') continue
    out.set(mapped, describeEntry(path.join(root, rel), (t) => remapTarget(rel, t.startsWith('/') ? path.relative(path.dirname('/' + rel), t) : t, mapped)))
  }
  return out
}

/** The same for a grafted program (version tree plus its Settings). */
function nipTree(root: string, program: string): Map<string, string> {
  const out = new Map<string, string>()
  const dir = path.join(root, 'Programs', program)
  const version = readlinkSync(path.join(dir, 'Current'))
  for (const rel of listTree(path.join(dir, version))) out.set(rel, describeEntry(path.join(dir, version, rel), (t) => t))
  if (existsSync(path.join(dir, 'Settings'))) for (const rel of listTree(path.join(dir, 'Settings'))) out.set(`Settings/${rel}`, describeEntry(path.join(dir, 'Settings', rel), (t) => t))
  return out
}

function describeEntry(abs: string, target: (t: string) => string): string {
  const st = lstatSync(abs)
  if (st.isSymbolicLink()) return `link -> ${target(readlinkSync(abs))}`
  if (st.isDirectory()) return 'dir'
  // CAS blobs are read-only hardlinks, so the write bits are compared as pacman would read them
  // back from the package: only the read and execute bits are checked on disk.
  return `file ${(st.mode & 0o555).toString(8)} ${readFileSync(abs).toString('base64').length}:${execFileSync('sha256sum', [abs], { encoding: 'utf8' }).slice(0, 16)}`
}

function pacmanInstall(files: string[]): string {
  const r = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim()
  roots.push(r)
  mkdirSync(path.join(r, 'var/lib/pacman'), { recursive: true })
  const conf = path.join(r, 'pacman.conf')
  writeFileSync(conf, '[options]\nSigLevel = Never\n')
  execFileSync('pacman', ['-U', '--root', r, '--dbpath', path.join(r, 'var/lib/pacman'), '--config', conf, '--noconfirm', '--noscriptlet', '--nodeps', '--nodeps', ...files], { stdio: 'ignore' })
  rmSync(conf)
  return r
}

async function expectRefused(root: string, t: Record<string, unknown>, code: string): Promise<void> {
  const { nip } = await open(root, t)
  try {
    await assert.rejects(nip.install(['nip-hello'], { yes: true } as never), (e: unknown) => {
      assert.ok(isNipError(e), String(e))
      // Database refusals happen while resolving, and the dispatcher reports them inside its
      // ERR_NIP_NOT_FOUND (data.tried); package refusals surface as they are.
      const codes = [e.code, ...((e.data.tried as { outcome: string }[] | undefined) ?? []).map((t) => t.outcome.split(':')[0])]
      assert.ok(codes.includes(code as never), `${code} expected, got ${e.code}: ${e.message}`)
      return true
    })
    assert.deepEqual(nip.list(), [])
    assert.deepEqual(existsSync(path.join(root, 'Programs')) ? readdirSync(path.join(root, 'Programs')) : [], [])
  } finally {
    nip.close?.()
  }
}

describe('pacman interop (makepkg, repo-add, pacman -U)', function () {
  this.timeout(120000)
  before(async function () {
    const missing = missingTools()
    if (missing) {
      console.log(`  (skipped: ${missing})`)
      this.skip()
    }
    repos = buildRealRepos()
    const pub = path.join(repos.dir, 'pub')
    mkdirSync(pub)
    cpSync(path.join(repos.dir, 'plain'), path.join(pub, 'plain'), { recursive: true, dereference: true })
    cpSync(path.join(repos.dir, 'signed'), path.join(pub, 'signed'), { recursive: true, dereference: true })
    // A tampered package: same size, one byte changed, database untouched.
    cpSync(path.join(pub, 'signed'), path.join(pub, 'tampered-pkg'), { recursive: true })
    const victim = path.join(pub, 'tampered-pkg', path.basename(repos.packages['nip-hello']))
    const bytes = readFileSync(victim)
    bytes[bytes.length - 100] ^= 0xff
    writeFileSync(victim, bytes)
    // A tampered database: a description changed after signing.
    cpSync(path.join(pub, 'signed'), path.join(pub, 'tampered-db'), { recursive: true })
    const db = path.join(pub, 'tampered-db', 'niptest.db')
    const work = path.join(repos.dir, 'dbwork')
    mkdirSync(work)
    execFileSync('bsdtar', ['-xf', db, '-C', work])
    const desc = path.join(work, 'nip-hello-1.2-3', 'desc')
    writeFileSync(desc, readFileSync(desc, 'utf8').replace('Says hello', 'Says evil'))
    execFileSync('sh', ['-c', `cd '${work}' && bsdtar -czf '${db}' *`])
    server = await serve(pub)
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => {
    server?.close()
    if (repos) {
      killAgent(repos.gnupgHome)
      rmSync(repos.dir, { recursive: true, force: true })
    }
    for (const r of roots) rmSync(r, { recursive: true, force: true })
  })

  it('grafts the same files, modes and link targets as pacman -U --root puts in its root', async () => {
    const root = await freshRoot()
    const { nip, reporter } = await open(root, table('plain'))
    const result = await nip.install(['nip-hello'], { yes: true } as never)
    assert.deepEqual(nip.list().map((p) => `${p.name} ${p.version}`).sort(), ['nip-hello 1.2-3', 'nip-libgreet 1.2-3'])
    for (const name of ['nip-hello', 'nip-libgreet']) {
      const pacmanRoot = pacmanInstall([repos.packages[name]])
      assert.deepEqual(new Map([...nipTree(root, name)].sort()), new Map([...pacmanTree(pacmanRoot)].sort()), name)
    }
    // The absolute link /etc/hello.conf follows the file into Settings (beside the versions), and
    // resolves there also through the link farm: doctor finds no broken link.
    assert.equal(readlinkSync(path.join(root, 'Programs/nip-hello/1.2-3/share/nip-hello/hello.conf')), '../../../Settings/hello.conf')
    assert.equal(readFileSync(path.join(root, 'System/Links/Shared/nip-hello/hello.conf'), 'utf8'), readFileSync(path.join(root, 'Programs/nip-hello/Settings/hello.conf'), 'utf8'))
    assert.equal((await nip.doctor()).healthy, true)
    assert.deepEqual(reporter.warnings().filter((w) => /scriptlet/.test(w.code)).map((w) => w.code), ['scriptlet-not-run'])
    assert.ok(result)
  })

  it('runs the grafted program from System/Links/Executables', async () => {
    const root = await freshRoot()
    const { nip } = await open(root, table('plain'))
    await nip.install(['nip-hello'], { yes: true } as never)
    assert.equal(execFileSync(path.join(root, 'System/Links/Executables/hello'), { encoding: 'utf8' }), 'hello from nip\n')
    assert.equal(execFileSync(path.join(root, 'System/Links/Executables/hello-link'), { encoding: 'utf8' }), 'hello from nip\n')
  })

  it('installs from the signed repository under SigLevel Required', async () => {
    const root = await freshRoot()
    const { nip } = await open(root, table('signed', { siglevel: 'Required', keyring: repos.keyring }))
    await nip.install(['nip-hello'], { yes: true } as never)
    assert.deepEqual(nip.list().map((p) => p.name).sort(), ['nip-hello', 'nip-libgreet'])
  })

  it('installs a local package file as pacman -U, taking its dependencies from the repository', async () => {
    const root = await freshRoot()
    const local = path.join(repos.dir, 'local')
    mkdirSync(local, { recursive: true })
    const file = path.join(local, path.basename(repos.packages['nip-hello']))
    copyFileSync(repos.packages['nip-hello'], file)
    const { nip } = await open(root, table('plain'))
    await nip.install([file], { yes: true } as never)
    assert.deepEqual(nip.list().map((p) => `${p.name} ${p.version}`).sort(), ['nip-hello 1.2-3', 'nip-libgreet 1.2-3'])
  })

  it('refuses a tampered package (ERR_NIP_HASH_MISMATCH), grafting nothing', async () => {
    await expectRefused(await freshRoot(), table('tampered-pkg', { siglevel: 'Required', keyring: repos.keyring }), 'ERR_NIP_HASH_MISMATCH')
  })

  it('refuses a tampered database (ERR_NIP_SIGNATURE_INVALID), grafting nothing', async () => {
    await expectRefused(await freshRoot(), table('tampered-db', { siglevel: 'Required', keyring: repos.keyring }), 'ERR_NIP_SIGNATURE_INVALID')
  })

  it('refuses signatures by a key not in the keyring (ERR_NIP_KEY_UNKNOWN), grafting nothing', async () => {
    await expectRefused(await freshRoot(), table('signed', { siglevel: 'Required', keyring: repos.wrongKeyring }), 'ERR_NIP_KEY_UNKNOWN')
  })

  it('refuses a missing signature under Required (ERR_NIP_SIGNATURE_MISSING), grafting nothing', async () => {
    await expectRefused(await freshRoot(), table('plain', { siglevel: 'Required', keyring: repos.keyring }), 'ERR_NIP_SIGNATURE_MISSING')
  })
})
