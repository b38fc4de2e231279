/**
 * sniffPackageFile: the format of a local package file from its content, never its name; and the
 * dispatcher sending the file to that source (or refusing it with ERR_NIP_BAD_PACKAGE).
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  arArchive,
  buildTar,
  compressBuffer,
  debPackageFile,
  goboPackageFile,
  gpkgPackageFile,
  MemoryAdapter,
  openNip,
  pacmanPackageFile,
  pkgsrcPackageFile,
  type FixtureEntry,
  type SimplePackage,
} from '@nip/testing'
import { FIRST_MEMBERS, LOOKED_FOR, sniffPackageFile } from '../src/packageFormat.js'
import type { PackageRef, PackageSpec } from '../src/adapter.js'

const pkg: SimplePackage = { name: 'tool', version: '1.0', files: { 'bin/tool': '#!/bin/sh\n', 'share/tool/data': 'x'.repeat(5000) } }

describe('sniffPackageFile', function () {
  this.timeout(30_000)
  let dir: string
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-sniff-'))
  })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))
  /** Every file is written under one misleading name: only the content may decide. */
  let n = 0
  const sniff = async (data: Buffer) => {
    const file = path.join(dir, `${n++}-looks-like-1.0-1-x86_64.pkg.tar.zst`)
    fs.writeFileSync(file, data)
    return sniffPackageFile(file)
  }

  it('names each format, whatever the file is called', async () => {
    const cases: [string, Promise<Buffer>, string, string][] = [
      ['pacman zstd', pacmanPackageFile(pkg), 'pacman', 'pacman'],
      ['pacman xz', pacmanPackageFile(pkg, { compression: 'xz' }), 'pacman', 'pacman'],
      ['pacman bzip2', pacmanPackageFile(pkg, { compression: 'bzip2' }), 'pacman', 'pacman'],
      ['pacman uncompressed', pacmanPackageFile(pkg, { compression: 'none' }), 'pacman', 'pacman'],
      ['pkgsrc gzip', pkgsrcPackageFile(pkg), 'pkgsrc', 'pkgsrc'],
      ['pkgsrc zstd', pkgsrcPackageFile(pkg, { compression: 'zstd' }), 'pkgsrc', 'pkgsrc'],
      ['deb', debPackageFile(pkg), 'debian', 'debian'],
      ['gpkg', gpkgPackageFile(pkg), 'gentoo-gpkg', 'gentoo'],
      ['gobo bzip2', goboPackageFile({ ...pkg, name: 'Tool' }), 'gobo', 'gobo'],
      ['gobo gzip', goboPackageFile({ ...pkg, name: 'Tool' }, { compression: 'gzip' }), 'gobo', 'gobo'],
    ]
    for (const [label, data, format, source] of cases) {
      const r = await sniff(await data)
      assert.equal(r.format, format, `${label}: ${JSON.stringify(r)}`)
      assert.equal(r.format !== null && r.source, source, label)
    }
  })

  it('pacman metadata after .BUILDINFO and .MTREE, with "./" names, is still pacman', async () => {
    const data = await buildTar(
      [
        { path: './.BUILDINFO', content: 'format = 2\n' },
        { path: './.MTREE', content: Buffer.alloc(10) },
        { path: './.PKGINFO', content: 'pkgname = x\npkgver = 1-1\n' },
        { path: './usr/', type: 'dir' },
      ],
      { compression: 'zstd' },
    )
    assert.equal((await sniff(data)).format, 'pacman')
  })

  it('an XPAK package (tbz2 with the trailing segment) is gentoo, a signed pkgsrc package is pkgsrc', async () => {
    const tarball = await buildTar([{ path: 'usr/', type: 'dir' }, { path: 'usr/bin/x', content: 'x' }], { compression: 'bzip2' })
    // XPAK: "XPAKPACK", index length, data length, index, data, "XPAKSTOP"; then its length and "STOP".
    const key = Buffer.from('CATEGORY')
    const value = Buffer.from('app-misc\n')
    const index = Buffer.concat([u32(key.length), key, u32(0), u32(value.length)])
    const segment = Buffer.concat([Buffer.from('XPAKPACK'), u32(index.length), u32(value.length), index, value, Buffer.from('XPAKSTOP')])
    const xpak = Buffer.concat([tarball, segment, u32(segment.length), Buffer.from('STOP')])
    assert.equal((await sniff(xpak)).format, 'gentoo-xpak')
    const signed = arArchive([
      { name: '+PKG_HASH', data: Buffer.from('pkgsrc signature\n') },
      { name: '+PKG_GPG_SIGNATURE', data: Buffer.from('sig') },
      { name: 'tool-1.0.tgz', data: await pkgsrcPackageFile(pkg) },
    ])
    const r = await sniff(signed)
    assert.equal(r.format, 'pkgsrc-signed')
    assert.equal(r.format !== null && r.source, 'pkgsrc')
  })

  it('walks a Gobo-shaped tar to a late Resources/, and stops where the shape breaks', async () => {
    const many: FixtureEntry[] = [{ path: 'Big/', type: 'dir' }, { path: 'Big/2.0/', type: 'dir' }, { path: 'Big/2.0/share/', type: 'dir' }]
    for (let i = 0; i < FIRST_MEMBERS * 3; i++) many.push({ path: `Big/2.0/share/f${i}`, content: `${i}\n` })
    const late = await buildTar([...many, { path: 'Big/2.0/Resources/', type: 'dir' }, { path: 'Big/2.0/Resources/Description', content: 'x' }], { compression: 'gzip' })
    assert.equal((await sniff(late)).format, 'gobo')
    // A source tarball: one top directory, but no <Version>/ level nor Resources/.
    const source = await buildTar(
      [{ path: 'tool-1.0/', type: 'dir' }, { path: 'tool-1.0/src/', type: 'dir' }, { path: 'tool-1.0/README', content: 'r' }, { path: 'tool-1.0/src/Resources/x', content: 'x' }],
      { compression: 'gzip' },
    )
    const r = await sniff(source)
    assert.equal(r.format, null)
    assert.match(r.format === null ? r.found : '', /gzip-compressed tar whose first members are tool-1\.0, tool-1\.0\/src/)
  })

  it('says what an unrecognised file is', async () => {
    const found = async (data: Buffer) => {
      const r = await sniff(data)
      assert.equal(r.format, null)
      return r.format === null ? r.found : ''
    }
    assert.equal(await found(Buffer.alloc(0)), 'an empty file')
    assert.match(await found(Buffer.from('plain text, not a package\n'.repeat(30))), /neither an ar archive nor a tar/)
    assert.match(await found(arArchive([{ name: 'hello.o', data: Buffer.from('x') }])), /ar archive whose first member is "hello\.o"/)
    assert.match(await found(await buildTar([{ path: 'a', content: 'a' }, { path: 'b', content: 'b' }], { compression: 'xz' })), /xz-compressed tar whose first members are a, b/)
    // gzip magic followed by garbage: the stream cannot be read.
    assert.match(await found(Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(600, 0x55)])), /gzip-compressed tar that cannot be read/)
    // A compressed stream that is not a tar.
    assert.match(await found(await compressBuffer(Buffer.alloc(4096, 0x41), 'zstd')), /zstd-compressed tar that cannot be read/)
  })

  it('names files the real tools made: a pkgsrc package from a binary repository, a .deb from dpkg-deb', async function () {
    // Provenance: packages/adapter-pkgsrc/test/fixtures/PROVENANCE.md.
    const real = fileURLToPath(new URL('../../adapter-pkgsrc/test/fixtures/ghostscript-9.05nb27.tgz', import.meta.url))
    assert.equal((await sniff(fs.readFileSync(real))).format, 'pkgsrc')
    if (spawnSync('sh', ['-c', 'command -v dpkg-deb']).status !== 0) {
      console.log('      (dpkg-deb is not installed: the .deb half is skipped)')
      return
    }
    const src = path.join(dir, 'debsrc')
    fs.mkdirSync(path.join(src, 'DEBIAN'), { recursive: true })
    fs.mkdirSync(path.join(src, 'usr', 'bin'), { recursive: true })
    fs.writeFileSync(path.join(src, 'DEBIAN', 'control'), 'Package: t\nVersion: 1\nArchitecture: all\nMaintainer: T <t@localhost>\nDescription: t\n t\n')
    fs.writeFileSync(path.join(src, 'usr', 'bin', 't'), '#!/bin/sh\n')
    for (const z of ['xz', 'gzip', 'zstd', 'none']) {
      const out = path.join(dir, `t-${z}.deb`)
      const r = spawnSync('dpkg-deb', ['--root-owner-group', `-Z${z}`, '--build', src, out], { encoding: 'utf8' })
      if (r.status !== 0 && z === 'zstd') continue // older dpkg-deb without zstd
      assert.equal(r.status, 0, r.stderr)
      assert.equal((await sniff(fs.readFileSync(out))).format, 'debian', z)
    }
  })
})

describe('the dispatcher routes a local file by its content', function () {
  this.timeout(30_000)
  let dir: string
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-route-'))
  })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  /** An adapter that records the local files it was given, and takes them. */
  class FileTaker extends MemoryAdapter {
    readonly seen: string[] = []
    claimsFile(): boolean {
      return false // its opinion of the name is not asked any more
    }
    async resolve(spec: PackageSpec): Promise<PackageRef[]> {
      if (spec.file === undefined) return []
      this.seen.push(spec.file)
      return [{ source: this.id, name: 'tool', version: '1.0', id: spec.file }]
    }
  }

  it('hands each file to the source of its format, and refuses what no source knows', async () => {
    const root = fs.mkdtempSync(path.join(dir, 'root-'))
    const takers = ['pkgsrc', 'pacman', 'debian'].map((id) => new FileTaker([], { id }))
    const { nip } = await openNip(root, takers)
    const dispatcher = (nip as unknown as { dispatcher: { resolve(s: PackageSpec): Promise<{ adapter: { id: string } }> } }).dispatcher
    const files: [string, Buffer, string][] = [
      ['a.tgz', await pacmanPackageFile(pkg, { compression: 'gzip' }), 'pacman'],
      ['b.pkg.tar.zst', await pkgsrcPackageFile(pkg, { compression: 'zstd' }), 'pkgsrc'],
      ['c.tar.zst', await debPackageFile(pkg), 'debian'],
    ]
    for (const [name, data, source] of files) {
      const file = path.join(dir, name)
      fs.writeFileSync(file, data)
      const { adapter } = await dispatcher.resolve({ raw: `./${name}`, name, file })
      assert.equal(adapter.id, source, name)
    }
    assert.deepEqual(takers.map((t) => t.seen.map((f) => path.basename(f))), [['b.pkg.tar.zst'], ['a.tgz'], ['c.tar.zst']])
    const junk = path.join(dir, 'junk.deb')
    fs.writeFileSync(junk, 'junk\n')
    await assert.rejects(dispatcher.resolve({ raw: './junk.deb', name: 'junk.deb', file: junk }), (e: unknown) => {
      // The engine comes from @nip/core's build: compare codes, not classes.
      const err = e as { code: string; message: string; data: Record<string, unknown> }
      assert.equal(err.code, 'ERR_NIP_BAD_PACKAGE', String(e))
      for (const what of LOOKED_FOR) assert.ok(err.message.includes(what), err.message)
      assert.deepEqual(err.data.lookedFor, [...LOOKED_FOR])
      return true
    })
    // A Gobo package, with no gobo source among the adapters: said so, not "not found".
    const gobo = path.join(dir, 'Tool--1.0--x86_64.tar.gz')
    fs.writeFileSync(gobo, await goboPackageFile({ ...pkg, name: 'Tool' }, { compression: 'gzip' }))
    await assert.rejects(dispatcher.resolve({ raw: './x', name: 'x', file: gobo }), (e: unknown) => (e as { code: string }).code === 'ERR_NIP_SOURCE_UNAVAILABLE' && /GoboLinux package.*no gobo source/.test((e as Error).message))
  })
})

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}
