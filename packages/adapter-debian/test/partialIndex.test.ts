/**
 * Partial failures handled as apt handles them, on loopback mirrors serving a suite with two
 * indexes (main/binary-amd64 and main/binary-all) and Acquire-By-Hash:
 * - a by-hash 404 falls back to the canonical file name on the same mirror;
 * - an index that fails its hash is taken from the next mirror;
 * - when no mirror has it intact, the last good copy is used (its updates are not), and the
 *   suite's other indexes are used in any case;
 * - the warning names exactly the index whose packages (or updates) are not in use.
 */
import { strict as assert } from 'node:assert'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { isNipError } from '@nip/core'
import { listTree, openNip, startMirror, tempRoot, type Mirror, type MirrorFault } from '@nip/testing'
import { DebianAdapter } from '../src/index.js'
import { buildDeb, hasTool, killAgent, makeGpgKey, packagesStanza, writeSuite, type DebSpec, type GpgKey } from './debRepository.js'

const STATUS = new URL('./fixtures/dpkg-status', import.meta.url).pathname
const app = (version: string): DebSpec => ({ name: 'secapp', version, files: { 'usr/bin/secapp': `#!/bin/sh\necho ${version}\n` } })
const doc = (version: string): DebSpec => ({ name: 'secdoc', version, arch: 'all', files: { 'usr/share/secdoc/README': `secdoc ${version}\n` } })

const ALL = 'dists/sec/main/binary-all/'
const AMD64 = 'dists/sec/main/binary-amd64/'

describe('debian: partial index failures like apt', function () {
  this.timeout(120000)
  let dir: string
  let key: GpgKey
  /** Repository files by path, for the old (1.0) and the new (1.1) state of the suite. */
  const repos: Record<'old' | 'new', Map<string, Buffer>> = { old: new Map(), new: new Map() }
  const roots: string[] = []
  const mirrors: Mirror[] = []

  before(function () {
    for (const tool of ['dpkg-deb', 'gpg', 'xz']) {
      if (!hasTool(tool)) {
        console.log(`  (skipped: ${tool} not installed)`)
        this.skip()
      }
    }
    dir = mkdtempSync(path.join(os.tmpdir(), 'nip-debian-partial-'))
    key = makeGpgKey(dir)
    for (const [state, version, date] of [['old', '1.0', '2025-01-01'], ['new', '1.1', '2025-02-01']] as const) {
      const repo = path.join(dir, state)
      const a = app(version)
      const d = doc(version)
      const stanzas = [packagesStanza(repo, a, buildDeb(dir, a))]
      const allStanzas = [packagesStanza(repo, d, buildDeb(dir, d))]
      writeSuite(repo, { suite: 'sec', stanzas, allStanzas, key, acquireByHash: true, date: new Date(`${date}T00:00:00Z`) })
      for (const rel of listTree(repo)) if (statSync(path.join(repo, rel)).isFile()) repos[state].set(rel, readFileSync(path.join(repo, rel)))
    }
  })
  afterEach(async () => {
    for (const m of mirrors.splice(0)) await m.close()
  })
  after(() => {
    if (key) killAgent(key)
    if (dir) rmSync(dir, { recursive: true, force: true })
    for (const r of roots) rmSync(r, { recursive: true, force: true })
  })

  /** The suite's files under /debian/, with a fault for every path a rule matches. */
  async function mirrorOf(state: 'old' | 'new', faults: [RegExp, MirrorFault][] = []): Promise<Mirror> {
    const m = await startMirror()
    mirrors.push(m)
    serve(m, state, faults)
    return m
  }

  /** Make `m` serve that state of the suite (the same URL, as a mirror that syncs). */
  function serve(m: Mirror, state: 'old' | 'new', faults: [RegExp, MirrorFault][] = []): void {
    for (const rel of new Set([...repos.old.keys(), ...repos.new.keys()])) {
      const body = repos[state].get(rel)
      const f = faults.find(([re]) => re.test(rel))
      m.setRoute(`/debian/${rel}`, body === undefined ? undefined : { body, ...(f ? { fault: f[1] } : {}) })
    }
  }

  async function newRoot(): Promise<string> {
    const parent = await tempRoot('nip-debian-partial-root-')
    roots.push(parent)
    const root = path.join(parent, 'root')
    mkdirSync(root)
    return root
  }

  async function open(root: string, first: Mirror, second?: Mirror) {
    const table = {
      'host-sources': false,
      sources: [{ uri: `${first.url}/debian`, ...(second ? { mirrors: [`${second.url}/debian`] } : {}), suite: 'sec', components: ['main'], 'signed-by': key.keyring }],
      architecture: 'amd64',
      'dpkg-status': STATUS,
      retries: 0,
      timeout: 2,
    }
    return openNip(root, [new DebianAdapter()], { sources: [{ id: 'debian', enabled: true, priority: 10, table }] })
  }

  const byHash = (m: Mirror, indexDir: string): number[] => m.requests.filter((r) => r.path.startsWith(`/debian/${indexDir}by-hash/`)).map((r) => r.status)
  const canonical = (m: Mirror, indexDir: string): number[] => m.requestsFor(`/debian/${indexDir}Packages.xz`).map((r) => r.status)
  const candidate = async (nip: { info(s: string): Promise<{ candidates: { version: string }[] }> }, name: string) => (await nip.info(name)).candidates[0]?.version

  it('a by-hash 404 falls back to the canonical file name on the same mirror', async () => {
    const m = await mirrorOf('new', [[/binary-all\/by-hash\//, { type: 'status', status: 404 }]])
    const { nip, reporter } = await open(await newRoot(), m)
    try {
      assert.equal(await candidate(nip, 'secdoc'), '1.1')
      assert.equal(await candidate(nip, 'secapp'), '1.1')
      assert.deepEqual(byHash(m, ALL), [404])
      assert.deepEqual(canonical(m, ALL), [200])
      // The amd64 index came by hash, its canonical name was never asked for.
      assert.deepEqual(byHash(m, AMD64), [200])
      assert.deepEqual(canonical(m, AMD64), [])
      assert.deepEqual(reporter.warnings().filter((w) => w.code.startsWith('debian-index')), [])
    } finally {
      nip.close()
    }
  })

  it('an index that fails its hash is taken from the next mirror', async () => {
    const bad = await mirrorOf('new', [
      [/binary-all\/by-hash\//, { type: 'status', status: 404 }],
      [/binary-all\/Packages\.xz$/, { type: 'corrupt' }],
    ])
    const good = await mirrorOf('new')
    const { nip, reporter } = await open(await newRoot(), bad, good)
    try {
      assert.equal(await candidate(nip, 'secdoc'), '1.1')
      assert.deepEqual(byHash(bad, ALL), [404])
      assert.deepEqual(canonical(bad, ALL), [200]) // served, then refused by its SHA256
      assert.deepEqual(byHash(good, ALL), [200])
      assert.deepEqual(reporter.warnings().filter((w) => w.code.startsWith('debian-index')), [])
    } finally {
      nip.close()
    }
  })

  it('no mirror has it intact: the last good copy is kept, the suite\'s other index is used, the warning names what is not in use', async () => {
    const root = await newRoot()
    const a = await mirrorOf('old')
    const b = await mirrorOf('old')
    // First the old state of the suite, read whole: its binary-all index becomes the last good copy.
    {
      const { nip } = await open(root, a, b)
      try {
        assert.equal(await candidate(nip, 'secdoc'), '1.0')
        assert.equal(await candidate(nip, 'secapp'), '1.0')
      } finally {
        nip.close()
      }
    }
    // Then the mirrors sync to the new state, whose binary-all index neither delivers intact.
    const broken: [RegExp, MirrorFault][] = [
      [/binary-all\/by-hash\//, { type: 'status', status: 404 }],
      [/binary-all\/Packages\.xz$/, { type: 'corrupt' }],
    ]
    serve(a, 'new', broken)
    serve(b, 'new', broken)
    const before = { a: a.requests.length, b: b.requests.length }
    const { nip, reporter } = await open(root, a, b)
    try {
      // nip update reports the suite as partial, naming the index whose last good copy is kept.
      const update = await nip.update()
      const debian = update.sources.find((s) => s.source === 'debian')!
      assert.equal(debian.status, 'partial')
      assert.match(debian.parts![0]!.detail, /sec main\/binary-all: the last good copy \(2025-01-01T00:00:00\.000Z\) is kept/)
      // The update in the amd64 index is in use: losing binary-all did not drop the suite.
      const result = await nip.install(['secapp'], { yes: true })
      assert.deepEqual(result.grafted.map((p) => `${p.name} ${p.version}`), ['secapp 1.1'])
      // binary-all: the old copy, as apt would ("old ones used instead").
      assert.equal(await candidate(nip, 'secdoc'), '1.0')
      for (const [m, from] of [[a, before.a], [b, before.b]] as const) {
        const since = m.requests.slice(from)
        assert.deepEqual(since.filter((r) => r.path.startsWith(`/debian/${ALL}by-hash/`)).map((r) => r.status), [404])
        assert.deepEqual(since.filter((r) => r.path === `/debian/${ALL}Packages.xz`).map((r) => r.status), [200])
      }
      // Once by nip update, once by the query that read the local index after it.
      const warnings = reporter.warnings().filter((w) => w.code.startsWith('debian-index'))
      assert.ok(warnings.length >= 1, JSON.stringify(warnings))
      assert.deepEqual(readdirSync(path.dirname(root)), ['root'], 'nothing was written beside the root')
      for (const w of warnings) {
        assert.equal(w.code, 'debian-index-stale')
        assert.match(w.message, /^sec main\/binary-all: updates for these packages are not in use \(the index of 2025-01-01T00:00:00\.000Z is used instead; /)
        assert.ok(!/binary-amd64/.test(w.message))
      }
    } finally {
      nip.close()
    }
  })

  it('no mirror has it intact and there is no earlier copy: only that index\'s packages are missing, and asking for one names why', async () => {
    const broken: [RegExp, MirrorFault][] = [[/binary-all\/(by-hash\/.*|Packages\.xz)$/, { type: 'corrupt' }]]
    const a = await mirrorOf('new', broken)
    const b = await mirrorOf('new', broken)
    const { nip, reporter } = await open(await newRoot(), a, b)
    try {
      assert.equal(await candidate(nip, 'secapp'), '1.1')
      const warnings = reporter.warnings().filter((w) => w.code.startsWith('debian-index'))
      assert.equal(warnings.length, 1, JSON.stringify(warnings))
      assert.equal(warnings[0]!.code, 'debian-index-missing')
      assert.match(warnings[0]!.message, /^sec main\/binary-all: these packages are not in use \(/)
      await assert.rejects(nip.install(['secdoc'], { yes: true }), (e) => isNipError(e, 'ERR_NIP_HASH_MISMATCH') && /sec main\/binary-all is not in use/.test((e as Error).message))
      assert.deepEqual(nip.list().map((p) => p.name), [])
    } finally {
      nip.close()
    }
  })

  it('offline queries do not repeat the warning about a lost index: once per index and refresh state', async () => {
    const broken: [RegExp, MirrorFault][] = [[/binary-all\/(by-hash\/.*|Packages\.xz)$/, { type: 'corrupt' }]]
    const a = await mirrorOf('new', broken)
    const root = await newRoot()
    const lostWarnings = (reporter: { warnings(): { code: string }[] }) => reporter.warnings().filter((w) => w.code === 'debian-index-missing').length
    // Each open is one command; the first refreshes the suite (the index is new), the others read it offline.
    const command = async (fn: (nip: Awaited<ReturnType<typeof open>>['nip']) => Promise<unknown>): Promise<number> => {
      const { nip, reporter } = await open(root, a)
      try {
        await fn(nip)
        return lostWarnings(reporter)
      } finally {
        nip.close()
      }
    }
    assert.equal(await command((nip) => candidate(nip, 'secapp')), 1, 'the refresh warns')
    const requests = a.requests.length
    assert.equal(await command((nip) => candidate(nip, 'secapp')), 0, 'an offline query does not repeat it')
    assert.equal(await command((nip) => nip.search('sec')), 0, 'nor does the next')
    assert.equal(a.requests.length, requests, 'those queries were offline')
    // The lost index is still not in use, and asking for its package still says why.
    await command((nip) => assert.rejects(nip.install(['secdoc'], { yes: true }), (e) => isNipError(e, 'ERR_NIP_SOURCE_UNAVAILABLE') && /sec main\/binary-all is not in use: no mirror delivered/.test((e as Error).message)))
    // A refresh tries again and says so again; the queries after it are quiet again.
    assert.equal(await command((nip) => nip.update()), 1, 'a refresh warns again')
    assert.equal(await command((nip) => candidate(nip, 'secapp')), 0)
  })
})
