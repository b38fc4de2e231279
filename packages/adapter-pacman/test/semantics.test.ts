import { strict as assert } from 'node:assert'
import { gzipSync } from 'node:zlib'
import { buildTar } from '@nip/testing'
import { dependencyOf, isValidFilename, mapMemberPath, packageSatisfies, parseDep, parseMtree, parseSigLevel, readSyncDatabase, remapTarget, splitName } from '../src/index.js'
import type { SyncPackage } from '../src/index.js'

describe('dependency strings (alpm_dep_from_string, _alpm_depcmp)', () => {
  it('parses operators and descriptions exactly', () => {
    assert.deepEqual(parseDep('glibc>=2.38'), { name: 'glibc', op: '>=', version: '2.38', raw: 'glibc>=2.38' })
    assert.deepEqual(parseDep('foo<1:2.0-1'), { name: 'foo', op: '<', version: '1:2.0-1', raw: 'foo<1:2.0-1' })
    assert.deepEqual(parseDep('python: for the helper'), { name: 'python', op: '', version: '', description: 'for the helper', raw: 'python: for the helper' })
  })
  it('a bare provision satisfies only unversioned dependencies (provision020)', () => {
    const pkg = { name: 'pkg1', version: '1.0-1', provides: ['provision'] }
    assert.equal(packageSatisfies(pkg, parseDep('provision')), true)
    assert.equal(packageSatisfies(pkg, parseDep('provision>=1.0-2')), false)
    assert.equal(packageSatisfies({ ...pkg, provides: ['provision=1.0-2'] }, parseDep('provision>=1.0-2')), true)
    assert.equal(packageSatisfies(pkg, parseDep('pkg1=1.0')), true)
  })
  it('lists providers as alternatives after the named package', () => {
    const base = { repo: 'r', filename: 'f', groups: [], csize: 0, isize: 0, licenses: [], replaces: [], conflicts: [], depends: [], optdepends: [] }
    const all: SyncPackage[] = [
      { ...base, name: 'a', version: '1-1', provides: ['sh'] },
      { ...base, name: 'b', version: '2-1', provides: ['sh=5'] },
    ]
    assert.deepEqual(dependencyOf('sh>=4', all).anyOf?.map((d) => `${d.name}${d.constraint}`), ['sh>=4', 'b=2-1'])
    assert.deepEqual(dependencyOf('sh', all, ['b']).anyOf?.map((d) => d.name), ['sh', 'b', 'a'])
  })
})

describe('sync databases', () => {
  it('splits names at the last two dashes and validates %FILENAME%', () => {
    assert.deepEqual(splitName('foo-bar-1:2.0-3'), { name: 'foo-bar', version: '1:2.0-3' })
    assert.equal(splitName('foo-1'), null)
    assert.equal(isValidFilename('../x.pkg.tar.zst'), false)
    assert.equal(isValidFilename('.hidden'), false)
  })
  it('reads desc and legacy depends entries', async () => {
    const db = await buildTar(
      [
        { path: 'foo-1.0-1/', type: 'dir' },
        { path: 'foo-1.0-1/desc', content: '%FILENAME%\nfoo-1.0-1-x86_64.pkg.tar.zst\n\n%NAME%\nfoo\n\n%CSIZE%\n10\n\n%GROUPS%\ng1\ng2\n\n' },
        { path: 'foo-1.0-1/depends', content: '%DEPENDS%\nbar>=2\nbaz\n\n%PROVIDES%\nqux=1\n\n' },
      ],
      { compression: 'zstd' },
    )
    const [p] = await readSyncDatabase(db, { repo: 'core', source: 'core.db' })
    assert.deepEqual([p.name, p.version, p.csize, p.groups, p.depends, p.provides], ['foo', '1.0-1', 10, ['g1', 'g2'], ['bar>=2', 'baz'], ['qux=1']])
  })
  it('refuses a %FILENAME% with a slash (ERR_NIP_BAD_PACKAGE)', async () => {
    const db = await buildTar([{ path: 'foo-1.0-1/desc', content: '%FILENAME%\n../../etc/passwd\n\n' }], { compression: 'gzip' })
    await assert.rejects(readSyncDatabase(db, { repo: 'core', source: 'core.db' }), { code: 'ERR_NIP_BAD_PACKAGE' })
  })
})

describe('.MTREE, SigLevel, layout', () => {
  it('parses a gzip mtree with /set defaults and escapes', () => {
    const text = '#mtree\n/set type=file uid=0 gid=0 mode=644\n./.PKGINFO size=1\n./usr time=1.0 mode=755 type=dir\n./usr/a\\040b size=3 sha256digest=ab\n./usr/l mode=777 type=link link=/etc/x\n'
    assert.deepEqual(parseMtree(gzipSync(text), 'p'), [
      { path: 'usr', type: 'dir', mode: 0o755 },
      { path: 'usr/a b', type: 'file', mode: 0o644, size: 3, sha256: 'ab' },
      { path: 'usr/l', type: 'link', mode: 0o777, link: '/etc/x' },
    ])
  })
  it('drops a default on /unset, and keys of one line do not carry over to the next', () => {
    const text = '/set type=file mode=644\n./a size=1 mode=600\n./b size=2\n/unset mode\n./c size=3\n/set mode=640\n./d size=4 type=dir\n./e\n'
    assert.deepEqual(parseMtree(Buffer.from(text), 'p'), [
      { path: 'a', type: 'file', mode: 0o600, size: 1 },
      { path: 'b', type: 'file', mode: 0o644, size: 2 },
      { path: 'c', type: 'file', size: 3 },
      { path: 'd', type: 'dir', mode: 0o640 },
      { path: 'e', type: 'file', mode: 0o640 },
    ])
  })
  it('applies SigLevel tokens per side', () => {
    assert.deepEqual(parseSigLevel('Required DatabaseOptional'), {
      package: { check: 'required', trust: 'trustedOnly' },
      database: { check: 'optional', trust: 'trustedOnly' },
    })
    assert.throws(() => parseSigLevel('Sometimes'), { code: 'ERR_NIP_CONFIG' })
  })
  it('maps usr/ to the program root and etc/ to Settings, rewriting link targets', () => {
    assert.equal(mapMemberPath('usr/bin/x'), 'bin/x')
    assert.equal(mapMemberPath('etc/x.conf'), 'Settings/x.conf')
    assert.equal(mapMemberPath('.PKGINFO'), null)
    assert.equal(remapTarget('usr/share/a/x', '../../../etc/x', 'share/a/x'), '../../../Settings/x')
    assert.equal(remapTarget('usr/lib/libz.so', 'libz.so.1', 'lib/libz.so'), 'libz.so.1')
  })
})
