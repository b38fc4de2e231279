/**
 * Structural mutations for every format nip installs from a file (docs/security.md): members
 * that would be placed through a symlink of the same package — directly, or once the source maps
 * `etc/` onto the program's `Settings/` — and members a mapping lands on one path. Each package
 * is a real file of its format (@nip/testing's packageFiles), installed as `./file` through the
 * executable into its own root; each must be refused with a NipError code, nothing grafted, and
 * a directory beside the roots unchanged (with a file where an escape would land).
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { debPackageFile, goboPackageFile, gpkgPackageFile, pacmanPackageFile, pkgsrcPackageFile, snapshotDir, xpakPackageFile, type FixtureEntry, type SimplePackage } from '@nip/testing'
import { sandbox, type Sandbox } from './helpers.js'

const CONF = '[pacman]\nuse-host-config = false\n[debian]\nhost-sources = false\n'

/** Relative to the installed root (the prefix for pkgsrc, the version directory for Gobo). */
const MUTATIONS: [string, string, (etc: string) => FixtureEntry[]][] = [
  [
    'nested symlinks and a file through them',
    'ERR_NIP_UNSAFE_THROUGH_SYMLINK',
    (etc) => [
      { path: `${etc}/`, type: 'dir' },
      { path: `${etc}/a`, type: 'symlink', target: '.' },
      { path: `${etc}/b`, type: 'symlink', target: 'a/a/a/a/../../../../..' },
      { path: `${etc}/b/escape/`, type: 'dir' },
      { path: `${etc}/b/escape/pwned`, content: 'pwned\n' },
    ],
  ],
  ['a file below a symlink of the package', 'ERR_NIP_UNSAFE_THROUGH_SYMLINK', (etc) => [{ path: `${etc}/`, type: 'dir' }, { path: `${etc}/x`, type: 'symlink', target: '.' }, { path: `${etc}/x/y`, content: 'y\n' }]],
  ['a symlink and a file on one path', 'ERR_NIP_UNSAFE_DUPLICATE', (etc) => [{ path: `${etc}/`, type: 'dir' }, { path: `${etc}/dup`, type: 'symlink', target: 'elsewhere' }, { path: `${etc}/dup`, content: 'd\n' }]],
]

/** Where the source maps `usr/X` onto `X`: a symlink and a file that the mapping lands on one path. */
const COLLISION: FixtureEntry[] = [
  { path: 'lib/', type: 'dir' },
  { path: 'lib/dup', content: 'd\n' },
  { path: 'usr/lib/', type: 'dir' },
  { path: 'usr/lib/dup', type: 'symlink', target: 'elsewhere' },
]

const FORMATS: [string, string, string, boolean, (p: SimplePackage) => Promise<Buffer>][] = [
  ['pacman', 'stool-1.0-1-x86_64.pkg.tar.zst', 'etc', true, (p) => pacmanPackageFile({ ...p, version: '1.0-1' })],
  ['pkgsrc', 'stool-1.0.tgz', 'etc', false, (p) => pkgsrcPackageFile(p)],
  ['Debian', 'stool_1.0-1_amd64.deb', 'etc', true, (p) => debPackageFile({ ...p, version: '1.0-1' })],
  ['Gentoo GPKG', 'stool-1.0-1.gpkg.tar', 'etc', true, (p) => gpkgPackageFile(p)],
  ['Gentoo XPAK', 'stool-1.0.tbz2', 'etc', true, (p) => xpakPackageFile(p)],
  ['GoboLinux', 'Stool--1.0--x86_64.tar.bz2', 'share', false, (p) => goboPackageFile({ ...p, name: 'Stool' })],
]

describe('structural mutations, every format: refused, nothing grafted, nothing beside the root changed', function () {
  this.timeout(120_000)
  let beside: string
  const boxes: Sandbox[] = []
  before(() => {
    beside = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-struct-beside-'))
    fs.writeFileSync(path.join(beside, 'keep'), 'untouched\n')
  })
  after(() => {
    for (const b of boxes) b.cleanup()
    fs.rmSync(beside, { recursive: true, force: true })
  })

  for (const [format, file, etc, mapsUsr, build] of FORMATS) {
    const cases = [...MUTATIONS, ...(mapsUsr ? [['usr/lib/dup and lib/dup mapped onto one path', 'ERR_NIP_UNSAFE_DUPLICATE', () => COLLISION] as const] : [])]
    for (const [label, code, extra] of cases) {
      it(`${format}: ${label} → ${code}`, async () => {
        // The sandbox's root and home are made inside `beside`, so an escape lands there.
        const tmp = process.env.TMPDIR
        process.env.TMPDIR = beside
        const sb = sandbox()
        if (tmp === undefined) delete process.env.TMPDIR
        else process.env.TMPDIR = tmp
        boxes.push(sb)
        fs.mkdirSync(path.join(sb.root, 'etc', 'nip'), { recursive: true })
        fs.writeFileSync(path.join(sb.root, 'etc', 'nip', 'nip.conf'), CONF)
        const own = (p: string): boolean => p.startsWith(path.basename(sb.root)) || p.startsWith(path.basename(sb.home))
        const outsideOf = (): Map<string, string> => new Map([...snapshotDir(beside)].filter(([p]) => !own(p) && p !== '.'))
        const before = outsideOf()
        const pkg: SimplePackage = { name: 'stool', version: '1.0', files: { 'bin/stool': '#!/bin/sh\necho s\n' }, extra: extra(etc) }
        fs.writeFileSync(path.join(sb.home, file), await build(pkg))
        const r = sb.nip(['install', `./${file}`, '--root', sb.root, '--json'])
        const env = sb.json(r)
        assert.notEqual(r.status, 0, r.stdout)
        assert.equal(env.error?.code, code, r.stdout)
        if (process.env.NIP_SHOW_CODES) console.log(format, label, env.error.code, env.error.message.slice(0, 140))
        const programs = path.join(sb.root, 'Programs')
        assert.deepEqual(fs.existsSync(programs) ? fs.readdirSync(programs) : [], [], 'nothing grafted')
        assert.deepEqual(outsideOf(), before, `${format}: ${label}: something beside the root changed`)
      })
    }
  }
})
