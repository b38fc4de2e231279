import { strict as assert } from 'node:assert'
import { readFileSync, readdirSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { DEFAULT_LIMITS } from '@nip/core'
import { parsePlist, parseSummary, readPackageMetadata, toDependency } from '../src/index.js'

const FIXTURES = new URL('./fixtures/', import.meta.url)
const read = (rel: string) => readFileSync(new URL(rel, FIXTURES))

describe('real pkgsrc data', () => {
  const entries = parseSummary(gunzipSync(read('summary/pkg_summary.gz')).toString('utf8'), 'pkg_summary.gz')

  it('parses all 431 entries of the real pkg_summary', () => {
    assert.equal(entries.length, 431)
    assert.equal(new Set(entries.map((e) => e.pkgname)).size, 431)
    assert.ok(entries.every((e) => e.opsys === 'Linux' && e.machineArch === 'x86_64' && e.fields.PKGTOOLS_VERSION === '20091115'))
    assert.equal(entries.filter((e) => e.license === '').length, 49)
    assert.equal(entries.find((e) => e.pkgname === 'coreutils-9.0')!.buildDate, '')
    const counts = { DEPENDS: 0, CONFLICTS: 0, PROVIDES: 0, REQUIRES: 0, SUPERSEDES: 0 }
    for (const e of entries) {
      counts.DEPENDS += e.depends.length
      counts.CONFLICTS += e.conflicts.length
      counts.PROVIDES += e.provides.length
      counts.REQUIRES += e.requires.length
      counts.SUPERSEDES += e.supersedes.length
    }
    assert.deepEqual(counts, { DEPENDS: 1184, CONFLICTS: 100, PROVIDES: 1778, REQUIRES: 2704, SUPERSEDES: 9 })
    const duk = entries.find((e) => e.pkgname === 'libduktape-2.7.0')!
    assert.deepEqual([duk.name, duk.version, duk.fileName, duk.fileSize, duk.sizePkg], ['libduktape', '2.7.0', 'libduktape-2.7.0.tgz', 483215, 1584045])
    assert.ok(duk.description.startsWith('Duktape is an embeddable Ecmascript E5/E5.1 engine with a focus on\nportability'))
    assert.ok(duk.description.includes('\n\nThe terms Ecmascript'))
    // Every DEPENDS pattern parses into a dependency.
    for (const e of entries) for (const d of e.depends) assert.ok(toDependency(d).name.length > 0, d)
  })

  it('agrees with the real packages: names, SIZE_PKG, FILE_SIZE, packing lists', () => {
    const dirs = readdirSync(new URL('packages/', FIXTURES))
    assert.equal(dirs.length, 7)
    for (const dir of dirs) {
      const e = entries.find((x) => x.pkgname === dir)
      assert.ok(e, dir)
      const plist = parsePlist(read(`packages/${dir}/+CONTENTS`).toString('utf8'), dir)
      assert.equal(plist.name, dir)
      assert.equal(plist.prefix, '/usr/pkg')
      assert.equal(Number(read(`packages/${dir}/+SIZE_PKG`).toString().trim()), e.sizePkg, dir)
      assert.deepEqual(plist.pkgdeps, e.depends, dir)
      for (const f of plist.files) assert.ok(f.md5 !== undefined || f.symlink !== undefined, `${dir}: ${f.path}`)
    }
    const bzip2 = parsePlist(read('packages/bzip2-1.0.8/+CONTENTS').toString('utf8'))
    assert.deepEqual(bzip2.files.slice(0, 3), [
      { path: 'bin/bunzip2', cwd: '/usr/pkg', md5: '92a700072cfa93d059e910c9c0130dc5' },
      { path: 'bin/bzcat', cwd: '/usr/pkg', md5: '92a700072cfa93d059e910c9c0130dc5' },
      { path: 'bin/bzcmp', cwd: '/usr/pkg', symlink: 'bzdiff' },
    ])
    assert.equal(entries.find((x) => x.pkgname === 'ghostscript-9.05nb27')!.fileSize, read('ghostscript-9.05nb27.tgz').length)
  })

  it('reads the real ghostscript meta-package metadata', async () => {
    const meta = await readPackageMetadata([read('ghostscript-9.05nb27.tgz')], { limits: DEFAULT_LIMITS, archive: 'ghostscript-9.05nb27.tgz' })
    assert.deepEqual([...meta.members.keys()], ['+CONTENTS', '+COMMENT', '+DESC', '+BUILD_VERSION', '+BUILD_INFO', '+SIZE_PKG', '+SIZE_ALL'])
    assert.equal(meta.plist.name, 'ghostscript-9.05nb27')
    assert.deepEqual(meta.plist.pkgdeps, ['ghostscript-agpl-[0-9]*'])
    assert.deepEqual(meta.plist.blddeps, ['ghostscript-agpl-9.55.0nb2'])
    assert.deepEqual(meta.plist.files, [])
    assert.equal(meta.buildInfo.MACHINE_ARCH, 'x86_64')
  })

  it('parses the other real summaries (tabs in DESCRIPTION, {,nb[0-9]*} patterns)', () => {
    const [mktool] = parseSummary(read('summary/mktool-1.4.2.summary').toString('utf8'))
    assert.equal(mktool.pkgname, 'mktool-1.4.2')
    assert.ok(mktool.description.includes('\n\tTOOLS_PLATFORM.mktool='))
    const netbsd = parseSummary(read('summary/netbsd-bin_summary12.txt').toString('utf8'))
    assert.equal(netbsd.length, 3)
    const dep = toDependency(netbsd[0].depends[0])
    assert.deepEqual(dep.anyOf?.map((a) => a.raw), ['gcc48-libs-4.8.3', 'gcc48-libs-4.8.3nb[0-9]*'])
    assert.equal(dep.name, 'gcc48-libs')
  })
})
