/**
 * The debian install path against a flaky mirror: a repository made with dpkg-deb and
 * `gpg --clearsign` (InRelease, Packages.xz, pool/*.deb) served by two loopback mirrors of one
 * source (`uri` and `mirrors`) — the first with a fault schedule, the second good. Shows that
 * core's downloader retries, resumes with Range, honours Retry-After and fails over, that nothing
 * partial or wrong stays in the cache, and that when every mirror is bad the install fails with
 * an error naming each URL and grafts nothing.
 */
import { strict as assert } from 'node:assert'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { checkConsistency, expectEveryMirrorRefused, listTree, openNip, startMirror, tempRoot, type Mirror, type MirrorFault } from '@nip/testing'
import { DebianAdapter } from '../src/index.js'
import { buildDeb, hasTool, killAgent, makeGpgKey, packagesStanza, writeSuite, type DebSpec, type GpgKey } from './debRepository.js'

const STATUS = new URL('./fixtures/dpkg-status', import.meta.url).pathname
const LIB: DebSpec = { name: 'libgreet1', version: '1.2-1', files: { 'usr/lib/x86_64-linux-gnu/libgreet.so.1.2.0': 'ELF-ish\n'.repeat(2000) } }
const DATA: DebSpec = { name: 'greet-words', version: '2.0', arch: 'all', files: { 'usr/share/greet/words': 'hello world\n'.repeat(2000) } }

const IN_RELEASE = 'dists/flaky/InRelease'
const PACKAGES = 'dists/flaky/main/binary-amd64/Packages.xz'

describe('debian install through a flaky mirror', function () {
  this.timeout(120000)
  let dir: string
  let key: GpgKey
  /** Repository files by path ("pool/main/x.deb"). */
  const files = new Map<string, Buffer>()
  let libDeb: string
  let dataDeb: string
  const roots: string[] = []
  const mirrors: Mirror[] = []

  before(function () {
    for (const tool of ['dpkg-deb', 'gpg', 'xz']) {
      if (!hasTool(tool)) {
        console.log(`  (skipped: ${tool} not installed)`)
        this.skip()
      }
    }
    dir = mkdtempSync(path.join(os.tmpdir(), 'nip-debian-flaky-'))
    const repo = path.join(dir, 'repo')
    key = makeGpgKey(dir)
    const debs = [LIB, DATA].map((spec) => ({ spec, file: buildDeb(dir, spec) }))
    writeSuite(repo, { suite: 'flaky', stanzas: debs.map((d) => packagesStanza(repo, d.spec, d.file)), key })
    for (const rel of listTree(repo)) if (!readdirSafe(path.join(repo, rel))) files.set(rel, readFileSync(path.join(repo, rel)))
    libDeb = `pool/main/${path.basename(debs[0]!.file)}`
    dataDeb = `pool/main/${path.basename(debs[1]!.file)}`
  })
  afterEach(async () => {
    for (const m of mirrors.splice(0)) await m.close()
  })
  after(() => {
    if (key) killAgent(key)
    if (dir) rmSync(dir, { recursive: true, force: true })
    for (const r of roots) rmSync(r, { recursive: true, force: true })
  })

  function readdirSafe(p: string): boolean {
    try {
      readdirSync(p)
      return true
    } catch {
      return false
    }
  }

  async function mirrorWith(faults: Record<string, { faults?: MirrorFault[]; fault?: MirrorFault }> = {}): Promise<Mirror> {
    const m = await startMirror(Object.fromEntries([...files].map(([rel, body]) => [`/debian/${rel}`, { body, ...faults[rel] }])))
    mirrors.push(m)
    return m
  }

  async function open(first: Mirror, second: Mirror) {
    const parent = await tempRoot('nip-debian-flaky-root-')
    roots.push(parent)
    const root = path.join(parent, 'root')
    mkdirSync(root)
    const table = {
      'host-sources': false,
      sources: [{ uri: `${first.url}/debian`, mirrors: [`${second.url}/debian`], suite: 'flaky', components: ['main'], 'signed-by': key.keyring }],
      architecture: 'amd64',
      'dpkg-status': STATUS,
      retries: 2,
      timeout: 0.4,
    }
    const { nip } = await openNip(root, [new DebianAdapter()], { sources: [{ id: 'debian', enabled: true, priority: 10, table }] })
    return { root, nip, cache: path.join(root, 'var/nip/cache/debian') }
  }

  const statuses = (m: Mirror, rel: string): number[] => m.requestsFor(`/debian/${rel}`).map((r) => r.status)
  const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

  it('installs despite resets, truncation, 503, 429, a stall and wrong bytes, and caches only verified files', async () => {
    const flaky = await mirrorWith({
      // reset mid-body, then 503: retried, then resumed from the part with Range + If-Range
      [IN_RELEASE]: { faults: [{ type: 'reset' }, { type: 'status', status: 503 }] },
      // stalls every time: given up after the retries, then the mirror
      [PACKAGES]: { fault: { type: 'stall' } },
      // truncated with the full Content-Length, then 429 Retry-After: resumed with Range
      [libDeb]: { faults: [{ type: 'truncate' }, { type: 'status', status: 429, retryAfter: '1' }] },
      // the wrong bytes at the right length: the SHA256 fails, the mirror is asked at once
      [dataDeb]: { fault: { type: 'corrupt' } },
    })
    const good = await mirrorWith()
    const { nip, cache } = await open(flaky, good)
    try {
      const result = await nip.install(['libgreet1', 'greet-words'], { yes: true })
      assert.deepEqual(result.grafted.map((p) => `${p.name} ${p.version}`).sort(), ['greet-words 2.0', 'libgreet1 1.2-1'])

      assert.deepEqual(statuses(flaky, IN_RELEASE), [200, 503, 206])
      const resumed = flaky.requestsFor(`/debian/${IN_RELEASE}`)[2]!.headers
      assert.match(String(resumed.range), /^bytes=[1-9][0-9]*-$/)
      assert.ok(resumed['if-range'], 'a resumed request carries If-Range')
      assert.deepEqual(statuses(good, IN_RELEASE), [])

      assert.deepEqual(statuses(flaky, PACKAGES), [200, 200, 200]) // headers, then silence
      assert.deepEqual(statuses(good, PACKAGES), [200])

      assert.deepEqual(statuses(flaky, libDeb), [200, 429, 206])
      assert.match(String(flaky.requestsFor(`/debian/${libDeb}`)[2]!.headers.range), /^bytes=[1-9][0-9]*-$/)
      assert.deepEqual(statuses(good, libDeb), [])

      assert.deepEqual(statuses(flaky, dataDeb), [200])
      assert.deepEqual(statuses(good, dataDeb), [200])

      // The cache holds exactly the published, verified files: no .part, nothing wrong.
      const cached = listTree(cache)
      assert.deepEqual(cached.filter((f) => f.includes('.part')), [])
      for (const rel of [libDeb, dataDeb, PACKAGES]) {
        const want = sha256(files.get(rel)!)
        const name = rel === PACKAGES ? `indices/${want}.xz` : `debs/${want}.deb`
        assert.ok(cached.includes(name), `${name} cached`)
        assert.equal(sha256(readFileSync(path.join(cache, name))), want, name)
      }
      assert.deepEqual((await checkConsistency(nip)).problems, [])
    } finally {
      nip.close?.()
    }
  })

  it('every mirror failing: ERR_NIP_FETCH_FAILED names each URL, nothing grafted', async () => {
    const a = await mirrorWith({ [libDeb]: { fault: { type: 'status', status: 503 } } })
    const b = await mirrorWith({ [libDeb]: { fault: { type: 'reset' } } })
    const { nip, root, cache } = await open(a, b)
    await expectEveryMirrorRefused(nip, root, {
      attempt: () => nip.install(['libgreet1'], { yes: true }),
      code: 'ERR_NIP_FETCH_FAILED',
      mirrors: [a, b],
      file: `/debian/${libDeb}`,
      requests: 3,
      message: [/HTTP 503/],
      leftovers: () => listTree(path.join(cache, 'debs')).filter((f) => f.endsWith('.deb')),
    })
  })

  it('every mirror serving wrong bytes: ERR_NIP_HASH_MISMATCH names each URL, nothing kept or grafted', async () => {
    const a = await mirrorWith({ [dataDeb]: { fault: { type: 'corrupt' } } })
    const b = await mirrorWith({ [dataDeb]: { fault: { type: 'corrupt' } } })
    const { nip, root, cache } = await open(a, b)
    await expectEveryMirrorRefused(nip, root, {
      attempt: () => nip.install(['greet-words'], { yes: true }),
      code: 'ERR_NIP_HASH_MISMATCH',
      mirrors: [a, b],
      file: `/debian/${dataDeb}`,
      requests: [200],
      leftovers: () => listTree(path.join(cache, 'debs')),
    })
  })
})
