/** The adapter over a real repository (info, USE, dependencies), and the format readers' refusals. */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Cas } from '@nip/cas'
import { DEFAULT_LIMITS, Layout, NipError, RecordingReporter, type AdapterContext } from '@nip/core'
import { buildTar, testConfig } from '@nip/testing'
import { createAdapter } from '../src/index.js'
import { parseVariant, splitVariantWords, looksLikeVariant } from '../src/variants.js'
import { parseMakeDefaults } from '../src/makeDefaults.js'
import { parseXpakSegment, parseXpakTrailer, buildXpakSegment } from '../src/xpak.js'
import { readGpkg, manifestLine } from '../src/gpkg.js'
import { parseBinhostIndex } from '../src/binhostIndex.js'
import { parseGentooConfig } from '../src/gentooConfig.js'
import { PROFILE, makeRealRepo } from './realRepo.js'

async function context(root: string, config: Record<string, unknown>): Promise<AdapterContext> {
  const layout = new Layout(testConfig(root).config)
  const cas = new Cas(layout.casDir)
  await cas.init()
  return { layout, cas, reporter: new RecordingReporter(), config, cacheDir: layout.adapterCacheDir('gentoo'), limits: DEFAULT_LIMITS }
}

const isNip = (code: string, check: (e: NipError) => void = () => {}) => (e: unknown) => {
  assert.ok(e instanceof NipError, String(e))
  assert.equal(e.code, code, e.message)
  check(e)
  return true
}

describe('GentooAdapter over a real repository', () => {
  let repo: string
  let cleanup: () => void
  let ctx: AdapterContext
  before(async () => {
    ;({ repo, cleanup } = makeRealRepo())
    ctx = await context(path.dirname(repo), {
      repository: repo,
      profile: PROFILE,
      use: ['-truetype', 'nonexistent-global-flag'],
      'package-use': { 'media-video/ffmpeg': ['+vaapi', 'video_cards=intel'] },
    })
  })
  after(() => cleanup())

  it('probes, searches and resolves, keyworded versions before live ebuilds', async () => {
    const a = createAdapter()
    const status = await a.probe(ctx)
    assert.equal(status.configured, true)
    assert.equal(status.detail, '38 packages in the repository, profile default/linux/amd64/23.0')
    const hits: string[] = []
    for await (const h of a.search('openssl', ctx)) hits.push(`${h.ref.name}-${h.ref.version}`)
    assert.deepEqual(hits, ['openssl-3.5.7'])
    const refs = await a.resolve({ name: 'vim', raw: 'vim' }, ctx)
    assert.deepEqual(refs.map((r) => r.version), ['9.2.1172', '9999'])
    assert.deepEqual((await a.resolve({ name: 'app-editors/vim', version: '9999', raw: 'vim@9999' }, ctx)).map((r) => r.id), ['ebuild:app-editors/vim-9999'])
  })

  it('describes ffmpeg with global and per-package config and command-line variants layered', async () => {
    const a = createAdapter()
    const [ref] = await a.resolve({ name: 'ffmpeg', raw: 'ffmpeg', variants: ['+x264', '~vaapi'] }, ctx)
    assert.equal(ref.id, 'ebuild:media-video/ffmpeg-8.1.3 +x264 ~vaapi')
    const m = await a.describe(ref, ctx)
    const use = m.extra!.use as string[]
    assert.ok(use.includes('x264') && !use.includes('truetype'), 'global -truetype and +x264 apply')
    assert.ok(!use.includes('vaapi'), '~vaapi resets the per-package +vaapi to the default (off)')
    assert.equal(m.license, 'GPL-2+')
    assert.ok(m.dependencies.some((d) => d.raw === 'media-libs/x264:=[abi_x86_64(-)]'))
    assert.equal(m.extra!.slot, '0/60.62.62')
    const [withVaapi] = await a.resolve({ name: 'ffmpeg', raw: 'ffmpeg' }, ctx)
    const m2 = await a.describe(withVaapi, ctx)
    assert.ok((m2.extra!.use as string[]).includes('vaapi'), 'per-package +vaapi')
    assert.ok(m2.dependencies.some((d) => d.name === 'media-libs/libva'))
  })

  it('refuses unknown flags and REQUIRED_USE violations at resolve time', async () => {
    const a = createAdapter()
    await assert.rejects(a.resolve({ name: 'ffmpeg', raw: 'ffmpeg', variants: ['+vapi'] }, ctx), isNip('ERR_NIP_BAD_SPEC', (e) => assert.deepEqual(e.data.suggestions, ['vaapi', 'vpx'])))
    await assert.rejects(a.resolve({ name: 'ffmpeg', raw: 'ffmpeg', variants: ['+libplacebo'] }, ctx), isNip('ERR_NIP_BAD_SPEC', (e) => assert.deepEqual(e.data.fix, ['+vulkan'])))
    await assert.rejects(a.resolve({ name: 'ffmpeg', raw: 'ffmpeg', variants: ['video_kards=intel'] }, ctx), isNip('ERR_NIP_BAD_SPEC'))
    const [ref] = await a.resolve({ name: 'ffmpeg', raw: 'ffmpeg' }, ctx)
    await assert.rejects(a.fetch(ref, ctx), isNip('ERR_NIP_NOT_IMPLEMENTED'))
  })

  it('compares versions and checks atoms as the ecosystem does', () => {
    const a = createAdapter()
    assert.equal(a.compareVersions('1.0_alpha', '1.0'), -1)
    assert.equal(a.compareVersions('1.010', '1.01'), 0)
    assert.equal(a.satisfies({ name: 'dev-libs/openssl', constraint: '>=dev-libs/openssl-3:=', raw: '>=dev-libs/openssl-3:=' }, '3.5.7'), true)
    assert.equal(a.satisfies({ name: 'app-editors/vim-core', constraint: '~app-editors/vim-core-9.2.1172', raw: '' }, '9.2.1172-r1'), true)
    assert.equal(a.satisfies({ name: 'sys-fs/udev', constraint: '=sys-fs/udev-1*', raw: '' }, '123'), false)
  })
})

describe('variants, make.defaults, config', () => {
  it('parses the variant words', () => {
    assert.deepEqual(parseVariant('+vaapi'), { kind: 'enable', flag: 'vaapi', raw: '+vaapi' })
    assert.deepEqual(parseVariant('-doc'), { kind: 'disable', flag: 'doc', raw: '-doc' })
    assert.deepEqual(parseVariant('~lto'), { kind: 'reset', flag: 'lto', raw: '~lto' })
    assert.deepEqual(parseVariant('video_cards=intel,radeon'), { kind: 'expand', variable: 'VIDEO_CARDS', values: ['intel', 'radeon'], raw: 'video_cards=intel,radeon' })
    assert.throws(() => parseVariant('+'))
    assert.throws(() => parseVariant('+a b'))
    assert.deepEqual(splitVariantWords('+vaapi+lto~x'), ['+vaapi', '+lto', '~x'])
    assert.equal(looksLikeVariant('ffmpeg'), false)
    assert.equal(looksLikeVariant('video_cards=intel'), true)
  })

  it('parses make.defaults with expansion, quotes and continuations; runs nothing', () => {
    const vars = parseMakeDefaults('A="x y"\nB="${A} z" # c\nC=\'$A\'\nD="one \\\ntwo"\nE=$A\n', new Map([['Z', 'zz']]))
    assert.deepEqual(Object.fromEntries(vars), { A: 'x y', B: 'x y z', C: '$A', D: 'one two', E: 'x y' })
    assert.throws(() => parseMakeDefaults('rm -rf /\n'))
    assert.throws(() => parseMakeDefaults('A="unterminated\n'))
  })

  it('refuses bad [gentoo] tables with ERR_NIP_CONFIG', () => {
    assert.throws(() => parseGentooConfig({ binhosts: ['ftp://x'] }, '/r'), isNip('ERR_NIP_CONFIG'))
    assert.throws(() => parseGentooConfig({ 'package-use': { 'not an atom': ['x'] } }, '/r'), isNip('ERR_NIP_CONFIG'))
    assert.deepEqual(parseGentooConfig({ repository: 'repo', profile: 'p' }, '/r').profile, '/r/repo/profiles/p')
  })
})

describe('binary package readers refuse malformed input', () => {
  let dir: string
  let cas: Cas
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-gentoo-bin-'))
    cas = new Cas(path.join(dir, 'cas'))
    await cas.init()
  })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('xpak: round trip, and refusals of bad markers, lengths and offsets', () => {
    const seg = buildXpakSegment(new Map([['CATEGORY', 'app-misc\n'], ['PF', 'hello-1.0\n']]))
    assert.equal(parseXpakSegment(seg).get('PF')!.toString(), 'hello-1.0\n')
    const trailer = Buffer.concat([Buffer.from('tarball'), seg, Buffer.from([0, 0, 0, seg.length]), Buffer.from('STOP')])
    assert.equal(parseXpakTrailer(trailer, trailer.length).tarballLength, 7)
    assert.throws(() => parseXpakTrailer(Buffer.from('no trailer here'), 15), /STOP/)
    const badLen = Buffer.from(trailer)
    badLen.writeUInt32BE(0xffffff, badLen.length - 8)
    assert.throws(() => parseXpakTrailer(badLen, badLen.length))
    const badOffset = Buffer.from(seg)
    badOffset.writeUInt32BE(9999, 16 + 4 + 'CATEGORY'.length)
    assert.throws(() => parseXpakSegment(badOffset), /outside/)
  })

  async function gpkgWith(members: { path: string; content: Buffer | string }[]): Promise<string> {
    const file = path.join(dir, `t-${Math.random().toString(16).slice(2)}.gpkg.tar`)
    fs.writeFileSync(file, await buildTar(members))
    return file
  }

  it('gpkg: refuses a missing Manifest, extra directory levels, duplicates and unlisted members', async () => {
    const image = await buildTar([{ path: 'image/bin/x', content: 'x' }])
    const meta = await buildTar([{ path: 'metadata/PF', content: 'x-1\n' }])
    const opts = { cas, limits: DEFAULT_LIMITS, label: 't' }
    const manifest = [manifestLine('gpkg-1', Buffer.alloc(0)), manifestLine('metadata.tar', meta), manifestLine('image.tar', image)].join('\n')
    const good = await gpkgWith([
      { path: 'x-1/gpkg-1', content: '' },
      { path: 'x-1/metadata.tar', content: meta },
      { path: 'x-1/image.tar', content: image },
      { path: 'x-1/Manifest', content: manifest },
    ])
    const ok = await readGpkg(good, opts)
    assert.deepEqual(ok.entries.map((e) => e.path), ['bin', 'bin/x'])
    assert.equal(ok.metadata.get('PF'), 'x-1\n')
    const cases: [string, { path: string; content: Buffer | string }[]][] = [
      ['no Manifest', [{ path: 'x-1/gpkg-1', content: '' }, { path: 'x-1/metadata.tar', content: meta }, { path: 'x-1/image.tar', content: image }]],
      ['two levels', [{ path: 'x-1/a/gpkg-1', content: '' }]],
      ['two prefixes', [{ path: 'x-1/gpkg-1', content: '' }, { path: 'y-1/image.tar', content: image }]],
      ['duplicate', [{ path: 'x-1/gpkg-1', content: '' }, { path: 'x-1/gpkg-1', content: '' }]],
      ['unknown member', [{ path: 'x-1/gpkg-1', content: '' }, { path: 'x-1/evil.sh', content: 'x' }]],
      ['missing record', [{ path: 'x-1/gpkg-1', content: '' }, { path: 'x-1/metadata.tar', content: meta }, { path: 'x-1/image.tar', content: image }, { path: 'x-1/Manifest', content: manifestLine('gpkg-1', Buffer.alloc(0)) }]],
      ['record without member', [{ path: 'x-1/gpkg-1', content: '' }, { path: 'x-1/metadata.tar', content: meta }, { path: 'x-1/image.tar', content: image }, { path: 'x-1/Manifest', content: `${manifest}\n${manifestLine('image.tar.sig', Buffer.from('s'))}` }]],
    ]
    for (const [what, members] of cases) {
      await assert.rejects(readGpkg(await gpkgWith(members), opts), isNip('ERR_NIP_BAD_PACKAGE'), what)
    }
    const wrongSize = manifest.replace(`DATA image.tar ${image.length} `, `DATA image.tar ${image.length + 1} `)
    await assert.rejects(
      readGpkg(await gpkgWith([{ path: 'x-1/gpkg-1', content: '' }, { path: 'x-1/metadata.tar', content: meta }, { path: 'x-1/image.tar', content: image }, { path: 'x-1/Manifest', content: wrongSize }]), opts),
      isNip('ERR_NIP_SIZE_MISMATCH'),
    )
  })

  it('gpkg of a Prefix build: <EPREFIX>/usr/X is X, <EPREFIX>/etc/X is Settings/X, absolute links into the prefix rebased, anything outside the prefix refused', async () => {
    const E = 'Programs/hello/2.10-r1~nls'
    const gpkg = async (imageMembers: { path: string; content?: string; type?: 'dir' | 'symlink'; target?: string }[]) => {
      const image = await buildTar(imageMembers.map((m) => (m.type === 'dir' ? { path: m.path, type: 'dir' as const } : m.type === 'symlink' ? { path: m.path, type: 'symlink' as const, target: m.target ?? '' } : { path: m.path, content: m.content ?? '' })))
      const meta = await buildTar([{ path: 'metadata/PF', content: 'hello-2.10-r1\n' }])
      const manifest = [manifestLine('gpkg-1', Buffer.alloc(0)), manifestLine('metadata.tar', meta), manifestLine('image.tar', image)].join('\n')
      return gpkgWith([{ path: 'x-1/gpkg-1', content: '' }, { path: 'x-1/metadata.tar', content: meta }, { path: 'x-1/image.tar', content: image }, { path: 'x-1/Manifest', content: manifest }])
    }
    const opts = { cas, limits: DEFAULT_LIMITS, label: 't', eprefix: `/${E}` }
    const ok = await readGpkg(await gpkg([
      { path: 'image/Programs', type: 'dir' },
      { path: 'image/Programs/hello', type: 'dir' },
      { path: `image/${E}`, type: 'dir' },
      { path: `image/${E}/usr`, type: 'dir' },
      { path: `image/${E}/usr/bin/hello`, content: 'elf' },
      { path: `image/${E}/usr/share/locale/fr/LC_MESSAGES/hello.mo`, content: 'mo' },
      { path: `image/${E}/etc/hello.conf`, content: 'conf' },
    ]), opts)
    assert.deepEqual(ok.entries.filter((e) => e.type === 'file').map((e) => [e.path, e.settings === true]), [
      ['Settings/hello.conf', true],
      ['bin/hello', false],
      ['share/locale/fr/LC_MESSAGES/hello.mo', false],
    ])
    assert.ok(!ok.entries.some((e) => e.path.startsWith('Programs') || e.path === 'usr'), 'the directories leading to the prefix are the tree root')
    await assert.rejects(readGpkg(await gpkg([{ path: `image/${E}/usr/bin/hello`, content: 'x' }, { path: 'image/usr/bin/hello', content: 'x' }]), opts), (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_BAD_PACKAGE' && /outside its prefix/.test(e.message))
    await assert.rejects(readGpkg(await gpkg([{ path: 'image/Programs/hello/other', content: 'x' }]), opts), isNip('ERR_NIP_BAD_PACKAGE'))
    // An absolute symlink into the prefix (dosym without -r) is rebased against the installed
    // tree; one to the host's /usr leaves the program and is refused.
    const linked = await readGpkg(await gpkg([
      { path: `image/${E}/usr/lib64/libx.so.1`, content: 'so' },
      { path: `image/${E}/usr/lib64/libx.so`, type: 'symlink', target: `/${E}/usr/lib64/libx.so.1` },
      { path: `image/${E}/usr/bin/hi`, type: 'symlink', target: `/${E}/usr/share/hi/hi.sh` },
      { path: `image/${E}/usr/share/hi/hi.sh`, content: 'echo hi' },
    ]), opts)
    assert.deepEqual(linked.entries.filter((e) => e.type === 'symlink').map((e) => [e.path, e.target]), [['bin/hi', '../share/hi/hi.sh'], ['lib64/libx.so', 'libx.so.1']])
    await assert.rejects(readGpkg(await gpkg([{ path: `image/${E}/usr/bin/py`, type: 'symlink', target: '/usr/bin/python3' }]), opts), isNip('ERR_NIP_UNSAFE_SYMLINK'))
    // The same for a binhost's package (no prefix): /usr/lib64/libx.so.1 is the tree's lib64/libx.so.1.
    const plain = await readGpkg(await gpkg([{ path: 'image/usr/lib64/libx.so.1', content: 'so' }, { path: 'image/usr/lib64/libx.so', type: 'symlink', target: '/usr/lib64/libx.so.1' }]), { cas, limits: DEFAULT_LIMITS, label: 't' })
    assert.deepEqual(plain.entries.filter((e) => e.type === 'symlink').map((e) => [e.path, e.target]), [['lib64/libx.so', 'libx.so.1']])
  })

  it('binhost index: refuses a newer VERSION and entries without a valid CPV', () => {
    assert.throws(() => parseBinhostIndex('VERSION: 1\n\nCPV: a/b-1\n'), /newer/)
    assert.throws(() => parseBinhostIndex('VERSION: 0\n\nCPV: not-a-cpv\n'), /CPV/)
    const idx = parseBinhostIndex('VERSION: 0\nREPO: gentoo\n\nCPV: a/b-1\nSLOT: 2/3\n')
    assert.deepEqual([idx.packages[0].slot, idx.packages[0].subSlot, idx.packages[0].repo, idx.packages[0].path], ['2', '3', 'gentoo', 'a/b-1.tbz2'])
  })
})
