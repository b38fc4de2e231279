/**
 * The Gentoo binhost path against flaky mirrors: a Packages index with GPKG and XPAK packages
 * built to the formats, served by two loopback binhosts — the first with a fault schedule on the
 * index and on package files, the second good. Shows that core's downloader retries, resumes with
 * Range, honours Retry-After and fails over to the next binhost listing the same build, that a
 * binhost whose index cannot be had is left out with a warning, that the cache holds only
 * verified files, and that when every binhost fails the install fails naming each URL and
 * grafts nothing.
 */
import { strict as assert } from 'node:assert'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import path from 'node:path'
import { isNipError, type RecordingReporter } from '@nip/core'
import { checkConsistency, expectEveryMirrorRefused, listTree, openNip, startMirror, tempRoot, type Mirror, type MirrorFault } from '@nip/testing'
import { createAdapter } from '../src/index.js'
import { buildGpkg, buildXpak, packagesIndex, type BinMeta, type IndexedPackage } from './binhostFixture.js'

const meta = (pf: string): BinMeta => ({ category: 'app-misc', pf, use: [], iuse: [] })
const bin = (name: string, text: string) => [{ path: 'usr/', type: 'dir' as const }, { path: 'usr/bin/', type: 'dir' as const }, { path: `usr/bin/${name}`, content: `#!/bin/sh\necho ${text}\n`, mode: 0o755 }]

let pkgs: Record<'hello' | 'greet' | 'libfoo', IndexedPackage>
let index: string
const roots: string[] = []
const mirrors: Mirror[] = []

type Faults = { faults?: MirrorFault[]; fault?: MirrorFault }

/** A binhost serving the index and every package, with faults on some ("Packages" or a package name). */
async function binhost(faults: Partial<Record<'Packages' | keyof typeof pkgs, Faults>> = {}, packages = index): Promise<Mirror> {
  const routes: Record<string, { body: Buffer | string } & Faults> = { '/Packages': { body: packages, ...faults.Packages } }
  for (const [name, p] of Object.entries(pkgs)) routes[`/${p.path}`] = { body: p.data, ...faults[name as keyof typeof pkgs] }
  const m = await startMirror(routes)
  mirrors.push(m)
  return m
}

async function install(hosts: Mirror[]) {
  const root = await tempRoot('nip-gentoo-flaky-')
  roots.push(root)
  const table = { binhosts: hosts.map((m) => m.url), retries: 3, timeout: 0.4 }
  const { nip, reporter } = await openNip(root, [createAdapter()], { sources: [{ id: 'gentoo', enabled: true, priority: 10, table }] })
  return { root, nip, reporter: reporter as RecordingReporter, cache: nip.dispatcher.context('gentoo').cacheDir, hostKey: (m: Mirror) => hostKey(m.url) }
}

const hostKey = (url: string): string => createHash('sha256').update(url).digest('hex').slice(0, 16)
const statuses = (m: Mirror, file: string): number[] => m.requestsFor(`/${file}`).map((r) => r.status)
const programs = (root: string): string[] => (existsSync(path.join(root, 'Programs')) ? readdirSync(path.join(root, 'Programs')) : [])

describe('gentoo binhost install through flaky mirrors', function () {
  this.timeout(60000)
  before(async () => {
    const gpkg = async (pf: string, text: string): Promise<IndexedPackage> => {
      const name = pf.replace(/-[0-9].*$/, '')
      return { meta: meta(pf), path: `app-misc/${name}/${pf}-1.gpkg.tar`, data: await buildGpkg(meta(pf), bin(name, text), { basename: `${pf}-1` }), buildId: 1 }
    }
    pkgs = {
      hello: await gpkg('hello-1.0', 'hello'),
      greet: { meta: meta('greet-2.0-r1'), path: 'app-misc/greet/greet-2.0-r1-1.xpak', data: await buildXpak(meta('greet-2.0-r1'), bin('greet', 'greetings')), buildId: 1 },
      libfoo: await gpkg('libfoo-1.0', 'foo'),
    }
    index = packagesIndex(Object.values(pkgs))
  })
  afterEach(async () => {
    for (const m of mirrors.splice(0)) await m.close()
  })
  after(() => {
    for (const r of roots) rmSync(r, { recursive: true, force: true })
  })

  it('installs despite resets, truncation, 503, 429, a stall and wrong bytes, and caches only verified files', async () => {
    const flaky = await binhost({
      // reset mid-body, then 503: retried, then resumed from the part with Range
      Packages: { faults: [{ type: 'reset' }, { type: 'status', status: 503 }] },
      // truncated body with the full Content-Length, then 429 Retry-After: resumed with Range
      hello: { faults: [{ type: 'truncate' }, { type: 'status', status: 429, retryAfter: '1' }] },
      // stalls every time: given up after the retries, then the second binhost
      greet: { fault: { type: 'stall' } },
      // the wrong bytes at the right length: MD5 fails, the second binhost is asked at once
      libfoo: { fault: { type: 'corrupt' } },
    })
    const good = await binhost()
    const { root, nip, reporter, cache } = await install([flaky, good])
    try {
      await nip.install(['hello', 'greet', 'libfoo'], { yes: true } as never)
      assert.deepEqual(nip.list().map((p) => `${p.name} ${p.version}`).sort(), ['greet 2.0-r1', 'hello 1.0', 'libfoo 1.0'])
      assert.equal(readFileSync(path.join(root, 'Programs/greet/2.0-r1/bin/greet'), 'utf8'), '#!/bin/sh\necho greetings\n')
      assert.deepEqual(reporter.warnings().filter((w) => w.code === 'gentoo-binhost-unavailable'), [])

      assert.deepEqual(statuses(flaky, 'Packages'), [200, 503, 206])
      const resumed = flaky.requestsFor('/Packages')[2]!.headers
      assert.match(String(resumed.range), /^bytes=[1-9][0-9]*-$/)
      assert.ok(resumed['if-range'], 'a resumed request carries If-Range')
      assert.deepEqual(statuses(good, 'Packages'), [200]) // every binhost's index is read

      assert.deepEqual(statuses(flaky, pkgs.hello.path), [200, 429, 206])
      assert.match(String(flaky.requestsFor(`/${pkgs.hello.path}`)[2]!.headers.range), /^bytes=[1-9][0-9]*-$/)
      assert.deepEqual(statuses(good, pkgs.hello.path), [])

      assert.deepEqual(statuses(flaky, pkgs.greet.path), [200, 200, 200, 200]) // headers sent, then silence
      assert.deepEqual(statuses(good, pkgs.greet.path), [200])

      assert.deepEqual(statuses(flaky, pkgs.libfoo.path), [200])
      assert.deepEqual(statuses(good, pkgs.libfoo.path), [200])

      // The cache holds exactly the published, verified files: no .part, nothing wrong. A build is
      // cached under the binhost that listed it first, whichever binhost delivered it.
      const files = listTree(cache).filter((f) => statSync(path.join(cache, f)).isFile() && !f.endsWith('.meta.json'))
      assert.deepEqual(files.filter((f) => f.includes('.part')), [])
      const key = hostKey(flaky.url)
      assert.deepEqual(files.filter((f) => f.startsWith('binpkgs/')).sort(), Object.values(pkgs).map((p) => `binpkgs/${key}/${p.path}`).sort())
      for (const p of Object.values(pkgs)) assert.ok(readFileSync(path.join(cache, 'binpkgs', key, p.path)).equals(p.data), p.path)
      assert.equal(readFileSync(path.join(cache, 'binhosts', key, 'Packages'), 'utf8'), index)
      assert.deepEqual((await checkConsistency(nip)).problems, [])
    } finally {
      nip.close()
    }
  })

  it('a binhost whose index stalls or is corrupt is left out with a warning; the next one serves', async () => {
    const stalled = await binhost({ Packages: { fault: { type: 'stall' } } })
    const corrupt = await binhost({ Packages: { fault: { type: 'corrupt' } } })
    const good = await binhost()
    const { nip, reporter, cache } = await install([stalled, corrupt, good])
    try {
      await nip.install(['hello'], { yes: true } as never)
      assert.deepEqual(nip.list().map((p) => p.name), ['hello'])
      const warned = reporter.warnings().filter((w) => w.code === 'gentoo-binhost-unavailable')
      assert.deepEqual(warned.map((w) => w.data?.url), [`${stalled.url}/Packages`, `${corrupt.url}/Packages`])
      assert.match(warned[0]!.message, /no data for 400 ms/)
      assert.match(warned[1]!.message, /malformed|Packages/)
      assert.equal(statuses(stalled, 'Packages').length, 4)
      assert.deepEqual(statuses(good, pkgs.hello.path), [200])
      // The corrupt index is not kept (nor its validators, which would make it stick).
      assert.equal(existsSync(path.join(cache, 'binhosts', hostKey(corrupt.url), 'Packages')), false)
      assert.equal(existsSync(path.join(cache, 'binhosts', hostKey(corrupt.url), 'Packages.meta.json')), false)
      assert.deepEqual((await checkConsistency(nip)).problems, [])
    } finally {
      nip.close()
    }
  })

  it('an index with SHA1 but no MD5: a file failing SHA1 is deleted and taken from the next binhost', async () => {
    const sha1Only = index.replace(/^MD5: .*\n/gm, '')
    const a = await binhost({ greet: { fault: { type: 'corrupt' } } }, sha1Only)
    const b = await binhost({}, sha1Only)
    const { nip, cache } = await install([a, b])
    try {
      await nip.install(['greet'], { yes: true } as never)
      assert.deepEqual(nip.list().map((p) => p.name), ['greet'])
      assert.deepEqual(statuses(a, pkgs.greet.path), [200])
      assert.deepEqual(statuses(b, pkgs.greet.path), [200])
      assert.ok(readFileSync(path.join(cache, 'binpkgs', hostKey(a.url), pkgs.greet.path)).equals(pkgs.greet.data))
      assert.deepEqual((await checkConsistency(nip)).problems, [])
    } finally {
      nip.close()
    }
  })

  it('every binhost failing the package: ERR_NIP_FETCH_FAILED names each URL, nothing grafted', async () => {
    const a = await binhost({ hello: { fault: { type: 'status', status: 503 } } })
    const b = await binhost({ hello: { fault: { type: 'reset' } } })
    const { nip, root, cache } = await install([a, b])
    const published = path.join(cache, 'binpkgs', hostKey(a.url), pkgs.hello.path)
    await expectEveryMirrorRefused(nip, root, {
      attempt: () => nip.install(['hello'], { yes: true } as never),
      code: 'ERR_NIP_FETCH_FAILED',
      mirrors: [a, b],
      file: `/${pkgs.hello.path}`,
      requests: 4,
      message: [/HTTP 503/],
      leftovers: () => (existsSync(published) ? [published] : []),
    })
  })

  it('every binhost serving wrong bytes: ERR_NIP_HASH_MISMATCH names each URL, nothing kept or grafted', async () => {
    const a = await binhost({ greet: { fault: { type: 'corrupt' } } })
    const b = await binhost({ greet: { fault: { type: 'corrupt' } } })
    const { nip, root, cache } = await install([a, b])
    // A wrong digest is not retried on the same binhost.
    await expectEveryMirrorRefused(nip, root, {
      attempt: () => nip.install(['greet'], { yes: true } as never),
      code: 'ERR_NIP_HASH_MISMATCH',
      mirrors: [a, b],
      file: `/${pkgs.greet.path}`,
      requests: [200],
      leftovers: () => listTree(cache).filter((f) => f.includes('greet') && statSync(path.join(cache, f)).isFile()),
    })
  })

  it('every binhost index failing: the error names each Packages URL', async () => {
    const a = await binhost({ Packages: { fault: { type: 'status', status: 503 } } })
    const b = await binhost({ Packages: { fault: { type: 'reset' } } })
    const { nip, root } = await install([a, b])
    const urls = [a, b].map((m) => `${m.url}/Packages`)
    try {
      // The adapter's own answer.
      await assert.rejects(createAdapter().resolve({ raw: 'hello', name: 'hello' }, nip.dispatcher.context('gentoo')), (e: unknown) => {
        assert.ok(isNipError(e, 'ERR_NIP_FETCH_FAILED'), String(e))
        assert.deepEqual(e.data.urls, urls)
        for (const u of urls) assert.ok(e.message.includes(u), `${u} named in: ${e.message}`)
        assert.match(e.message, /HTTP 503 \(4 attempts\)/)
        assert.match(e.message, /connection reset/)
        return true
      })
      // What install says: the only source asked failed, so core passes its error on.
      await assert.rejects(nip.install(['hello'], { yes: true } as never), (e: unknown) => {
        assert.ok(isNipError(e, 'ERR_NIP_FETCH_FAILED'), String(e))
        assert.deepEqual(e.data.urls, urls)
        for (const u of urls) assert.ok(e.message.includes(u), `${u} named in: ${e.message}`)
        return true
      })
      assert.deepEqual(nip.list(), [])
      assert.deepEqual(programs(root), [])
    } finally {
      nip.close()
    }
  })
})
