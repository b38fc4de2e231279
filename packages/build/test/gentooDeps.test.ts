/**
 * The dependencies of gentoo builds.
 *
 * Pure parts (always): dependency reduction per USE, the order of decisions (grafted, provided,
 * host, build, unmet) and `|| ( )` groups, atom-vs-CPV matching with operators and slots, the
 * CPV of grafted programs, Debian → Gentoo versions, dpkg's status, package.provided.
 *
 * Through the nip executable (bubblewrap and the shared gentoo fixtures present): an ebuild
 * repository made here (the shared profile and metadata, plus dev-libs/libnipgreet — a C library
 * with a header, a shared library and a .pc file — app-misc/nipgreet whose program links it, an
 * ebuild needing dev-libs/nosuch, two ebuilds in a cycle), its distfiles made here and served by a
 * loopback mirror through `[build] distfile-mirrors`, Manifests with size, BLAKE2B and SHA512.
 * An unmet atom is ERR_NIP_UNSATISFIED_DEPENDENCY before Portage runs; a cycle is
 * ERR_NIP_DEPENDENCY_CYCLE; `[build] gentoo-provided` satisfies an atom the repository lacks; the
 * dry run shows the plan (libnipgreet to build, pkg-config from the host).
 *
 * NIP_LONG_TESTS=1 (as root): building app-misc/nipgreet builds and grafts libnipgreet first, then
 * nipgreet (emerge without --nodeps, package.provided naming libnipgreet), whose program runs
 * from System/Links/Executables and prints the library's string; nip why shows the dependency
 * and removal is refused; the same plan with an empty package.provided is refused by emerge's own
 * resolver; a second build reuses both. Both are built for their own directories (EPREFIX): the
 * library's .pc file names /Programs/libnipgreet/1.0/usr, its configuration is grafted into
 * Settings and reached through `etc → ../Settings`, an absolute dosym into the prefix is grafted
 * relative. USE dependencies: dev-libs/libnipgreet has IUSE="extra" (changing what it prints);
 * app-misc/nipgreetx requires `>=dev-libs/libnipgreet-1.0[extra]`: the grafted build without
 * extra does not satisfy it, libnipgreet is built with +extra (1.0~extra) and nipgreetx prints the
 * extra text; dry runs show the flags planned, merged requirements, and the refusals
 * (REQUIRED_USE, a missing flag, on against off). Pure parts also: USE and slot matching of known
 * packages, build records, the usr/etc links, the dependency binds, the directory name's case. Also (as root): the metadata of an ebuild inheriting an
 * eclass is read through Portage (the eclass's flag and dependency seen); a current md5-cache
 * entry is used and a stale one is not.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { snapshotDir, assertUnchanged, startMirror, type DirSnapshot, type Mirror } from '@nip/testing'
import { buildRecordOf, cpvMatches, decideDependencies, ebuildDependencies, gentooVersionOfDebian, graftedCpv, graftedUse, hostProvided, knownPackages, knownSatisfies, packageProvided, parseDpkgStatus, readBuildSettings, type KnownPackage } from '../src/index.js'
import { planGentoo } from '../src/index.js'
import { dependencyDirs, eprefixOf, runEmerge } from '../src/gentoo/namespace.js'
import { programDirName, withPrefixLinks } from '../src/gentoo/gentooBuild.js'
import { Database } from '@nip/core'
import { SHARED_GENTOO, gentooRecipe, runNip } from './helpers/gentooFixtures.js'

const long = process.env.NIP_LONG_TESTS === '1'

describe('gentoo build dependencies (pure parts)', () => {
  const md = (deps: Partial<Record<'depend' | 'bdepend' | 'rdepend' | 'pdepend' | 'idepend', string>>) => ({ depend: '', bdepend: '', rdepend: '', pdepend: '', idepend: '', eapi: '8', ...deps })

  it('reduces the dependency classes for the USE, merging an atom named in several classes, blockers apart', () => {
    const r = ebuildDependencies(md({ depend: '>=dev-libs/a-1.0 ssl? ( dev-libs/openssl ) !app-misc/old', rdepend: '>=dev-libs/a-1.0 || ( dev-libs/b dev-libs/c )', bdepend: 'virtual/pkgconfig' }), ['ssl'])
    assert.deepEqual(r.dependencies.map((d) => [d.atom, d.classes]), [
      ['>=dev-libs/a-1.0', ['DEPEND', 'RDEPEND']],
      ['dev-libs/openssl', ['DEPEND']],
      ['virtual/pkgconfig', ['BDEPEND']],
      ['|| ( dev-libs/b dev-libs/c )', ['RDEPEND']],
    ])
    assert.deepEqual(r.dependencies[3].alternatives, ['dev-libs/b', 'dev-libs/c'])
    assert.deepEqual(r.blockers, ['!app-misc/old'])
    assert.deepEqual(ebuildDependencies(md({ depend: 'ssl? ( dev-libs/openssl )' }), []).dependencies, [])
  })

  it('matches atoms against CPVs with version operators and slots', () => {
    assert.equal(cpvMatches('>=dev-libs/libnipgreet-1.0', { cpv: 'dev-libs/libnipgreet-1.0' }), true)
    assert.equal(cpvMatches('>=dev-libs/libnipgreet-1.1', { cpv: 'dev-libs/libnipgreet-1.0' }), false)
    assert.equal(cpvMatches('<sys-libs/zlib-1.3', { cpv: 'sys-libs/zlib-1.2.13' }), true)
    assert.equal(cpvMatches('~dev-libs/a-1.0', { cpv: 'dev-libs/a-1.0-r3' }), true)
    assert.equal(cpvMatches('=dev-libs/a-1*', { cpv: 'dev-libs/a-1.4' }), true)
    assert.equal(cpvMatches('dev-libs/a:2', { cpv: 'dev-libs/a-1.4', slot: '1' }), false)
    assert.equal(cpvMatches('dev-libs/a:2', { cpv: 'dev-libs/a-2.0', slot: '2' }), true)
    assert.equal(cpvMatches('dev-libs/a:2', { cpv: 'dev-libs/a-2.0' }), true, 'an unknown slot does not refuse')
    assert.equal(cpvMatches('dev-libs/b', { cpv: 'dev-libs/a-2.0' }), false)
    assert.equal(cpvMatches('!dev-libs/a', { cpv: 'dev-libs/a-2.0' }), false)
  })

  it('decides grafted, then provided, then host, then build, else unmet; || takes the first satisfied alternative', () => {
    const deps = ebuildDependencies(md({ depend: '>=dev-libs/g-1 dev-libs/p sys-libs/zlib dev-libs/r dev-libs/nosuch || ( dev-libs/x sys-libs/zlib )' }), []).dependencies
    const known: KnownPackage[] = [
      { cpv: 'dev-libs/g-1.2', how: 'grafted', program: { name: 'g', version: '1.2' } },
      { cpv: 'dev-libs/p-3', how: 'provided' },
      { cpv: 'sys-libs/zlib-1.2.13', how: 'host', debian: 'zlib1g-dev 1:1.2.13.dfsg-1' },
      // the same package grafted and on the host: the grafted one wins
      { cpv: 'dev-libs/p-3', how: 'host', debian: 'libp-dev 3-1' },
    ]
    const out = decideDependencies(deps, known, (atom) => (atom === 'dev-libs/r' ? 'dev-libs/r-2.0' : atom === 'dev-libs/x' ? 'dev-libs/x-1' : null))
    assert.deepEqual(out.map((d) => [d.atom, d.how, d.cpv ?? null]), [
      ['>=dev-libs/g-1', 'grafted', 'dev-libs/g-1.2'],
      ['dev-libs/p', 'provided', 'dev-libs/p-3'],
      ['sys-libs/zlib', 'host', 'sys-libs/zlib-1.2.13'],
      ['dev-libs/r', 'build', 'dev-libs/r-2.0'],
      ['dev-libs/nosuch', 'unmet', null],
      ['|| ( dev-libs/x sys-libs/zlib )', 'host', 'sys-libs/zlib-1.2.13'],
    ])
    assert.deepEqual(out[0].program, { name: 'g', version: '1.2' })
    // A too-old grafted version does not satisfy; the repository's version is built.
    const old = decideDependencies(ebuildDependencies(md({ depend: '>=dev-libs/g-2' }), []).dependencies, known, () => 'dev-libs/g-2.1')
    assert.deepEqual(old.map((d) => [d.how, d.cpv]), [['build', 'dev-libs/g-2.1']])
    assert.equal(packageProvided(out), '# written by nip build --source gentoo: what nip or the host provides\ndev-libs/g-1.2\ndev-libs/p-3\nsys-libs/zlib-1.2.13\n')
    assert.equal(packageProvided([]), '')
  })

  it('USE dependencies: a grafted build meets them through its recorded USE and IUSE, else it does not; provided and host entries ignore them', () => {
    const built: KnownPackage = { cpv: 'dev-libs/a-1.0', how: 'grafted', use: ['x'], iuse: ['x', 'y'], program: { name: 'a', version: '1.0~x' } }
    assert.equal(knownSatisfies('dev-libs/a[x]', built), true)
    assert.equal(knownSatisfies('dev-libs/a[y]', built), false, 'a flag it was built without')
    assert.equal(knownSatisfies('dev-libs/a[-y]', built), true)
    assert.equal(knownSatisfies('dev-libs/a[-x]', built), false)
    assert.equal(knownSatisfies('>=dev-libs/a-1.0[x,-y]', built), true)
    assert.equal(knownSatisfies('dev-libs/a[z]', built), false, 'a flag outside IUSE without a default')
    assert.equal(knownSatisfies('dev-libs/a[z(+)]', built), true, '(+): outside IUSE counts as on')
    assert.equal(knownSatisfies('dev-libs/a[z(-)]', built), false, '(-): outside IUSE counts as off')
    assert.equal(knownSatisfies('dev-libs/a[-z(-)]', built), true)
    // Nothing known about its USE: it meets plain atoms only.
    const bare: KnownPackage = { cpv: 'dev-libs/a-1.0', how: 'grafted' }
    assert.equal(knownSatisfies('dev-libs/a', bare), true)
    assert.equal(knownSatisfies('dev-libs/a[x]', bare), false)
    // A binhost program: the flags its id names, on or off; others are unknown.
    const bin: KnownPackage = { cpv: 'dev-libs/a-1.0', how: 'grafted', use: ['x'], off: ['y'] }
    assert.equal(knownSatisfies('dev-libs/a[x,-y]', bin), true)
    assert.equal(knownSatisfies('dev-libs/a[y]', bin), false)
    assert.equal(knownSatisfies('dev-libs/a[w]', bin), false, 'an unnamed flag is unknown')
    assert.equal(knownSatisfies('dev-libs/a[-w]', bin), false, 'an unnamed flag is unknown, off or not')
    // package.provided semantics (Portage's match_from_list keeps entries that carry no USE).
    for (const how of ['provided', 'host'] as const) {
      assert.equal(knownSatisfies('dev-libs/a[x,-y]', { cpv: 'dev-libs/a-1.0', how }), true)
      assert.equal(knownSatisfies('>=dev-libs/a-2[x]', { cpv: 'dev-libs/a-1.0', how }), false, 'the version still counts')
    }
  })

  it('decides a grafted build without the required flag as to build, and one with it as grafted', () => {
    const known: KnownPackage[] = [{ cpv: 'dev-libs/libnipgreet-1.0', how: 'grafted', use: [], iuse: ['extra'], program: { name: 'libnipgreet', version: '1.0' } }]
    const deps = ebuildDependencies(md({ depend: '>=dev-libs/libnipgreet-1.0[extra] dev-libs/libnipgreet' }), []).dependencies
    const out = decideDependencies(deps, known, () => 'dev-libs/libnipgreet-1.0')
    assert.deepEqual(out.map((d) => [d.atom, d.how]), [['>=dev-libs/libnipgreet-1.0[extra]', 'build'], ['dev-libs/libnipgreet', 'grafted']])
    known.push({ cpv: 'dev-libs/libnipgreet-1.0', how: 'grafted', use: ['extra'], iuse: ['extra'], program: { name: 'libnipgreet', version: '1.0~extra' } })
    const again = decideDependencies(deps, known, () => 'dev-libs/libnipgreet-1.0')
    assert.deepEqual(again.map((d) => [d.how, d.program?.version]), [['grafted', '1.0~extra'], ['grafted', '1.0']])
    // Conditional USE dependencies are evaluated against the parent's USE by the reduction.
    const cond = ebuildDependencies(md({ depend: 'dev-libs/libnipgreet[extra?]' }), ['extra']).dependencies
    assert.deepEqual(cond.map((d) => d.atom), ['dev-libs/libnipgreet[extra]'])
    assert.deepEqual(decideDependencies(cond, known.slice(0, 1), () => null).map((d) => d.how), ['unmet'])
    const off = ebuildDependencies(md({ depend: 'dev-libs/libnipgreet[extra?]' }), []).dependencies
    assert.deepEqual(decideDependencies(off, known.slice(0, 1), () => null).map((d) => d.how), ['grafted'])
  })

  it('slots: a recorded SLOT and sub-slot must match :slot and :slot/sub; an unknown one matches any', () => {
    const k: KnownPackage = { cpv: 'dev-libs/a-2.1', how: 'grafted', slot: '2', subSlot: '2.1' }
    assert.equal(knownSatisfies('dev-libs/a:2', k), true)
    assert.equal(knownSatisfies('dev-libs/a:1', k), false)
    assert.equal(knownSatisfies('dev-libs/a:2/2.1', k), true)
    assert.equal(knownSatisfies('dev-libs/a:2/3', k), false)
    assert.equal(knownSatisfies('dev-libs/a:=', k), true)
    assert.equal(knownSatisfies('dev-libs/a:1', { cpv: 'dev-libs/a-2.1', how: 'grafted' }), true, 'slot unknown (a binhost program)')
    const d = decideDependencies(ebuildDependencies(md({ depend: 'dev-libs/a:3' }), []).dependencies, [k], () => 'dev-libs/a-3.0')
    assert.deepEqual(d.map((x) => [x.how, x.cpv]), [['build', 'dev-libs/a-3.0']])
  })

  it("reads a build's record from the GPKG metadata, and the USE a package id tells", () => {
    const rec = buildRecordOf('dev-libs/a-2.1', new Map([['SLOT', '2/2.1'], ['IUSE', '+x y -z'], ['USE', 'amd64 x elibc_glibc z']]))
    assert.deepEqual(rec, { cpv: 'dev-libs/a-2.1', slot: '2', subSlot: '2.1', use: ['x', 'z'], iuse: ['x', 'y', 'z'] })
    assert.deepEqual(buildRecordOf('dev-libs/a-1', new Map([['SLOT', '0']])), { cpv: 'dev-libs/a-1', slot: '0', subSlot: '0', use: [], iuse: [] })
    assert.deepEqual(graftedUse({ source: 'build', version: '1.0-r1~nls~ssl', package_id: 'gentoo:dev-libs/a-1.0-r1#ab' }), { use: ['nls', 'ssl'] })
    assert.deepEqual(graftedUse({ source: 'build', version: '1.0', package_id: 'gentoo:dev-libs/a-1.0#ab' }), { use: [] })
    assert.deepEqual(graftedUse({ source: 'gentoo', version: '1.3', package_id: 'binpkg:sys-libs/zlib/zlib-1.3-1.gpkg.tar@@https://binhost.example +minizip -static-libs' }), { use: ['minizip'], off: ['static-libs'] })
    assert.deepEqual(graftedUse({ source: 'debian', version: '1', package_id: 'zlib1g_1' }), {})
  })

  it('knownPackages: a program nip built carries the SLOT and USE of its build record; without the record, its version words', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-known-'))
    try {
      const layout = { dbPath: path.join(dir, 'nip.sqlite'), cacheDir: path.join(dir, 'cache') } as unknown as Parameters<typeof knownPackages>[1]
      const db = Database.openWriter(layout.dbPath)
      db.insertProgram({ name: 'a', version: '2.1~x', source: 'build', packageId: 'gentoo:dev-libs/a-2.1#00ff', treeDigest: 'd', explicit: true, size: 0, txn: 't', entries: [], dependencies: [] })
      db.insertProgram({ name: 'b', version: '1.0~y', source: 'build', packageId: 'gentoo:dev-libs/b-1.0#11ee', treeDigest: 'd', explicit: true, size: 0, txn: 't', entries: [], dependencies: [] })
      db.close()
      fs.mkdirSync(path.join(dir, 'cache', 'build', 'outputs'), { recursive: true })
      fs.writeFileSync(path.join(dir, 'cache', 'build', 'outputs', '00ff.json'), JSON.stringify({ fingerprint: '00ff', gentoo: { cpv: 'dev-libs/a-2.1', slot: '2', subSlot: '2.1', use: ['x'], iuse: ['x', 'y'] } }))
      const known = knownPackages(readBuildSettings({ 'gentoo-host-packages': false }), layout)
      const a = known.find((k) => k.cpv === 'dev-libs/a-2.1')!
      assert.deepEqual([a.slot, a.subSlot, a.use, a.iuse], ['2', '2.1', ['x'], ['x', 'y']])
      assert.equal(knownSatisfies('dev-libs/a:2[x,-y]', a), true)
      assert.equal(knownSatisfies('dev-libs/a:1', a), false)
      const b = known.find((k) => k.cpv === 'dev-libs/b-1.0')!
      assert.deepEqual([b.slot, b.use, b.iuse], [undefined, ['y'], undefined])
      assert.equal(knownSatisfies('dev-libs/b[y]', b), true)
      assert.equal(knownSatisfies('dev-libs/b[-z]', b), false, 'without the record, a flag not in its version words is unknown')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("the prefix: usr → . always, etc → ../Settings only with configuration, and a tree holding either name is refused", () => {
    assert.equal(eprefixOf('hello', '2.10-r1~nls'), '/Programs/hello/2.10-r1~nls')
    const bin = { path: 'bin', type: 'dir' as const, mode: 0o755 }
    const exe = { path: 'bin/hello', type: 'file' as const, mode: 0o755, blob: 'k', size: 1 }
    assert.deepEqual(withPrefixLinks([bin, exe]).map((e) => [e.path, e.type, e.target ?? '']), [['bin', 'dir', ''], ['bin/hello', 'file', ''], ['usr', 'symlink', '.']])
    const conf = { path: 'Settings/hello.conf', type: 'file' as const, mode: 0o644, blob: 'c', size: 1, settings: true }
    assert.deepEqual(withPrefixLinks([{ path: 'Settings', type: 'dir', mode: 0o755 }, conf, bin, exe]).filter((e) => e.type === 'symlink').map((e) => [e.path, e.target]), [['etc', '../Settings'], ['usr', '.']])
    assert.throws(() => withPrefixLinks([{ path: 'usr', type: 'dir', mode: 0o755 }]), (e: Error & { code?: string }) => e.code === 'ERR_NIP_BAD_PACKAGE')
    assert.throws(() => withPrefixLinks([conf, { path: 'etc/x', type: 'file', mode: 0o644, blob: 'x', size: 1 }]), (e: Error & { code?: string }) => e.code === 'ERR_NIP_BAD_PACKAGE')
  })

  it('the prefix uses the directory a program is already grafted under (its case), else the package name', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-eprefix-db-'))
    try {
      const dbPath = path.join(dir, 'nip.sqlite')
      assert.equal(programDirName({ dbPath }, 'hello'), 'hello', 'no database yet')
      const db = Database.openWriter(dbPath)
      db.insertProgram({ name: 'Hello', version: '2.9', source: 'test', packageId: 'Hello', treeDigest: 'd', explicit: true, size: 0, txn: 't', entries: [], dependencies: [] })
      db.close()
      assert.equal(programDirName({ dbPath }, 'hello'), 'Hello')
      assert.equal(programDirName({ dbPath }, 'nipgreet'), 'nipgreet')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("binds each dependency's version directory, never the root's Programs, and refuses one that is the build's own directory", () => {
    const programs = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-eprefix-'))
    try {
      for (const [name, version] of [['libnipgreet', '1.0'], ['hello', '2.10-r1']]) {
        fs.mkdirSync(path.join(programs, name, version, 'lib64'), { recursive: true })
        fs.writeFileSync(path.join(programs, name, version, 'lib64', `lib${name}.so.1`), '')
        fs.symlinkSync(version, path.join(programs, name, 'Current'))
      }
      assert.deepEqual(dependencyDirs(programs, ['libnipgreet'], '/Programs/nipgreet/1.0'), [{ inside: '/Programs/libnipgreet/1.0', host: path.join(programs, 'libnipgreet', '1.0') }])
      assert.deepEqual(dependencyDirs(programs, ['hello'], '/Programs/hello/2.10-r1~nls').map((d) => d.inside), ['/Programs/hello/2.10-r1'], 'another version of the same name is a different directory')
      // `name/version`: that version directory, Current or not.
      fs.mkdirSync(path.join(programs, 'libnipgreet', '1.0~extra', 'lib64'), { recursive: true })
      fs.writeFileSync(path.join(programs, 'libnipgreet', '1.0~extra', 'lib64', 'libnipgreet.so.1'), '')
      assert.deepEqual(dependencyDirs(programs, ['libnipgreet/1.0~extra'], '/Programs/nipgreetx/1.0'), [{ inside: '/Programs/libnipgreet/1.0~extra', host: path.join(programs, 'libnipgreet', '1.0~extra') }])
      assert.throws(() => dependencyDirs(programs, ['hello'], '/Programs/hello/2.10-r1'), (e: Error & { code?: string }) => e.code === 'ERR_NIP_BAD_SPEC')
    } finally {
      fs.rmSync(programs, { recursive: true, force: true })
    }
  })

  it('reads the CPV of programs grafted from the gentoo source, and of nothing else', () => {
    assert.equal(graftedCpv({ source: 'build', name: 'libnipgreet', version: '1.0', package_id: 'gentoo:dev-libs/libnipgreet-1.0#abc' }), 'dev-libs/libnipgreet-1.0')
    assert.equal(graftedCpv({ source: 'gentoo', name: 'zlib', version: '1.3-r1', package_id: 'binpkg:sys-libs/zlib/zlib-1.3-r1-1.gpkg.tar@@https://binhost.example' }), 'sys-libs/zlib-1.3-r1')
    assert.equal(graftedCpv({ source: 'gentoo', name: 'hello', version: '2.10', package_id: 'ebuild:app-misc/hello-2.10 +nls' }), 'app-misc/hello-2.10')
    assert.equal(graftedCpv({ source: 'build', name: 'hello', version: '2.10', package_id: 'hello@2.10#abc' }), null)
    assert.equal(graftedCpv({ source: 'debian', name: 'zlib1g', version: '1.2.13', package_id: 'zlib1g_1.2.13' }), null)
  })

  it('converts Debian versions to Gentoo versions', () => {
    assert.equal(gentooVersionOfDebian('1:1.2.13.dfsg-1'), '1.2.13')
    assert.equal(gentooVersionOfDebian('0.21-12'), '0.21')
    assert.equal(gentooVersionOfDebian('12.2.0-14'), '12.2.0')
    assert.equal(gentooVersionOfDebian('2.40-2'), '2.40')
    assert.equal(gentooVersionOfDebian('3.0~rc1-1'), '3.0_rc1')
    assert.equal(gentooVersionOfDebian('1.1.1w-0+deb12u1'), '1.1.1w')
    assert.equal(gentooVersionOfDebian('5.36.0-7+deb12u1'), '5.36.0')
    assert.equal(gentooVersionOfDebian('2:4.9.1'), '4.9.1')
    assert.equal(gentooVersionOfDebian('git20230101'), null)
  })

  it('reads installed packages from dpkg status and maps them through the host table', () => {
    const status = [
      'Package: zlib1g-dev\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\n',
      'Package: libssl-dev\nStatus: deinstall ok config-files\nVersion: 3.0.11-1\n',
      'Package: pkgconf\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.8.1-1\n',
    ].join('\n')
    const installed = parseDpkgStatus(status)
    assert.deepEqual([...installed.keys()], ['zlib1g-dev', 'pkgconf'])
    const host = hostProvided(installed)
    assert.deepEqual(host.map((h) => h.cpv).sort(), ['dev-util/pkgconf-1.8.1', 'sys-libs/zlib-1.2.13', 'virtual/pkgconfig-1.8.1'])
    assert.equal(host.find((h) => h.cpv.startsWith('sys-libs/zlib'))?.debian, 'zlib1g-dev 1:1.2.13.dfsg-1')
    assert.deepEqual(hostProvided(installed, [['dev-libs/openssl', ['libssl-dev']]]), [], 'a removed package provides nothing')
  })
})

// ---- the repository and distfiles made by the test --------------------------------------------

// USE=extra (-DNIPGREET_EXTRA) changes what the library says.
const LIB_C = '#include "nipgreet.h"\n#ifdef NIPGREET_EXTRA\nconst char *nipgreet(void) { return "Hello from libnipgreet 1.0, with extra"; }\n#else\nconst char *nipgreet(void) { return "Hello from libnipgreet 1.0"; }\n#endif\n'
const LIB_H = '#ifndef NIPGREET_H\n#define NIPGREET_H\nconst char *nipgreet(void);\n#endif\n'
const LIB_PC = 'prefix=@PREFIX@\nlibdir=@LIBDIR@\nincludedir=${prefix}/include\n\nName: nipgreet\nDescription: a greeting\nVersion: 1.0\nLibs: -L${libdir} -lnipgreet\nCflags: -I${includedir}\n'
const LIB_MK = [
  'PREFIX ?= /usr',
  'LIBDIR ?= $(PREFIX)/lib',
  'CC ?= cc',
  'all: libnipgreet.so.1',
  'libnipgreet.so.1: nipgreet.c nipgreet.h',
  '\t$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -shared -Wl,-soname,libnipgreet.so.1 $(LDFLAGS) -o $@ nipgreet.c',
  'install: all',
  '\tinstall -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include',
  '\tinstall -m 0755 libnipgreet.so.1 $(DESTDIR)$(LIBDIR)/',
  '\tln -sf libnipgreet.so.1 $(DESTDIR)$(LIBDIR)/libnipgreet.so',
  '\tinstall -m 0644 nipgreet.h $(DESTDIR)$(PREFIX)/include/',
  "\tsed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' nipgreet.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/nipgreet.pc",
  '',
].join('\n')
const APP_C = '#include <stdio.h>\n#include <nipgreet.h>\nint main(void) { puts(nipgreet()); return 0; }\n'
// pkg-config must find the library's .pc file through the build's view of its dependencies.
const appMakefile = (bin: string) => [
  'PREFIX ?= /usr',
  'CC ?= cc',
  `all: ${bin}`,
  `${bin}: main.c`,
  '\tpkg-config --exists nipgreet',
  '\t$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ main.c $$(pkg-config --libs-only-l nipgreet)',
  'install: all',
  '\tinstall -d $(DESTDIR)$(PREFIX)/bin',
  `\tinstall -m 0755 ${bin} $(DESTDIR)$(PREFIX)/bin/`,
  '',
].join('\n')
const APP_MK = appMakefile('nipgreet')

function ebuild(body: string): string {
  return `EAPI=8\n\nHOMEPAGE="https://nip.invalid/"\nSRC_URI="https://nip.invalid/\${P}.tar.gz"\nLICENSE="MIT"\nSLOT="0"\nKEYWORDS="~amd64"\n${body}`
}
const LIB_EBUILD = ebuild(`DESCRIPTION="a tiny greeting library"
IUSE="extra"

src_compile() {
\temake CC=gcc LIBDIR="\${EPREFIX}/usr/$(get_libdir)" CPPFLAGS="$(usex extra -DNIPGREET_EXTRA '')"
}

src_install() {
\temake DESTDIR="\${D}" PREFIX="\${EPREFIX}/usr" LIBDIR="\${EPREFIX}/usr/$(get_libdir)" install
\techo "greeting = hello" > "\${T}/nipgreet.conf" || die
\tinsinto /etc
\tdoins "\${T}/nipgreet.conf"
\tdosym "\${EPREFIX}/usr/$(get_libdir)/libnipgreet.so.1" "/usr/$(get_libdir)/libnipgreet-abs.so"
}
`)
const APP_EBUILD = ebuild(`DESCRIPTION="greets through libnipgreet"
DEPEND=">=dev-libs/libnipgreet-1.0 dev-libs/nipconf"
RDEPEND=">=dev-libs/libnipgreet-1.0"
BDEPEND="virtual/pkgconfig"

src_compile() {
\temake CC=gcc
}

src_install() {
\temake DESTDIR="\${D}" PREFIX="\${EPREFIX}/usr" install
}
`)

// The same program, requiring the library built with USE=extra.
const APPX_EBUILD = ebuild(`DESCRIPTION="greets through libnipgreet built with extra"
DEPEND=">=dev-libs/libnipgreet-1.0[extra]"
RDEPEND=">=dev-libs/libnipgreet-1.0[extra]"
BDEPEND="virtual/pkgconfig"

src_compile() {
\temake CC=gcc
}

src_install() {
\temake DESTDIR="\${D}" PREFIX="\${EPREFIX}/usr" install
}
`)

function tarGz(dir: string, name: string, files: Record<string, string>): Buffer {
  const src = path.join(dir, 'dist-src', name)
  fs.mkdirSync(src, { recursive: true })
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(src, f), text)
  const out = path.join(dir, `${name}.tar.gz`)
  execFileSync('tar', ['-C', path.join(dir, 'dist-src'), '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-czf', out, name])
  return fs.readFileSync(out)
}

const manifestLine = (name: string, data: Buffer) => `DIST ${name} ${data.length} BLAKE2B ${createHash('blake2b512').update(data).digest('hex')} SHA512 ${createHash('sha512').update(data).digest('hex')}\n`

function makeRepo(dir: string): { tarball: Buffer; distfiles: Record<string, Buffer> } {
  const lib = tarGz(dir, 'libnipgreet-1.0', { 'nipgreet.c': LIB_C, 'nipgreet.h': LIB_H, 'nipgreet.pc.in': LIB_PC, Makefile: LIB_MK })
  const app = tarGz(dir, 'nipgreet-1.0', { 'main.c': APP_C, Makefile: APP_MK })
  const appx = tarGz(dir, 'nipgreetx-1.0', { 'main.c': APP_C, Makefile: appMakefile('nipgreetx') })
  const tree = path.join(dir, 'repo-src')
  const repo = path.join(tree, 'repo')
  fs.mkdirSync(repo, { recursive: true })
  for (const d of ['profiles', 'metadata']) fs.cpSync(path.join(SHARED_GENTOO, 'repo', d), path.join(repo, d), { recursive: true })
  fs.chmodSync(path.join(repo, 'profiles'), 0o755)
  fs.appendFileSync(path.join(repo, 'profiles', 'categories'), 'dev-libs\napp-misc\n')
  const put = (cp: string, files: Record<string, string>) => {
    fs.mkdirSync(path.join(repo, cp), { recursive: true })
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(repo, cp, f), text)
  }
  put('dev-libs/libnipgreet', { 'libnipgreet-1.0.ebuild': LIB_EBUILD, Manifest: manifestLine('libnipgreet-1.0.tar.gz', lib) })
  put('app-misc/nipgreet', { 'nipgreet-1.0.ebuild': APP_EBUILD, Manifest: manifestLine('nipgreet-1.0.tar.gz', app) })
  put('app-misc/nipgreetx', { 'nipgreetx-1.0.ebuild': APPX_EBUILD, Manifest: manifestLine('nipgreetx-1.0.tar.gz', appx) })
  // USE dependencies: a flag the dependency's REQUIRED_USE forbids, a flag it lacks, a (+)
  // default for one it lacks, and two dependents wanting libnipgreet's extra on and off.
  const plain = (description: string, more: string) => `EAPI=8\nDESCRIPTION="${description}"\nSLOT="0"\nKEYWORDS="~amd64"\n${more}`
  put('dev-libs/nipstrict', { 'nipstrict-1.0.ebuild': plain('one of two', 'IUSE="fast +safe"\nREQUIRED_USE="^^ ( fast safe )"\n'), Manifest: '' })
  put('app-misc/needsfast', { 'needsfast-1.0.ebuild': plain('needs fast', 'DEPEND="dev-libs/nipstrict[fast]"\n'), Manifest: '' })
  put('app-misc/needsnoflag', { 'needsnoflag-1.0.ebuild': plain('needs a flag nipstrict lacks', 'DEPEND="dev-libs/nipstrict[nosuch]"\n'), Manifest: '' })
  put('app-misc/needsdefault', { 'needsdefault-1.0.ebuild': plain('defaults and a flag off', 'DEPEND="dev-libs/nipstrict[nosuch(+),-fast]"\n'), Manifest: '' })
  put('app-misc/wantsboth', { 'wantsboth-1.0.ebuild': plain('wants nipstrict with safe, and needsdefault', 'DEPEND="dev-libs/nipstrict[safe] app-misc/needsdefault"\n'), Manifest: '' })
  put('app-misc/wantsplain', { 'wantsplain-1.0.ebuild': plain('wants the plain library and nipgreetx', 'DEPEND="dev-libs/libnipgreet[-extra] app-misc/nipgreetx"\n'), Manifest: '' })
  put('app-misc/needsnosuch', { 'needsnosuch-1.0.ebuild': 'EAPI=8\nDESCRIPTION="needs what nothing has"\nSLOT="0"\nKEYWORDS="~amd64"\nDEPEND="dev-libs/nosuch >=dev-libs/nosuch2-3"\n', Manifest: '' })
  put('app-misc/needszlib', { 'needszlib-1.0.ebuild': 'EAPI=8\nDESCRIPTION="needs zlib"\nSLOT="0"\nKEYWORDS="~amd64"\nDEPEND=">=sys-libs/zlib-1.2"\n', Manifest: '' })
  put('app-misc/cyca', { 'cyca-1.0.ebuild': 'EAPI=8\nDESCRIPTION="a"\nSLOT="0"\nKEYWORDS="~amd64"\nDEPEND="app-misc/cycb"\n', Manifest: '' })
  put('app-misc/cycb', { 'cycb-1.0.ebuild': 'EAPI=8\nDESCRIPTION="b"\nSLOT="0"\nKEYWORDS="~amd64"\nRDEPEND="app-misc/cyca"\n', Manifest: '' })
  // Metadata from eclasses (read through Portage) and from the md5-cache.
  fs.mkdirSync(path.join(repo, 'eclass'))
  fs.writeFileSync(path.join(repo, 'eclass', 'nipflags.eclass'), '# a test eclass\nIUSE="eclassflag"\nDEPEND="eclassflag? ( dev-libs/nipconf )"\nnipflags_src_compile() { :; }\nEXPORT_FUNCTIONS src_compile\n')
  put('app-misc/eclassy', { 'eclassy-1.0.ebuild': 'EAPI=8\ninherit nipflags\nDESCRIPTION="an eclass adds a flag"\nSLOT="0"\nKEYWORDS="~amd64"\nIUSE="own"\n', Manifest: '' })
  const cached = 'EAPI=8\nDESCRIPTION="the cache says more"\nSLOT="0"\nKEYWORDS="~amd64"\n'
  put('app-misc/cached', { 'cached-1.0.ebuild': cached, Manifest: '' })
  put('app-misc/stale', { 'stale-1.0.ebuild': cached, Manifest: '' })
  const md5 = createHash('md5').update(cached).digest('hex')
  const entry = (sum: string) => `DEFINED_PHASES=-\nDESCRIPTION=the cache says more\nEAPI=8\nIUSE=fromcache\nKEYWORDS=~amd64\nSLOT=0\n_md5_=${sum}\n`
  fs.mkdirSync(path.join(repo, 'metadata', 'md5-cache', 'app-misc'), { recursive: true })
  fs.writeFileSync(path.join(repo, 'metadata', 'md5-cache', 'app-misc', 'cached-1.0'), entry(md5))
  fs.writeFileSync(path.join(repo, 'metadata', 'md5-cache', 'app-misc', 'stale-1.0'), entry('0'.repeat(32)))
  const out = path.join(dir, 'gentoo-repo.tar.gz')
  execFileSync('tar', ['-C', tree, '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-czf', out, 'repo'])
  return { tarball: fs.readFileSync(out), distfiles: { 'libnipgreet-1.0.tar.gz': lib, 'nipgreet-1.0.tar.gz': app, 'nipgreetx-1.0.tar.gz': appx } }
}

describe('nip build --source gentoo with dependencies', function () {
  this.timeout(900_000)
  let parent: string
  let root: string
  let beside: string
  let home: string
  let besideBefore: DirSnapshot
  let mirror: Mirror
  let conf: string
  let hasPkgconf = false
  const nip = (args: string[]) => runNip(root, home, [...args, '--config', conf])
  const visible = (name: string) => (fs.existsSync(path.join(root, 'Programs', name)) ? fs.readdirSync(path.join(root, 'Programs', name)).filter((n) => !n.startsWith('.')).sort() : [])
  const workDirs = () => {
    const d = path.join(root, 'var', 'nip', 'cache', 'build', 'work')
    return fs.existsSync(d) ? fs.readdirSync(d).join(' ') : ''
  }
  const gpkgs = () => {
    const d = path.join(root, 'var', 'nip', 'cache', 'build', 'gentoo', 'packages')
    return fs.existsSync(d) ? execFileSync('find', [d, '-name', '*.gpkg.tar'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).sort() : []
  }

  before(async function () {
    if (!fs.existsSync(path.join(SHARED_GENTOO, 'portage-a20ef27.tar.gz'))) {
      console.log(`    (skipped: the shared gentoo fixtures are absent at ${SHARED_GENTOO})`)
      this.skip()
    }
    try {
      execFileSync('bwrap', ['--version'], { stdio: 'ignore' })
    } catch {
      console.log('    (skipped: bubblewrap is not installed)')
      this.skip()
    }
    hasPkgconf = /install ok installed/.test(execFileSync('sh', ['-c', 'dpkg-query -W -f "\\${Status}\\n" pkgconf pkg-config 2>/dev/null || true'], { encoding: 'utf8' }))
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-gentoo-deps-'))
    root = path.join(parent, 'root')
    beside = path.join(parent, 'beside')
    home = path.join(parent, 'home')
    const recipes = path.join(parent, 'recipes')
    for (const d of [root, beside, home, recipes]) fs.mkdirSync(d)
    fs.writeFileSync(path.join(beside, 'keep.txt'), 'must not change\n')
    const portage = fs.readFileSync(path.join(SHARED_GENTOO, 'portage-a20ef27.tar.gz'))
    const { tarball, distfiles } = makeRepo(parent)
    const files: Record<string, { body: Buffer }> = { '/portage-a20ef27.tar.gz': { body: portage }, '/gentoo-repo.tar.gz': { body: tarball } }
    for (const [n, b] of Object.entries(distfiles)) files[`/distfiles/${n}`] = { body: b }
    mirror = await startMirror(files)
    fs.writeFileSync(path.join(recipes, 'gentoo.toml'), gentooRecipe(mirror, portage, tarball))
    conf = path.join(parent, 'nip.conf')
    // dev-libs/nipconf is in no repository: the configuration says the host provides it.
    fs.writeFileSync(conf, `[build]\nbootstrap-recipe-dirs = [${JSON.stringify(recipes)}]\ndistfile-mirrors = ["${mirror.urlOf('/distfiles')}"]\ngentoo-provided = ["dev-libs/nipconf-2.0"]\n[debian]\nhost-sources = false\n`)
    besideBefore = snapshotDir(beside)
    const r = await nip(['bootstrap', 'install', 'gentoo', '--yes', '--json'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
  })

  after(async () => {
    await mirror?.close()
    if (beside) assertUnchanged(beside, besideBefore, 'the directory beside the root')
    if (parent) fs.rmSync(parent, { recursive: true, force: true })
  })

  it('refuses an unmet atom before Portage runs, naming every unmet atom, and grafts nothing', async () => {
    const r = await nip(['build', '--source', 'gentoo', 'app-misc/needsnosuch', '--yes', '--json'])
    assert.equal(r.json?.error?.code, 'ERR_NIP_UNSATISFIED_DEPENDENCY', r.stdout + r.stderr)
    assert.match(r.json.error.message, /dev-libs\/nosuch \(required by app-misc\/needsnosuch-1\.0\)/)
    assert.match(r.json.error.message, />=dev-libs\/nosuch2-3/)
    assert.match(r.json.error.hint, /gentoo-provided/)
    assert.deepEqual(visible('needsnosuch'), [])
    assert.equal(workDirs(), '')
    assert.deepEqual(gpkgs(), [])
  })

  it('refuses a dependency cycle with ERR_NIP_DEPENDENCY_CYCLE, naming it', async () => {
    const r = await nip(['build', '--source', 'gentoo', 'app-misc/cyca', '--yes', '--json'])
    assert.equal(r.json?.error?.code, 'ERR_NIP_DEPENDENCY_CYCLE', r.stdout + r.stderr)
    assert.match(r.json.error.message, /app-misc\/cyca-1\.0 → app-misc\/cycb-1\.0 → app-misc\/cyca-1\.0/)
    assert.deepEqual([...visible('cyca'), ...visible('cycb')], [])
  })

  it('the dry run shows the plan: libnipgreet to build, nipconf provided by the configuration, pkg-config from the host', async function () {
    const r = await nip(['build', '--source', 'gentoo', 'app-misc/nipgreet', '--dry-run', '--yes', '--json'])
    if (!hasPkgconf) {
      assert.equal(r.json?.error?.code, 'ERR_NIP_UNSATISFIED_DEPENDENCY', r.stdout + r.stderr)
      console.log('      (skipped: pkgconf is not installed on this host, so virtual/pkgconfig is unmet)')
      this.skip()
    }
    assert.equal(r.status, 0, r.stdout + r.stderr)
    const plan = r.json.result.gentooDependencies
    assert.equal(plan.target, 'app-misc/nipgreet-1.0')
    const how = Object.fromEntries(plan.packages[0].dependencies.map((d: { atom: string; how: string; cpv?: string }) => [d.atom, [d.how, d.cpv]]))
    assert.deepEqual(how['>=dev-libs/libnipgreet-1.0'], ['build', 'dev-libs/libnipgreet-1.0'])
    assert.deepEqual(how['dev-libs/nipconf'], ['provided', 'dev-libs/nipconf-2.0'])
    assert.equal(how['virtual/pkgconfig'][0], 'host')
    assert.deepEqual(plan.builds.map((b: { cpv: string }) => b.cpv), ['dev-libs/libnipgreet-1.0'])
    assert.deepEqual(visible('libnipgreet'), [])
    // Human output names the plan too.
    const human = await nip(['build', '--source', 'gentoo', 'app-misc/nipgreet', '--dry-run', '--yes'])
    assert.match(human.stdout, /Built first: dev-libs\/libnipgreet-1\.0/)
  })

  it("the host table satisfies sys-libs/zlib from the host's zlib1g-dev", async function () {
    const installed = /install ok installed/.test(execFileSync('sh', ['-c', 'dpkg-query -W -f "\\${Status}\\n" zlib1g-dev 2>/dev/null || true'], { encoding: 'utf8' }))
    const r = await nip(['build', '--source', 'gentoo', 'app-misc/needszlib', '--dry-run', '--yes', '--json'])
    if (!installed) {
      assert.equal(r.json?.error?.code, 'ERR_NIP_UNSATISFIED_DEPENDENCY', r.stdout + r.stderr)
      console.log('      (skipped: zlib1g-dev is not installed on this host)')
      this.skip()
    }
    assert.equal(r.status, 0, r.stdout + r.stderr)
    const [d] = r.json.result.gentooDependencies.packages[0].dependencies
    assert.equal(d.how, 'host')
    assert.match(d.cpv, /^sys-libs\/zlib-1\.\d/)
    assert.match(d.debian, /^zlib1g-dev /)
  })

  it('without the gentoo-provided entry, dev-libs/nipconf is unmet', async () => {
    const bare = path.join(parent, 'bare.conf')
    fs.writeFileSync(bare, fs.readFileSync(conf, 'utf8').replace(/^gentoo-provided.*\n/m, ''))
    const r = await runNip(root, home, ['build', '--source', 'gentoo', 'app-misc/nipgreet', '--dry-run', '--yes', '--json', '--config', bare])
    assert.equal(r.json?.error?.code, 'ERR_NIP_UNSATISFIED_DEPENDENCY', r.stdout + r.stderr)
    assert.match(r.json.error.message, /dev-libs\/nipconf/)
    assert.doesNotMatch(r.json.error.message, /libnipgreet/)
  })

  it('USE dependencies: the plan builds libnipgreet with +extra for an atom requiring [extra]', async function () {
    const r = await nip(['build', '--source', 'gentoo', 'app-misc/nipgreetx', '--dry-run', '--yes', '--json'])
    if (!hasPkgconf) {
      assert.equal(r.json?.error?.code, 'ERR_NIP_UNSATISFIED_DEPENDENCY', r.stdout + r.stderr)
      console.log('      (skipped: pkgconf is not installed on this host, so virtual/pkgconfig is unmet)')
      this.skip()
    }
    assert.equal(r.status, 0, r.stdout + r.stderr)
    const plan = r.json.result.gentooDependencies
    assert.deepEqual(plan.packages[0].dependencies.find((d: { atom: string }) => d.atom === '>=dev-libs/libnipgreet-1.0[extra]')?.how, 'build')
    assert.deepEqual(plan.builds.map((b: { cpv: string; variants: string[] }) => [b.cpv, b.variants]), [['dev-libs/libnipgreet-1.0', ['+extra']]])
    const human = await nip(['build', '--source', 'gentoo', 'app-misc/nipgreetx', '--dry-run', '--yes'])
    assert.match(human.stdout, /Built first: dev-libs\/libnipgreet-1\.0 \(USE \+extra\)/)
    assert.deepEqual(visible('libnipgreet'), [])
  })

  it('one question for the whole chain, asked before anything is built: declining (end of input) builds and grafts nothing', async function () {
    if (!hasPkgconf) {
      console.log('      (skipped: pkgconf is not installed on this host, so virtual/pkgconfig is unmet)')
      this.skip()
    }
    const r = await nip(['build', '--source', 'gentoo', 'app-misc/nipgreetx'])
    assert.equal(r.status, 1, r.stdout + r.stderr)
    // Named once, with the dependency's required USE, before the target; no second question.
    assert.equal((r.stdout + r.stderr).match(/Build and graft/g)?.length, 1, r.stdout + r.stderr)
    assert.match(r.stdout + r.stderr, /Build and graft dev-libs\/libnipgreet-1\.0 \(USE \+extra\) and then app-misc\/nipgreetx-1\.0\?/)
    assert.match(r.stderr, /Nothing was changed\./)
    assert.deepEqual([...visible('libnipgreet'), ...visible('nipgreetx')], [])
    assert.equal(workDirs(), '')
    assert.deepEqual(gpkgs(), [])
  })

  it("USE dependencies: a (+) default meets a flag the dependency lacks, and -flag is added to its default USE", async () => {
    const r = await nip(['build', '--source', 'gentoo', 'app-misc/needsdefault', '--dry-run', '--yes', '--json'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.deepEqual(r.json.result.gentooDependencies.builds.map((b: { cpv: string; variants: string[] }) => [b.cpv, b.variants]), [['dev-libs/nipstrict-1.0', ['-fast']]])
  })

  it("USE dependencies: a flag the dependency's REQUIRED_USE forbids, or one it lacks, is refused naming the atom", async () => {
    const fast = await nip(['build', '--source', 'gentoo', 'app-misc/needsfast', '--dry-run', '--yes', '--json'])
    assert.equal(fast.json?.error?.code, 'ERR_NIP_VARIANT_CONFLICT', fast.stdout + fast.stderr)
    assert.match(fast.json.error.message, /dev-libs\/nipstrict\[fast\] \(required by app-misc\/needsfast-1\.0\)/)
    assert.match(fast.json.error.message, /\+fast/)
    const none = await nip(['build', '--source', 'gentoo', 'app-misc/needsnoflag', '--dry-run', '--yes', '--json'])
    assert.equal(none.json?.error?.code, 'ERR_NIP_VARIANT_CONFLICT', none.stdout + none.stderr)
    assert.match(none.json.error.message, /dev-libs\/nipstrict\[nosuch\] \(required by app-misc\/needsnoflag-1\.0\) requires USE flag nosuch on/)
    assert.deepEqual(visible('nipstrict'), [])
    assert.equal(workDirs(), '')
  })

  it('USE dependencies: requirements of two dependents that agree are merged into one build of the dependency', async () => {
    const r = await nip(['build', '--source', 'gentoo', 'app-misc/wantsboth', '--dry-run', '--yes', '--json'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.deepEqual(r.json.result.gentooDependencies.builds.map((b: { cpv: string; variants: string[] }) => [b.cpv, b.variants]), [['dev-libs/nipstrict-1.0', ['+safe', '-fast']], ['app-misc/needsdefault-1.0', []]])
  })

  it('USE dependencies: two dependents requiring a flag on and off are refused, naming both atoms', async () => {
    const r = await nip(['build', '--source', 'gentoo', 'app-misc/wantsplain', '--dry-run', '--yes', '--json'])
    assert.equal(r.json?.error?.code, 'ERR_NIP_VARIANT_CONFLICT', r.stdout + r.stderr)
    assert.match(r.json.error.message, /dev-libs\/libnipgreet\[-extra\] \(required by app-misc\/wantsplain-1\.0\)/)
    assert.match(r.json.error.message, />=dev-libs\/libnipgreet-1\.0\[extra\] \(required by app-misc\/nipgreetx-1\.0\)/)
    assert.deepEqual([...visible('libnipgreet'), ...visible('nipgreetx'), ...visible('wantsplain')], [])
  })

  it('reads metadata from a current md5-cache entry, and not from a stale one', async () => {
    const r = await nip(['build', '--source', 'gentoo', 'app-misc/cached', '+fromcache', '--dry-run', '--yes', '--json'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.equal(r.json.result.install.plan.programs[0].version, '1.0~fromcache')
    assert.equal(r.json.result.gentooDependencies.packages[0].metadata, 'md5-cache')
    const stale = await nip(['build', '--source', 'gentoo', 'app-misc/stale', '+fromcache', '--dry-run', '--yes', '--json'])
    assert.equal(stale.json?.error?.code, 'ERR_NIP_BAD_SPEC', stale.stdout + stale.stderr)
  })

  it('reads an ebuild inheriting an eclass through Portage: the eclass flag and dependency are seen', async function () {
    if (process.getuid?.() !== 0) {
      console.log('      (skipped: Portage reads metadata as root in the namespace, as emerge runs)')
      this.skip()
    }
    const r = await nip(['build', '--source', 'gentoo', 'app-misc/eclassy', '+eclassflag', '--dry-run', '--yes', '--json'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.equal(r.json.result.install.plan.programs[0].version, '1.0~eclassflag')
    assert.equal(r.json.result.gentooDependencies.packages[0].metadata, 'portage')
    assert.deepEqual(r.json.result.gentooDependencies.packages[0].dependencies.map((d: { atom: string; how: string }) => [d.atom, d.how]), [['dev-libs/nipconf', 'provided']])
    const bad = await nip(['build', '--source', 'gentoo', 'app-misc/eclassy', '+eclasflag', '--dry-run', '--yes', '--json'])
    assert.equal(bad.json?.error?.code, 'ERR_NIP_BAD_SPEC', bad.stdout + bad.stderr)
    assert.match(bad.json.error.message + bad.json.error.hint, /eclassflag/)
    assert.equal(workDirs(), '', 'the metadata work directory is removed')
  })

  ;(long ? describe : describe.skip)('real emerge (NIP_LONG_TESTS)', function () {
    before(function () {
      if (process.getuid?.() !== 0) {
        console.log('      (skipped: gentoo builds run emerge as root in the namespace)')
        this.skip()
      }
      if (!hasPkgconf) {
        console.log('      (skipped: pkgconf is not installed on this host)')
        this.skip()
      }
    })

    it('builds and grafts libnipgreet first, then nipgreet, which runs from the link farm and prints the library string', async () => {
      const r = await nip(['build', '--source', 'gentoo', 'app-misc/nipgreet', '--yes', '--json'])
      assert.equal(r.status, 0, r.stdout + r.stderr)
      assert.deepEqual(visible('libnipgreet'), ['1.0', 'Current', 'Settings'])
      assert.deepEqual(visible('nipgreet'), ['1.0', 'Current'])
      assert.ok(fs.existsSync(path.join(root, 'Programs', 'libnipgreet', '1.0', 'include', 'nipgreet.h')))
      assert.ok(fs.existsSync(path.join(root, 'Programs', 'libnipgreet', '1.0', 'lib64', 'pkgconfig', 'nipgreet.pc')))
      // Built for its own directory (EPREFIX): the .pc file names it, and <EPREFIX>/usr/X and
      // <EPREFIX>/etc/X resolve in the grafted tree (usr → ., etc → ../Settings).
      const pc = fs.readFileSync(path.join(root, 'Programs', 'libnipgreet', '1.0', 'lib64', 'pkgconfig', 'nipgreet.pc'), 'utf8')
      assert.match(pc, /^prefix=\/Programs\/libnipgreet\/1\.0\/usr$/m)
      assert.match(pc, /^libdir=\/Programs\/libnipgreet\/1\.0\/usr\/lib64$/m)
      assert.ok(fs.existsSync(path.join(root, 'Programs', 'libnipgreet', '1.0', 'usr', 'include', 'nipgreet.h')))
      assert.equal(fs.readFileSync(path.join(root, 'Programs', 'libnipgreet', 'Settings', 'nipgreet.conf'), 'utf8'), 'greeting = hello\n')
      assert.equal(fs.readlinkSync(path.join(root, 'Programs', 'libnipgreet', '1.0', 'etc')), '../Settings')
      assert.equal(fs.readFileSync(path.join(root, 'Programs', 'libnipgreet', '1.0', 'etc', 'nipgreet.conf'), 'utf8'), 'greeting = hello\n')
      assert.ok(!fs.existsSync(path.join(root, 'Programs', 'nipgreet', '1.0', 'etc')), 'no etc link without configuration')
      assert.equal(fs.readlinkSync(path.join(root, 'Programs', 'nipgreet', '1.0', 'usr')), '.')
      // An absolute symlink into the prefix (dosym without -r) is grafted relative.
      assert.equal(fs.readlinkSync(path.join(root, 'Programs', 'libnipgreet', '1.0', 'lib64', 'libnipgreet-abs.so')), 'libnipgreet.so.1')
      const out = execFileSync(path.join(root, 'System', 'Links', 'Executables', 'nipgreet'), { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } })
      assert.equal(out.trim(), 'Hello from libnipgreet 1.0')
      // emerge ran without --nodeps, with package.provided naming what nip satisfied.
      const logs = path.join(root, 'var', 'log', 'nip', 'build', 'nipgreet')
      const log = fs.readdirSync(logs).map((f) => fs.readFileSync(path.join(logs, f), 'utf8')).join('\n')
      assert.match(log, /package\.provided:\n#\s+dev-libs\/libnipgreet-1\.0\n#\s+dev-libs\/nipconf-2\.0/)
      assert.equal(gpkgs().length, 2)
      // The dependency is recorded: nip why, and removal protection.
      const why = await nip(['why', 'libnipgreet', '--json'])
      assert.equal(why.status, 0, why.stdout + why.stderr)
      assert.match(JSON.stringify(why.json.result), /nipgreet/)
      const rm = await nip(['remove', 'libnipgreet', '--yes', '--json'])
      assert.notEqual(rm.status, 0, 'a dependency of a grafted program is not removed silently')
      assert.deepEqual(visible('libnipgreet'), ['1.0', 'Current', 'Settings'])
    })

    it("Portage's own resolver checks the graph: without package.provided, emerge refuses nipgreet", async () => {
      // The same plan, run with an empty package.provided: emerge (no --nodeps) finds no ebuild
      // for dev-libs/nipconf and stops at dependency calculation.
      const core = await import('@nip/core')
      const loaded = await core.loadConfig({ root, env: {}, configFile: conf })
      const layout = new core.Layout(loaded.config)
      const table = loaded.config.sources.find((x) => x.id === 'build')?.table ?? {}
      const plan = planGentoo({ atom: 'app-misc/nipgreet', variants: [] }, { config: table, layout })
      const scratch = fs.mkdtempSync(path.join(parent, 'differential-'))
      for (const d of ['work', 'packages']) fs.mkdirSync(path.join(scratch, d))
      const logFile = path.join(scratch, 'emerge.log')
      const fd = fs.openSync(logFile, 'w')
      try {
        const out = await runEmerge({ plan, work: path.join(scratch, 'work'), distdir: path.join(root, 'var', 'nip', 'cache', 'build', 'gentoo', 'distfiles'), pkgdir: path.join(scratch, 'packages'), logFd: fd, jobs: 1, provided: '' })
        assert.notEqual(out.exitCode, 0)
      } finally {
        fs.closeSync(fd)
      }
      assert.match(fs.readFileSync(logFile, 'utf8'), /no ebuilds to satisfy "dev-libs\/nipconf"/)
    })

    it('a second build reuses both (no emerge)', async () => {
      const before = gpkgs()
      const r = await nip(['build', '--source', 'gentoo', 'app-misc/nipgreet', '--yes', '--json'])
      assert.equal(r.status, 0, r.stdout + r.stderr)
      assert.deepEqual(r.json.result.gentooDependencies.builds, [])
      assert.equal(r.json.result.gentooDependencies.packages[0].dependencies.find((d: { atom: string }) => d.atom === '>=dev-libs/libnipgreet-1.0').how, 'grafted')
      assert.deepEqual(gpkgs(), before)
      const out = execFileSync(path.join(root, 'System', 'Links', 'Executables', 'nipgreet'), { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } })
      assert.equal(out.trim(), 'Hello from libnipgreet 1.0')
    })

    it('an atom requiring libnipgreet[extra]: the grafted build without extra does not satisfy it; libnipgreet is built with +extra, then the dependent prints the extra text', async () => {
      const besideNow = snapshotDir(beside)
      const r = await nip(['build', '--source', 'gentoo', 'app-misc/nipgreetx', '--yes', '--json'])
      assert.equal(r.status, 0, r.stdout + r.stderr)
      const plan = r.json.result.gentooDependencies
      assert.deepEqual(plan.builds.map((b: { cpv: string; variants: string[] }) => [b.cpv, b.variants]), [['dev-libs/libnipgreet-1.0', ['+extra']]])
      assert.deepEqual(visible('libnipgreet'), ['1.0', '1.0~extra', 'Current', 'Settings'])
      assert.deepEqual(visible('nipgreetx'), ['1.0', 'Current'])
      const out = execFileSync(path.join(root, 'System', 'Links', 'Executables', 'nipgreetx'), { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } })
      assert.equal(out.trim(), 'Hello from libnipgreet 1.0, with extra')
      // The build's record (from the GPKG's metadata): SLOT and USE, which later plans match against.
      const outputs = path.join(root, 'var', 'nip', 'cache', 'build', 'outputs')
      const records = fs.readdirSync(outputs).map((f) => JSON.parse(fs.readFileSync(path.join(outputs, f), 'utf8')) as { version: string; gentoo?: { slot: string; use: string[]; iuse: string[] } })
      assert.deepEqual(records.find((x) => x.version === '1.0~extra')?.gentoo, { cpv: 'dev-libs/libnipgreet-1.0', slot: '0', subSlot: '0', use: ['extra'], iuse: ['extra'] })
      assert.deepEqual(records.find((x) => x.version === '1.0')?.gentoo?.use, [])
      // Now the grafted +extra build satisfies the atom: nothing more to build.
      const again = await nip(['build', '--source', 'gentoo', 'app-misc/nipgreetx', '--dry-run', '--yes', '--json'])
      assert.equal(again.status, 0, again.stdout + again.stderr)
      const d = again.json.result.gentooDependencies.packages[0].dependencies.find((x: { atom: string }) => x.atom === '>=dev-libs/libnipgreet-1.0[extra]')
      assert.deepEqual([d.how, d.program?.version], ['grafted', '1.0~extra'])
      assert.deepEqual(again.json.result.gentooDependencies.builds, [])
      assertUnchanged(beside, besideNow, 'the directory beside the root')
    })
  })
})
