/**
 * The Nix install path against flaky substituters: a binary cache built here (NARs written by
 * the adapter's NAR writer, compressed as their narinfo says, narinfo signed with an Ed25519 key
 * made by node:crypto; no nix-bin needed), served by two loopback substituters — the first with
 * a fault schedule on narinfo and NAR files, the second good. Shows that core's downloader
 * retries, resumes NARs with Range, honours Retry-After, that a substituter serving a bad
 * narinfo or a wrong NAR is passed over for the next one, that the cache keeps only verified
 * NARs, and that when every substituter fails the install fails naming each URL and grafts nothing.
 */
import { strict as assert } from 'node:assert'
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import { isNipError } from '@nip/core'
import { checkConsistency, expectEveryMirrorRefused, compressBuffer, listTree, openNip, startMirror, tempRoot, type FixtureCompression, type Mirror, type MirrorFault } from '@nip/testing'
import { createAdapter, encodeNix32, fingerprint, formatHashNix32, parseNarInfo, writeNarNode, type NarNode } from '../src/index.js'

const STORE = '/nix/store'
const KEY_NAME = 'nip-flaky-1'

interface CachedPath {
  /** `<hash>-<name>` */
  base: string
  hashPart: string
  narinfo: string
  /** The NAR file's path on the cache (the narinfo's URL). */
  narUrl: string
  narFile: Buffer
}

const hashPartOf = (name: string): string => encodeNix32(createHash('sha256').update(`flaky:${name}`).digest().subarray(0, 20))
const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest()

/** A store path's NAR, compressed, and its signed narinfo. */
async function cachePath(name: string, node: NarNode, references: string[], compression: FixtureCompression, key: KeyObject): Promise<CachedPath> {
  const hashPart = hashPartOf(name)
  const base = `${hashPart}-${name}`
  const nar = Buffer.concat([...writeNarNode(node)])
  const narFile = await compressBuffer(nar, compression)
  const ext = { none: '', xz: '.xz', zstd: '.zst', gzip: '.gz', bzip2: '.bz2' }[compression]
  const narUrl = `nar/${encodeNix32(sha256(narFile))}.nar${ext}`
  const unsigned =
    [
      `StorePath: ${STORE}/${base}`,
      `URL: ${narUrl}`,
      `Compression: ${compression}`,
      `FileHash: ${formatHashNix32({ algorithm: 'sha256', digest: sha256(narFile) })}`,
      `FileSize: ${narFile.length}`,
      `NarHash: ${formatHashNix32({ algorithm: 'sha256', digest: sha256(nar) })}`,
      `NarSize: ${nar.length}`,
      `References: ${references.join(' ')}`,
    ].join('\n') + '\n'
  const sig = sign(null, Buffer.from(fingerprint(parseNarInfo(unsigned))), key).toString('base64')
  return { base, hashPart, narinfo: `${unsigned}Sig: ${KEY_NAME}:${sig}\n`, narUrl, narFile }
}

let data: CachedPath
let hello: CachedPath
let publicKey: string
const roots: string[] = []
const mirrors: Mirror[] = []

type Faults = { faults?: MirrorFault[]; fault?: MirrorFault }

/** A substituter serving both paths, with faults on some files (keys: "<path>.narinfo" or "<path>.nar"). */
async function substituter(faults: Record<string, Faults> = {}): Promise<Mirror> {
  const routes: Record<string, { body: Buffer | string } & Faults> = { '/nix-cache-info': { body: `StoreDir: ${STORE}\nWantMassQuery: 1\nPriority: 40\n` } }
  for (const [label, p] of [['data', data], ['hello', hello]] as const) {
    routes[`/${p.hashPart}.narinfo`] = { body: p.narinfo, ...faults[`${label}.narinfo`] }
    routes[`/${p.narUrl}`] = { body: p.narFile, ...faults[`${label}.nar`] }
  }
  const m = await startMirror(routes)
  mirrors.push(m)
  return m
}

async function install(subs: Mirror[], extra: Record<string, unknown> = {}) {
  const root = await tempRoot('nip-nix-flaky-')
  roots.push(root)
  const table = {
    substituters: subs.map((m) => m.url),
    'trusted-public-keys': [publicKey],
    channel: '',
    'run-root': '/',
    retries: 3,
    timeout: 0.4,
    ...extra,
  }
  const { nip, reporter } = await openNip(root, [createAdapter()], { sources: [{ id: 'nix', enabled: true, priority: 10, table }] })
  return { root, nip, reporter, cache: nip.dispatcher.context('nix').cacheDir }
}

const statuses = (m: Mirror, file: string): number[] => m.requestsFor(`/${file}`).map((r) => r.status)
const programs = (root: string): string[] => (existsSync(path.join(root, 'Programs')) ? readdirSync(path.join(root, 'Programs')) : [])

describe('nix install through flaky substituters', function () {
  this.timeout(60000)
  before(async () => {
    const { privateKey, publicKey: pub } = generateKeyPairSync('ed25519')
    publicKey = `${KEY_NAME}:${pub.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64')}`
    data = await cachePath('greeting-data-1.0', { type: 'directory', entries: { share: { type: 'directory', entries: { 'greeting.txt': { type: 'regular', contents: Buffer.from('hello from data\n') } } } } }, [], 'zstd', privateKey)
    const script = `#!/bin/sh\nexec cat ${STORE}/${data.base}/share/greeting.txt\n`
    hello = await cachePath(
      'hello-2.12',
      { type: 'directory', entries: { bin: { type: 'directory', entries: { hello: { type: 'regular', executable: true, contents: Buffer.from(script) } } } } },
      [data.base],
      'xz',
      privateKey,
    )
  })
  afterEach(async () => {
    for (const m of mirrors.splice(0)) await m.close()
  })
  after(() => {
    for (const r of roots) rmSync(r, { recursive: true, force: true })
  })

  it('installs a closure despite resets, truncation, 503, 429, a stall and wrong bytes, and caches only verified NARs', async () => {
    const flaky = await substituter({
      // truncated (full Content-Length), then 429 Retry-After: retried from zero (small files are not resumed)
      'hello.narinfo': { faults: [{ type: 'truncate' }, { type: 'status', status: 429, retryAfter: '1' }] },
      // reset mid-body, then a stall beyond the timeout (on the Range request), then 503: resumed from the part
      'hello.nar': { faults: [{ type: 'reset' }, { type: 'stall' }, { type: 'status', status: 503 }] },
      // reset once: retried
      'data.narinfo': { faults: [{ type: 'reset' }] },
      // the wrong bytes at the right length: FileHash fails, the second substituter is asked at once
      'data.nar': { fault: { type: 'corrupt' } },
    })
    const good = await substituter()
    const { root, nip, cache } = await install([flaky, good])
    try {
      await nip.install([`nix:${STORE}/${hello.base}`], { yes: true } as never)
      assert.deepEqual(nip.list().map((p) => `${p.name} ${p.version}`).sort(), ['greeting-data 1.0', 'hello 2.12'])
      assert.equal(readFileSync(path.join(root, 'Programs/greeting-data/1.0/share/greeting.txt'), 'utf8'), 'hello from data\n')
      assert.match(readFileSync(path.join(root, 'Programs/hello/2.12/bin/hello'), 'utf8'), /^#!\/bin\/sh\nexec cat \/Programs\/+greeting-data\/1\.0\/share\/greeting\.txt\n$/)

      assert.deepEqual(statuses(flaky, `${hello.hashPart}.narinfo`), [200, 429, 200])
      assert.deepEqual(statuses(good, `${hello.hashPart}.narinfo`), [])

      assert.deepEqual(statuses(flaky, hello.narUrl), [200, 206, 503, 206])
      const [, stalled, , resumed] = flaky.requestsFor(`/${hello.narUrl}`)
      for (const r of [stalled!, resumed!]) {
        assert.match(String(r.headers.range), /^bytes=[1-9][0-9]*-$/)
        assert.ok(r.headers['if-range'], 'a resumed request carries If-Range')
      }
      assert.deepEqual(statuses(good, hello.narUrl), [])

      assert.deepEqual(statuses(flaky, `${data.hashPart}.narinfo`), [200, 200])
      assert.deepEqual(statuses(flaky, data.narUrl), [200])
      // The second substituter's own narinfo is fetched and verified before its NAR is used.
      assert.deepEqual(statuses(good, `${data.hashPart}.narinfo`), [200])
      assert.deepEqual(statuses(good, data.narUrl), [200])

      // The cache holds exactly the verified NARs: nothing partial, nothing wrong.
      const nars = listTree(cache).filter((f) => f.startsWith('nar/') && !f.endsWith('.meta.json'))
      assert.deepEqual(nars.sort(), [`nar/${data.hashPart}-${path.basename(data.narUrl)}`, `nar/${hello.hashPart}-${path.basename(hello.narUrl)}`].sort())
      assert.ok(readFileSync(path.join(cache, nars.find((f) => f.includes(data.hashPart))!)).equals(data.narFile))
      assert.ok(readFileSync(path.join(cache, nars.find((f) => f.includes(hello.hashPart))!)).equals(hello.narFile))
      assert.deepEqual((await checkConsistency(nip)).problems, [])
    } finally {
      nip.close()
    }
  })

  it('a substituter whose narinfo is wrong or badly signed is passed over for the next', async () => {
    const tampered = hello.narinfo.replace(/NarSize: (\d+)/, (_m, n) => `NarSize: ${Number(n) + 8}`)
    const flaky = await substituter({ 'data.narinfo': { fault: { type: 'corrupt' } } })
    flaky.setRoute(`/${hello.hashPart}.narinfo`, { body: tampered })
    const good = await substituter()
    const { nip, reporter } = await install([flaky, good])
    try {
      await nip.install([`nix:${STORE}/${hello.base}`], { yes: true } as never)
      assert.deepEqual(nip.list().map((p) => p.name).sort(), ['greeting-data', 'hello'])
      // Each pass-over was told, naming the narinfo and its error.
      const skipped = reporter.events.filter((e) => e.type === 'warning' && e.code === 'substituter-skipped') as { data: { url: string; error: string } }[]
      assert.deepEqual(skipped.map((w) => w.data.url).sort(), [`${flaky.url}/${data.hashPart}.narinfo`, `${flaky.url}/${hello.hashPart}.narinfo`].sort())
      assert.ok(skipped.every((w) => w.data.error.startsWith('ERR_NIP_')))
      // Neither NAR was asked of the first substituter.
      assert.deepEqual(statuses(flaky, hello.narUrl), [])
      assert.deepEqual(statuses(flaky, data.narUrl), [])
      assert.deepEqual(statuses(good, hello.narUrl), [200])
      assert.deepEqual((await checkConsistency(nip)).problems, [])
    } finally {
      nip.close()
    }
  })

  it('without FileHash, a NAR that does not match NarHash is deleted and taken from the next substituter', async () => {
    // FileHash and FileSize are not part of the signed fingerprint: the signature still verifies.
    const noFileHash = hello.narinfo.replace(/^File(Hash|Size): .*\n/gm, '')
    const flaky = await substituter({ 'hello.nar': { fault: { type: 'corrupt' } } })
    flaky.setRoute(`/${hello.hashPart}.narinfo`, { body: noFileHash })
    const good = await substituter()
    good.setRoute(`/${hello.hashPart}.narinfo`, { body: noFileHash })
    const { nip, cache } = await install([flaky, good])
    try {
      await nip.install([`nix:${STORE}/${hello.base}`], { yes: true } as never)
      assert.deepEqual(nip.list().map((p) => p.name).sort(), ['greeting-data', 'hello'])
      assert.deepEqual(statuses(flaky, hello.narUrl), [200])
      assert.deepEqual(statuses(good, hello.narUrl), [200])
      const kept = listTree(cache).filter((f) => f.includes(hello.hashPart))
      assert.deepEqual(kept.filter((f) => !f.endsWith('.meta.json')), [`nar/${hello.hashPart}-${path.basename(hello.narUrl)}`])
      assert.ok(readFileSync(path.join(cache, kept.find((f) => !f.endsWith('.meta.json'))!)).equals(hello.narFile))
      assert.deepEqual((await checkConsistency(nip)).problems, [])
    } finally {
      nip.close()
    }
  })

  it('every substituter failing the NAR: ERR_NIP_FETCH_FAILED names each URL, nothing grafted or kept', async () => {
    const a = await substituter({ 'hello.nar': { fault: { type: 'status', status: 503 } } })
    const b = await substituter({ 'hello.nar': { fault: { type: 'reset' } } })
    const { nip, root, cache } = await install([a, b])
    const published = path.join(cache, 'nar', `${hello.hashPart}-${path.basename(hello.narUrl)}`)
    await expectEveryMirrorRefused(nip, root, {
      attempt: () => nip.install([`nix:${STORE}/${hello.base}`], { yes: true } as never),
      code: 'ERR_NIP_FETCH_FAILED',
      mirrors: [a, b],
      file: `/${hello.narUrl}`,
      requests: 4,
      message: [/HTTP 503/, /connection reset/],
      leftovers: () => (existsSync(published) ? [published] : []),
    })
  })

  it('every substituter serving wrong bytes: ERR_NIP_HASH_MISMATCH names each URL, nothing kept or grafted', async () => {
    const a = await substituter({ 'hello.nar': { fault: { type: 'corrupt' } } })
    const b = await substituter({ 'hello.nar': { fault: { type: 'corrupt' } } })
    const { nip, root, cache } = await install([a, b])
    // A wrong digest is not retried on the same substituter.
    await expectEveryMirrorRefused(nip, root, {
      attempt: () => nip.install([`nix:${STORE}/${hello.base}`], { yes: true } as never),
      code: 'ERR_NIP_HASH_MISMATCH',
      mirrors: [a, b],
      file: `/${hello.narUrl}`,
      requests: [200],
      leftovers: () => listTree(cache).filter((f) => f.includes(hello.hashPart)),
    })
  })

  it('every substituter failing the narinfo: ERR_NIP_FETCH_FAILED names each narinfo URL', async () => {
    const a = await substituter({ 'hello.narinfo': { fault: { type: 'status', status: 503 } } })
    const b = await substituter({ 'hello.narinfo': { fault: { type: 'stall' } } })
    const { nip, root } = await install([a, b], { retries: 1 })
    const urls = [a, b].map((m) => `${m.url}/${hello.hashPart}.narinfo`)
    const spec = `nix:${STORE}/${hello.base}`
    try {
      // The adapter's own answer.
      await assert.rejects(createAdapter().resolve({ raw: spec, name: spec.slice(4) }, nip.dispatcher.context('nix')), (e: unknown) => {
        assert.ok(isNipError(e, 'ERR_NIP_FETCH_FAILED'), String(e))
        assert.deepEqual(e.data.urls, urls)
        for (const u of urls) assert.ok(e.message.includes(u), `${u} named in: ${e.message}`)
        assert.match(e.message, /HTTP 503 \(2 attempts\)/)
        assert.match(e.message, /no data for 400 ms \(2 attempts\)/)
        return true
      })
      // What install says: the only source asked failed, so core passes its error on.
      await assert.rejects(nip.install([spec], { yes: true } as never), (e: unknown) => {
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

describe('nix sources: reachability is nix-cache-info answering', () => {
  it('reports a substituter whose nix-cache-info fails as unreachable, one that answers as reachable', async () => {
    const down = await substituter()
    down.setRoute('/nix-cache-info', undefined)
    const up = await substituter()
    try {
      const { nip } = await install([down], { retries: 0 })
      try {
        const status = await createAdapter().probe(nip.dispatcher.context('nix'))
        assert.equal(status.reachable, false)
        assert.match(status.detail, /no substituter answers/)
      } finally {
        nip.close()
      }
      const both = await install([down, up], { retries: 0 })
      try {
        const status = await createAdapter().probe(both.nip.dispatcher.context('nix'))
        assert.equal(status.reachable, true)
        assert.equal(status.detail, `substituters: ${up.url}`)
      } finally {
        both.nip.close()
      }
    } finally {
      await down.close()
      await up.close()
      mirrors.splice(mirrors.indexOf(down), 1)
      mirrors.splice(mirrors.indexOf(up), 1)
    }
  })
})
