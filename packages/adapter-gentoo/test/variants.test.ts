/**
 * Variants on install, end to end through Nip with a binhost on 127.0.0.1: `hello +foo` grafts
 * the build with USE=foo and records the variants in its package id; `hello -foo --reinstall`
 * replaces it with the plain build; a combination no build has is refused naming the nearest
 * builds and how they differ; a misspelt flag is refused with the closest known one; fetch
 * refuses a ref whose build does not have the requested USE.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Cas } from '@nip/cas'
import { DEFAULT_LIMITS, Layout, Nip, NipError, RecordingReporter, type AdapterContext } from '@nip/core'
import { checkConsistency, testConfig, type FixtureEntry } from '@nip/testing'
import { createAdapter } from '../src/index.js'
import { buildGpkg, serve, writeBinhost, type BinMeta, type IndexedPackage } from './binhostFixture.js'

const meta = (use: string[]): BinMeta => ({ category: 'app-misc', pf: 'hello-1.0', use, iuse: ['bar', 'foo'] })
const image = (text: string): FixtureEntry[] => [
  { path: 'usr/', type: 'dir' },
  { path: 'usr/bin/', type: 'dir' },
  { path: 'usr/bin/hello', content: `#!/bin/sh\necho ${text}\n`, mode: 0o755 },
]

async function builds(): Promise<IndexedPackage[]> {
  const out: IndexedPackage[] = []
  for (const [buildId, use, text] of [
    [1, ['foo'], 'hello with foo'],
    [2, [], 'hello plain'],
    [3, ['bar'], 'hello with bar'],
  ] as const) {
    const data = await buildGpkg(meta([...use]), image(text), { basename: `hello-1.0-${buildId}` })
    out.push({ meta: meta([...use]), path: `app-misc/hello/hello-1.0-${buildId}.gpkg.tar`, data, buildId })
  }
  return out
}

describe('gentoo variants on install', function () {
  this.timeout(60000)
  let dir: string
  let root: string
  let server: Awaited<ReturnType<typeof serve>>
  let nip: Nip
  let ctx: AdapterContext
  const hello = () => execFileSync(path.join(root, 'System', 'Links', 'Executables', 'hello'), { encoding: 'utf8' })
  const open = () =>
    Nip.open({
      loaded: testConfig(root, { sources: [{ id: 'gentoo', enabled: true, priority: 10, table: { binhosts: [server.url] } }] }),
      reporter: new RecordingReporter(),
      adapters: [createAdapter()],
    })

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-gentoo-variants-'))
    root = path.join(dir, 'root')
    fs.mkdirSync(root)
    const host = path.join(dir, 'binhost')
    writeBinhost(host, await builds())
    server = await serve(host)
    nip = await open()
    const layout = new Layout(testConfig(root).config)
    const cas = new Cas(layout.casDir)
    await cas.init()
    ctx = { layout, cas, reporter: new RecordingReporter(), config: { binhosts: [server.url] }, cacheDir: layout.adapterCacheDir('gentoo'), limits: DEFAULT_LIMITS }
  })
  after(async () => {
    nip?.close()
    await server?.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('plans the build matching +foo and shows the variants per program', async () => {
    const dry = await nip.install(['hello +foo'], { dryRun: true })
    assert.deepEqual(
      dry.plan.programs.map((p) => [p.name, p.version, p.packageId, p.variants]),
      [['hello', '1.0', `binpkg:app-misc/hello/hello-1.0-1.gpkg.tar@@${server.url} +foo`, ['+foo']]],
    )
    const both = await nip.install(['gentoo:hello +foo -bar'], { dryRun: true })
    assert.equal(both.plan.programs[0].packageId, `binpkg:app-misc/hello/hello-1.0-1.gpkg.tar@@${server.url} +foo -bar`)
  })

  it('grafts the +foo build, runs it and records the variants in the package id', async () => {
    // A dry run leaves the engine's reader on an absent database; a new engine sees the graft.
    nip.close()
    nip = await open()
    const result = await nip.install(['hello +foo'])
    assert.deepEqual(result.grafted.map((p) => p.packageId), [`binpkg:app-misc/hello/hello-1.0-1.gpkg.tar@@${server.url} +foo`])
    assert.equal(hello(), 'hello with foo\n')
    assert.deepEqual(nip.list().map((p) => p.packageId), [`binpkg:app-misc/hello/hello-1.0-1.gpkg.tar@@${server.url} +foo`])
  })

  it('replaces it with the build matching -foo -bar on --reinstall', async () => {
    const result = await nip.install(['hello -foo -bar'], { reinstall: true })
    assert.deepEqual(result.grafted.map((p) => p.packageId), [`binpkg:app-misc/hello/hello-1.0-2.gpkg.tar@@${server.url} -foo -bar`])
    assert.equal(hello(), 'hello plain\n')
    assert.deepEqual((await checkConsistency(nip)).problems, [])
  })

  it('refuses +foo +bar naming the nearest builds and the flags they differ in, and changes nothing', async () => {
    await assert.rejects(nip.install(['gentoo:hello +foo +bar'], { reinstall: true }), (e: unknown) => {
      assert.ok(e instanceof NipError)
      assert.equal(e.code, 'ERR_NIP_NOT_FOUND')
      assert.equal(
        e.message,
        'No binary build of app-misc/hello has the requested USE (+foo +bar); app-misc/hello/hello-1.0-3.gpkg.tar differs in +foo; app-misc/hello/hello-1.0-1.gpkg.tar differs in +bar; app-misc/hello/hello-1.0-2.gpkg.tar differs in +bar +foo',
      )
      assert.deepEqual(e.data.requested, { enable: ['bar', 'foo'], disable: [] })
      return true
    })
    // Without a named source the dispatcher's refusal still carries the gentoo explanation.
    await assert.rejects(nip.install(['hello +foo +bar']), (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_NOT_FOUND' && /hello-1\.0-1\.gpkg\.tar differs in \+bar/.test(e.message))
    assert.equal(hello(), 'hello plain\n')
  })

  it('refuses a misspelt flag with the closest known flag', async () => {
    await assert.rejects(nip.install(['gentoo:hello +fooo']), (e: unknown) => {
      assert.ok(e instanceof NipError)
      assert.equal(e.code, 'ERR_NIP_BAD_SPEC')
      assert.equal(e.message, 'app-misc/hello has no USE flag fooo (did you mean foo?)')
      assert.deepEqual(e.data.closest, ['foo'])
      return true
    })
  })

  it('fetch refuses a ref whose build lacks the requested USE', async () => {
    const adapter = createAdapter()
    const [plain] = await adapter.resolve({ name: 'hello', raw: 'hello', variants: ['-foo', '-bar'] }, ctx)
    await assert.rejects(adapter.fetch({ ...plain, variants: ['+foo'] }, ctx), (e: unknown) => {
      assert.ok(e instanceof NipError)
      assert.equal(e.code, 'ERR_NIP_NOT_FOUND')
      assert.equal(e.message, 'No binary build of app-misc/hello has the requested USE (+foo); app-misc/hello/hello-1.0-2.gpkg.tar differs in +foo')
      return true
    })
  })
})
