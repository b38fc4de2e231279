/**
 * Binhost grafts end to end: GPKG and XPAK packages built to the format, served on 127.0.0.1
 * with a Packages index, resolved by USE, installed through Nip and run; a checksum mismatch, a
 * tampered GPKG and hostile images are refused with their own codes and nothing is grafted.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Cas } from '@nip/cas'
import { DEFAULT_LIMITS, Layout, Nip, NipError, RecordingReporter, type AdapterContext } from '@nip/core'
import { buildHostileArchives, checkConsistency, testConfig, type FixtureEntry } from '@nip/testing'
import { createAdapter } from '../src/index.js'
import * as openpgp from 'openpgp'
import { buildGpkg, buildXpak, serve, writeBinhost, type BinMeta, type IndexedPackage } from './binhostFixture.js'

const script = (text: string): FixtureEntry => ({ path: 'usr/bin/hello', content: `#!/bin/sh\necho ${text}\n`, mode: 0o755 })
const meta = (pf: string, use: string[], iuse: string[] = ['bar', 'foo']): BinMeta => ({ category: 'app-misc', pf, use, iuse })

async function packages(): Promise<IndexedPackage[]> {
  const hostile = buildHostileArchives()
  const out: IndexedPackage[] = []
  const gpkg = async (pf: string, buildId: number, use: string[], image: FixtureEntry[], extra: Partial<IndexedPackage> & { tamper?: boolean } = {}) => {
    const name = pf.replace(/-[0-9].*$/, '')
    const data = await buildGpkg(meta(pf, use), image, { basename: `${pf}-${buildId}`, tamper: extra.tamper })
    out.push({ meta: meta(pf, use), path: `app-misc/${name}/${pf}-${buildId}.gpkg.tar`, data, buildId, md5: extra.md5 })
  }
  await gpkg('hello-1.0', 1, ['foo'], [{ path: 'usr/', type: 'dir' }, { path: 'usr/bin/', type: 'dir' }, script('hello with foo')])
  await gpkg('hello-1.0', 2, [], [{ path: 'usr/', type: 'dir' }, { path: 'usr/bin/', type: 'dir' }, script('hello plain'), { path: 'etc/hello.conf', content: 'greeting=hi\n' }])
  const greetMeta = meta('greet-2.0-r1', ['amd64'], [])
  const greet = await buildXpak(greetMeta, [
    { path: 'usr/bin/greet', content: '#!/bin/sh\necho greetings from xpak\n', mode: 0o755 },
    { path: 'usr/share/man/man1/greet.1', content: '.TH GREET 1\n' },
    { path: 'usr/lib64/libgreet.so.1', content: 'ELF?' },
    { path: 'usr/lib64/libgreet.so', type: 'symlink', target: 'libgreet.so.1' },
  ])
  out.push({ meta: greetMeta, path: 'app-misc/greet/greet-2.0-r1-1.xpak', data: greet, buildId: 1 })
  await gpkg('badsum-1.0', 1, [], [script('x')], { md5: '0'.repeat(32) })
  await gpkg('tampered-1.0', 1, [], [script('tampered')], { tamper: true })
  await gpkg('hostile-1.0', 1, [], hostile['parent-path'].entries)
  const evil = meta('evilxpak-1.0', [], [])
  out.push({ meta: evil, path: 'app-misc/evilxpak/evilxpak-1.0-1.xpak', data: await buildXpak(evil, hostile['symlink-escape']?.entries ?? hostile['parent-path'].entries), buildId: 1 })
  return out
}

describe('gentoo binhost grafts', function () {
  this.timeout(60000)
  let dir: string
  let root: string
  let server: Awaited<ReturnType<typeof serve>>
  let nip: Nip
  let ctx: AdapterContext
  const hostile = buildHostileArchives()

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-gentoo-binhost-'))
    root = path.join(dir, 'root')
    fs.mkdirSync(root)
    const host = path.join(dir, 'binhost')
    writeBinhost(host, await packages())
    server = await serve(host)
    const table = { binhosts: [server.url] }
    nip = await Nip.open({
      loaded: testConfig(root, { sources: [{ id: 'gentoo', enabled: true, priority: 10, table }] }),
      reporter: new RecordingReporter(),
      adapters: [createAdapter()],
    })
    const layout = new Layout(testConfig(root).config)
    const cas = new Cas(layout.casDir)
    await cas.init()
    ctx = { layout, cas, reporter: new RecordingReporter(), config: table, cacheDir: layout.adapterCacheDir('gentoo'), limits: DEFAULT_LIMITS }
  })
  after(async () => {
    nip?.close()
    await server?.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('resolves the newest build when no USE is asked, and the matching build for +foo / -foo', async () => {
    const adapter = createAdapter()
    const plain = await adapter.resolve({ name: 'hello', raw: 'hello' }, ctx)
    assert.equal(plain[0].id, `binpkg:app-misc/hello/hello-1.0-2.gpkg.tar@@${server.url}`)
    const foo = await adapter.resolve({ name: 'app-misc/hello', raw: 'app-misc/hello', variants: ['+foo'] }, ctx)
    assert.equal(foo[0].id, `binpkg:app-misc/hello/hello-1.0-1.gpkg.tar@@${server.url} +foo`)
    const described = await adapter.describe(foo[0], ctx)
    assert.deepEqual(described.variants, ['-bar', '+foo'])
    assert.deepEqual(described.extra?.use, ['foo'])
    const noFoo = await adapter.resolve({ name: 'hello', raw: 'hello', variants: ['-foo'] }, ctx)
    assert.match(noFoo[0].id, /hello-1\.0-2\.gpkg\.tar/)
  })

  it('names the differing USE of the nearest builds when none matches', async () => {
    const adapter = createAdapter()
    await assert.rejects(adapter.resolve({ name: 'hello', raw: 'hello', variants: ['+foo', '+bar'] }, ctx), (e: unknown) => {
      assert.ok(e instanceof NipError)
      assert.equal(e.code, 'ERR_NIP_NOT_FOUND')
      assert.deepEqual(e.data.nearest, [
        { path: 'app-misc/hello/hello-1.0-1.gpkg.tar', differs: ['+bar'] },
        { path: 'app-misc/hello/hello-1.0-2.gpkg.tar', differs: ['+bar', '+foo'] },
      ])
      return true
    })
  })

  it('nip update refreshes the binhost index (a result per binhost); a fresh local index is read without the network', async () => {
    const u = await nip.update({ source: 'gentoo' })
    assert.deepEqual(u.sources.map((s) => [s.source, s.parts?.map((p) => `${p.name} ${p.status === 'failed' ? 'failed' : 'ok'} ${p.detail}`)]), [['gentoo', [`${server.url}/Packages ok 7 builds`]]])
    const adapter = createAdapter()
    const gone = { ...ctx, config: { binhosts: [server.url] } }
    // A second adapter reads the cached index, fresh: the binhost is not asked.
    const seen = server.requests.length
    assert.equal((await adapter.resolve({ name: 'greet', raw: 'greet' }, gone))[0]?.version, '2.0-r1')
    assert.equal(server.requests.length, seen)
  })

  it('grafts a GPKG and runs it', async () => {
    const result = await nip.install(['hello'])
    assert.deepEqual(result.grafted.map((p) => `${p.name}/${p.version}`), ['hello/1.0'])
    const out = execFileSync(path.join(root, 'System', 'Links', 'Executables', 'hello'), { encoding: 'utf8' })
    assert.equal(out, 'hello plain\n')
    assert.equal(fs.readFileSync(path.join(root, 'Programs', 'hello', 'Settings', 'hello.conf'), 'utf8'), 'greeting=hi\n')
  })

  it('fetches a build whose binhost is gone from another binhost listing the same PATH and CPV', async () => {
    const adapter = createAdapter()
    const gone = 'http://127.0.0.1:9/gone'
    const r = await adapter.fetch({ source: 'gentoo', name: 'hello', version: '1.0', id: `binpkg:app-misc/hello/hello-1.0-2.gpkg.tar@@${gone}` }, ctx)
    assert.ok(r.entries.some((e) => e.path === 'bin/hello' && e.type === 'file'), JSON.stringify(r.entries.map((e) => e.path)))
    // The PATH alone is not enough: the CPV must be the one recorded, and a PATH no binhost lists is not found.
    for (const [version, file] of [['9.9', 'hello-1.0-2.gpkg.tar'], ['1.0', 'hello-1.0-7.gpkg.tar']]) {
      await assert.rejects(adapter.fetch({ source: 'gentoo', name: 'hello', version, id: `binpkg:app-misc/hello/${file}@@${gone}` }, ctx), (e: unknown) => {
        assert.ok(e instanceof NipError, String(e))
        assert.equal(e.code, 'ERR_NIP_NOT_FOUND')
        return true
      })
    }
  })

  it('grafts an XPAK and runs it', async () => {
    await nip.install(['greet'])
    const links = path.join(root, 'System', 'Links')
    assert.equal(execFileSync(path.join(links, 'Executables', 'greet'), { encoding: 'utf8' }), 'greetings from xpak\n')
    assert.equal(fs.readlinkSync(path.join(root, 'Programs', 'greet', '2.0-r1', 'lib64', 'libgreet.so')), 'libgreet.so.1')
    assert.ok(fs.existsSync(path.join(links, 'Manuals', 'man1', 'greet.1')) || fs.existsSync(path.join(links, 'Shared', 'man', 'man1', 'greet.1')))
  })

  for (const [name, code] of [
    ['badsum', 'ERR_NIP_HASH_MISMATCH'],
    ['tampered', 'ERR_NIP_HASH_MISMATCH'],
    ['hostile', hostile['parent-path'].code],
    ['evilxpak', (hostile['symlink-escape'] ?? hostile['parent-path']).code],
  ] as const) {
    it(`refuses ${name} with ${code} and grafts nothing`, async () => {
      await assert.rejects(nip.install([name]), (e: unknown) => {
        assert.ok(e instanceof NipError, String(e))
        assert.equal(e.code, code, e.message)
        return true
      })
      assert.ok(!fs.existsSync(path.join(root, 'Programs', name)))
      assert.ok(!nip.list().some((p) => p.name === name))
      const report = await checkConsistency(nip)
      assert.deepEqual(report.problems, [])
    })
  }
})

describe('gentoo binhost signatures', function () {
  this.timeout(60000)
  let dir: string
  let server: Awaited<ReturnType<typeof serve>>
  let nip: Nip

  async function signer(name: string): Promise<{ armoredPublic: string; sign: (text: string) => Promise<string> }> {
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name, email: `${name}@binhost.test` }], format: 'object' })
    return {
      armoredPublic: publicKey.armor(),
      sign: async (text) => openpgp.sign({ message: await openpgp.createCleartextMessage({ text }), signingKeys: privateKey }) as Promise<string>,
    }
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-gentoo-sig-'))
    const trusted = await signer('trusted')
    const stranger = await signer('stranger')
    const image = [script('signed hello')]
    const pkgs: IndexedPackage[] = []
    for (const [pf, sign] of [['signed-1.0', trusted.sign], ['foreign-1.0', stranger.sign], ['unsigned-1.0', undefined]] as const) {
      const m = meta(pf, [], [])
      pkgs.push({ meta: m, path: `app-misc/${pf.replace(/-1\.0$/, '')}/${pf}-1.gpkg.tar`, data: await buildGpkg(m, image, { basename: `${pf}-1`, sign }), buildId: 1 })
    }
    writeBinhost(path.join(dir, 'binhost'), pkgs)
    fs.writeFileSync(path.join(dir, 'trusted.asc'), trusted.armoredPublic)
    server = await serve(path.join(dir, 'binhost'))
    const root = path.join(dir, 'root')
    fs.mkdirSync(root)
    const table = { binhosts: [server.url], keyring: path.join(dir, 'trusted.asc') }
    nip = await Nip.open({ loaded: testConfig(root, { sources: [{ id: 'gentoo', enabled: true, priority: 10, table }] }), reporter: new RecordingReporter(), adapters: [createAdapter()] })
  })
  after(async () => {
    nip?.close()
    await server?.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('grafts a GPKG whose Manifest is signed by a trusted key', async () => {
    const r = await nip.install(['signed'])
    assert.deepEqual(r.grafted.map((p) => p.name), ['signed'])
  })
  for (const [name, code] of [['foreign', 'ERR_NIP_KEY_UNKNOWN'], ['unsigned', 'ERR_NIP_SIGNATURE_MISSING']] as const) {
    it(`refuses ${name} with ${code}`, async () => {
      await assert.rejects(nip.install([name]), (e: unknown) => e instanceof NipError && e.code === code)
      assert.ok(!nip.list().some((p) => p.name === name))
    })
  }
})
