/**
 * Store lifecycle scenarios: generations, rollback (and forward again), generations delete,
 * gc (what it keeps, exactly what it frees), pins, verify/--repair and autoremove.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { MemoryAdapter, openNip, tempRoot, checkConsistency, type MemoryPackage } from '@nip/testing'
import { NipError, type Nip } from '@nip/core'
import { blake3Hex } from '@nip/cas'

const LICENSE = 'Shared licence text\n'
const alpha = (v: string, extra: Record<string, string>): MemoryPackage => ({
  name: 'alpha',
  version: v,
  files: { 'bin/alpha': `alpha ${v}\n`, 'share/doc/alpha/COPYING': LICENSE, ...extra },
})
const beta: MemoryPackage = {
  name: 'beta',
  version: '1.0',
  files: { 'bin/beta': 'beta 1.0\n', 'lib/libbeta.so': 'beta library\n', 'share/doc/beta/COPYING': LICENSE },
}

function farm(root: string): string[] {
  const out: string[] = []
  for (const d of ['Executables', 'Libraries']) {
    const dir = path.join(root, 'System/Links', d)
    for (const e of fs.existsSync(dir) ? fs.readdirSync(dir) : []) out.push(`${d}/${e}=${fs.readFileSync(path.join(dir, e), 'utf8').trim()}`)
  }
  return out.sort()
}

function current(root: string, name: string): string | null {
  const l = path.join(root, 'Programs', name, 'Current')
  return fs.existsSync(l) || fs.lstatSync(l, { throwIfNoEntry: false }) ? fs.readlinkSync(l) : null
}

/** Where the store keeps `content` (asked of the CAS, which owns its directory layout). */
function casPath(nip: Nip, content: string, exec = false): string {
  return nip.cas.pathOf(blake3Hex(Buffer.from(content)) + (exec ? '-x' : ''))
}

/** alpha 1.0 and beta grafted, removed, and every generation that held them deleted: both are garbage. */
async function graftRemoveAndForget(nip: Nip): Promise<void> {
  await nip.install(['alpha@1.0'])
  await nip.install(['beta'])
  await nip.remove(['beta'])
  await nip.remove(['alpha'])
  await nip.generationsDelete({ keep: 1 })
}

async function consistent(nip: Nip): Promise<void> {
  assert.deepEqual((await checkConsistency(nip)).problems, [])
}

describe('store lifecycle', () => {
  let root: string
  let nip: Nip
  let source: MemoryAdapter
  beforeEach(async () => {
    root = await tempRoot()
    source = new MemoryAdapter([alpha('1.0', { 'bin/alpha-one': 'one\n' }), alpha('2.0', { 'bin/alpha-two': 'two\n' }), beta])
    ;({ nip } = await openNip(root, [source]))
  })
  afterEach(async () => {
    nip.close()
    await fs.promises.rm(root, { recursive: true, force: true })
  })

  it('install A, install B, upgrade A, roll back twice and forward again; gc keeps what kept generations hold', async () => {
    await nip.install(['alpha@1.0'])
    const g1 = ['Executables/alpha-one=one', 'Executables/alpha=alpha 1.0']
    assert.deepEqual(farm(root), g1)
    await nip.install(['beta'])
    const g2 = [...g1, 'Executables/beta=beta 1.0', 'Libraries/libbeta.so=beta library'].sort()
    assert.deepEqual(farm(root), g2)
    await nip.install(['alpha@2.0'])
    const g3 = ['Executables/alpha-two=two', 'Executables/alpha=alpha 2.0', 'Executables/beta=beta 1.0', 'Libraries/libbeta.so=beta library']
    assert.deepEqual(farm(root), g3)
    assert.equal(current(root, 'alpha'), '2.0')
    const gens = nip.generations()
    assert.deepEqual(gens.map((g) => `${g.id}<${g.parent}:${g.kind}`), ['0<null:empty', '1<0:install', '2<1:install', '3<2:install'])
    assert.deepEqual(gens[3].changes, [
      { name: 'alpha', version: '1.0', before: 'current', after: 'grafted' },
      { name: 'alpha', version: '2.0', before: 'absent', after: 'current' },
    ])

    // rollback 1: to the parent of 3 (2)
    const r1 = await nip.rollback()
    assert.deepEqual([r1.from, r1.to, r1.generation], [3, 2, 4])
    assert.equal(current(root, 'alpha'), '1.0')
    assert.equal(current(root, 'beta'), '1.0')
    assert.deepEqual(farm(root), g2)
    await consistent(nip)
    // rollback 2: the parent of 4 is the parent of 2 (1), not 3
    const r2 = await nip.rollback()
    assert.deepEqual([r2.from, r2.to, r2.generation], [4, 1, 5])
    assert.equal(current(root, 'alpha'), '1.0')
    assert.equal(current(root, 'beta'), null)
    assert.deepEqual(farm(root), g1)
    assert.deepEqual(nip.generationsDiff(3, 5).changes, [
      { name: 'alpha', version: '1.0', before: 'grafted', after: 'current' },
      { name: 'alpha', version: '2.0', before: 'current', after: 'absent' },
      { name: 'beta', version: '1.0', before: 'current', after: 'absent' },
    ])
    // a third rollback would return to the parent of 1: generation 0, the empty root
    const r3 = await nip.rollback({ dryRun: true })
    assert.deepEqual([r3.dryRun, r3.from, r3.to, r3.changes], [true, 5, 0, [{ name: 'alpha', version: '1.0', before: 'current', after: 'absent' }]])

    // gc after the rollbacks: generations 2–4 still hold beta and alpha 2.0
    const kept = await nip.gc()
    assert.deepEqual([kept.programs, kept.blobs, kept.bytes], [[], 0, 0])
    assert.ok(fs.existsSync(path.join(root, 'Programs/beta/1.0/bin/beta')))
    assert.ok(fs.existsSync(path.join(root, 'Programs/alpha/2.0/bin/alpha')))

    // forward again
    const f = await nip.rollback({ to: 3 })
    assert.deepEqual([f.from, f.to, f.generation], [5, 3, 6])
    assert.equal(current(root, 'alpha'), '2.0')
    assert.deepEqual(farm(root), g3)
    assert.equal(nip.generations().at(-1)?.parent, 2)
    await consistent(nip)
  })

  it('generation 0 is the empty root: the first graft can be rolled back, and forward again', async () => {
    await assert.rejects(nip.rollback(), (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_NO_GENERATION' && /empty root/.test(e.message))
    await nip.install(['alpha@1.0'])
    assert.deepEqual(nip.generations().map((g) => `${g.id}<${g.parent}:${g.kind}:${g.command}`), ['0<null:empty:(empty root)', '1<0:install:install alpha@1.0'])
    const back = await nip.rollback()
    assert.deepEqual([back.from, back.to, back.generation, back.links], [1, 0, 2, { added: 0, removed: 3 }])
    assert.equal(current(root, 'alpha'), null)
    assert.deepEqual(farm(root), [])
    assert.deepEqual(nip.list(), [])
    assert.deepEqual(nip.list({ all: true }).map((p) => `${p.name}@${p.version}:${p.active}`), ['alpha@1.0:false'])
    assert.ok(fs.existsSync(path.join(root, 'Programs/alpha/1.0/bin/alpha')))
    // generation 2 restores 0, whose parent is nothing: no further back
    await assert.rejects(nip.rollback(), (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_NO_GENERATION' && /restores the empty root/.test(e.message))
    // gc keeps what generation 1 holds
    assert.deepEqual((await nip.gc()).programs, [])
    const fwd = await nip.rollback({ to: 1 })
    assert.deepEqual([fwd.from, fwd.to, fwd.generation], [2, 1, 3])
    assert.equal(current(root, 'alpha'), '1.0')
    assert.deepEqual(farm(root), ['Executables/alpha-one=one', 'Executables/alpha=alpha 1.0'])
    assert.deepEqual(nip.generations().map((g) => `${g.id}<${g.parent}`), ['0<null', '1<0', '2<null', '3<0'])
    await consistent(nip)
  })

  it('list shows the current generation; --all adds kept inactive versions; a name errors only when nothing is kept', async () => {
    await nip.install(['alpha@1.0'])
    await nip.install(['alpha@2.0', 'beta'])
    await nip.remove(['beta'])
    const row = (p: { name: string; version: string; current: boolean; active: boolean }) => `${p.name}@${p.version}:${p.current ? 'current' : p.active ? 'grafted' : 'inactive'}`
    assert.deepEqual(nip.list().map(row), ['alpha@1.0:grafted', 'alpha@2.0:current'])
    assert.deepEqual(nip.list({ all: true }).map(row), ['alpha@1.0:grafted', 'alpha@2.0:current', 'beta@1.0:inactive'])
    assert.deepEqual(nip.list({ name: 'beta' }), [])
    assert.deepEqual(nip.list({ name: 'BETA', all: true }).map(row), ['beta@1.0:inactive'])
    assert.throws(() => nip.list({ name: 'gamma' }), (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_NOT_INSTALLED')
    await nip.generationsDelete({ keep: 1 })
    await nip.gc()
    assert.throws(() => nip.list({ name: 'beta', all: true }), (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_NOT_INSTALLED')
  })

  it('gc after generations delete frees exactly the unreachable trees and blobs', async () => {
    await nip.install(['alpha@1.0'])
    await nip.install(['beta'])
    await nip.remove(['beta'])
    assert.equal(current(root, 'beta'), null)
    assert.ok(fs.existsSync(path.join(root, 'Programs/beta/1.0')))
    const dry = await nip.gc({ dryRun: true })
    assert.deepEqual(dry.programs, [])
    assert.throws(() => nip.generationsDiff(1, 9), /Generation 9 does not exist/)
    const del = await nip.generationsDelete({ ids: [2] })
    assert.deepEqual([del.deleted, del.released, del.kept], [[2], 1, [0, 1, 3]])
    // A dry run writes nothing of its own: with the reserve gone, it does not make it again.
    fs.rmSync(path.join(root, 'var/nip/reserve'))
    const dry2 = await nip.gc({ dryRun: true })
    await nip.rollback({ to: 1, dryRun: true })
    await nip.autoremove({ dryRun: true })
    assert.equal(fs.existsSync(path.join(root, 'var/nip/reserve')), false, 'no reserve made by a dry run')
    // beta's own blobs: bin/beta and libbeta.so; COPYING is shared with alpha and stays
    const freed = Buffer.byteLength('beta 1.0\n') + Buffer.byteLength('beta library\n')
    assert.deepEqual([dry2.programs.map((p) => `${p.name}@${p.version}`), dry2.blobs, dry2.bytes], [['beta@1.0'], 2, freed])
    assert.ok(fs.existsSync(path.join(root, 'Programs/beta/1.0')))
    const r = await nip.gc()
    assert.deepEqual([r.programs.map((p) => `${p.name}@${p.version}`), r.blobs, r.bytes, r.truncated], [['beta@1.0'], 2, freed, false])
    assert.ok(!fs.existsSync(path.join(root, 'Programs/beta/1.0')))
    assert.ok(!fs.existsSync(casPath(nip, 'beta 1.0\n', true)))
    assert.ok(!fs.existsSync(casPath(nip, 'beta library\n')))
    assert.ok(fs.existsSync(casPath(nip, LICENSE)))
    assert.deepEqual(fs.readdirSync(path.join(root, 'var/nip/trash')), [])
    assert.deepEqual(nip.list().map((p) => `${p.name}@${p.version}`), ['alpha@1.0'])
    // a second gc finds nothing; --verify's full scan finds no drift
    const again = await nip.gc({ verify: true })
    assert.deepEqual([again.programs, again.blobs, again.drift], [[], 0, { orphanBlobs: [], orphanBytes: 0, missingBlobs: [], unknownTrees: [], refDrift: [] }])
    await consistent(nip)
  })

  it('the current generation is never deleted; --keep and --older-than select the rest', async () => {
    await nip.install(['alpha@1.0'])
    await nip.install(['beta'])
    await nip.install(['alpha@2.0'])
    await assert.rejects(nip.generationsDelete({ ids: [3] }), /current generation/)
    const k = await nip.generationsDelete({ keep: 2 })
    // generation 0 (the empty root) is not counted and always stays
    assert.deepEqual([k.deleted, k.kept], [[1], [0, 2, 3]])
    const o = await nip.generationsDelete({ olderThan: new Date(Date.now() + 60_000) })
    assert.deepEqual([o.deleted, o.kept], [[2], [0, 3]])
    await assert.rejects(nip.generationsDelete({ ids: [0] }), (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_USAGE' && /empty root/.test(e.message))
    // alpha 1.0 is still grafted (not Current) in generation 3: nothing to collect
    assert.deepEqual((await nip.gc()).programs, [])
  })

  it('gc --max-freed stops early and --verify reports and collects orphan blobs', async () => {
    await graftRemoveAndForget(nip)
    const orphan = nip.cas.pathOf('0'.repeat(64))
    fs.mkdirSync(path.dirname(orphan), { recursive: true })
    fs.writeFileSync(orphan, 'not referenced')
    const first = await nip.gc({ maxFreed: 1 })
    assert.equal(first.programs.length, 1)
    assert.equal(first.truncated, true)
    const rest = await nip.gc({ verify: true })
    assert.equal(rest.programs.length, 1)
    assert.deepEqual(rest.drift?.orphanBlobs, ['0'.repeat(64)])
    assert.ok(!fs.existsSync(orphan))
    assert.deepEqual(nip.list(), [])
    await consistent(nip)
  })

  it('gc --max-freed counts the blobs freed: content two programs share counts once both go', async () => {
    await graftRemoveAndForget(nip)
    // alpha alone frees its own two blobs; the licence it shares with beta goes only with beta.
    const alphaOnly = Buffer.byteLength('alpha 1.0\n') + Buffer.byteLength('one\n')
    const one = await nip.gc({ dryRun: true, maxFreed: alphaOnly })
    assert.deepEqual([one.programs.map((p) => p.name), one.bytes, one.truncated], [['alpha'], alphaOnly, true])
    const both = await nip.gc({ dryRun: true, maxFreed: alphaOnly + 1 })
    assert.deepEqual([both.programs.map((p) => p.name), both.truncated], [['alpha', 'beta'], false])
    const all = alphaOnly + Buffer.byteLength(LICENSE) + Buffer.byteLength('beta 1.0\n') + Buffer.byteLength('beta library\n')
    assert.equal(both.bytes, all)
    const r = await nip.gc({ maxFreed: alphaOnly })
    assert.deepEqual([r.programs.map((p) => p.name), r.bytes], [['alpha'], alphaOnly])
    await consistent(nip)
  })

  it('a pin keeps a version from gc and keeps it Current through an upgrade', async () => {
    await nip.install(['alpha@1.0'])
    const p = await nip.pin('alpha')
    assert.deepEqual(p, { name: 'alpha', version: '1.0', pinned: true, changed: true })
    await nip.install(['alpha@2.0'])
    assert.equal(current(root, 'alpha'), '1.0')
    await nip.remove(['alpha@1.0'])
    await nip.generationsDelete({ keep: 1 })
    assert.deepEqual((await nip.gc()).programs, [])
    assert.ok(fs.existsSync(path.join(root, 'Programs/alpha/1.0/bin/alpha')))
    await nip.unpin('alpha@1.0')
    assert.deepEqual((await nip.gc()).programs.map((x) => x.version), ['1.0'])
    await consistent(nip)
  })

  it('reinstalling a removed version revives it without fetching', async () => {
    await nip.install(['beta'])
    await nip.remove(['beta'])
    source.fetched = []
    const r = await nip.install(['beta'])
    assert.deepEqual(r.grafted.map((g) => `${g.name}@${g.version}`), ['beta@1.0'])
    assert.deepEqual(source.fetched, [])
    assert.equal(current(root, 'beta'), '1.0')
    assert.deepEqual(nip.generations().map((g) => g.changes.map((c) => `${c.version}:${c.before}>${c.after}`).join()), ['', '1.0:absent>current', '1.0:current>absent', '1.0:absent>current'])
    await consistent(nip)
  })

  it('verify detects an edited Settings file, a modified blob and a deleted file; --repair fixes the last two', async () => {
    source.packages.push({
      name: 'gamma',
      version: '1',
      files: { 'bin/gamma': 'gamma\n', 'share/gamma/data': 'data\n', 'Settings/gamma.conf': { content: 'x=1\n', settings: true } },
    })
    await nip.install(['gamma', 'alpha@1.0'])
    let v = await nip.verify()
    assert.deepEqual(v.programs.map((p) => `${p.name}:${p.state}`), ['alpha:VERIFIED', 'gamma:VERIFIED'])
    fs.writeFileSync(path.join(root, 'Programs/gamma/Settings/gamma.conf'), 'x=2\n')
    v = await nip.verify(['gamma'])
    assert.deepEqual(v.programs.map((p) => [p.state, p.problems]), [['MODIFIED', [{ path: 'Programs/gamma/Settings/gamma.conf', problem: 'modified' }]]])
    // a deleted program file
    fs.rmSync(path.join(root, 'Programs/gamma/1/share/gamma/data'))
    v = await nip.verify(['gamma'])
    assert.deepEqual(v.programs.map((p) => p.state), ['MISSING'])
    // a modified blob: the program file is a hardlink of it
    const exe = path.join(root, 'Programs/gamma/1/bin/gamma')
    fs.chmodSync(exe, 0o755)
    fs.writeFileSync(exe, 'evil\n')
    v = await nip.verify(['gamma'])
    assert.equal(v.programs[0].state, 'TAMPERED')
    assert.equal(v.ok, false)
    assert.equal(nip.list({ name: 'gamma' })[0].integrity, 'TAMPERED')
    source.fetched = []
    const fixed = await nip.verify(['gamma'], { repair: true })
    assert.deepEqual(fixed.programs[0].problems.map((p) => `${p.path}:${p.problem}:${p.repaired ?? false}`).sort(), [
      'Programs/gamma/1/bin/gamma:blob-damaged:true',
      'Programs/gamma/1/share/gamma/data:missing:true',
      'Programs/gamma/Settings/gamma.conf:modified:false',
    ])
    assert.equal(fixed.programs[0].repairedState, 'MODIFIED')
    assert.deepEqual(source.fetched, ['gamma@1'])
    assert.equal(fs.readFileSync(exe, 'utf8'), 'gamma\n')
    assert.equal(fs.readFileSync(casPath(nip, 'gamma\n', true), 'utf8'), 'gamma\n')
    assert.equal(fs.readFileSync(path.join(root, 'Programs/gamma/1/share/gamma/data'), 'utf8'), 'data\n')
    assert.equal(fs.readFileSync(path.join(root, 'Programs/gamma/Settings/gamma.conf'), 'utf8'), 'x=2\n')
    assert.equal(nip.list({ name: 'gamma' })[0].integrity, 'MODIFIED')
    await consistent(nip)
  })

  it('autoremove removes dependencies no explicit program needs, plan first', async () => {
    source.packages.push(
      { name: 'lib', version: '1', files: { 'lib/liblib.so': 'lib\n' } },
      { name: 'app', version: '1', dependencies: ['lib'], files: { 'bin/app': 'app\n' } },
      { name: 'tool', version: '1', dependencies: ['lib'], files: { 'bin/tool': 'tool\n' } },
    )
    await nip.install(['app', 'tool'])
    assert.deepEqual((await nip.autoremove({ dryRun: true })).plan, [])
    await nip.remove(['app'])
    assert.deepEqual((await nip.autoremove({ dryRun: true })).plan, [])
    await nip.remove(['tool'])
    const dry = await nip.autoremove({ dryRun: true })
    assert.deepEqual([dry.plan, dry.removed], [[{ name: 'lib', version: '1' }], []])
    const r = await nip.autoremove()
    assert.deepEqual(r.removed, [{ name: 'lib', version: '1' }])
    assert.equal(nip.generations().at(-1)?.kind, 'autoremove')
    assert.deepEqual(nip.list().filter((p) => p.active).map((p) => p.name), [])
    await consistent(nip)
  })

  it('doctor finds program refcount drift, a damaged blob and trash left behind, and fixes what it can', async () => {
    await nip.install(['alpha@1.0'])
    const db = (await import('@nip/core')).Database.openWriter(path.join(root, 'var/nip/db/nip.sqlite'))
    db.db.prepare('UPDATE programs SET refs = 7').run()
    db.close()
    fs.mkdirSync(path.join(root, 'var/nip/trash/left-over'), { recursive: true })
    const blob = casPath(nip, 'one\n', true)
    fs.chmodSync(blob, 0o755)
    fs.writeFileSync(blob, 'bad\n')
    const before = await nip.doctor({ full: true })
    const sev = (r: typeof before, c: string) => r.findings.find((f) => f.check === c)?.severity
    assert.deepEqual([sev(before, 'program-refcounts'), sev(before, 'blob-hash'), sev(before, 'trash')], ['error', 'error', 'warning'])
    const after = await nip.doctor({ fix: true, full: true })
    assert.deepEqual([after.findings.find((f) => f.check === 'program-refcounts')?.fixed, after.findings.find((f) => f.check === 'trash')?.fixed], [true, true])
    const again = await nip.doctor()
    assert.deepEqual([sev(again, 'program-refcounts'), sev(again, 'trash')], ['ok', 'ok'])
  })

  it('doctor --fix claims only what the next doctor agrees with, and says what it could not repair', async () => {
    await nip.install(['alpha@1.0'])
    // A tampered file (content and size), repairable from the store, and a lost one whose blob is
    // gone too while the source cannot deliver it again: not repairable.
    const bin = path.join(root, 'Programs/alpha/1.0/bin/alpha')
    fs.rmSync(bin)
    fs.writeFileSync(bin, 'tampered!\n', { mode: 0o755 })
    fs.rmSync(path.join(root, 'Programs/alpha/1.0/bin/alpha-one'))
    fs.rmSync(casPath(nip, 'one\n', true))
    source.failFetch.add('alpha')
    const fixed = await nip.doctor({ fix: true })
    const again = await nip.doctor()
    for (const f of fixed.findings) {
      const next = again.findings.find((g) => g.check === f.check)
      if (f.fixed === true && next) assert.equal(next.severity, 'ok', `${f.check} was called fixed, the next doctor says: ${next.message}`)
    }
    const files = fixed.findings.find((f) => f.check === 'program-files')
    assert.equal(files?.fixed, false)
    assert.match(files?.message ?? '', /not repaired: alpha 1\.0 \(MISSING/)
    const drift = fixed.findings.find((f) => f.check === 'db-drift')
    assert.equal(drift?.fixed, false)
    assert.match(drift?.message ?? '', /Still there after --fix/)
    assert.deepEqual(again.findings.find((f) => f.check === 'db-drift')?.paths, ['Programs/alpha/1.0/bin/alpha-one'])
    assert.equal(again.healthy, false)
    // The tampered file was repaired as verify --repair does.
    assert.equal(fs.readFileSync(bin, 'utf8'), 'alpha 1.0\n')
  })
})
