import { strict as assert } from 'node:assert'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, readlinkSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { mkdirSync, mkdtempSync } from 'node:fs'
import { isNipError } from '@nip/core'
import { buildTar, compressBuffer, listTree, openNip, tempRoot } from '@nip/testing'
import { DebianAdapter } from '../src/index.js'
import { buildAr, buildDeb, controlText, hasTool, killAgent, makeGpgKey, packagesStanza, serve, writeSuite, type DebSpec, type GpgKey } from './debRepository.js'

/**
 * The code a refusal carries. The dispatcher reports a resolve-time refusal inside
 * ERR_NIP_NOT_FOUND (data.tried[].outcome starts with the adapter's code).
 */
function hasCode(e: unknown, code: string): boolean {
  if (isNipError(e) && e.code === code) return true
  const tried = isNipError(e, 'ERR_NIP_NOT_FOUND') ? (e.data.tried as { outcome: string }[]) : []
  return tried.some((t) => t.outcome.startsWith(`${code}:`))
}

const STATUS = new URL('./fixtures/dpkg-status', import.meta.url).pathname

const GREET: DebSpec = {
  name: 'greet',
  version: '1:1.0-1',
  fields: { Depends: 'libgreet1 (>= 1.2) | libgreet-legacy, hostpkg (>= 2.0), greet-data-virtual, host-virtual (>= 1.0)', 'Installed-Size': '12' },
  files: { 'usr/bin/greet': '#!/bin/sh\necho "greet 1.0 $(cat "$(dirname "$0")/../Shared/greet/words")"\n', 'etc/greet.conf': 'loud = no\n' },
  conffiles: ['etc/greet.conf'],
  symlinks: { 'usr/share/greet/greet.conf': '/etc/greet.conf' },
  scripts: { postinst: '#!/bin/sh\necho configured\n' },
}
const LIB: DebSpec = {
  name: 'libgreet1',
  version: '1.2-1',
  files: { 'usr/lib/x86_64-linux-gnu/libgreet.so.1.2.0': 'ELF-ish\n' },
  symlinks: { 'usr/lib/x86_64-linux-gnu/libgreet.so.1': 'libgreet.so.1.2.0', 'usr/share/doc/libgreet1/README': '/usr/lib/x86_64-linux-gnu/libgreet.so.1' },
}
const DATA: DebSpec = {
  name: 'greet-words',
  version: '2.0',
  arch: 'all',
  fields: { Provides: 'greet-data-virtual' },
  files: { 'usr/share/greet/words': 'hello world\n' },
}
const CONFLICTED: DebSpec = { name: 'libgreet-legacy', version: '0.9', fields: { Conflicts: 'greet' }, files: { 'usr/share/legacy/x': 'x\n' } }

describe('debian adapter against a local signed repository', function () {
  this.timeout(120000)
  let dir: string
  let key: GpgKey
  let otherKey: GpgKey
  let server: Awaited<ReturnType<typeof serve>>
  let repo: string
  const debs = new Map<string, string>()
  const roots: string[] = []

  before(function () {
    for (const tool of ['dpkg-deb', 'gpg', 'xz']) {
      if (!hasTool(tool)) {
        console.log(`  (skipped: ${tool} not installed)`)
        this.skip()
      }
    }
  })

  before(async function () {
    if (!hasTool('dpkg-deb') || !hasTool('gpg')) return
    dir = mkdtempSync(path.join(os.tmpdir(), 'nip-debian-'))
    repo = path.join(dir, 'repo')
    key = makeGpgKey(dir)
    otherKey = makeGpgKey(dir, 'Someone Else')
    for (const spec of [GREET, LIB, DATA, CONFLICTED]) debs.set(spec.name, buildDeb(dir, spec))
    const stanzas = [GREET, LIB, DATA, CONFLICTED].map((s) => packagesStanza(repo, s, debs.get(s.name)!))
    writeSuite(repo, { suite: 'good', stanzas, key })
    writeSuite(repo, { suite: 'tampered', stanzas, key, tamper: true })
    writeSuite(repo, { suite: 'foreign', stanzas, key: otherKey })
    writeSuite(repo, { suite: 'expired', stanzas, key, validUntil: new Date('2020-01-01T00:00:00Z') })
    writeSuite(repo, { suite: 'badindex', stanzas, key, wrongIndexHash: true })
    const badDeb = [packagesStanza(repo, GREET, debs.get('greet')!, { sha256: '0'.repeat(64) }), ...stanzas.slice(1)]
    writeSuite(repo, { suite: 'baddeb', stanzas: badDeb, key })
    // A hostile package: a well-formed .deb whose data.tar climbs out of the tree.
    const evil: DebSpec = { name: 'evil', version: '1.0', files: {} }
    const hostile = buildAr([
      { name: 'debian-binary', data: Buffer.from('2.0\n') },
      { name: 'control.tar.gz', data: await buildTar([{ path: './control', content: controlText(evil) }], { compression: 'gzip' }) },
      { name: 'data.tar.xz', data: await compressBuffer(await buildTar([{ path: './usr/bin/ok', content: 'ok\n' }, { path: './../../evil', content: 'x\n' }]), 'xz') },
    ])
    const hostileFile = path.join(dir, 'evil_1.0_amd64.deb')
    writeFileSync(hostileFile, hostile)
    debs.set('evil', hostileFile)
    writeSuite(repo, { suite: 'hostile', stanzas: [...stanzas, packagesStanza(repo, evil, hostileFile)], key })
    server = await serve(repo)
  })

  after(async () => {
    await server?.close()
    if (key) killAgent(key)
    if (otherKey) killAgent(otherKey)
    if (dir) rmSync(dir, { recursive: true, force: true })
    for (const r of roots) rmSync(r, { recursive: true, force: true })
  })

  function table(suite: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      'host-sources': false,
      sources: [{ uri: server.url, suite, components: ['main'], 'signed-by': key.keyring }],
      architecture: 'amd64',
      'dpkg-status': STATUS,
      ...extra,
    }
  }

  async function open(suite: string, extra: Record<string, unknown> = {}) {
    // The root sits in a private parent, so "nothing outside the root" checks scan only that parent.
    const parent = await tempRoot('nip-debian-root-')
    roots.push(parent)
    const root = path.join(parent, 'root')
    mkdirSync(root)
    const { nip, reporter } = await openNip(root, [new DebianAdapter()], { sources: [{ id: 'debian', enabled: true, priority: 10, table: table(suite, extra) }] })
    return { root, nip, reporter }
  }

  it('grafts a package with its dependencies, skipping what dpkg has on the host', async () => {
    const { root, nip, reporter } = await open('good')
    try {
      const result = await nip.install(['greet'], { yes: true })
      assert.deepEqual(result.grafted.map((p) => `${p.name} ${p.version}`).sort(), ['greet 1:1.0-1', 'greet-words 2.0', 'libgreet1 1.2-1'])
      const out = execFileSync(path.join(root, 'System/Links/Executables/greet'), { encoding: 'utf8' })
      assert.equal(out, 'greet 1.0 hello world\n')
      // usr/lib/<triplet> collapses into lib/; symlinks are re-targeted after mapping.
      assert.equal(readlinkSync(path.join(root, 'Programs/libgreet1/1.2-1/lib/libgreet.so.1')), 'libgreet.so.1.2.0')
      assert.equal(readlinkSync(path.join(root, 'Programs/libgreet1/1.2-1/share/doc/libgreet1/README')), '../../../lib/libgreet.so.1')
      assert.equal(readFileSync(path.join(root, 'System/Links/Libraries/libgreet.so.1'), 'utf8'), 'ELF-ish\n')
      // The conffile became a setting.
      assert.equal(readFileSync(path.join(root, 'Programs/greet/Settings/greet.conf'), 'utf8'), 'loud = no\n')
      // A link into /etc reaches the setting (beside the version directories), also through the farm.
      assert.equal(readlinkSync(path.join(root, 'Programs/greet/1:1.0-1/share/greet/greet.conf')), '../../../Settings/greet.conf')
      assert.equal(readFileSync(path.join(root, 'System/Links/Shared/greet/greet.conf'), 'utf8'), 'loud = no\n')
      assert.equal((await nip.doctor()).healthy, true)
      // Maintainer scripts: one warning, naming them (not one from the source and one from core).
      const scripts = reporter.warnings().filter((w) => /script/i.test(w.code))
      assert.deepEqual(scripts.map((w) => w.code), ['scriptlet-not-run'])
      assert.ok(scripts[0].message.includes('postinst'), scripts[0].message)
      assert.ok(!existsSync(path.join(root, 'Programs/hostpkg')))
      assert.ok(!existsSync(path.join(root, 'Programs/libgreet-legacy')))
    } finally {
      nip.close()
    }
  })

  it('grafts the host packages too when host-packages is off', async () => {
    const { nip } = await open('good', { 'host-packages': false })
    try {
      await assert.rejects(nip.install(['greet'], { yes: true }), (e) => isNipError(e, 'ERR_NIP_UNSATISFIED_DEPENDENCY') && /hostpkg/.test(e.message))
    } finally {
      nip.close()
    }
  })

  it('searches and describes the indexed packages', async () => {
    const { nip } = await open('good')
    try {
      const hits = await nip.search('greet')
      assert.deepEqual(hits.map((h) => h.ref.name).sort(), ['greet', 'greet-words', 'libgreet-legacy', 'libgreet1'])
      const info = await nip.info('greet-words')
      assert.ok(JSON.stringify(info).includes('greet-data-virtual'))
    } finally {
      nip.close()
    }
  })

  it('grafts a local .deb, taking its dependencies from the sources', async () => {
    const { root, nip } = await open('good')
    try {
      const result = await nip.install([debs.get('greet')!], { yes: true })
      assert.deepEqual(result.grafted.map((p) => p.name).sort(), ['greet', 'greet-words', 'libgreet1'])
      assert.ok(existsSync(path.join(root, 'System/Links/Executables/greet')))
    } finally {
      nip.close()
    }
  })

  const refusals: [string, string, Record<string, unknown>?][] = [
    ['tampered', 'ERR_NIP_SIGNATURE_INVALID'],
    ['foreign', 'ERR_NIP_KEY_UNKNOWN'],
    ['expired', 'ERR_NIP_METADATA_EXPIRED'],
    ['badindex', 'ERR_NIP_HASH_MISMATCH'],
    ['baddeb', 'ERR_NIP_HASH_MISMATCH'],
  ]
  for (const [suite, code] of refusals) {
    it(`refuses the "${suite}" suite with ${code}, grafting nothing`, async () => {
      const { root, nip } = await open(suite)
      try {
        await assert.rejects(nip.install(['greet'], { yes: true }), (e) => hasCode(e, code))
        assert.deepEqual(nip.list(), [])
        assert.deepEqual(readdirSync(path.join(root, 'Programs')).filter((n) => !n.startsWith('.')), [])
      } finally {
        nip.close()
      }
    })
  }

  it('refuses a hostile data.tar with its unpacking code, grafting nothing', async () => {
    const { root, nip } = await open('hostile')
    try {
      await assert.rejects(nip.install(['evil'], { yes: true }), (e) => isNipError(e, 'ERR_NIP_UNSAFE_PARENT_PATH'))
      assert.deepEqual(nip.list(), [])
      assert.deepEqual(listTree(path.dirname(root)).filter((p) => p !== 'root' && !p.startsWith('root/')), [])
      assert.ok(!listTree(root).some((p) => p.endsWith('/evil')))
    } finally {
      nip.close()
    }
  })

  it('refuses a .deb whose members are out of order', async () => {
    const { nip } = await open('good')
    const file = path.join(dir, 'swapped_1.0_amd64.deb')
    writeFileSync(
      file,
      buildAr([
        { name: 'debian-binary', data: Buffer.from('2.0\n') },
        { name: 'data.tar.gz', data: await buildTar([{ path: './usr/bin/x', content: 'x' }], { compression: 'gzip' }) },
        { name: 'control.tar.gz', data: await buildTar([{ path: './control', content: 'Package: x\n' }], { compression: 'gzip' }) },
      ]),
    )
    try {
      await assert.rejects(nip.install([file], { yes: true }), (e) => hasCode(e, 'ERR_NIP_BAD_PACKAGE') && /premature member/.test((e as Error).message))
    } finally {
      nip.close()
    }
  })
})
