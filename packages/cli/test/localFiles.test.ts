/**
 * `nip install ./file` without --source: the file goes to the source of its format, judged by its
 * content (a pacman package named like a pkgsrc one still reaches pacman). One package per
 * format, in the real layout (@nip/testing's packageFiles), each into its own temporary root; a
 * file nobody recognises, a hostile .deb, a disabled source and a contradicting --source.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { debPackageFile, goboPackageFile, gpkgPackageFile, listTree, pacmanPackageFile, pkgsrcPackageFile, xpakPackageFile, type SimplePackage } from '@nip/testing'
import { sandbox, type Sandbox } from './helpers.js'

/** Config that keeps every source off the host's own configuration (no apt or pacman files read). */
const CONF = '[pacman]\nuse-host-config = false\n[debian]\nhost-sources = false\n'

const hello = (name: string, version: string): SimplePackage => ({ name, version, files: { [`bin/${name}`]: `#!/bin/sh\necho ${name} ${version}\n`, [`share/doc/${name}/README`]: `${name}\n` } })

interface Case {
  label: string
  file: string
  build: () => Promise<Buffer>
  source: string
  program: string
  version: string
}

const CASES: Case[] = [
  { label: 'pacman .pkg.tar.zst', file: 'ptool-1.0-1-x86_64.pkg.tar.zst', build: () => pacmanPackageFile(hello('ptool', '1.0-1')), source: 'pacman', program: 'ptool', version: '1.0-1' },
  // The name pkgsrc's file-name rule would take for its own: only the content says pacman.
  { label: 'pacman package named like a pkgsrc one', file: 'qtool-2.0.tgz', build: () => pacmanPackageFile(hello('qtool', '2.0-1'), { compression: 'gzip' }), source: 'pacman', program: 'qtool', version: '2.0-1' },
  { label: 'pkgsrc .tgz', file: 'ktool-1.2.tgz', build: () => pkgsrcPackageFile(hello('ktool', '1.2')), source: 'pkgsrc', program: 'ktool', version: '1.2' },
  { label: 'pkgsrc .tar.zst', file: 'ztool-3.1.tar.zst', build: () => pkgsrcPackageFile(hello('ztool', '3.1'), { compression: 'zstd' }), source: 'pkgsrc', program: 'ztool', version: '3.1' },
  // pkg_add reads the name from the packing list; so does nip when the file name says nothing.
  { label: 'pkgsrc package under an unrelated name', file: 'download.bin', build: () => pkgsrcPackageFile(hello('ntool', '0.9')), source: 'pkgsrc', program: 'ntool', version: '0.9' },
  { label: 'Debian .deb', file: 'dtool_1.0-1_amd64.deb', build: () => debPackageFile(hello('dtool', '1.0-1')), source: 'debian', program: 'dtool', version: '1.0-1' },
  { label: 'Gentoo GPKG', file: 'gtool-1.0-1.gpkg.tar', build: () => gpkgPackageFile(hello('gtool', '1.0')), source: 'gentoo', program: 'gtool', version: '1.0' },
  { label: 'Gentoo XPAK (.tbz2)', file: 'xtool-2.1.tbz2', build: () => xpakPackageFile(hello('xtool', '2.1')), source: 'gentoo', program: 'xtool', version: '2.1' },
  // A GPKG under a pacman package's name: still Gentoo's.
  { label: 'Gentoo GPKG named like a pacman package', file: 'wtool-3.0-1-x86_64.pkg.tar.zst', build: () => gpkgPackageFile(hello('wtool', '3.0')), source: 'gentoo', program: 'wtool', version: '3.0' },
  { label: 'GoboLinux tarball', file: 'Gtool--1.0--x86_64.tar.bz2', build: () => goboPackageFile(hello('Gtool', '1.0')), source: 'gobo', program: 'Gtool', version: '1.0' },
]

describe('nip install ./file: routed by content, without --source', function () {
  this.timeout(120_000)
  let parent: string
  let before_: string[]
  const boxes: Sandbox[] = []

  before(() => {
    // A directory beside the roots, whose tree must not change.
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-local-beside-'))
    fs.writeFileSync(path.join(parent, 'keep'), 'untouched\n')
    before_ = listTree(parent)
  })
  after(() => {
    for (const b of boxes) b.cleanup()
    fs.rmSync(parent, { recursive: true, force: true })
  })

  function box(): Sandbox {
    const sb = sandbox()
    boxes.push(sb)
    fs.mkdirSync(path.join(sb.root, 'etc', 'nip'), { recursive: true })
    fs.writeFileSync(path.join(sb.root, 'etc', 'nip', 'nip.conf'), CONF)
    return sb
  }

  for (const c of CASES) {
    it(`${c.label} → ${c.source}`, async () => {
      const sb = box()
      fs.writeFileSync(path.join(sb.home, c.file), await c.build())
      const r = sb.nip(['install', `./${c.file}`, '--root', sb.root, '--json'])
      assert.equal(r.status, 0, r.stdout + r.stderr)
      const env = sb.json(r)
      assert.deepEqual(
        env.result.grafted.map((p: { name: string; version: string; source: string }) => [p.name, p.version, p.source]),
        [[c.program, c.version, c.source]],
      )
      assert.equal(fs.readlinkSync(path.join(sb.root, 'Programs', c.program, 'Current')), c.version)
      const exe = path.join(sb.root, 'System', 'Links', 'Executables', c.program)
      assert.equal(fs.readFileSync(exe, 'utf8'), `#!/bin/sh\necho ${c.program} ${c.version}\n`)
      assert.deepEqual(listTree(parent), before_, 'nothing beside the root changed')
    })
  }

  it('a file no source recognises is ERR_NIP_BAD_PACKAGE naming what was looked for', () => {
    const sb = box()
    // Garbage under a name every source's file-name rule would like.
    fs.writeFileSync(path.join(sb.home, 'junk-1.0-1-x86_64.pkg.tar.zst'), Buffer.from('this is not a package at all\n'.repeat(40)))
    const r = sb.nip(['install', './junk-1.0-1-x86_64.pkg.tar.zst', '--root', sb.root, '--json'])
    const env = sb.json(r)
    assert.equal(env.error.code, 'ERR_NIP_BAD_PACKAGE', r.stdout)
    assert.equal(r.status, 65)
    for (const word of ['.PKGINFO', '+CONTENTS', 'debian-binary', 'gpkg-1', 'XPAK', 'Resources/']) assert.ok(env.error.message.includes(word), `${word} in: ${env.error.message}`)
    assert.deepEqual(fs.existsSync(path.join(sb.root, 'Programs')) ? fs.readdirSync(path.join(sb.root, 'Programs')) : [], [], 'nothing was grafted')
  })

  it('a hostile .deb keeps its own refusal and exit status (not "not found")', async () => {
    const sb = box()
    const data = [
      { path: './', type: 'dir' as const },
      { path: './usr/', type: 'dir' as const },
      { path: './usr/../../escaped', content: 'owned\n' },
    ]
    fs.writeFileSync(path.join(sb.home, 'evil_1.0_amd64.deb'), await debPackageFile(hello('evil', '1.0'), { data }))
    const r = sb.nip(['install', './evil_1.0_amd64.deb', '--root', sb.root, '--json'])
    const env = sb.json(r)
    assert.equal(env.error.code, 'ERR_NIP_UNSAFE_PARENT_PATH', r.stdout)
    assert.equal(r.status, 65)
    assert.equal(fs.existsSync(path.join(sb.root, 'Programs', 'evil')), false)
    assert.deepEqual(listTree(parent), before_, 'nothing beside the root changed')
  })

  it('a GPKG whose image does not match its Manifest keeps the gentoo refusal, ERR_NIP_HASH_MISMATCH', async () => {
    const sb = box()
    const data = await gpkgPackageFile(hello('btool', '1.0'))
    // Change one hex digit of the image's BLAKE2B record: same sizes, so the tar stays well-formed.
    const at = data.indexOf('BLAKE2B ', data.indexOf('DATA image.tar.zst')) + 'BLAKE2B '.length
    data[at] = data[at] === 0x30 ? 0x31 : 0x30
    fs.writeFileSync(path.join(sb.home, 'btool-1.0-1.gpkg.tar'), data)
    const r = sb.nip(['install', './btool-1.0-1.gpkg.tar', '--root', sb.root, '--json'])
    const env = sb.json(r)
    assert.equal(env.error.code, 'ERR_NIP_HASH_MISMATCH', r.stdout)
    assert.equal(r.status, 65)
    assert.equal(fs.existsSync(path.join(sb.root, 'Programs', 'btool')), false)
    assert.deepEqual(listTree(parent), before_, 'nothing beside the root changed')
  })

  it('a recognised format whose source is disabled names the source and how to enable it', async () => {
    const sb = box()
    fs.writeFileSync(path.join(sb.root, 'etc', 'nip', 'nip.conf'), `${CONF}enabled = false\n`)
    fs.writeFileSync(path.join(sb.home, 'dtool_1.0-1_amd64.deb'), await debPackageFile(hello('dtool', '1.0-1')))
    const r = sb.nip(['install', './dtool_1.0-1_amd64.deb', '--root', sb.root, '--json'])
    const env = sb.json(r)
    assert.equal(env.error.code, 'ERR_NIP_SOURCE_UNAVAILABLE', r.stdout)
    assert.match(env.error.message, /Debian binary package.*debian source is disabled/)
    assert.match(env.error.hint, /\[debian\] enabled = true/)
    // Naming the source for one command installs it.
    const ok = sb.nip(['install', './dtool_1.0-1_amd64.deb', '--source', 'debian', '--root', sb.root, '--json'])
    assert.equal(ok.status, 0, ok.stdout + ok.stderr)
  })

  it('--source that contradicts the content is refused, naming the format', async () => {
    const sb = box()
    fs.writeFileSync(path.join(sb.home, 'ptool-1.0-1-x86_64.pkg.tar.zst'), await pacmanPackageFile(hello('ptool', '1.0-1')))
    const r = sb.nip(['install', './ptool-1.0-1-x86_64.pkg.tar.zst', '--source', 'pkgsrc', '--root', sb.root, '--json'])
    const env = sb.json(r)
    assert.equal(env.error.code, 'ERR_NIP_BAD_SPEC', r.stdout)
    assert.match(env.error.message, /pacman package.*pkgsrc source cannot install it/)
  })
})
