import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Cas } from '@nip/cas'
import { buildHostileArchives, buildTar, type FixtureEntry } from '@nip/testing'
import { unpackToCas, MAX_METADATA_SIZE, type UnpackOptions } from '../src/archive/unpackToCas.js'
import type { ArchiveWarning } from '../src/archive/tarReader.js'
import { DEFAULT_LIMITS, type Limits } from '../src/archive/limits.js'
import { NipError } from '../src/errors.js'
import type { TreeEntry } from '../src/adapter.js'

const FIXTURES = fileURLToPath(new URL('./fixtures/archive/', import.meta.url))

// BLAKE3 of the contents used below.
const TOOL = '849500c843dfa555a0b3dd1a97957eb1247e7b3906bf73420a737158ad3ba57b' // "tool\n"
const LIBX = '6d534b855a4609d7f45721505461a215b4978c2e760aa9535f715901c2cea411' // "libx 1\n"
const HELLO = '8e4c7c1b99dbfd50e7a95185fead5ee1448fa904a2fdd778eaf5f2dbfd629a99' // "hello\n"
const GNU_TOOL = 'e2fec24917be2b1d99bbf74b827b68a57809b68711ad19b45a26a88b44a4d2a7' // "gnu tool\n"
const LONG_FILE = '61fc38dbbf06b3084192dc4ced677c88d144b2dfe5073fef7f15ff4594f32d24' // "long file\n"

let root: string
let cas: Cas

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'nip-archive-'))
  cas = new Cas(join(root, 'var/nip/cas'))
  await cas.init()
})

afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

function unpack(data: Buffer, opts: Partial<UnpackOptions> = {}): ReturnType<typeof unpackToCas> {
  return unpackToCas([data], { cas, limits: DEFAULT_LIMITS, ...opts })
}

async function refusal(p: Promise<unknown>): Promise<NipError> {
  try {
    await p
  } catch (e) {
    assert.ok(e instanceof NipError, `expected a NipError, got ${String(e)}`)
    return e
  }
  assert.fail('expected a refusal')
}

/** Every file under the temporary root, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const d of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!d.isDirectory()) out.push(relative(root, join(d.parentPath, d.name)))
  }
  return out.sort()
}

const SAMPLE: FixtureEntry[] = [
  { path: './bin/', type: 'dir', mode: 0o755 },
  { path: './bin/tool', content: 'tool\n', mode: 0o755 },
  { path: './lib/libx.so.1', content: 'libx 1\n', mode: 0o644 },
  { path: './lib/libx.so', type: 'symlink', target: 'libx.so.1' },
  { path: './lib/libx-hard.so', type: 'hardlink', target: './lib/libx.so.1' },
  { path: './share/doc/x/README', content: 'hello\n', mode: 0o600 },
]

const SAMPLE_TREE: TreeEntry[] = [
  { path: 'bin', type: 'dir', mode: 0o755 },
  { path: 'bin/tool', type: 'file', mode: 0o755, blob: `${TOOL}-x`, size: 5 },
  { path: 'lib', type: 'dir', mode: 0o755 },
  { path: 'lib/libx-hard.so', type: 'file', mode: 0o644, blob: LIBX, size: 7 },
  { path: 'lib/libx.so', type: 'symlink', mode: 0o777, target: 'libx.so.1' },
  { path: 'lib/libx.so.1', type: 'file', mode: 0o644, blob: LIBX, size: 7 },
  { path: 'share', type: 'dir', mode: 0o755 },
  { path: 'share/doc', type: 'dir', mode: 0o755 },
  { path: 'share/doc/x', type: 'dir', mode: 0o755 },
  { path: 'share/doc/x/README', type: 'file', mode: 0o600, blob: HELLO, size: 6 },
]

describe('archive: unpackToCas round trips', () => {
  for (const compression of ['none', 'gzip', 'xz', 'zstd', 'bzip2'] as const) {
    it(`unpacks a ${compression} tree into the CAS with exact digests, modes and targets`, async () => {
      const data = await buildTar(SAMPLE, { compression })
      const { entries, metadata } = await unpack(data)
      assert.deepEqual(entries, SAMPLE_TREE)
      assert.equal(metadata.size, 0)
      assert.equal(await readFile(cas.pathOf(`${TOOL}-x`), 'utf8'), 'tool\n')
      assert.equal((await stat(cas.pathOf(`${TOOL}-x`))).mode & 0o777, 0o555)
      assert.equal(await readFile(cas.pathOf(HELLO), 'utf8'), 'hello\n')
    })
  }

  it('resolves a hardlink to the very blob of its target (one blob file)', async () => {
    const { entries } = await unpack(await buildTar(SAMPLE))
    const a = entries.find((e) => e.path === 'lib/libx.so.1')!
    const b = entries.find((e) => e.path === 'lib/libx-hard.so')!
    assert.equal(a.blob, LIBX)
    assert.equal(b.blob, LIBX)
    const blobs = (await filesUnder(cas.dir)).filter((p) => !p.includes('tmp'))
    assert.deepEqual(blobs, [
      `var/nip/cas/${HELLO.slice(0, 2)}/${HELLO}`,
      `var/nip/cas/${LIBX.slice(0, 2)}/${LIBX}`,
      `var/nip/cas/${TOOL.slice(0, 2)}/${TOOL}-x`,
    ].sort())
  })

  it('computes the digests it is asked for while storing, hardlinks included', async () => {
    const big = Buffer.alloc(9 * 1024 * 1024, 0x5a) // above the buffered size: streamed to the store
    const data = await buildTar([...SAMPLE, { path: 'share/big', content: big }])
    const { entries, digests } = await unpack(data, { digests: ['sha256', 'md5'] })
    const expect = (b: Buffer) => ({ sha256: createHash('sha256').update(b).digest('hex'), md5: createHash('md5').update(b).digest('hex') })
    for (const e of entries.filter((x) => x.type === 'file')) {
      assert.deepEqual(digests.get(e.path), expect(await readFile(cas.pathOf(e.blob!))), e.path)
    }
    assert.deepEqual(digests.get('share/big'), expect(big))
    assert.deepEqual(digests.get('lib/libx-hard.so'), digests.get('lib/libx.so.1'))
    assert.equal(digests.size, entries.filter((x) => x.type === 'file').length)
    assert.equal((await unpack(data)).digests.size, 0)
  })

  it('reads GNU tar 1.34 archives (gnu long names, pax records)', async () => {
    const expected: TreeEntry[] = [
      { path: 'bin', type: 'dir', mode: 0o755 },
      { path: 'bin/alias', type: 'symlink', mode: 0o777, target: 'tool' },
      { path: 'bin/tool', type: 'file', mode: 0o755, blob: `${GNU_TOOL}-x`, size: 9 },
      { path: 'bin/tool-hard', type: 'file', mode: 0o755, blob: `${GNU_TOOL}-x`, size: 9 },
      { path: 'share', type: 'dir', mode: 0o755 },
      { path: `share/${'long'.repeat(30)}`, type: 'dir', mode: 0o755 },
      { path: `share/${'long'.repeat(30)}/${'name'.repeat(10)}.txt`, type: 'file', mode: 0o644, blob: LONG_FILE, size: 10 },
    ]
    for (const name of ['gnu.tar.gz', 'pax.tar.xz']) {
      const { entries } = await unpackToCas([await readFile(join(FIXTURES, name))], { cas, limits: DEFAULT_LIMITS, archive: name })
      assert.deepEqual(entries, expected, name)
    }
  })

  it('clears setuid/setgid/sticky bits and warns', async () => {
    const warnings: ArchiveWarning[] = []
    const data = await buildTar([
      { path: 'bin/su', content: 'tool\n', mode: 0o4755 },
      { path: 'tmp', type: 'dir', mode: 0o1777 },
      { path: 'bin/sg', content: 'hello\n', mode: 0o2644 },
    ])
    const { entries } = await unpack(data, { onWarning: (w) => warnings.push(w) })
    assert.deepEqual(
      entries.map((e) => [e.path, e.mode]),
      [['bin', 0o755], ['bin/sg', 0o644], ['bin/su', 0o755], ['tmp', 0o777]],
    )
    assert.deepEqual(
      warnings.map((w) => [w.code, w.path]),
      [['setuid-cleared', 'bin/su'], ['setuid-cleared', 'tmp'], ['setuid-cleared', 'bin/sg']],
    )
    assert.match(warnings[0].message, /4000/)
  })

  it('rebases absolute symlinks into the tree when asked', async () => {
    const data = await buildTar([
      { path: 'usr/lib/libz.so', type: 'symlink', target: '/usr/lib/libz.so.1' },
      { path: 'usr/bin/x', type: 'symlink', target: '/opt/y' },
      { path: 'top', type: 'symlink', target: '/' },
    ])
    const { entries } = await unpack(data, { absoluteSymlinks: 'rebase' })
    assert.deepEqual(
      entries.filter((e) => e.type === 'symlink').map((e) => [e.path, e.target]),
      [['top', '.'], ['usr/bin/x', '../../opt/y'], ['usr/lib/libz.so', 'libz.so.1']],
    )
    const err = await refusal(unpack(data))
    assert.equal(err.code, 'ERR_NIP_UNSAFE_SYMLINK')
    assert.deepEqual(err.data, { entry: 'usr/lib/libz.so' })
  })

  it('lets a later file replace an earlier one, with a warning', async () => {
    const warnings: string[] = []
    const data = await buildTar([
      { path: 'a', content: 'tool\n' },
      { path: 'a', content: 'hello\n' },
    ])
    const { entries } = await unpack(data, { onWarning: (w) => warnings.push(`${w.code}:${w.path}`) })
    assert.deepEqual(entries, [{ path: 'a', type: 'file', mode: 0o644, blob: HELLO, size: 6 }])
    assert.deepEqual(warnings, ['duplicate-replaced:a'])
  })

  it('maps, drops, marks settings and captures metadata', async () => {
    const pkginfo = 'pkgname = x\npkgver = 1-1\n'
    const data = await buildTar([
      { path: '.PKGINFO', content: pkginfo },
      { path: 'usr/bin/tool', content: 'tool\n', mode: 0o755 },
      { path: 'etc/x.conf', content: 'hello\n' },
      { path: 'usr/share/doc/README', content: 'libx 1\n' },
    ], { compression: 'zstd' })
    const { entries, metadata } = await unpack(data, {
      mapPath: (p) => (p === '.PKGINFO' ? null : p.startsWith('usr/') ? p.slice(4) : p.startsWith('etc/') ? `Settings/${p.slice(4)}` : p),
      isSettings: (p) => p.startsWith('Settings/'),
      captureMetadata: (p) => p === '.PKGINFO' || p === 'usr/share/doc/README',
    })
    assert.deepEqual(entries, [
      { path: 'Settings', type: 'dir', mode: 0o755 },
      { path: 'Settings/x.conf', type: 'file', mode: 0o644, blob: HELLO, size: 6, settings: true },
      { path: 'bin', type: 'dir', mode: 0o755 },
      { path: 'bin/tool', type: 'file', mode: 0o755, blob: `${TOOL}-x`, size: 5 },
      { path: 'share', type: 'dir', mode: 0o755 },
      { path: 'share/doc', type: 'dir', mode: 0o755 },
      { path: 'share/doc/README', type: 'file', mode: 0o644, blob: LIBX, size: 7 },
    ])
    assert.deepEqual([...metadata.keys()], ['.PKGINFO', 'usr/share/doc/README'])
    assert.equal(metadata.get('.PKGINFO')!.toString(), pkginfo)
    assert.equal(metadata.get('usr/share/doc/README')!.toString(), 'libx 1\n')
    // A captured member that is dropped is never stored.
    const pkginfoDigest = (await filesUnder(cas.dir)).filter((p) => !p.includes('tmp'))
    assert.equal(pkginfoDigest.length, 3)
  })

  it('refuses a metadata member over MAX_METADATA_SIZE', async () => {
    const data = await buildTar([{ path: '.PKGINFO', content: Buffer.alloc(MAX_METADATA_SIZE + 1, 0x61) }])
    const err = await refusal(unpack(data, { captureMetadata: () => true }))
    assert.equal(err.code, 'ERR_NIP_ARCHIVE_TOO_LARGE')
    assert.equal(err.data.entry, '.PKGINFO')
  })

  it('re-validates mapped paths', async () => {
    const data = await buildTar([{ path: 'a', content: 'x' }])
    assert.equal((await refusal(unpack(data, { mapPath: () => '../a' }))).code, 'ERR_NIP_UNSAFE_PARENT_PATH')
    assert.equal((await refusal(unpack(data, { mapPath: () => '/a' }))).code, 'ERR_NIP_UNSAFE_ABSOLUTE_PATH')
  })

  it('refuses two archive paths that map onto one path with different types', async () => {
    const data = await buildTar([
      { path: 'usr/bin/x', content: 'x' },
      { path: 'bin/x', type: 'dir' },
    ])
    const err = await refusal(unpack(data, { mapPath: (p) => p.replace(/^usr\//, '') }))
    assert.equal(err.code, 'ERR_NIP_UNSAFE_DUPLICATE')
  })

  it('refuses a mapped symlink whose target leaves the tree after mapping', async () => {
    const data = await buildTar([{ path: 'usr/lib/l', type: 'symlink', target: '../../x' }])
    const err = await refusal(unpack(data, { mapPath: (p) => p.slice(4) }))
    assert.equal(err.code, 'ERR_NIP_UNSAFE_SYMLINK')
  })

  it('strips leading components', async () => {
    const data = await buildTar([
      { path: 'pkg-1.0/', type: 'dir' },
      { path: 'pkg-1.0/bin/tool', content: 'tool\n', mode: 0o755 },
      { path: 'pkg-1.0/bin/t2', type: 'hardlink', target: 'pkg-1.0/bin/tool' },
    ])
    const { entries } = await unpack(data, { stripComponents: 1 })
    assert.deepEqual(entries.map((e) => [e.path, e.blob]), [['bin', undefined], ['bin/t2', `${TOOL}-x`], ['bin/tool', `${TOOL}-x`]])
  })
})

describe('archive: unpackToCas refusals', () => {
  for (const [name, { entries, code }] of Object.entries(buildHostileArchives())) {
    it(`${name} → ${code}, and nothing is written outside the CAS`, async () => {
      const err = await refusal(unpack(await buildTar(entries, { compression: 'gzip' }), { archive: `${name}.tar.gz` }))
      assert.equal(err.code, code)
      assert.equal(err.data.archive, `${name}.tar.gz`)
      assert.equal(typeof err.data.entry, 'string')
      assert.ok(err.hint && err.hint.length > 0)
      for (const f of await filesUnder(root)) assert.ok(f.startsWith('var/nip/cas/'), `${f} was written outside the CAS`)
    })
  }

  it('names the hostile entry in the message and data', async () => {
    const err = await refusal(unpack(await buildTar([{ path: '../../etc/passwd', content: 'x' }]), { archive: 'p.tar' }))
    assert.deepEqual(err.data, { entry: '../../etc/passwd', archive: 'p.tar' })
    assert.match(err.message, /"\.\.\/\.\.\/etc\/passwd" in p\.tar/)
  })

  const small: Limits = { maxEntries: 3, maxTotalSize: 10, maxPathLength: 16, maxDepth: 3 }
  it('more entries than maxEntries → ERR_NIP_ARCHIVE_TOO_MANY_ENTRIES', async () => {
    const data = await buildTar(['a', 'b', 'c', 'd'].map((p) => ({ path: p })))
    assert.equal((await refusal(unpack(data, { limits: small }))).code, 'ERR_NIP_ARCHIVE_TOO_MANY_ENTRIES')
    assert.equal((await unpack(await buildTar(['a', 'b', 'c'].map((p) => ({ path: p }))), { limits: small })).entries.length, 3)
  })

  it('more content than maxTotalSize → ERR_NIP_ARCHIVE_TOO_LARGE before any of it is stored', async () => {
    const data = await buildTar([{ path: 'a', content: '12345' }, { path: 'b', content: '123456' }])
    const err = await refusal(unpack(data, { limits: small }))
    assert.equal(err.code, 'ERR_NIP_ARCHIVE_TOO_LARGE')
    assert.equal(err.data.entry, 'b')
    const stored = (await filesUnder(cas.dir)).filter((p) => !p.includes('tmp'))
    assert.equal(stored.length, 1)
    assert.equal((await unpack(await buildTar([{ path: 'a', content: '1234567890' }]), { limits: small })).entries.length, 1)
  })

  it('a path over maxPathLength or deeper than maxDepth → ERR_NIP_UNSAFE_NAME', async () => {
    const long = await buildTar([{ path: 'abcdefgh/ijklmnopq', content: 'x' }])
    assert.equal((await refusal(unpack(long, { limits: small }))).code, 'ERR_NIP_UNSAFE_NAME')
    const deep = await buildTar([{ path: 'a/b/c/d', content: 'x' }])
    assert.equal((await refusal(unpack(deep, { limits: small }))).code, 'ERR_NIP_UNSAFE_NAME')
    assert.equal((await unpack(await buildTar([{ path: 'a/b/c', content: 'x' }]), { limits: small })).entries.length, 3)
    // Bytes, not characters: 9 × "é" is 18 bytes; 7 × "é" is 14. Names written in a form that
    // needs normalising are held to the same limits.
    assert.equal((await refusal(unpack(await buildTar([{ path: 'é'.repeat(9), content: 'x' }]), { limits: small }))).code, 'ERR_NIP_UNSAFE_NAME')
    assert.equal((await unpack(await buildTar([{ path: 'é'.repeat(7), content: 'x' }]), { limits: small })).entries[0].path, 'é'.repeat(7))
    for (const path of ['./a/b/c/d', 'a//b/c/d', 'a/./b/c/d']) {
      assert.equal((await refusal(unpack(await buildTar([{ path, content: 'x' }]), { limits: small }))).code, 'ERR_NIP_UNSAFE_NAME', path)
    }
    assert.deepEqual((await unpack(await buildTar([{ path: './a//b/c', content: 'x' }]), { limits: small })).entries.map((e) => e.path), ['a', 'a/b', 'a/b/c'])
  })

  it('a truncated .tar.gz → ERR_NIP_ARCHIVE_CORRUPT', async () => {
    const data = await buildTar(SAMPLE, { compression: 'gzip' })
    const err = await refusal(unpack(data.subarray(0, data.length - 30)))
    assert.equal(err.code, 'ERR_NIP_ARCHIVE_CORRUPT')
  })

  it('a tar cut inside a member → ERR_NIP_ARCHIVE_CORRUPT', async () => {
    const data = await buildTar([{ path: 'a', content: Buffer.alloc(2000, 1) }])
    assert.equal((await refusal(unpack(data.subarray(0, 1024)))).code, 'ERR_NIP_ARCHIVE_CORRUPT')
  })

  it('a header with a bad checksum → ERR_NIP_ARCHIVE_CORRUPT', async () => {
    const data = Buffer.from(await buildTar(SAMPLE))
    data[1] ^= 0x01
    assert.equal((await refusal(unpack(data))).code, 'ERR_NIP_ARCHIVE_CORRUPT')
  })

  it('a corrupt .xz → ERR_NIP_ARCHIVE_COMPRESSION', async () => {
    const data = Buffer.from(await buildTar(SAMPLE, { compression: 'xz' }))
    for (let i = 24; i < 40; i++) data[i] ^= 0xa5
    assert.equal((await refusal(unpack(data))).code, 'ERR_NIP_ARCHIVE_COMPRESSION')
  })

  it('does not count content fed in one large chunk as overhead', async function () {
    this.timeout(20000)
    const data = await buildTar(Array.from({ length: 20 }, (_, i) => ({ path: `f${i}`, content: Buffer.alloc(1024 * 1024, i) })))
    const { entries } = await unpack(data)
    assert.equal(entries.length, 20)
  })

  it('endless zero blocks after the archive → ERR_NIP_ARCHIVE_TOO_LARGE', async function () {
    this.timeout(20000)
    const tar = await buildTar([{ path: 'a', content: 'x' }])
    async function* bomb(): AsyncGenerator<Buffer> {
      yield tar
      const zeros = Buffer.alloc(1024 * 1024)
      for (let i = 0; i < 64; i++) yield zeros
    }
    const err = await refusal(unpackToCas(bomb(), { cas, limits: DEFAULT_LIMITS }))
    assert.equal(err.code, 'ERR_NIP_ARCHIVE_TOO_LARGE')
  })
})

describe('archive: unpacking in place (UnpackOptions.stage)', () => {
  // sourceSize marks the archive large: every blob goes through the writer's worker threads.
  const large = 8 * 1024 * 1024

  it('creates each stored file in the staging directory, the blob a hardlink of it', async () => {
    const stage = { dir: join(root, 'Programs/x/.1.tmp-t'), placed: new Map<string, string>() }
    const { entries } = await unpack(await buildTar(SAMPLE), { sourceSize: large, stage })
    assert.deepEqual(entries, SAMPLE_TREE)
    // libx-hard.so names the blob of libx.so.1: one place only, the file the archive stored.
    assert.deepEqual([...stage.placed].sort(), [['bin/tool', `${TOOL}-x`], ['lib/libx.so.1', LIBX], ['share/doc/x/README', HELLO]])
    for (const [p, key] of stage.placed) {
      const placed = await stat(join(stage.dir, p))
      const blob = await stat(cas.pathOf(key))
      assert.equal(placed.ino, blob.ino, `${p} is the blob's inode`)
      assert.equal(blob.nlink, 2)
      assert.equal(blob.mode & 0o777, key.endsWith('-x') ? 0o555 : 0o444)
    }
    assert.equal(await readFile(join(stage.dir, 'bin/tool'), 'utf8'), 'tool\n')
    // Nothing else was created there (links and symlinks are staging's work).
    assert.deepEqual((await filesUnder(stage.dir)).map((f) => relative('Programs/x/.1.tmp-t', f)), ['bin/tool', 'lib/libx.so.1', 'share/doc/x/README'])
  })

  it('places neither settings files nor a path the archive names twice; content already stored is linked in place, not written', async () => {
    const stage = { dir: join(root, 'stage'), placed: new Map<string, string>() }
    // Already in the store: recognised from its address, hardlinked to its place, not written again.
    const stored = cas.addBufferSync(Buffer.from('hello\n'))
    const storedBefore = await stat(cas.pathOf(stored.key))
    const data = await buildTar([
      { path: './etc/x.conf', content: 'conf\n' },
      { path: './a', content: 'first\n' },
      { path: './a', content: 'second\n' },
      { path: './b', content: 'hello\n' },
      { path: './c', content: 'same\n' },
      { path: './d', content: 'same\n' },
    ])
    const warnings: ArchiveWarning[] = []
    const { entries } = await unpack(data, { sourceSize: large, stage, isSettings: (p) => p.startsWith('etc/'), onWarning: (w) => warnings.push(w) })
    const blobOf = (p: string) => entries.find((e) => e.path === p)?.blob
    assert.equal(entries.find((e) => e.path === 'etc/x.conf')?.settings, true)
    assert.equal(stage.placed.has('etc/x.conf'), false)
    // The first "a" was placed; the entry that replaced it has other content: staging sees the mismatch.
    assert.notEqual(stage.placed.get('a'), blobOf('a'))
    assert.equal(stage.placed.get('b'), stored.key)
    assert.equal(blobOf('b'), stored.key)
    const b = await stat(join(stage.dir, 'b'))
    assert.equal(b.ino, storedBefore.ino, 'b is the stored blob')
    assert.equal((await stat(cas.pathOf(stored.key))).mtimeMs, storedBefore.mtimeMs, 'the stored blob was not written again')
    // Identical content twice (one batch, one worker, in order): written once, the second linked to it.
    assert.equal(stage.placed.get('c'), blobOf('c'))
    assert.equal(stage.placed.get('d'), blobOf('d'))
    assert.equal(blobOf('c'), blobOf('d'))
    assert.equal((await stat(join(stage.dir, 'c'))).ino, (await stat(join(stage.dir, 'd'))).ino)
    assert.equal(await readFile(cas.pathOf(blobOf('d')!), 'utf8'), 'same\n')
  })

  it('stores a file whose place is taken as usual, and leaves the place alone', async () => {
    const stage = { dir: join(root, 'stage'), placed: new Map<string, string>() }
    const { mkdir, writeFile } = await import('node:fs/promises')
    await mkdir(join(stage.dir, 'bin'), { recursive: true })
    await writeFile(join(stage.dir, 'bin/tool'), 'not ours\n')
    const { entries } = await unpack(await buildTar(SAMPLE), { sourceSize: large, stage })
    assert.deepEqual(entries, SAMPLE_TREE)
    assert.equal(stage.placed.has('bin/tool'), false)
    assert.equal(await readFile(join(stage.dir, 'bin/tool'), 'utf8'), 'not ours\n')
    assert.equal(await readFile(cas.pathOf(`${TOOL}-x`), 'utf8'), 'tool\n')
    assert.equal((await stat(cas.pathOf(`${TOOL}-x`))).nlink, 1)
  })

  for (const [name, { entries, code }] of Object.entries(buildHostileArchives())) {
    it(`${name} → ${code}, and nothing is written outside the CAS and the staging directory`, async () => {
      const stage = { dir: join(root, 'Programs/x/.1.tmp-t'), placed: new Map<string, string>() }
      const err = await refusal(unpack(await buildTar(entries, { compression: 'gzip' }), { archive: `${name}.tar.gz`, sourceSize: large, stage }))
      assert.equal(err.code, code)
      for (const f of await filesUnder(root)) assert.ok(f.startsWith('var/nip/cas/') || f.startsWith('Programs/x/.1.tmp-t/'), `${f} was written outside the CAS and the staging directory`)
    })
  }
})

describe('staging a tree that unpacking placed in part', () => {
  it('keeps placed files with the right blob, replaces the others, removes strays', async () => {
    const { stageTree } = await import('../src/stage.js')
    const { ConfinedFs } = await import('@nip/cas')
    const stage = { dir: join(root, 'stage'), placed: new Map<string, string>() }
    const { entries } = await unpack(await buildTar(SAMPLE), { sourceSize: 8 * 1024 * 1024, stage })
    // After unpacking, the adapter changed README's content and dropped bin/tool.
    const other = cas.addBufferSync(Buffer.from('other\n'))
    const final = entries.filter((e) => e.path !== 'bin/tool').map((e) => (e.path === 'share/doc/x/README' ? { ...e, blob: other.key, size: 6 } : e))
    const keptIno = (await stat(join(stage.dir, 'lib/libx.so.1'))).ino
    await stageTree(cas, final, stage.dir, new ConfinedFs(root), stage.placed)
    assert.equal((await stat(join(stage.dir, 'lib/libx.so.1'))).ino, keptIno)
    assert.equal(await readFile(join(stage.dir, 'share/doc/x/README'), 'utf8'), 'other\n')
    assert.equal((await stat(join(stage.dir, 'share/doc/x/README'))).ino, (await stat(cas.pathOf(other.key))).ino)
    await assert.rejects(stat(join(stage.dir, 'bin/tool')), { code: 'ENOENT' })
    assert.equal((await stat(join(stage.dir, 'lib/libx-hard.so'))).ino, keptIno)
    assert.deepEqual((await filesUnder(stage.dir)).map((f) => relative('stage', f)), ['lib/libx-hard.so', 'lib/libx.so', 'lib/libx.so.1', 'share/doc/x/README'])
  })
})
