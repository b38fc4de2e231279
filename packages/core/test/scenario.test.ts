/**
 * Scenario tests of the graft pipeline, with an in-memory source: given sources, run
 * commands, expect programs, links, exit codes.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { MemoryAdapter, openNip, tempRoot, checkConsistency, listTree, type MemoryPackage } from '@nip/testing'
import { NipError, type Nip } from '@nip/core'
import { blake3Hex } from '@nip/cas'

const greet = (v: string): MemoryPackage => ({
  name: 'libgreet',
  version: v,
  files: { [`lib/libgreet.so.${v}`]: `greet ${v}`, 'include/greet.h': '#define GREET 1\n' },
})
const hello = (v: string, extra: Record<string, string> = {}): MemoryPackage => ({
  name: 'hello',
  version: v,
  dependencies: ['libgreet >= 1.0'],
  files: {
    'bin/hello': `#!/bin/sh\necho hello ${v}\n`,
    'share/man/man1/hello.1': `.TH HELLO 1 ${v}\n`,
    'Settings/hello.conf': { content: `greeting=${v}\n`, mode: 0o644, settings: true },
    ...extra,
  },
})

/** The programs of the current generation (removed ones stay listed, inactive, until gc). */
function active(nip: Nip): string[] {
  return nip.list().filter((p) => p.active).map((p) => `${p.name}@${p.version}`)
}

async function expectNipError(p: Promise<unknown>, code: string): Promise<NipError> {
  try {
    await p
  } catch (e) {
    assert.ok(e instanceof NipError, `expected NipError, got ${String(e)}`)
    assert.equal(e.code, code, e.message)
    return e
  }
  assert.fail(`expected ${code}`)
}

describe('graft pipeline (in-memory source)', () => {
  let root: string
  let nip: Nip
  let source: MemoryAdapter
  let reporter: Awaited<ReturnType<typeof openNip>>['reporter']
  beforeEach(async () => {
    root = await tempRoot()
    source = new MemoryAdapter([greet('1.0'), greet('1.2'), hello('1.0', { 'bin/hello-old': 'old\n' }), hello('2.0', { 'bin/hello-new': 'new\n' })])
    ;({ nip, reporter } = await openNip(root, [source]))
  })
  afterEach(async () => {
    nip.close()
    await fs.promises.rm(root, { recursive: true, force: true })
  })

  it('installs a program with its dependency, links it, and records it', async () => {
    const r = await nip.install(['hello'])
    assert.deepEqual(r.grafted.map((g) => `${g.name}@${g.version}:${g.explicit}`), ['libgreet@1.2:false', 'hello@2.0:true'])
    const link = path.join(root, 'System/Links/Executables/hello')
    assert.equal(fs.readlinkSync(link), '../../../Programs/hello/Current/bin/hello')
    assert.equal(fs.readFileSync(link, 'utf8'), '#!/bin/sh\necho hello 2.0\n')
    assert.equal(fs.readlinkSync(path.join(root, 'Programs/hello/Current')), '2.0')
    assert.equal(fs.readlinkSync(path.join(root, 'System/Links/Libraries/libgreet.so.1.2')), '../../../Programs/libgreet/Current/lib/libgreet.so.1.2')
    assert.equal(fs.readlinkSync(path.join(root, 'System/Links/Headers/greet.h')), '../../../Programs/libgreet/Current/include/greet.h')
    // Directories only hello fills are one folded link each (GoboLinux's LinkOrExpand)
    assert.equal(fs.readlinkSync(path.join(root, 'System/Links/Manuals/man1')), '../../../Programs/hello/Current/share/man/man1')
    assert.equal(fs.readlinkSync(path.join(root, 'System/Links/Shared/man')), '../../../Programs/hello/Current/share/man')
    assert.equal(fs.realpathSync(path.join(root, 'System/Links/Manuals/man1/hello.1')), fs.realpathSync(path.join(root, 'Programs/hello/2.0/share/man/man1/hello.1')))
    assert.equal(nip.owns(path.join(root, 'System/Links/Manuals/man1/hello.1')).owner?.name, 'hello')
    // the program file is the CAS blob itself (hardlink), read-only and executable
    const file = path.join(root, 'Programs/hello/2.0/bin/hello')
    const key = blake3Hex(Buffer.from('#!/bin/sh\necho hello 2.0\n')) + '-x'
    const blob = path.join(root, 'var/nip/cas', key.slice(0, 2), key)
    assert.equal(fs.statSync(file).ino, fs.statSync(blob).ino)
    assert.equal(fs.statSync(file).mode & 0o777, 0o555)
    // settings are copied (own inode, writable) and linked into System/Settings
    const conf = path.join(root, 'Programs/hello/Settings/hello.conf')
    assert.equal(fs.readFileSync(conf, 'utf8'), 'greeting=2.0\n')
    assert.equal(fs.statSync(conf).nlink, 1)
    assert.equal(fs.statSync(conf).mode & 0o200, 0o200)
    assert.equal(fs.readlinkSync(path.join(root, 'System/Settings/hello.conf')), '../../Programs/hello/Settings/hello.conf')
    assert.deepEqual(nip.owns(path.join(root, 'System/Links/Executables/hello')), {
      path: 'System/Links/Executables/hello',
      kind: 'link',
      owner: { name: 'hello', version: '2.0' },
      target: '../../../Programs/hello/Current/bin/hello',
    })
    assert.equal(nip.owns('Programs/libgreet/1.2/include/greet.h').owner?.name, 'libgreet')
    assert.equal(nip.owns('etc/passwd').kind, 'none')
    assert.deepEqual((await checkConsistency(nip)).problems, [])
  })

  it('keeps two versions side by side and switches Current and links', async () => {
    await nip.install(['hello@1.0'])
    await nip.install(['hello@2.0'])
    assert.deepEqual(nip.list({ name: 'hello' }).map((p) => `${p.version}:${p.current}`), ['1.0:false', '2.0:true'])
    assert.ok(fs.existsSync(path.join(root, 'Programs/hello/1.0/bin/hello-old')))
    const links = path.join(root, 'System/Links/Executables')
    assert.deepEqual(fs.readdirSync(links).sort(), ['hello', 'hello-new'])
    const s = await nip.switch('hello', '1.0')
    assert.deepEqual(s, { name: 'hello', from: '2.0', to: '1.0', links: { added: 1, removed: 1 } })
    assert.equal(fs.readlinkSync(path.join(root, 'Programs/hello/Current')), '1.0')
    assert.deepEqual(fs.readdirSync(links).sort(), ['hello', 'hello-old'])
    assert.equal(fs.readFileSync(path.join(links, 'hello'), 'utf8'), '#!/bin/sh\necho hello 1.0\n')
    await expectNipError(nip.switch('hello', '3.0'), 'ERR_NIP_NOT_INSTALLED')
    assert.deepEqual((await checkConsistency(nip)).problems, [])
  })

  it('refuses to remove a program another one depends on, and honours --cascade and --force', async () => {
    await nip.install(['hello'])
    const before = listTree(root)
    const e = await expectNipError(nip.remove(['libgreet']), 'ERR_NIP_REQUIRED_BY')
    assert.equal(e.exitCode, 4)
    assert.match(e.message, /hello 2\.0 needs libgreet/)
    assert.deepEqual(listTree(root).filter((p) => !p.startsWith('var/')), before.filter((p) => !p.startsWith('var/')))
    const dry = await nip.remove(['libgreet'], { cascade: true, dryRun: true })
    assert.deepEqual(dry.removed.map((r) => r.name).sort(), ['hello', 'libgreet'])
    assert.equal(nip.list().length, 2)
    const forced = await nip.remove(['libgreet'], { force: true })
    assert.deepEqual(forced.removed, [{ name: 'libgreet', version: '1.2' }])
    // removed from the current generation: unlinked, no Current; the tree waits for gc
    assert.ok(!fs.existsSync(path.join(root, 'Programs/libgreet/Current')))
    assert.ok(fs.existsSync(path.join(root, 'Programs/libgreet/1.2')))
    assert.ok(!fs.existsSync(path.join(root, 'System/Links/Libraries/libgreet.so.1.2')))
    assert.ok(fs.existsSync(path.join(root, 'System/Links/Executables/hello')))
    await nip.remove(['hello'])
    assert.deepEqual(active(nip), [])
    assert.deepEqual(fs.readdirSync(path.join(root, 'System/Links/Executables')), [])
    // gone after the generations that hold them are deleted and gc runs
    await nip.generationsDelete({ keep: 1 })
    const gc = await nip.gc()
    assert.deepEqual(gc.programs.map((p) => `${p.name}@${p.version}`).sort(), ['hello@2.0', 'libgreet@1.2'])
    assert.deepEqual(nip.list(), [])
    assert.ok(!fs.existsSync(path.join(root, 'Programs/libgreet')))
    // the user's settings stay, like Gobo's RemoveProgram
    assert.ok(fs.existsSync(path.join(root, 'Programs/hello/Settings/hello.conf')))
    assert.deepEqual((await checkConsistency(nip)).problems, [])
  })

  it('removes with --cascade', async () => {
    await nip.install(['hello'])
    const r = await nip.remove(['libgreet'], { cascade: true })
    assert.deepEqual(r.removed.map((x) => x.name).sort(), ['hello', 'libgreet'])
    assert.deepEqual(active(nip), [])
  })

  it('removing the current version makes the highest remaining one current', async () => {
    await nip.install(['hello@1.0'])
    await nip.install(['hello@2.0'])
    await nip.remove(['hello@2.0'])
    assert.deepEqual(nip.list({ name: 'hello', all: true }).map((p) => `${p.version}:${p.current}:${p.active}`), ['1.0:true:true', '2.0:false:false'])
    assert.equal(fs.readlinkSync(path.join(root, 'Programs/hello/Current')), '1.0')
    assert.ok(fs.existsSync(path.join(root, 'System/Links/Executables/hello-old')))
    assert.ok(!fs.existsSync(path.join(root, 'System/Links/Executables/hello-new')))
    assert.deepEqual((await checkConsistency(nip)).problems, [])
  })

  it('refuses a link conflict between two programs and grafts nothing of the second', async () => {
    source.packages.push({ name: 'other', version: '1', files: { 'bin/hello': 'impostor\n', 'bin/other': 'x\n' } })
    await nip.install(['hello'])
    const e = await expectNipError(nip.install(['other']), 'ERR_NIP_LINK_CONFLICT')
    assert.match(e.message, /System\/Links\/Executables\/hello: owned by hello \(wanted by other\)/)
    assert.match(e.hint ?? '', /nip remove hello/)
    assert.ok(!fs.existsSync(path.join(root, 'Programs/other')))
    assert.equal(nip.list({ name: 'hello' }).length, 1)
    assert.throws(() => nip.list({ name: 'other' }), /not grafted/)
    assert.equal(fs.readFileSync(path.join(root, 'System/Links/Executables/hello'), 'utf8'), '#!/bin/sh\necho hello 2.0\n')
    assert.ok(!fs.existsSync(path.join(root, 'System/Links/Executables/other')))
    assert.deepEqual((await checkConsistency(nip)).problems, [])
  })

  it('refuses to replace a file in the link farm that nip does not own', async () => {
    fs.mkdirSync(path.join(root, 'System/Links/Executables'), { recursive: true })
    fs.writeFileSync(path.join(root, 'System/Links/Executables/hello'), 'mine')
    await expectNipError(nip.install(['hello']), 'ERR_NIP_LINK_OCCUPIED')
    assert.equal(fs.readFileSync(path.join(root, 'System/Links/Executables/hello'), 'utf8'), 'mine')
    assert.deepEqual(nip.list(), [])
  })

  it('--dry-run changes nothing on disk', async () => {
    const r = await nip.install(['hello'], { dryRun: true })
    assert.equal(r.dryRun, true)
    assert.deepEqual(r.plan.programs.map((p) => `${p.name}@${p.version}:${p.reason}`), ['libgreet@1.2:dependency', 'hello@2.0:explicit'])
    assert.deepEqual(r.plan.programs[0].requiredBy, ['hello'])
    assert.deepEqual(listTree(root), [])
    assert.deepEqual(source.fetched, [])
  })

  it('skips a dependency that is already grafted at a satisfying version', async () => {
    await nip.install(['libgreet@1.0'])
    const r = await nip.install(['hello'])
    assert.deepEqual(r.grafted.map((g) => g.name), ['hello'])
    assert.deepEqual(source.fetched, ['libgreet@1.0', 'hello@2.0'])
    const again = await nip.install(['hello'])
    assert.deepEqual(again.grafted, [])
    assert.deepEqual(again.skipped, [{ name: 'hello', version: '2.0', reason: 'already-installed' }])
  })

  it('names every source it tried when nothing is found', async () => {
    const other = new MemoryAdapter([], { id: 'second' })
    nip.close()
    ;({ nip } = await openNip(root, [source, other]))
    const e = await expectNipError(nip.install(['nonesuch']), 'ERR_NIP_NOT_FOUND')
    assert.deepEqual((e.data.tried as { source: string }[]).map((t) => t.source), ['memory', 'second'])
    assert.match(e.message, /memory: has no package named nonesuch\n {2}second: has no package named nonesuch/)
    await expectNipError(nip.install(['nosuchsource:hello']), 'ERR_NIP_UNKNOWN_SOURCE')
    const viaSource = await nip.install(['memory:libgreet@1.0'])
    assert.equal(viaSource.grafted[0].version, '1.0')
  })

  it('reports an unsatisfiable dependency with what requires it', async () => {
    source.packages.push({ name: 'needy', version: '1', dependencies: ['libgreet >= 9'], files: { 'bin/needy': 'x' } })
    const e = await expectNipError(nip.install(['needy']), 'ERR_NIP_UNSATISFIED_DEPENDENCY')
    assert.match(e.message, /libgreet >= 9 \(required by needy 1\)/)
    assert.deepEqual(listTree(root).filter((p) => p.startsWith('Programs/')), [])
  })

  it('undoes everything when a fetch fails', async () => {
    source.failFetch.add('libgreet')
    await expectNipError(nip.install(['hello']), 'ERR_NIP_FETCH_FAILED')
    assert.deepEqual(nip.list(), [])
    assert.deepEqual(fs.readdirSync(path.join(root, 'Programs')), [])
    const log = nip.logs(1)[0]
    assert.equal(log.outcome, 'failed')
    assert.equal(log.error?.code, 'ERR_NIP_FETCH_FAILED')
    assert.deepEqual((await checkConsistency(nip)).problems, [])
  })

  it('undoes a registered install whose links cannot be made: rows, links and folds of it go, the user\'s file stays', async () => {
    source.packages.push({ name: 'blocked', version: '1', files: { 'bin/blocked-a': 'a\n', 'bin/blocked-z': 'z\n', 'share/blocked/data': 'd\n' } })
    const emit = reporter.emit.bind(reporter)
    const inTheWay = path.join(root, 'System/Links/Executables/blocked-z')
    // Once registered (the "link" phase starts), a directory of the user's appears where a link goes.
    reporter.emit = (e) => {
      if (e.type === 'phase' && e.phase === 'link') fs.mkdirSync(inTheWay, { recursive: true })
      emit(e)
    }
    await expectNipError(nip.install(['blocked']), 'ERR_NIP_IO')
    reporter.emit = emit
    assert.ok(reporter.events.some((e) => e.type === 'warning' && e.code === 'undo'), 'the undo is reported')
    assert.deepEqual(nip.list(), [])
    // What the install had linked before it failed is gone again: the fold and the first link.
    assert.equal(fs.existsSync(path.join(root, 'System/Links/Shared/blocked')), false)
    assert.equal(fs.existsSync(path.join(root, 'System/Links/Executables/blocked-a')), false)
    assert.ok(fs.statSync(inTheWay).isDirectory(), 'the user\'s directory stays')
    assert.equal(nip.status().interruptedTransactions.length, 0)
    fs.rmdirSync(inTheWay)
    assert.deepEqual((await checkConsistency(nip)).problems, [])
    // And nothing stops a second attempt.
    await nip.install(['blocked'])
    assert.equal(fs.readFileSync(path.join(root, 'System/Links/Executables/blocked-z'), 'utf8'), 'z\n')
  })

  it('keeps a settings file the user edited when the program is grafted again', async () => {
    await nip.install(['hello@1.0'])
    const conf = path.join(root, 'Programs/hello/Settings/hello.conf')
    fs.writeFileSync(conf, 'mine\n')
    await nip.install(['hello@2.0'])
    assert.equal(fs.readFileSync(conf, 'utf8'), 'mine\n')
    // as pacman's .pacnew: the new default is saved beside the user's copy, and nip says so
    assert.equal(fs.readFileSync(`${conf}.nipnew`, 'utf8'), 'greeting=2.0\n')
    assert.ok(reporter.warnings().some((w) => w.code === 'settings-nipnew' && w.message.includes('hello.conf.nipnew')))
    assert.deepEqual((await checkConsistency(nip)).problems, [])
  })

  it('replaces a settings file the user never edited with the new default on upgrade', async () => {
    await nip.install(['hello@1.0'])
    const conf = path.join(root, 'Programs/hello/Settings/hello.conf')
    assert.equal(fs.readFileSync(conf, 'utf8'), 'greeting=1.0\n')
    await nip.install(['hello@2.0'])
    assert.equal(fs.readFileSync(conf, 'utf8'), 'greeting=2.0\n')
    assert.ok(!fs.existsSync(`${conf}.nipnew`))
    assert.ok(!reporter.warnings().some((w) => w.code === 'settings-nipnew'))
    assert.equal(fs.statSync(conf).mode & 0o777, 0o644)
  })

  it('counts blob references exactly and shares blobs between versions', async () => {
    await nip.install(['hello@1.0'])
    await nip.install(['hello@2.0'])
    const st = nip.status()
    // libgreet 1.2: 2 files; hello 1.0 and 2.0: 4 files each, none shared except greet.h? no: distinct contents
    assert.equal(st.versions, 3)
    assert.equal(st.programs, 2)
    assert.deepEqual(st.interruptedTransactions, [])
    assert.equal(st.lock.held, false)
    assert.deepEqual((await checkConsistency(nip)).doctor.findings.find((f) => f.check === 'cas-refcounts')?.severity, 'ok')
  })
})

describe('a plan with two versions of one name', () => {
  it('grafts both when dependents require different exact versions; Current is the highest, links follow it', async () => {
    const root = await tempRoot()
    const lib = (v: string): MemoryPackage => ({ name: 'libx', version: v, files: { [`lib/libx.so.${v}`]: `libx ${v}`, 'share/libx/version': `${v}\n` } })
    const source = new MemoryAdapter([
      lib('1.0'),
      lib('2.0'),
      { name: 'a', version: '1', dependencies: ['libx == 1.0'], files: { 'bin/a': 'a\n' } },
      { name: 'b', version: '1', dependencies: ['libx == 2.0'], files: { 'bin/b': 'b\n' } },
      { name: 'app', version: '1', dependencies: ['a', 'b'], files: { 'bin/app': 'app\n' } },
    ])
    const { nip } = await openNip(root, [source])
    try {
      const r = await nip.install(['app'])
      assert.deepEqual(r.grafted.map((g) => `${g.name}@${g.version}`).sort(), ['a@1', 'app@1', 'b@1', 'libx@1.0', 'libx@2.0'])
      assert.equal(fs.readlinkSync(path.join(root, 'Programs/libx/Current')), '2.0')
      assert.equal(fs.readFileSync(path.join(root, 'System/Links/Shared/libx/version'), 'utf8'), '2.0\n')
      assert.ok(fs.existsSync(path.join(root, 'Programs/libx/1.0/lib/libx.so.1.0')))
      assert.deepEqual((await checkConsistency(nip)).problems, [])
    } finally {
      nip.close()
      await fs.promises.rm(root, { recursive: true, force: true })
    }
  })
})
