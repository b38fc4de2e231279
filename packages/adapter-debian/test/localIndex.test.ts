/**
 * The Debian source's local index: `nip update` refreshes it (a per-suite result), queries and
 * installs read it without the network while it is younger than `index-max-age`, an older one is
 * refreshed first and, when the mirror is gone, used with a warning giving its age; an update that
 * fails keeps the last good copy. Search results are ranked (exact name, prefix, the rest) and
 * name what is installed. Loopback mirror, real .debs (dpkg-deb), InRelease clear-signed by a
 * throw-away key.
 */
import { strict as assert } from 'node:assert'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { listTree, openNip, startMirror, tempRoot, type Mirror } from '@nip/testing'
import { DebianAdapter } from '../src/index.js'
import { buildDeb, hasTool, killAgent, makeGpgKey, packagesStanza, writeSuite, type DebSpec, type GpgKey } from './debRepository.js'

const STATUS = new URL('./fixtures/dpkg-status', import.meta.url).pathname
const spec = (name: string): DebSpec => ({ name, version: '1.0', files: { [`usr/bin/${name}`]: `#!/bin/sh\necho ${name}\n` } })

describe('debian: the local index (nip update, offline, maximum age, ranked search)', function () {
  this.timeout(120000)
  let dir: string
  let key: GpgKey
  const files = new Map<string, Buffer>()
  const roots: string[] = []
  const mirrors: Mirror[] = []

  before(function () {
    for (const tool of ['dpkg-deb', 'gpg', 'xz']) {
      if (!hasTool(tool)) {
        console.log(`  (skipped: ${tool} not installed)`)
        this.skip()
      }
    }
    dir = mkdtempSync(path.join(os.tmpdir(), 'nip-debian-local-'))
    key = makeGpgKey(dir)
    const repo = path.join(dir, 'repo')
    // Alphabetically "libsec1" < "sec" < "secapp"; ranked, the exact name comes first.
    const stanzas = ['libsec1', 'othertool', 'sec', 'secapp'].map((n) => packagesStanza(repo, spec(n), buildDeb(dir, spec(n))))
    writeSuite(repo, { suite: 'local', stanzas, key })
    for (const rel of listTree(repo)) if (statSync(path.join(repo, rel)).isFile()) files.set(`/debian/${rel}`, readFileSync(path.join(repo, rel)))
  })
  afterEach(async () => {
    for (const m of mirrors.splice(0)) await m.close().catch(() => undefined)
  })
  after(() => {
    if (key) killAgent(key)
    if (dir) rmSync(dir, { recursive: true, force: true })
    for (const r of roots) rmSync(r, { recursive: true, force: true })
  })

  async function mirror(): Promise<Mirror> {
    const m = await startMirror(Object.fromEntries([...files].map(([p, body]) => [p, { body }])))
    mirrors.push(m)
    return m
  }

  async function newRoot(): Promise<string> {
    const parent = await tempRoot('nip-debian-local-root-')
    roots.push(parent)
    const root = path.join(parent, 'root')
    mkdirSync(root)
    return root
  }

  function open(root: string, url: string, indexMaxAge?: number) {
    const table = { 'host-sources': false, sources: [{ uri: `${url}/debian`, suite: 'local', components: ['main'], 'signed-by': key.keyring }], architecture: 'amd64', 'dpkg-status': STATUS, retries: 0, timeout: 2 }
    return openNip(root, [new DebianAdapter()], { sources: [{ id: 'debian', enabled: true, priority: 10, table }], ...(indexMaxAge !== undefined ? { indexMaxAge } : {}) })
  }

  it('after nip update, queries and a cached install work with the mirror gone, and touch no network', async () => {
    const root = await newRoot()
    const m = await mirror()
    const url = m.url
    {
      const { nip } = await open(root, url)
      try {
        const update = await nip.update()
        assert.equal(update.ok, true)
        assert.deepEqual(update.sources.map((s) => [s.source, s.status, s.parts?.map((p) => `${p.name.replace(url, 'MIRROR')} ${p.status} ${p.detail}`)]), [['debian', 'updated', ['MIRROR/debian local updated 4 packages']]])
        // The same metadata again: unchanged.
        assert.equal((await nip.update()).sources[0]!.status, 'unchanged')
        await nip.install(['secapp'], { yes: true } as never)
        await nip.remove(['secapp'])
        await nip.gc() // the removed version is collected: installing it again needs its .deb
      } finally {
        nip.close()
      }
    }
    const seen = m.requests.length
    // Fresh local index: nothing asks the mirror.
    {
      const { nip } = await open(root, url)
      try {
        assert.equal((await nip.info('secapp')).candidates[0]?.version, '1.0')
        assert.equal(m.requests.length, seen, 'no request while the index is fresh')
      } finally {
        nip.close()
      }
    }
    await m.close()
    const { nip, reporter } = await open(root, url)
    try {
      const hits = await nip.search('sec')
      assert.deepEqual(hits.map((h) => h.ref.name), ['sec', 'secapp', 'libsec1'])
      assert.equal((await nip.info('secapp')).candidates[0]?.version, '1.0')
      const r = await nip.install(['secapp'], { yes: true } as never)
      assert.deepEqual(r.grafted.map((p) => `${p.name} ${p.version}`), ['secapp 1.0'])
      const marked = await nip.search('secapp')
      assert.deepEqual(marked.map((h) => [h.ref.name, h.installed]), [['secapp', { version: '1.0', source: 'debian' }]])
      assert.deepEqual(reporter.warnings().filter((w) => w.code.startsWith('debian-index')), [])
      assert.deepEqual(readdirSync(path.dirname(root)), ['root'])
    } finally {
      nip.close()
    }
  })

  it('keeps the parsed index in <state-dir>/index/debian.sqlite, rebuilt when damaged', async () => {
    const root = await newRoot()
    const m = await mirror()
    const file = path.join(root, 'var/nip/index/debian.sqlite')
    {
      const { nip } = await open(root, m.url)
      try {
        await nip.update()
        assert.ok(statSync(file).size > 0)
      } finally {
        nip.close()
      }
    }
    writeFileSync(file, 'not a database, just damage\n'.repeat(200))
    rmSync(`${file}-wal`, { force: true })
    rmSync(`${file}-shm`, { force: true })
    const { nip } = await open(root, m.url)
    try {
      assert.deepEqual((await nip.search('sec')).map((h) => h.ref.name), ['sec', 'secapp', 'libsec1'])
      assert.equal((await nip.info('othertool')).candidates[0]?.version, '1.0')
    } finally {
      nip.close()
    }
  })

  it('a local InRelease changed in the cache is verified again and refused, not used', async () => {
    const root = await newRoot()
    const m = await mirror()
    {
      const { nip } = await open(root, m.url)
      try {
        await nip.update()
      } finally {
        nip.close()
      }
    }
    await m.close()
    const lists = path.join(root, 'var/nip/cache/debian/lists')
    const inRelease = path.join(lists, readdirSync(lists)[0]!, 'InRelease')
    writeFileSync(inRelease, readFileSync(inRelease, 'utf8').replace('Label: Nip', 'Label: Evil'))
    const { nip } = await open(root, m.url)
    try {
      await assert.rejects(nip.info('secapp'), (e) => (e as { code?: string }).code === 'ERR_NIP_SIGNATURE_INVALID')
    } finally {
      nip.close()
    }
  })

  it('an index older than index-max-age is refreshed first; with the mirror gone it is used with a warning giving its age', async () => {
    const root = await newRoot()
    const m = await mirror()
    {
      const { nip } = await open(root, m.url)
      try {
        await nip.update()
      } finally {
        nip.close()
      }
    }
    const seen = m.requests.length
    {
      // index-max-age 0: every query refreshes.
      const { nip } = await open(root, m.url, 0)
      try {
        assert.equal((await nip.info('sec')).candidates[0]?.version, '1.0')
        assert.ok(m.requests.slice(seen).some((r) => r.path === '/debian/dists/local/InRelease'), 'refreshed from the mirror')
      } finally {
        nip.close()
      }
    }
    await m.close()
    const { nip, reporter } = await open(root, m.url, 0)
    try {
      assert.equal((await nip.info('sec')).candidates[0]?.version, '1.0')
      const w = reporter.warnings().filter((x) => x.code === 'debian-index-offline')
      assert.equal(w.length, 1, JSON.stringify(reporter.warnings()))
      assert.match(w[0]!.message, /^debian: http:\/\/127\.0\.0\.1:\d+\/debian local could not be refreshed \(.+\); using the local index from \d+ (s|min) ago$/)
      assert.equal(typeof w[0]!.data?.ageSeconds, 'number')
    } finally {
      nip.close()
    }
  })

  it('an update that fails keeps the last good copy, and says so per source', async () => {
    const root = await newRoot()
    const m = await mirror()
    {
      const { nip } = await open(root, m.url)
      try {
        assert.equal((await nip.update()).ok, true)
      } finally {
        nip.close()
      }
    }
    // The mirror now serves a damaged InRelease (the signature no longer verifies).
    m.setRoute('/debian/dists/local/InRelease', { body: files.get('/debian/dists/local/InRelease')!.toString('utf8').replace('Label: Nip', 'Label: Evil') })
    const { nip } = await open(root, m.url)
    try {
      const update = await nip.update()
      assert.equal(update.ok, false)
      assert.equal(update.sources[0]!.status, 'failed')
      assert.match(update.sources[0]!.parts![0]!.detail, /^ERR_NIP_SIGNATURE_INVALID: .*\(the last good copy stays\)$/)
      // The next query reads the last good copy.
      assert.equal((await nip.info('secapp')).candidates[0]?.version, '1.0')
    } finally {
      nip.close()
    }
  })
})
