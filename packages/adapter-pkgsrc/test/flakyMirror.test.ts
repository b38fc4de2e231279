/**
 * The pkgsrc install path against a flaky mirror: a repository (pkg_summary.gz and .tgz packages
 * made by pkgBuilder, with FILE_SIZE and FILE_CKSUM) served by two loopback mirrors of one
 * repository (`url` and `mirrors`) — the first with a fault schedule, the second good. Shows that
 * core's downloader retries, resumes with Range, honours Retry-After and fails over, that nothing
 * partial or wrong stays in the cache, and that when every mirror is bad the install fails with
 * an error naming each URL and grafts nothing.
 */
import { strict as assert } from 'node:assert'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { checkConsistency, expectEveryMirrorRefused, listTree, openNip, startMirror, tempRoot, type Mirror, type MirrorFault } from '@nip/testing'
import { PkgsrcAdapter } from '../src/index.js'
import { buildPackage, summaryEntry, type FixturePackage } from './pkgBuilder.js'

const PACKAGES: FixturePackage[] = [
  { pkgname: 'libfoo-1.5nb1', files: [{ path: 'lib/libfoo.so.1', content: 'foo 1.5nb1\n'.repeat(3000) }] },
  { pkgname: 'libbaz-3.1', files: [{ path: 'lib/libbaz.so', content: 'baz\n'.repeat(3000) }] },
]
const LIBFOO = 'libfoo-1.5nb1.tgz'
const LIBBAZ = 'libbaz-3.1.tgz'
const SUMMARY = 'pkg_summary.gz'

describe('pkgsrc install through a flaky mirror', function () {
  this.timeout(60_000)
  const files = new Map<string, Buffer>()
  const roots: string[] = []
  const mirrors: Mirror[] = []

  before(async () => {
    const blocks: string[] = []
    for (const p of PACKAGES) {
      const data = await buildPackage(p)
      files.set(`${p.pkgname}.tgz`, data)
      // FILE_CKSUM as pkg_summary carries it for repositories built with it (checked while streaming).
      blocks.push(`${summaryEntry(p, data)}FILE_CKSUM=sha256 ${createHash('sha256').update(data).digest('hex')}\n`)
    }
    files.set(SUMMARY, gzipSync(blocks.join('\n')))
  })
  afterEach(async () => {
    for (const m of mirrors.splice(0)) await m.close()
  })
  after(async () => {
    for (const r of roots) await rm(r, { recursive: true, force: true })
  })

  async function mirrorWith(faults: Record<string, { faults?: MirrorFault[]; fault?: MirrorFault }> = {}): Promise<Mirror> {
    const m = await startMirror(Object.fromEntries([...files].map(([name, body]) => [`/All/${name}`, { body, ...faults[name] }])))
    mirrors.push(m)
    return m
  }

  async function open(first: Mirror, second: Mirror) {
    const root = await tempRoot('nip-pkgsrc-flaky-')
    roots.push(root)
    const table = { repositories: [{ url: `${first.url}/All`, mirrors: [`${second.url}/All`] }], 'machine-arch': 'x86_64', retries: 3, timeout: 0.4 }
    const { nip } = await openNip(root, [new PkgsrcAdapter()], { sources: [{ id: 'pkgsrc', enabled: true, priority: 10, table }] })
    return { root, nip, cache: path.join(root, 'var/nip/cache/pkgsrc') }
  }

  const statuses = (m: Mirror, name: string): number[] => m.requestsFor(`/All/${name}`).map((r) => r.status)

  it('installs despite resets, truncation, 503, 429, a stall and wrong bytes, and caches only verified files', async () => {
    const flaky = await mirrorWith({
      // stalls past the timeout after 10 bytes, then 503: retried, then resumed from the part
      [SUMMARY]: { faults: [{ type: 'stall', after: 10 }, { type: 'status', status: 503 }] },
      // reset mid-body, then truncated with the full Content-Length, then 429 Retry-After:
      // resumed with Range
      [LIBFOO]: { faults: [{ type: 'reset' }, { type: 'truncate' }, { type: 'status', status: 429, retryAfter: '1' }] },
      // the wrong bytes at the right length: FILE_CKSUM fails, the mirror is asked at once
      [LIBBAZ]: { fault: { type: 'corrupt' } },
    })
    const good = await mirrorWith()
    const { nip, cache } = await open(flaky, good)
    try {
      const result = await nip.install(['libfoo', 'libbaz'])
      assert.deepEqual(result.grafted.map((g: { name: string; version: string }) => `${g.name}-${g.version}`).sort(), ['libbaz-3.1', 'libfoo-1.5nb1'])

      // .zst/.xz/.bz2 are not offered (404 on both mirrors), then .gz.
      assert.deepEqual(statuses(flaky, SUMMARY), [200, 503, 206])
      assert.equal(flaky.requestsFor(`/All/${SUMMARY}`)[2]!.headers.range, 'bytes=10-')
      assert.deepEqual(statuses(good, SUMMARY), [])

      // retries = 3: reset, truncation and 429 use three tries, the fourth resumes and completes.
      assert.deepEqual(statuses(flaky, LIBFOO), [200, 206, 429, 206])
      for (const i of [1, 3]) assert.match(String(flaky.requestsFor(`/All/${LIBFOO}`)[i]!.headers.range), /^bytes=[1-9][0-9]*-$/)
      assert.deepEqual(statuses(good, LIBFOO), [])

      assert.deepEqual(statuses(flaky, LIBBAZ), [200])
      assert.deepEqual(statuses(good, LIBBAZ), [200])

      assert.deepEqual(listTree(cache).filter((f) => f.includes('.part')), [])
      for (const name of [LIBFOO, LIBBAZ]) {
        assert.ok(readFileSync(path.join(cache, 'packages', name)).equals(files.get(name)!), name)
      }
      assert.deepEqual((await checkConsistency(nip)).problems, [])
    } finally {
      nip.close?.()
    }
  })

  it('every mirror failing: ERR_NIP_FETCH_FAILED names each URL, nothing grafted', async () => {
    const a = await mirrorWith({ [LIBFOO]: { fault: { type: 'status', status: 503 } } })
    const b = await mirrorWith({ [LIBFOO]: { fault: { type: 'reset' } } })
    const { nip, root, cache } = await open(a, b)
    await expectEveryMirrorRefused(nip, root, {
      attempt: () => nip.install(['libfoo']),
      code: 'ERR_NIP_FETCH_FAILED',
      mirrors: [a, b],
      file: `/All/${LIBFOO}`,
      requests: 4,
      message: [/HTTP 503/],
      leftovers: () => (existsSync(path.join(cache, 'packages', LIBFOO)) ? [LIBFOO] : []),
    })
  })

  it('every mirror serving wrong bytes: ERR_NIP_HASH_MISMATCH names each URL, nothing kept or grafted', async () => {
    const a = await mirrorWith({ [LIBBAZ]: { fault: { type: 'corrupt' } } })
    const b = await mirrorWith({ [LIBBAZ]: { fault: { type: 'corrupt' } } })
    const { nip, root, cache } = await open(a, b)
    await expectEveryMirrorRefused(nip, root, {
      attempt: () => nip.install(['libbaz']),
      code: 'ERR_NIP_HASH_MISMATCH',
      mirrors: [a, b],
      file: `/All/${LIBBAZ}`,
      requests: [200],
      leftovers: () => listTree(path.join(cache, 'packages')),
    })
  })
})
