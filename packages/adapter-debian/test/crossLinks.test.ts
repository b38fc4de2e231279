/**
 * Relative links a package ships into another package's directory (libgtk-3-0's
 * `usr/share/doc/libgtk-3-0/NEWS.gz -> ../libgtk-3-common/NEWS.gz`, licence links into
 * `usr/share/common-licenses`): grafted, they reach the other program through the link farm,
 * `nip doctor` is clean, what `doctor --fix` calls fixed is gone for the next `doctor`, and a
 * tampered binary repaired by `doctor --fix` is clean for `verify`.
 */
import { strict as assert } from 'node:assert'
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { DoctorReport } from '@nip/core'
import { assertUnchanged, openNip, snapshotDir, tempRoot } from '@nip/testing'
import { DebianAdapter } from '../src/index.js'
import { buildDeb, hasTool, killAgent, makeGpgKey, packagesStanza, serve, writeSuite, type DebSpec, type GpgKey } from './debRepository.js'

const STATUS = new URL('./fixtures/dpkg-status', import.meta.url).pathname

const COMMON: DebSpec = {
  name: 'libgtk-3-common',
  version: '3.24.38-2',
  arch: 'all',
  files: { 'usr/share/doc/libgtk-3-common/NEWS.gz': 'news\n', 'usr/share/doc/libgtk-3-common/copyright': 'gtk copyright\n' },
}
const LIB: DebSpec = {
  name: 'libgtk-3-0',
  version: '3.24.38-2',
  fields: { Depends: 'libgtk-3-common (>= 3.24.38-2), base-files' },
  files: { 'usr/bin/gtk-query': '#!/bin/sh\necho gtk\n', 'usr/lib/x86_64-linux-gnu/libgtk-3.so.0': 'ELF-ish\n' },
  symlinks: {
    'usr/share/doc/libgtk-3-0/NEWS.gz': '../libgtk-3-common/NEWS.gz',
    'usr/share/doc/libgtk-3-0/copyright': '../libgtk-3-common/copyright',
    'usr/share/doc/libgtk-3-0/LGPL': '../../common-licenses/LGPL-2.1',
    'usr/share/doc/libgtk-3-bin': 'libgtk-3-common',
  },
}
const BASE: DebSpec = { name: 'base-files', version: '12.4', files: { 'usr/share/common-licenses/LGPL-2.1': 'lgpl\n' } }
const VIEWER: DebSpec = { name: 'gtk-viewer', version: '1.0', fields: { Depends: 'libgtk-3-0, libgtk-3-0, hostpkg (>= 2.0)' }, files: { 'usr/bin/gtk-viewer': '#!/bin/sh\n' } }
const LONE: DebSpec = { name: 'lone', version: '1.0', files: { 'usr/bin/lone': '#!/bin/sh\n' }, symlinks: { 'usr/share/doc/lone/copyright': '../../common-licenses/GPL-3' } }

describe('debian: links into another package directory', function () {
  this.timeout(120000)
  let dir: string
  let key: GpgKey
  let server: Awaited<ReturnType<typeof serve>>
  const roots: string[] = []

  before(async function () {
    for (const tool of ['dpkg-deb', 'gpg', 'xz']) {
      if (!hasTool(tool)) {
        console.log(`  (skipped: ${tool} not installed)`)
        this.skip()
      }
    }
    dir = mkdtempSync(path.join(os.tmpdir(), 'nip-debian-xlinks-'))
    const repo = path.join(dir, 'repo')
    key = makeGpgKey(dir)
    const specs = [COMMON, LIB, BASE, LONE, VIEWER]
    const stanzas = specs.map((s) => packagesStanza(repo, s, buildDeb(dir, s)))
    writeSuite(repo, { suite: 'stable', stanzas, key })
    server = await serve(repo)
  })

  after(async () => {
    await server?.close()
    if (key) killAgent(key)
    if (dir) rmSync(dir, { recursive: true, force: true })
    for (const r of roots) rmSync(r, { recursive: true, force: true })
  })

  async function open(extra: Record<string, unknown> = {}) {
    const parent = await tempRoot('nip-debian-xlinks-root-')
    roots.push(parent)
    const root = path.join(parent, 'root')
    mkdirSync(root)
    const beside = path.join(parent, 'beside')
    mkdirSync(beside)
    writeFileSync(path.join(beside, 'keep'), 'x\n')
    const table = { 'host-sources': false, 'host-packages': false, sources: [{ uri: server.url, suite: 'stable', components: ['main'], 'signed-by': key.keyring }], architecture: 'amd64', 'dpkg-status': STATUS, ...extra }
    const { nip } = await openNip(root, [new DebianAdapter()], { sources: [{ id: 'debian', enabled: true, priority: 10, table }] })
    return { root, nip, beside, before: snapshotDir(beside) }
  }

  const check = (r: DoctorReport, name: string) => r.findings.find((f) => f.check === name)

  it('grafts the links through the farm; doctor is clean', async () => {
    const { root, nip, beside, before } = await open()
    try {
      await nip.install(['libgtk-3-0'], { yes: true })
      const doc = path.join(root, 'Programs/libgtk-3-0/3.24.38-2/share/doc/libgtk-3-0')
      assert.equal(readlinkSync(path.join(doc, 'NEWS.gz')), '../../../../../../System/Links/Shared/doc/libgtk-3-common/NEWS.gz')
      assert.equal(readlinkSync(path.join(doc, 'LGPL')), '../../../../../../System/Links/Shared/common-licenses/LGPL-2.1')
      assert.equal(readlinkSync(path.join(root, 'Programs/libgtk-3-0/3.24.38-2/share/doc/libgtk-3-bin')), '../../../../../System/Links/Shared/doc/libgtk-3-common')
      // Through the program's own tree and through the farm alike.
      assert.equal(readFileSync(path.join(doc, 'NEWS.gz'), 'utf8'), 'news\n')
      assert.equal(readFileSync(path.join(root, 'System/Links/Shared/doc/libgtk-3-0/NEWS.gz'), 'utf8'), 'news\n')
      assert.equal(readFileSync(path.join(root, 'System/Links/Shared/doc/libgtk-3-0/LGPL'), 'utf8'), 'lgpl\n')
      assert.equal(readFileSync(path.join(root, 'System/Links/Shared/doc/libgtk-3-bin/copyright'), 'utf8'), 'gtk copyright\n')
      const report = await nip.doctor()
      assert.deepEqual(report.findings.filter((f) => f.severity !== 'ok').map((f) => `${f.check}: ${f.message}`), [])
      assert.equal(report.healthy, true)
      assert.equal((await nip.verify()).ok, true)
      assertUnchanged(beside, before, 'beside the root')
    } finally {
      nip.close()
    }
  })

  it('info lists each dependency once, marking what is grafted and what the host has', async () => {
    const { nip } = await open({ 'host-packages': true })
    try {
      await nip.install(['libgtk-3-0'], { yes: true })
      const info = await nip.info('gtk-viewer')
      assert.deepEqual(info.dependencies, [
        { name: 'libgtk-3-0', constraint: '', grafted: true },
        { name: 'hostpkg', constraint: '>= 2.0', onHost: true },
      ])
    } finally {
      nip.close()
    }
  })

  it("reports a link into a package nobody grafted as the program's own dangling link, not farm breakage", async () => {
    const { nip } = await open()
    try {
      await nip.install(['lone'], { yes: true })
      const report = await nip.doctor()
      assert.equal(check(report, 'broken-links')?.severity, 'ok')
      const own = check(report, 'program-links')
      assert.equal(own?.severity, 'warning')
      assert.deepEqual(own?.paths, ['Programs/lone/Current/share/doc/lone/copyright -> ../../../../../../System/Links/Shared/common-licenses/GPL-3'])
      assert.equal(report.healthy, true)
      // --fix does not claim to fix it, and the next doctor says the same.
      const fixed = await nip.doctor({ fix: true })
      assert.equal(check(fixed, 'program-links')?.fixed, undefined)
      assert.deepEqual(check(await nip.doctor(), 'program-links')?.paths, own?.paths)
    } finally {
      nip.close()
    }
  })

  it('what doctor --fix calls fixed is gone for the next doctor; a tampered binary is clean for verify', async () => {
    const { root, nip, beside, before } = await open()
    try {
      await nip.install(['libgtk-3-0'], { yes: true })
      // A replaced binary (new inode, other size) and one rewritten in place (the store's inode too).
      const bin = path.join(root, 'Programs/libgtk-3-0/3.24.38-2/bin/gtk-query')
      unlinkSync(bin)
      writeFileSync(bin, '#!/bin/sh\necho pwned by someone\n', { mode: 0o755 })
      unlinkSync(path.join(root, 'System/Links/Shared/doc/libgtk-3-0/NEWS.gz'))
      const lib = path.join(root, 'Programs/libgtk-3-0/3.24.38-2/lib/libgtk-3.so.0')
      writeFileSync(lib, 'ELF-IS\n')
      assert.equal((await nip.verify()).programs.find((p) => p.name === 'libgtk-3-0')?.state, 'TAMPERED')
      const broken = await nip.doctor()
      assert.equal(broken.healthy, false)
      const fixed = await nip.doctor({ fix: true })
      assert.equal(check(fixed, 'program-files')?.fixed, true)
      const again = await nip.doctor()
      const claimed = fixed.findings.filter((x) => x.fixed === true).map((f) => f.check)
      assert.ok(claimed.includes('broken-links') && claimed.includes('program-files'), claimed.join(', '))
      for (const c of claimed) {
        // program-files is --fix's own re-hash; verify below is its second opinion.
        if (c === 'program-files') continue
        assert.equal(check(again, c)?.severity, 'ok', `${c} was reported fixed but the next doctor says: ${check(again, c)?.message}`)
      }
      assert.equal(again.healthy, true)
      const v = await nip.verify()
      assert.deepEqual(v.programs.filter((p) => p.state !== 'VERIFIED').map((p) => `${p.name} ${p.state}`), [])
      assert.equal(readFileSync(bin, 'utf8'), '#!/bin/sh\necho gtk\n')
      assert.equal(readFileSync(lib, 'utf8'), 'ELF-ish\n')
      assertUnchanged(beside, before, 'beside the root')
    } finally {
      nip.close()
    }
  })
})
