/**
 * The pacman install path against a flaky mirror: the signed repository made by makepkg and
 * repo-add, served by two loopback mirrors — the first with a fault schedule, the second good.
 * Shows that core's downloader retries, resumes with Range, honours Retry-After and fails over,
 * that nothing partial or wrong stays in the cache, and that when every mirror is bad the
 * install fails with an error naming each URL and grafts nothing.
 */
import { strict as assert } from 'node:assert'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import { checkConsistency, expectEveryMirrorRefused, listTree, openNip, startMirror, tempRoot, type Mirror, type MirrorFault } from '@nip/testing'
import { createAdapter } from '../src/index.js'
import { buildRealRepos, killAgent, missingTools, type RealRepos } from './helpers/realRepo.js'

let repos: RealRepos
/** The signed repository's files by name (niptest.db is repo-add's link, dereferenced). */
let files: Map<string, Buffer>
let hello: string
let libgreet: string
let conflicter: string
const roots: string[] = []
const mirrors: Mirror[] = []

/** A mirror serving every repository file under /repo, with `faults` for some of them. */
async function mirrorWith(faults: Record<string, { faults?: MirrorFault[]; fault?: MirrorFault }> = {}): Promise<Mirror> {
  const routes = Object.fromEntries([...files].map(([name, body]) => [`/repo/${name}`, { body, ...faults[name] }]))
  const m = await startMirror(routes)
  mirrors.push(m)
  return m
}

async function install(mirrorList: Mirror[]) {
  const root = await tempRoot('nip-pacman-flaky-')
  roots.push(root)
  const table = {
    'use-host-config': false,
    architecture: 'x86_64',
    keyring: repos.keyring,
    retries: 2,
    timeout: 0.4,
    repositories: [{ name: 'niptest', servers: mirrorList.map((m) => `${m.url}/repo`), siglevel: 'Required' }],
  }
  const { nip } = await openNip(root, [createAdapter()], { sources: [{ id: 'pacman', enabled: true, priority: 10, table }] })
  return { root, nip, cache: path.join(root, 'var/nip/cache/pacman') }
}

const statuses = (m: Mirror, name: string): number[] => m.requestsFor(`/repo/${name}`).map((r) => r.status)
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

describe('pacman install through a flaky mirror', function () {
  this.timeout(120000)
  before(function () {
    const missing = missingTools()
    if (missing) {
      console.log(`  (skipped: ${missing})`)
      this.skip()
    }
    repos = buildRealRepos()
    const signed = path.join(repos.dir, 'signed')
    files = new Map(readdirSync(signed).map((f) => [f, readFileSync(path.join(signed, f))]))
    hello = path.basename(repos.packages['nip-hello'])
    libgreet = path.basename(repos.packages['nip-libgreet'])
    conflicter = path.basename(repos.packages['nip-conflicter'])
  })
  afterEach(async () => {
    for (const m of mirrors.splice(0)) await m.close()
  })
  after(() => {
    if (repos) {
      killAgent(repos.gnupgHome)
      rmSync(repos.dir, { recursive: true, force: true })
    }
    for (const r of roots) rmSync(r, { recursive: true, force: true })
  })

  it('with the mirror gone, a package in the cache installs again from the local index (no network)', async () => {
    const m = await mirrorWith()
    const { nip, root } = await install([m])
    try {
      await nip.install(['nip-libgreet'], {})
      await nip.remove(['nip-libgreet'])
      await nip.gc() // the removed version is collected: installing it again needs its package file
    } finally {
      nip.close()
    }
    await m.close()
    const table = {
      'use-host-config': false,
      architecture: 'x86_64',
      keyring: repos.keyring,
      retries: 0,
      timeout: 0.4,
      repositories: [{ name: 'niptest', servers: [`${m.url}/repo`], siglevel: 'Required' }],
    }
    const again = (await openNip(root, [createAdapter()], { sources: [{ id: 'pacman', enabled: true, priority: 10, table }] })).nip
    try {
      const r = await again.install(['nip-libgreet'], {})
      assert.deepEqual(r.grafted.map((p) => p.name), ['nip-libgreet'])
      assert.deepEqual((await checkConsistency(again)).problems, [])
    } finally {
      again.close()
    }
  })

  it('installs despite resets, truncation, 503, 429, a stall and wrong bytes, and caches only verified files', async () => {
    const flaky = await mirrorWith({
      // reset mid-body, then 503: retried, then resumed from the part with Range
      'niptest.db': { faults: [{ type: 'reset' }, { type: 'status', status: 503 }] },
      // stalls every time: given up after the retries, then the second mirror
      'niptest.db.sig': { fault: { type: 'stall' } },
      // truncated body with the full Content-Length, then 429 Retry-After: resumed with Range
      [conflicter]: { faults: [{ type: 'truncate' }, { type: 'status', status: 429, retryAfter: '1' }] },
      // the wrong bytes at the right length: the digest fails, the second mirror is asked at once
      [libgreet]: { fault: { type: 'corrupt' } },
    })
    const good = await mirrorWith()
    const { nip, cache } = await install([flaky, good])
    try {
      // Two packages with no dependencies between them (nip-hello's link into Settings is not
      // what this test is about).
      await nip.install(['nip-libgreet', 'nip-conflicter'], { yes: true } as never)
      assert.deepEqual(nip.list().map((p) => `${p.name} ${p.version}`).sort(), ['nip-conflicter 1.2-3', 'nip-libgreet 1.2-3'])

      assert.deepEqual(statuses(flaky, 'niptest.db'), [200, 503, 206])
      const resumed = flaky.requestsFor('/repo/niptest.db')[2]!.headers
      assert.match(String(resumed.range), /^bytes=[1-9][0-9]*-$/)
      assert.ok(resumed['if-range'], 'a resumed request carries If-Range')
      assert.deepEqual(statuses(good, 'niptest.db'), [])

      assert.deepEqual(statuses(flaky, 'niptest.db.sig'), [200, 200, 200]) // headers sent, then silence
      assert.deepEqual(statuses(good, 'niptest.db.sig'), [200])

      assert.deepEqual(statuses(flaky, conflicter), [200, 429, 206])
      assert.match(String(flaky.requestsFor(`/repo/${conflicter}`)[2]!.headers.range), /^bytes=[1-9][0-9]*-$/)
      assert.deepEqual(statuses(good, conflicter), [])

      assert.deepEqual(statuses(flaky, libgreet), [200])
      assert.deepEqual(statuses(good, libgreet), [200])

      // The cache holds exactly the published, verified files: no .part, nothing wrong.
      assert.deepEqual(listTree(cache).filter((f) => f.includes('.part')), [])
      for (const f of [`pkg/${conflicter}`, `pkg/${libgreet}`, 'sync/niptest.db', 'sync/niptest.db.sig']) {
        assert.equal(sha256(readFileSync(path.join(cache, f))), sha256(files.get(path.basename(f))!), f)
      }
      const report = await checkConsistency(nip)
      assert.deepEqual(report.problems, [])
    } finally {
      nip.close?.()
    }
  })

  it('every mirror failing: ERR_NIP_FETCH_FAILED names each URL, nothing grafted', async () => {
    const a = await mirrorWith({ [libgreet]: { fault: { type: 'status', status: 503 } } })
    const b = await mirrorWith({ [libgreet]: { fault: { type: 'reset' } } })
    const { nip, root, cache } = await install([a, b])
    await expectEveryMirrorRefused(nip, root, {
      attempt: () => nip.install(['nip-hello'], { yes: true } as never),
      code: 'ERR_NIP_FETCH_FAILED',
      mirrors: [a, b],
      file: `/repo/${libgreet}`,
      requests: 3,
      message: [/HTTP 503/],
      leftovers: () => (existsSync(path.join(cache, 'pkg', libgreet)) ? [libgreet] : []),
    })
  })

  it('every mirror serving wrong bytes: ERR_NIP_HASH_MISMATCH names each URL, nothing kept or grafted', async () => {
    const a = await mirrorWith({ [hello]: { fault: { type: 'corrupt' } } })
    const b = await mirrorWith({ [hello]: { fault: { type: 'corrupt' } } })
    const { nip, root, cache } = await install([a, b])
    // A wrong digest is not retried on the same mirror.
    await expectEveryMirrorRefused(nip, root, {
      attempt: () => nip.install(['nip-hello'], { yes: true } as never),
      code: 'ERR_NIP_HASH_MISMATCH',
      mirrors: [a, b],
      file: `/repo/${hello}`,
      requests: [200],
      leftovers: () => readdirSync(path.join(cache, 'pkg')).filter((f) => f.startsWith(hello)),
    })
  })
})
