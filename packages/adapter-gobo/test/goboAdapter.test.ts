import { strict as assert } from 'node:assert'
import { createHash } from 'node:crypto'
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Cas, blake3Hex } from '@nip/cas'
import { DEFAULT_LIMITS, Layout, NipError, RecordingReporter, type AdapterContext, type PackageRef } from '@nip/core'
import { buildTar, type FixtureEntry, type FixtureCompression } from '@nip/testing'
import { GoboAdapter, createAdapter } from '../src/index.js'

const HELLO_SCRIPT = '#!/bin/sh\necho hello\n'
const CONF = 'greeting = "Hi"\n'

/** Entries of a well-formed package `<name>/<version>/...`. */
function programEntries(name: string, version: string, resources: Record<string, string>, extra: FixtureEntry[] = []): FixtureEntry[] {
  const p = `${name}/${version}`
  return [
    { path: `${name}/`, type: 'dir' },
    { path: `${p}/`, type: 'dir' },
    { path: `${p}/Resources/`, type: 'dir' },
    ...Object.entries(resources).map(([f, content]) => ({ path: `${p}/Resources/${f}`, content })),
    ...extra,
  ]
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex')
}

interface Fixture {
  root: string
  repo: string
  ctx: AdapterContext
  reporter: RecordingReporter
  /** Every package file written, by name. */
  files: Map<string, Buffer>
}

async function writePackage(fx: Fixture, fileName: string, entries: FixtureEntry[], compression: FixtureCompression = 'gzip'): Promise<Buffer> {
  const data = await buildTar(entries, { compression })
  await writeFile(path.join(fx.repo, fileName), data)
  fx.files.set(fileName, data)
  return data
}

async function writeSums(fx: Fixture, override: Record<string, string> = {}): Promise<void> {
  const lines = [...fx.files].map(([name, data]) => `${override[name] ?? sha256(data)}  ${name}\n`)
  await writeFile(path.join(fx.repo, 'SHA256SUMS'), lines.join(''))
}

async function makeFixture(config: Record<string, unknown> = {}): Promise<Fixture> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'nip-gobo-'))
  const repo = path.join(root, 'repo')
  await mkdir(repo)
  const layout = new Layout({
    root,
    programsDir: 'Programs',
    linksDir: 'System/Links',
    settingsDir: 'System/Settings',
    stateDir: 'var/nip',
    casDir: 'var/nip/cas',
    cacheDir: 'var/nip/cache',
    logDir: 'var/log/nip',
  })
  const cas = new Cas(layout.casDir)
  await cas.init()
  const reporter = new RecordingReporter()
  const ctx: AdapterContext = {
    layout,
    cas,
    reporter,
    config: { repositories: ['repo'], arch: 'x86_64', ...config },
    cacheDir: layout.adapterCacheDir('gobo'),
    limits: DEFAULT_LIMITS,
  }
  return { root, repo, ctx, reporter, files: new Map() }
}

async function rejectsWith(p: Promise<unknown>, code: string, check: (e: NipError) => void = () => {}): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof NipError, `expected a NipError, got ${String(e)}`)
    assert.equal(e.code, code, e.message)
    assert.ok(e.hint, 'a hint')
    check(e)
    return true
  })
}

describe('GoboAdapter', () => {
  let fx: Fixture
  beforeEach(async () => {
    fx = await makeFixture()
  })
  afterEach(async () => {
    await rm(fx.root, { recursive: true, force: true })
  })

  async function standardRepo(): Promise<void> {
    const desc = (v: string) => `[Name] Hello\n[Summary] Prints a greeting (${v}).\n[License] MIT\n[Homepage] https://example.org/hello\n`
    await writePackage(fx, 'Hello--1.0--noarch.tar.gz', programEntries('Hello', '1.0', { Dependencies: 'HelloData >= 1.0\n', Description: desc('1.0') }))
    await writePackage(
      fx,
      'Hello--2.0-r1--x86_64.tar.bz2',
      programEntries('Hello', '2.0', { Dependencies: 'HelloData >= 1.0\n', Description: desc('2.0'), Revision: 'r1\n', Architecture: 'x86_64\n' }),
      'bzip2',
    )
    await writePackage(fx, 'Hello--3.0--aarch64.tar.gz', programEntries('Hello', '3.0', { Dependencies: '' }))
    await writePackage(fx, 'Hello--1.5--x86_64.tar.xz', programEntries('Hello', '1.5', { Dependencies: '' }), 'xz')
    await writePackage(fx, 'HelloData--1.0--noarch.tar.zst', programEntries('HelloData', '1.0', { Dependencies: '' }), 'zstd')
    await writeFile(path.join(fx.repo, 'README'), 'not a package\n')
  }

  it('createAdapter returns a GoboAdapter with id gobo', () => {
    const a = createAdapter()
    assert.ok(a instanceof GoboAdapter)
    assert.equal(a.id, 'gobo')
  })

  it('probe counts repositories and packages of this arch', async () => {
    await standardRepo()
    const adapter = new GoboAdapter()
    assert.deepEqual(await adapter.probe(fx.ctx), { id: 'gobo', configured: true, reachable: true, detail: '1 repository, 4 packages' })
    const unconfigured = await new GoboAdapter().probe({ ...fx.ctx, config: {} })
    assert.equal(unconfigured.configured, false)
    const missing = await new GoboAdapter().probe({ ...fx.ctx, config: { repositories: ['nope'] } })
    assert.deepEqual([missing.configured, missing.detail], [false, `0 repositories, 0 packages; missing: ${path.join(fx.root, 'nope')}`])
  })

  it('refuses a malformed configuration with ERR_NIP_CONFIG', async () => {
    await rejectsWith(new GoboAdapter().probe({ ...fx.ctx, config: { repositories: 'repo' } }), 'ERR_NIP_CONFIG')
    await rejectsWith(new GoboAdapter().probe({ ...fx.ctx, config: { repositories: ['https://example.org/gobo'] } }), 'ERR_NIP_CONFIG')
    await rejectsWith(new GoboAdapter().probe({ ...fx.ctx, config: { repositories: [], 'require-checksums': 'yes' } }), 'ERR_NIP_CONFIG')
  })

  it('resolves case-insensitively, best first, skipping other arches', async () => {
    await standardRepo()
    const adapter = new GoboAdapter()
    const refs = await adapter.resolve({ name: 'hello', raw: 'hello' }, fx.ctx)
    assert.deepEqual(refs, [
      { source: 'gobo', name: 'Hello', version: '2.0', id: path.join(fx.repo, 'Hello--2.0-r1--x86_64.tar.bz2') },
      { source: 'gobo', name: 'Hello', version: '1.5', id: path.join(fx.repo, 'Hello--1.5--x86_64.tar.xz') },
      { source: 'gobo', name: 'Hello', version: '1.0', id: path.join(fx.repo, 'Hello--1.0--noarch.tar.gz') },
    ])
    const exact = await adapter.resolve({ name: 'HELLO', version: '1.5', raw: 'HELLO@1.5' }, fx.ctx)
    assert.deepEqual(exact.map((r) => r.id), [path.join(fx.repo, 'Hello--1.5--x86_64.tar.xz')])
    const withRevision = await adapter.resolve({ name: 'Hello', version: '2.0-r1', raw: 'Hello@2.0-r1' }, fx.ctx)
    assert.deepEqual(withRevision.map((r) => r.version), ['2.0'])
    assert.deepEqual(await adapter.resolve({ name: 'Hello', version: '2.0-r2', raw: 'x' }, fx.ctx), [])
    assert.deepEqual(await adapter.resolve({ name: 'Hello', version: '3.0', raw: 'x' }, fx.ctx), [])
    assert.deepEqual(await adapter.resolve({ name: 'Nope', raw: 'Nope' }, fx.ctx), [])
  })

  it('resolves and claims a local package file', async () => {
    await standardRepo()
    const adapter = new GoboAdapter()
    const file = path.join(fx.repo, 'HelloData--1.0--noarch.tar.zst')
    assert.equal(adapter.claimsFile(file), true)
    assert.equal(adapter.claimsFile(path.join(fx.repo, 'hello.deb')), false)
    assert.deepEqual(await adapter.resolve({ name: 'x', file, raw: file }, fx.ctx), [{ source: 'gobo', name: 'HelloData', version: '1.0', id: file }])
    await rejectsWith(adapter.resolve({ name: 'x', file: path.join(fx.repo, 'Hello--3.0--aarch64.tar.gz'), raw: 'x' }, fx.ctx), 'ERR_NIP_BAD_PACKAGE')
  })

  it('searches names, and summaries once described', async () => {
    await standardRepo()
    const adapter = new GoboAdapter()
    const collect = async (q: string) => {
      const out: string[] = []
      for await (const h of adapter.search(q, fx.ctx)) out.push(`${h.ref.name} ${h.ref.version}`)
      return out
    }
    assert.deepEqual(await collect('ELLO'), ['Hello 2.0', 'HelloData 1.0'])
    assert.deepEqual(await collect('greeting'), [])
    const [best] = await adapter.resolve({ name: 'Hello', raw: 'Hello' }, fx.ctx)
    await adapter.describe(best, fx.ctx)
    assert.deepEqual(await collect('greeting'), ['Hello 2.0'])
  })

  it('describes dependencies, summary, sizes and checksum', async () => {
    const p = 'Foo/1.2'
    const data = await writePackage(
      fx,
      'Foo--1.2--x86_64.tar.gz',
      programEntries(
        'Foo',
        '1.2',
        {
          Dependencies: '# deps\nGCC >= 3.0.0, < 4.0.0, != 3.1.0\nQt >= 3.3.8, < 4.0 [qt]\nCPAN:XML::Parser\nMesa | Nvidia >= 100\n',
          Description: '[Name] Foo\n[Summary] The foo tool.\n[Description] Does foo\nwell.\n[License] GPL\n[Homepage] https://example.org/foo\n',
        },
        [
          { path: `${p}/bin/`, type: 'dir' },
          { path: `${p}/bin/foo`, content: 'x'.repeat(1000), mode: 0o755 },
        ],
      ),
    )
    await writeSums(fx)
    const adapter = new GoboAdapter()
    const [ref] = await adapter.resolve({ name: 'foo', raw: 'foo' }, fx.ctx)
    const m = await adapter.describe(ref, fx.ctx)
    const depsText = '# deps\nGCC >= 3.0.0, < 4.0.0, != 3.1.0\nQt >= 3.3.8, < 4.0 [qt]\nCPAN:XML::Parser\nMesa | Nvidia >= 100\n'
    const descText = '[Name] Foo\n[Summary] The foo tool.\n[Description] Does foo\nwell.\n[License] GPL\n[Homepage] https://example.org/foo\n'
    assert.deepEqual(m, {
      ref: { ...ref, summary: 'The foo tool.' },
      dependencies: [
        { name: 'GCC', constraint: '>= 3.0.0, < 4.0.0, != 3.1.0', raw: 'GCC >= 3.0.0, < 4.0.0, != 3.1.0' },
        { name: 'Qt', constraint: '>= 3.3.8, < 4.0', raw: 'Qt >= 3.3.8, < 4.0 [qt]' },
        {
          name: 'Mesa',
          raw: 'Mesa | Nvidia >= 100',
          anyOf: [
            { name: 'Mesa', raw: 'Mesa' },
            { name: 'Nvidia', constraint: '>= 100', raw: 'Nvidia >= 100' },
          ],
        },
      ],
      provides: [],
      conflicts: [],
      downloadSize: data.length,
      installedSize: depsText.length + descText.length + 1000,
      description: 'Does foo\nwell.',
      license: 'GPL',
      homepage: 'https://example.org/foo',
      hashes: { sha256: sha256(data) },
      extra: { revision: null, arch: 'x86_64', repository: fx.repo },
    })
    assert.deepEqual(
      fx.reporter.warnings().map((w) => [w.code, w.message]),
      [['gobo-foreign-dependency', 'Foo--1.2--x86_64.tar.gz: Resources/Dependencies:4: "CPAN:XML::Parser" is not a program (a module of another package manager); skipped']],
    )
    assert.equal(adapter.satisfies(m.dependencies[0], '3.4.6'), true)
    assert.equal(adapter.satisfies(m.dependencies[0], '3.1.0'), false)
    assert.equal(adapter.compareVersions('1.10', '1.9'), 1)
  })

  it('fetches into the CAS with the Gobo layout and settings entries', async () => {
    const p = 'Hello/2.0'
    const confPath = `${p}/Resources/Defaults/Settings/hello.conf`
    await writePackage(
      fx,
      'Hello--2.0-r1--x86_64.tar.bz2',
      [
        ...programEntries('Hello', '2.0', { Dependencies: 'HelloData >= 1.0\n', Description: '[Summary] Hi\n', Revision: 'r1\n', Architecture: 'noarch\n' }),
        { path: `${p}/bin/`, type: 'dir' },
        { path: `${p}/bin/hello`, content: HELLO_SCRIPT, mode: 0o4755 },
        { path: `${p}/bin/hi`, type: 'symlink', target: 'hello' },
        { path: `${p}/Resources/Defaults/`, type: 'dir' },
        { path: `${p}/Resources/Defaults/Settings/`, type: 'dir' },
        { path: confPath, content: CONF },
        { path: `${p}/share/hello/message.txt`, content: 'Hello!\n', mode: 0o640 },
      ],
      'bzip2',
    )
    await writeSums(fx)
    const adapter = new GoboAdapter()
    const [ref] = await adapter.resolve({ name: 'Hello', raw: 'Hello' }, fx.ctx)
    const result = await adapter.fetch(ref, fx.ctx)
    const file = (content: string, mode: number, exec = false) => ({
      type: 'file',
      mode,
      blob: blake3Hex(Buffer.from(content)) + (exec ? '-x' : ''),
      size: Buffer.byteLength(content),
    })
    assert.deepEqual(result.ref, ref)
    assert.deepEqual(result.entries, [
      { path: 'Resources', type: 'dir', mode: 0o755 },
      { path: 'Resources/Architecture', ...file('noarch\n', 0o644) },
      { path: 'Resources/Defaults', type: 'dir', mode: 0o755 },
      { path: 'Resources/Dependencies', ...file('HelloData >= 1.0\n', 0o644) },
      { path: 'Resources/Description', ...file('[Summary] Hi\n', 0o644) },
      { path: 'Resources/Revision', ...file('r1\n', 0o644) },
      { path: 'Settings', type: 'dir', mode: 0o755, settings: true },
      { path: 'Settings/hello.conf', ...file(CONF, 0o644), settings: true },
      { path: 'bin', type: 'dir', mode: 0o755 },
      { path: 'bin/hello', ...file(HELLO_SCRIPT, 0o755, true) },
      { path: 'bin/hi', type: 'symlink', mode: 0o777, target: 'hello' },
      { path: 'share', type: 'dir', mode: 0o755 },
      { path: 'share/hello', type: 'dir', mode: 0o755 },
      { path: 'share/hello/message.txt', ...file('Hello!\n', 0o640) },
    ])
    for (const e of result.entries) if (e.blob) assert.equal(await fx.ctx.cas.has(e.blob), true, e.path)
    assert.deepEqual(
      fx.reporter.warnings().map((w) => w.code),
      ['setuid-cleared'],
    )
    const progress = fx.reporter.events.filter((e) => e.type === 'progress')
    const size = fx.files.get('Hello--2.0-r1--x86_64.tar.bz2')!.length
    assert.deepEqual(progress.at(-1), { type: 'progress', id: ref.id, label: 'Hello 2.0-r1', done: size, total: size, unit: 'bytes' })
    // Nothing but the CAS was written under the root.
    assert.deepEqual((await readdir(fx.root)).sort(), ['repo', 'var'])
    assert.deepEqual(await readdir(path.join(fx.root, 'var', 'nip')), ['cas'])
  })

  it('refuses a package whose SHA256SUMS entry does not match, before reading it', async () => {
    const data = await writePackage(fx, 'Foo--1.0--x86_64.tar.gz', programEntries('Foo', '1.0', { Dependencies: '' }))
    const wrong = 'ab'.repeat(32)
    await writeSums(fx, { 'Foo--1.0--x86_64.tar.gz': wrong })
    const adapter = new GoboAdapter()
    const [ref] = await adapter.resolve({ name: 'Foo', raw: 'Foo' }, fx.ctx)
    const check = (e: NipError) =>
      assert.deepEqual(e.data, { file: ref.id, expected: wrong, actual: sha256(data), algorithm: 'sha256' })
    await rejectsWith(adapter.fetch(ref, fx.ctx), 'ERR_NIP_HASH_MISMATCH', check)
    await rejectsWith(adapter.describe(ref, fx.ctx), 'ERR_NIP_HASH_MISMATCH', check)
    // Nothing was stored: the store's buckets (made when it opens) are all empty.
    const buckets = await readdir(fx.ctx.cas.dir).then((d) => d.filter((x) => x.length === 2))
    for (const b of buckets) assert.deepEqual(await readdir(`${fx.ctx.cas.dir}/${b}`), [], b)
  })

  it('hashes a verified package again in fetch only when it changed after describe', async () => {
    const good = await writePackage(fx, 'Foo--1.0--x86_64.tar.gz', programEntries('Foo', '1.0', { Dependencies: '' }))
    await writeSums(fx)
    const adapter = new GoboAdapter()
    const [ref] = await adapter.resolve({ name: 'Foo', raw: 'Foo' }, fx.ctx)
    assert.deepEqual((await adapter.describe(ref, fx.ctx)).hashes, { sha256: sha256(good) })
    // Same name, same size, other content: the SHA256SUMS entry no longer matches.
    const swapped = Buffer.from(good)
    swapped[swapped.length - 1] ^= 0xff
    await writeFile(ref.id, swapped)
    await rejectsWith(adapter.fetch(ref, fx.ctx), 'ERR_NIP_HASH_MISMATCH', (e) => assert.equal(e.data.actual, sha256(swapped)))
    // Restored: verified again, and fetched.
    await writeFile(ref.id, good)
    assert.ok((await adapter.fetch(ref, fx.ctx)).entries.length > 0)
  })

  it('refuses an unlisted package when checksums are required', async () => {
    await writePackage(fx, 'Foo--1.0--x86_64.tar.gz', programEntries('Foo', '1.0', { Dependencies: '' }))
    await writePackage(fx, 'Bar--1.0--x86_64.tar.gz', programEntries('Bar', '1.0', { Dependencies: '' }))
    await writeFile(path.join(fx.repo, 'SHA256SUMS'), `${sha256(fx.files.get('Bar--1.0--x86_64.tar.gz')!)}  Bar--1.0--x86_64.tar.gz\n`)
    const ctx = { ...fx.ctx, config: { ...fx.ctx.config, 'require-checksums': true } }
    const adapter = new GoboAdapter()
    const [foo] = await adapter.resolve({ name: 'Foo', raw: 'Foo' }, ctx)
    await rejectsWith(adapter.fetch(foo, ctx), 'ERR_NIP_HASH_MISMATCH', (e) => assert.equal(e.data.expected, null))
    const [bar] = await adapter.resolve({ name: 'Bar', raw: 'Bar' }, ctx)
    assert.deepEqual((await adapter.fetch(bar, ctx)).entries.map((e) => e.path), ['Resources', 'Resources/Dependencies'])
    // Without the requirement an unlisted package is accepted.
    assert.deepEqual((await new GoboAdapter().fetch(foo, fx.ctx)).entries.map((e) => e.path), ['Resources', 'Resources/Dependencies'])
  })

  it('refuses a spoofed revision', async () => {
    await writePackage(fx, 'Foo--1.0-r3--x86_64.tar.gz', programEntries('Foo', '1.0', { Dependencies: '', Revision: 'r2\n' }))
    await writePackage(fx, 'Bar--1.0--x86_64.tar.gz', programEntries('Bar', '1.0', { Dependencies: '', Revision: 'r1' }))
    const adapter = new GoboAdapter()
    for (const [name, expected, actual] of [
      ['Foo', 'r3', 'r2'],
      ['Bar', '', 'r1'],
    ]) {
      const [ref] = await adapter.resolve({ name, raw: name }, fx.ctx)
      const check = (e: NipError) => assert.deepEqual([e.data.expected, e.data.actual, /spoofing/.test(e.message)], [expected, actual, true])
      await rejectsWith(adapter.fetch(ref, fx.ctx), 'ERR_NIP_BAD_PACKAGE', check)
      await rejectsWith(adapter.describe(ref, fx.ctx), 'ERR_NIP_BAD_PACKAGE', check)
    }
  })

  it('refuses a package built for another architecture', async () => {
    await writePackage(fx, 'Foo--1.0--noarch.tar.gz', programEntries('Foo', '1.0', { Dependencies: '', Architecture: 'aarch64\n' }))
    const adapter = new GoboAdapter()
    const [ref] = await adapter.resolve({ name: 'Foo', raw: 'Foo' }, fx.ctx)
    await rejectsWith(adapter.fetch(ref, fx.ctx), 'ERR_NIP_BAD_PACKAGE', (e) => assert.deepEqual([e.data.declared, e.data.arch], ['aarch64', 'x86_64']))
  })

  it('refuses members outside <Name>/<Version>/', async () => {
    const cases: [string, FixtureEntry[]][] = [
      ['Other/1.0/bin/x', [{ path: 'Other/1.0/bin/x', content: 'x' }]],
      ['Foo/2.0/bin/x', [{ path: 'Foo/2.0/bin/x', content: 'x' }]],
      ['Foo/Settings/x', [{ path: 'Foo/Settings/x', content: 'x' }]],
      ['Foo/1.0', [{ path: 'Foo/1.0x', content: 'x' }]],
      ['README', [{ path: 'README', content: 'x' }]],
    ]
    for (const [i, [label, extra]] of cases.entries()) {
      const name = `Foo--1.0--x86_64.tar.gz`
      await rm(path.join(fx.repo, name), { force: true })
      await writePackage(fx, name, programEntries('Foo', '1.0', { Dependencies: '' }, extra))
      const adapter = new GoboAdapter()
      const [ref] = await adapter.resolve({ name: 'Foo', raw: 'Foo' }, fx.ctx)
      const expected = extra[0].path
      await rejectsWith(adapter.fetch(ref, fx.ctx), 'ERR_NIP_BAD_PACKAGE', (e) => assert.equal(e.data.entry, expected, `${i} ${label}`))
      await rejectsWith(adapter.describe(ref, fx.ctx), 'ERR_NIP_BAD_PACKAGE', (e) => assert.equal(e.data.entry, expected, `${i} ${label}`))
    }
  })

  it('refuses a symlink that leaves the program version directory', async () => {
    await writePackage(
      fx,
      'Foo--1.0--x86_64.tar.gz',
      programEntries('Foo', '1.0', { Dependencies: '' }, [{ path: 'Foo/1.0/bin/evil', type: 'symlink', target: '../../../etc/passwd' }]),
    )
    const adapter = new GoboAdapter()
    const [ref] = await adapter.resolve({ name: 'Foo', raw: 'Foo' }, fx.ctx)
    await rejectsWith(adapter.fetch(ref, fx.ctx), 'ERR_NIP_UNSAFE_SYMLINK')
  })
})
