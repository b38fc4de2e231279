/**
 * The real upstream data: md5-cache entries, the amd64 23.0 profile files and a binhost index.
 * Effective USE and reduced dependency lists for ffmpeg and vim are asserted in full.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { NipError } from '@nip/core'
import { RepositoryIndex, parseCacheEntry } from '../src/metadataCache.js'
import { loadProfile, type Profile } from '../src/profile.js'
import { computeEffectiveUse } from '../src/effectiveUse.js'
import { reduceDependencies } from '../src/dependencies.js'
import { parseBinhostIndex } from '../src/binhostIndex.js'
import { chooseBuild } from '../src/binaryChoice.js'
import { parseCpv } from '../src/cpv.js'
import { parseAtom } from '../src/atom.js'
import { useReduce } from '../src/depString.js'
import { checkRequiredUse } from '../src/requiredUse.js'
import { FIXTURES, PROFILE, makeRealRepo } from './realRepo.js'

describe('real Gentoo metadata and profiles', () => {
  let repo: string
  let cleanup: () => void
  let index: RepositoryIndex
  let profile: Profile
  before(() => {
    ;({ repo, cleanup } = makeRealRepo())
    index = new RepositoryIndex(path.join(repo, 'metadata', 'md5-cache'))
    profile = loadProfile(path.join(repo, 'profiles', PROFILE))
  })
  after(() => cleanup())

  const md = (cpv: string) => index.metadata(parseCpv(cpv)!)

  it('loads every md5-cache entry and parses every dependency string in it', () => {
    const cps = index.packages()
    const all = cps.flatMap((cp) => index.find(cp))
    assert.equal(all.length, 45)
    for (const c of all) {
      const m = index.metadata(c)
      assert.match(m.eapi, /^[78]$/, c.cpv)
      for (const key of ['depend', 'rdepend', 'bdepend', 'pdepend', 'idepend'] as const) {
        useReduce(m[key], { matchAll: true, eapi: m.eapi, tokenClass: 'atom' })
      }
      useReduce(m.srcUri, { matchAll: true, eapi: m.eapi, isSrcUri: true })
      useReduce(m.license, { matchAll: true, eapi: m.eapi })
      const iuse = new Set(m.iuse.map((f) => f.name))
      if (m.requiredUse !== '') checkRequiredUse(m.requiredUse, new Set(), (f) => iuse.has(f), m.eapi)
    }
  })

  it('reads the edge cases: sub-slots, live ebuilds, no KEYWORDS, negative keywords', () => {
    assert.deepEqual([md('media-video/ffmpeg-8.1.3').slot, md('media-video/ffmpeg-8.1.3').subSlot], ['0', '60.62.62'])
    assert.deepEqual(md('app-editors/vim-9999').keywords, [])
    assert.equal(md('app-editors/vim-9999').properties, 'live')
    assert.deepEqual(md('media-libs/libsdl2-2.32.64').keywords, [])
    assert.ok(md('dev-lang/luajit-2.1.1787165859').keywords.includes('-hppa'))
    assert.equal(md('app-editors/vim-core-9999').eapi, '7')
    assert.deepEqual(index.find('vim').map((c) => c.version).sort(), ['9.2.1172', '9999'])
    assert.equal(parseCacheEntry('A=b=c\n').A, 'b=c')
  })

  it('stacks the profile: USE, USE_EXPAND values, ARCH, masks', () => {
    assert.deepEqual(profile.vars.get('USE')!.split(' '), ['acl', 'bzip2', 'gdbm', 'unicode', 'xattr', 'split-usr', 'libtirpc', 'cet'])
    assert.equal(profile.vars.get('ARCH'), 'amd64')
    assert.equal(profile.vars.get('VIDEO_CARDS'), 'amdgpu fbdev intel nouveau radeon radeonsi vesa')
    assert.equal(profile.vars.get('PYTHON_SINGLE_TARGET'), 'python3_13')
    assert.equal(profile.vars.get('CXXFLAGS'), '-O2 -pipe')
    assert.equal(profile.vars.get('IUSE_IMPLICIT'), 'prefix prefix-guest prefix-stack abi_x86_64')
    // arch/amd64/use.mask mostly unmasks (`-amd64`, `-quirc`, ...) what base/use.mask (not among
    // the fixtures) masks; 3dfx is the one flag it masks.
    assert.deepEqual([...profile.useMask], ['3dfx'])
    assert.equal(profile.packageUseMask.length, 275)
    assert.equal(profile.packageUseForce.length, 220)
    assert.deepEqual(profile.dirs.map((d) => path.relative(path.join(repo, 'profiles'), d)), ['base', 'arch/amd64', PROFILE])
  })

  it('parses the real package.mask lines', () => {
    const lines = fs.readFileSync(path.join(FIXTURES, 'real', 'profiles', 'package.mask.head200'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    assert.ok(lines.length > 20)
    for (const l of lines) assert.ok(parseAtom(l.replace(/^-/, ''), { allowRepo: true }), l)
  })

  const FFMPEG_DEFAULT = ['abi_x86_64', 'amd64', 'bzip2', 'dav1d', 'drm', 'elibc_glibc', 'fontconfig', 'gnutls', 'gpl', 'kernel_linux', 'libass', 'truetype', 'xml', 'zlib']
  const ABI = '[abi_x86_64(-)]'
  const FFMPEG_RDEPEND = [
    `virtual/libiconv${ABI}`, `app-arch/bzip2${ABI}`, `media-libs/dav1d:=${ABI}`, `x11-libs/libdrm${ABI}`, `media-libs/fontconfig${ABI}`,
    `net-libs/gnutls:=${ABI}`, `media-libs/libass:=${ABI}`, `media-libs/freetype:2${ABI}`, `media-libs/harfbuzz:=${ABI}`,
    `dev-libs/libxml2:=${ABI}`, `virtual/zlib:=${ABI}`,
  ]

  it('ffmpeg: effective USE and RDEPEND under the profile', () => {
    const m = md('media-video/ffmpeg-8.1.3')
    const use = computeEffectiveUse(m, profile)
    assert.deepEqual(use.enabled, FFMPEG_DEFAULT)
    assert.deepEqual(reduceDependencies(m.rdepend, use.enabled, m.eapi).dependencies.map((d) => d.raw), FFMPEG_RDEPEND)
  })

  it('ffmpeg +vaapi: libva joins, with its [X?] resolved against ffmpeg’s USE', () => {
    const m = md('media-video/ffmpeg-8.1.3')
    const use = computeEffectiveUse(m, profile, { variants: ['+vaapi'] })
    assert.deepEqual(use.enabled, [...FFMPEG_DEFAULT, 'vaapi'].sort())
    const withX = computeEffectiveUse(m, profile, { variants: ['+vaapi', '+X'] })
    const deps = reduceDependencies(m.rdepend, use.enabled, m.eapi).dependencies.map((d) => d.raw)
    assert.deepEqual(deps, [...FFMPEG_RDEPEND.slice(0, 9), `media-libs/libva:=${ABI}`, ...FFMPEG_RDEPEND.slice(9)])
    const depsX = reduceDependencies(m.rdepend, withX.enabled, m.eapi).dependencies.map((d) => d.raw)
    assert.ok(depsX.includes('media-libs/libva:=[X,abi_x86_64(-)]'), depsX.join(' '))
  })

  it('ffmpeg -gpl +x264: REQUIRED_USE is refused with the clause and a fix', () => {
    const m = md('media-video/ffmpeg-8.1.3')
    assert.throws(
      () => computeEffectiveUse(m, profile, { variants: ['+x264', '-gpl'] }),
      (e: unknown) => {
        assert.ok(e instanceof NipError)
        assert.equal(e.code, 'ERR_NIP_BAD_SPEC')
        assert.equal(e.data.clause, 'x264? ( gpl )')
        // Both flags were set by the user; the first flag of the clause order that fixes it wins.
        assert.deepEqual(e.data.fix, ['+gpl'])
        assert.equal(e.hint, 'Add +gpl to satisfy it.')
        return true
      },
    )
    // -truetype from the package config and +fribidi from the command line: both were set by the
    // user, so the clause order decides.
    assert.throws(() => computeEffectiveUse(m, profile, { variants: ['+fribidi'], perPackage: ['-truetype'] }), (e: NipError) => {
      assert.equal(e.data.clause, 'fribidi? ( truetype )')
      assert.deepEqual(e.data.fix, ['-fribidi'])
      return true
    })
    // +libplacebo needs vulkan, which nobody set: the fix turns vulkan on and keeps libplacebo.
    assert.throws(() => computeEffectiveUse(m, profile, { variants: ['+libplacebo'] }), (e: NipError) => {
      assert.equal(e.data.clause, 'libplacebo? ( vulkan )')
      assert.deepEqual(e.data.fix, ['+vulkan'])
      return true
    })
  })

  it('refuses an unknown flag with the closest known ones', () => {
    const m = md('media-video/ffmpeg-8.1.3')
    assert.throws(() => computeEffectiveUse(m, profile, { variants: ['+vaapo'] }), (e: NipError) => {
      assert.equal(e.code, 'ERR_NIP_BAD_SPEC')
      assert.deepEqual(e.data.suggestions, ['vaapi'])
      assert.equal(e.hint, 'Did you mean vaapi?')
      return true
    })
  })

  it('vim: effective USE, RDEPEND without and with +python, USE_EXPAND on the command line', () => {
    const m = md('app-editors/vim-9.2.1172')
    const base = computeEffectiveUse(m, profile)
    assert.deepEqual(base.enabled, ['abi_x86_64', 'acl', 'amd64', 'elibc_glibc', 'kernel_linux', 'lua_single_target_lua5-1', 'python_single_target_python3_13'])
    const plain = ['>=app-eselect/eselect-vi-1.1', '>=sys-libs/ncurses-5.2-r2:0=', 'sys-apps/acl', '~app-editors/vim-core-9.2.1172']
    assert.deepEqual(reduceDependencies(m.rdepend, base.enabled, m.eapi).dependencies.map((d) => d.raw), plain)
    const py = computeEffectiveUse(m, profile, { variants: ['+python'] })
    assert.deepEqual(reduceDependencies(m.rdepend, py.enabled, m.eapi).dependencies.map((d) => d.raw), [...plain, 'dev-lang/python:3.13[threads(+)]'])
    const py14 = computeEffectiveUse(m, profile, { variants: ['+python', 'python_single_target=python3_14'] })
    assert.ok(py14.enabled.includes('python_single_target_python3_14') && !py14.enabled.includes('python_single_target_python3_13'))
    assert.deepEqual(reduceDependencies(m.rdepend, py14.enabled, m.eapi).dependencies.at(-1)!.raw, 'dev-lang/python:3.14[threads(+)]')
  })

  it('vim: a ^^ single-target violation names the group and the fix', () => {
    const m = md('app-editors/vim-9.2.1172')
    assert.throws(() => computeEffectiveUse(m, profile, { variants: ['+python', 'python_single_target='] }), (e: NipError) => {
      assert.equal(e.code, 'ERR_NIP_BAD_SPEC')
      assert.equal(e.data.clause, 'python? ( ^^ ( python_single_target_python3_12 python_single_target_python3_13 python_single_target_python3_14 ) )')
      // Every flag involved was set by the user (the variable was cleared), so the first flag of the
      // clause that fixes it alone is proposed.
      assert.deepEqual(e.data.fix, ['-python'])
      return true
    })
  })
})

describe('real binhost Packages index', () => {
  const text = fs.readFileSync(path.join(FIXTURES, 'real', 'binhost', 'Packages'), 'utf8')
  const index = parseBinhostIndex(text)

  it('parses the header and all 161 stanzas', () => {
    assert.equal(index.header.PACKAGES, '161')
    assert.equal(index.packages.length, 161)
    assert.equal(index.header.PROFILE, 'default/linux/amd64/17.1/systemd/clang/merged-usr')
    const first = index.packages[0]
    assert.equal(first.cpv.cpv, 'acct-group/adm-0-r2')
    assert.equal(first.path, 'acct-group/adm/adm-0-r2-1.xpak')
    assert.equal(first.size, 9839)
    assert.equal(first.md5, 'e28c66a1b80813f7a918260b3a3e94b8')
    assert.equal(first.sha1, '994db51e5bc99329f157fcf47c871bdc1d23777d')
    assert.equal(first.raw.CHOST, 'x86_64-pc-linux-gnu', 'inherited from the header')
    assert.equal(index.packages.filter((p) => p.raw.SLOT === undefined).length, 126)
    assert.ok(index.packages.filter((p) => p.raw.SLOT === undefined).every((p) => p.slot === '0'))
    assert.equal(index.packages.filter((p) => p.buildId >= 2).length, 24)
  })

  it('chooses among builds of one CPV by USE', () => {
    const builds = index.packages.filter((p) => p.cpv.cpv === 'sys-apps/baselayout-2.13-r1')
    assert.deepEqual(builds.map((b) => b.path), ['sys-apps/baselayout/baselayout-2.13-r1-3.xpak', 'sys-apps/baselayout/baselayout-2.13-r1-4.xpak'])
    assert.equal(chooseBuild(builds, { enable: ['build'], disable: [] }).chosen!.path, 'sys-apps/baselayout/baselayout-2.13-r1-3.xpak')
    assert.equal(chooseBuild(builds, { enable: [], disable: ['build'] }).chosen!.path, 'sys-apps/baselayout/baselayout-2.13-r1-4.xpak')
    assert.equal(chooseBuild(builds, { enable: [], disable: [] }).chosen!.buildId, 2, 'newest build when nothing is asked')
    const none = chooseBuild(builds, { enable: ['split-usr'], disable: ['build'] })
    assert.equal(none.chosen, undefined)
    assert.deepEqual(none.nearest.map((n) => [n.build.path, n.differs]), [
      ['sys-apps/baselayout/baselayout-2.13-r1-4.xpak', ['+split-usr']],
      ['sys-apps/baselayout/baselayout-2.13-r1-3.xpak', ['+split-usr', '-build']],
    ])
  })

  it('reduces a stanza’s already-evaluated dependencies', () => {
    for (const p of index.packages) {
      for (const k of ['DEPEND', 'RDEPEND', 'BDEPEND', 'PDEPEND', 'IDEPEND']) reduceDependencies(p.raw[k] ?? '', p.use, p.eapi)
    }
  })
})
