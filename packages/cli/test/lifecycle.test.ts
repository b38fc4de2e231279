/**
 * The store lifecycle through the executable (`--json` envelopes and exit statuses), with a
 * local Gobo repository as the source: generations, generations diff/delete, rollback and
 * rollback --to (generation 0 included), pin/unpin, gc --dry-run then gc, verify and
 * verify --repair, autoremove --dry-run then autoremove, list --all, doctor --full.
 *
 * The its run in order on one root; each names the generation numbers it expects.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { buildTar } from '@nip/testing'
import { sandbox, type NipRun, type Sandbox } from './helpers.js'

const HELLO_1 = '#!/bin/sh\necho hello 1.0\n'
const HELLO_2 = '#!/bin/sh\necho hello 2.0\n'
const CONF = 'greeting=hi\n'
const LIB = 'libgreet 1.0\n'

async function goboPackage(name: string, version: string, files: Record<string, string>): Promise<Buffer> {
  const dirs = new Set<string>([`${name}/`, `${name}/${version}/`])
  const entries: { path: string; type?: 'dir'; content?: string; mode?: number }[] = []
  for (const [p, content] of Object.entries(files)) {
    const parts = p.split('/')
    for (let i = 1; i < parts.length; i++) dirs.add(`${name}/${version}/${parts.slice(0, i).join('/')}/`)
    entries.push({ path: `${name}/${version}/${p}`, content, mode: p.startsWith('bin/') ? 0o755 : 0o644 })
  }
  return buildTar([...[...dirs].sort().map((d) => ({ path: d, type: 'dir' as const })), ...entries], { compression: 'gzip' })
}

interface Change {
  name: string
  version: string
  before: string
  after: string
}

describe('nip generations/rollback/gc/pin/verify/autoremove with a Gobo repository', function () {
  this.timeout(120_000)
  let sb: Sandbox
  const run = (...args: string[]): NipRun => sb.nip([...args, '--root', sb.root, '--json'])
  /** The envelope of a run that must exit with `status`. */
  const ok = (r: NipRun, status = 0) => {
    assert.equal(r.status, status, r.stdout + r.stderr)
    return sb.json(r)
  }
  const current = (name: string): string | null => {
    const l = path.join(sb.root, 'Programs', name, 'Current')
    return fs.lstatSync(l, { throwIfNoEntry: false }) ? fs.readlinkSync(l) : null
  }
  const exe = (name: string): string | null => {
    const l = path.join(sb.root, 'System/Links/Executables', name)
    return fs.existsSync(l) ? fs.readFileSync(l, 'utf8') : null
  }
  const gens = () => ok(run('generations')).result as { id: number; parent: number | null; kind: string; command: string; current: boolean; changes: Change[] }[]

  before(async () => {
    sb = sandbox()
    const repo = path.join(sb.home, 'repo')
    fs.mkdirSync(repo)
    const deps = 'LibGreet >= 1.0\n'
    const pkgs: [string, Buffer][] = [
      ['Hello--1.0--noarch.tar.gz', await goboPackage('Hello', '1.0', { 'bin/hello': HELLO_1, 'Resources/Dependencies': deps, 'Resources/Defaults/Settings/hello.conf': CONF })],
      ['Hello--2.0--noarch.tar.gz', await goboPackage('Hello', '2.0', { 'bin/hello': HELLO_2, 'Resources/Dependencies': deps, 'Resources/Defaults/Settings/hello.conf': CONF })],
      ['LibGreet--1.0--noarch.tar.gz', await goboPackage('LibGreet', '1.0', { 'lib/libgreet.so': LIB, 'Resources/Dependencies': '' })],
    ]
    for (const [file, tar] of pkgs) fs.writeFileSync(path.join(repo, file), tar)
    fs.mkdirSync(path.join(sb.root, 'etc', 'nip'), { recursive: true })
    fs.writeFileSync(path.join(sb.root, 'etc', 'nip', 'nip.conf'), `[gobo]\nrepositories = [${JSON.stringify(repo)}]\n`)
  })
  after(() => sb.cleanup())

  it('a fresh root has nothing to roll back to; its only generation is 0, the empty root', () => {
    assert.deepEqual(gens(), [])
    const r = ok(run('rollback'), 3)
    assert.deepEqual([r.error.code, r.error.message, r.error.data], ['ERR_NIP_NO_GENERATION', 'Nothing was grafted yet: generation 0 is the empty root.', { generation: 0, parent: null }])
    const g = gens()
    assert.deepEqual(g.map((x) => [x.id, x.parent, x.kind, x.command, x.current, x.changes]), [[0, null, 'empty', '(empty root)', true, []]])
  })

  it('generations lists every graft with its parent and changes; diff compares two', () => {
    ok(run('install', 'Hello@1.0'))
    ok(run('install', 'Hello@2.0'))
    assert.equal(current('Hello'), '2.0')
    const g = gens()
    assert.deepEqual(
      g.map((x) => [x.id, x.parent, x.kind, x.current]),
      [
        [0, null, 'empty', false],
        [1, 0, 'install', false],
        [2, 1, 'install', true],
      ],
    )
    // dependencies first, in graft order
    assert.deepEqual(g[1].changes, [
      { name: 'LibGreet', version: '1.0', before: 'absent', after: 'current' },
      { name: 'Hello', version: '1.0', before: 'absent', after: 'current' },
    ])
    assert.deepEqual(g[2].changes, [
      { name: 'Hello', version: '1.0', before: 'current', after: 'grafted' },
      { name: 'Hello', version: '2.0', before: 'absent', after: 'current' },
    ])
    assert.deepEqual(ok(run('generations', 'diff', '0', '2')), {
      ok: true,
      command: 'generations diff',
      result: {
        from: 0,
        to: 2,
        changes: [
          { name: 'Hello', version: '1.0', before: 'absent', after: 'grafted' },
          { name: 'Hello', version: '2.0', before: 'absent', after: 'current' },
          { name: 'LibGreet', version: '1.0', before: 'absent', after: 'current' },
        ],
      },
    })
    const missing = ok(run('generations', 'diff', '1', '9'), 3)
    assert.deepEqual([missing.error.code, missing.error.data], ['ERR_NIP_NO_GENERATION', { generation: 9, kept: [0, 1, 2] }])
  })

  it('rollback returns to the parent, rollback --to goes forward again, and --to 0 empties the root', () => {
    const dry = ok(run('rollback', '--dry-run')).result
    assert.deepEqual(dry, { dryRun: true, from: 2, to: 1, changes: [
      { name: 'Hello', version: '1.0', before: 'grafted', after: 'current' },
      { name: 'Hello', version: '2.0', before: 'current', after: 'absent' },
    ], links: { added: 0, removed: 0 } })
    assert.equal(current('Hello'), '2.0')
    const back = ok(run('rollback')).result
    assert.deepEqual([back.dryRun, back.from, back.to, back.generation, back.changes], [false, 2, 1, 3, dry.changes])
    assert.match(back.transaction, /^\S+$/)
    assert.equal(current('Hello'), '1.0')
    assert.equal(exe('hello'), HELLO_1)
    const fwd = ok(run('rollback', '--to', '2')).result
    assert.deepEqual([fwd.from, fwd.to, fwd.generation], [3, 2, 4])
    assert.equal(exe('hello'), HELLO_2)
    const empty = ok(run('rollback', '--to', '0')).result
    assert.deepEqual([empty.from, empty.to, empty.generation], [4, 0, 5])
    assert.deepEqual([current('Hello'), current('LibGreet'), exe('hello')], [null, null, null])
    assert.deepEqual(ok(run('list')).result, [])
    const all = ok(run('list', '--all')).result as { name: string; version: string; active: boolean }[]
    assert.deepEqual(all.map((p) => `${p.name}@${p.version}:${p.active}`), ['Hello@1.0:false', 'Hello@2.0:false', 'LibGreet@1.0:false'])
    // list NAME: no error while a version is kept, even outside the current generation
    assert.deepEqual(ok(run('list', 'Hello')).result, [])
    assert.equal(ok(run('list', 'Nope'), 3).error.code, 'ERR_NIP_NOT_INSTALLED')
    const again = ok(run('rollback', '--to', '4')).result
    assert.deepEqual([again.from, again.to, again.generation], [5, 4, 6])
    assert.deepEqual([current('Hello'), current('LibGreet'), exe('hello')], ['2.0', '1.0', HELLO_2])
    assert.deepEqual(gens().map((x) => `${x.id}<${x.parent}`), ['0<null', '1<0', '2<1', '3<0', '4<1', '5<null', '6<1'])
  })

  it('generations delete refuses the current generation and generation 0, and deletes the rest', () => {
    const cur = ok(run('generations', 'delete', '6'), 64)
    assert.deepEqual([cur.error.code, cur.error.data], ['ERR_NIP_USAGE', { generation: 6 }])
    assert.equal(ok(run('generations', 'delete', '0'), 64).error.code, 'ERR_NIP_USAGE')
    assert.equal(ok(run('generations', 'delete', '42'), 3).error.code, 'ERR_NIP_NO_GENERATION')
    assert.equal(ok(run('generations', 'delete', 'two'), 64).error.code, 'ERR_NIP_USAGE')
    // Hello 1.0 was Current only in 3 (a span 3..4): that span is released; 5 held nothing.
    const del = ok(run('generations', 'delete', '3', '5'))
    assert.deepEqual(del, { ok: true, command: 'generations delete', result: { deleted: [3, 5], released: 1, kept: [0, 1, 2, 4, 6] } })
  })

  it('pin keeps a removed version from gc; after unpin, gc --dry-run and gc free exactly it', () => {
    assert.deepEqual(ok(run('pin', 'Hello@1.0')).result, { name: 'Hello', version: '1.0', pinned: true, changed: true })
    assert.deepEqual(ok(run('pin', 'Hello@1.0')).result, { name: 'Hello', version: '1.0', pinned: true, changed: false })
    ok(run('remove', 'Hello@1.0'))
    const keep = ok(run('generations', 'delete', '--keep', '1')).result
    assert.deepEqual(keep.kept, [0, 7])
    const pinned = ok(run('gc', '--dry-run')).result
    assert.deepEqual([pinned.dryRun, pinned.programs, pinned.blobs, pinned.bytes, pinned.truncated], [true, [], 0, 0, false])
    assert.deepEqual(ok(run('unpin', 'Hello@1.0')).result, { name: 'Hello', version: '1.0', pinned: false, changed: true })
    // Only bin/hello of 1.0 is its own blob: Dependencies and hello.conf are shared with 2.0.
    const expected = { programs: [{ name: 'Hello', version: '1.0', size: Buffer.byteLength(HELLO_1) + Buffer.byteLength('LibGreet >= 1.0\n') + Buffer.byteLength(CONF) }], blobs: 1, bytes: Buffer.byteLength(HELLO_1), truncated: false }
    const dry = ok(run('gc', '--dry-run')).result
    assert.deepEqual({ programs: dry.programs, blobs: dry.blobs, bytes: dry.bytes, truncated: dry.truncated, dryRun: dry.dryRun }, { ...expected, dryRun: true })
    assert.ok(fs.existsSync(path.join(sb.root, 'Programs/Hello/1.0/bin/hello')))
    const gc = ok(run('gc')).result
    assert.deepEqual({ programs: gc.programs, blobs: gc.blobs, bytes: gc.bytes, truncated: gc.truncated, dryRun: gc.dryRun }, { ...expected, dryRun: false })
    assert.equal(typeof gc.durationMs, 'number')
    assert.match(gc.transaction, /^\S+$/)
    assert.ok(!fs.existsSync(path.join(sb.root, 'Programs/Hello/1.0')))
    assert.deepEqual(fs.readdirSync(path.join(sb.root, 'var/nip/trash')), [])
    const nothing = ok(run('gc')).result
    assert.deepEqual([nothing.programs, nothing.blobs, nothing.bytes], [[], 0, 0])
    assert.equal(ok(run('unpin', 'Hello@1.0'), 3).error.code, 'ERR_NIP_NOT_INSTALLED')
  })

  it('verify: an edited Settings file is MODIFIED, a deleted file MISSING (exit 1), --repair restores it', () => {
    const clean = ok(run('verify')).result
    assert.deepEqual(clean.programs.map((p: { name: string; state: string }) => `${p.name}:${p.state}`), ['Hello:VERIFIED', 'LibGreet:VERIFIED'])
    assert.equal(clean.ok, true)
    fs.writeFileSync(path.join(sb.root, 'Programs/Hello/Settings/hello.conf'), 'greeting=bonjour\n')
    const mod = ok(run('verify', 'Hello')).result
    assert.deepEqual(
      mod.programs.map((p: { name: string; version: string; state: string; problems: unknown[] }) => [p.name, p.version, p.state, p.problems]),
      [['Hello', '2.0', 'MODIFIED', [{ path: 'Programs/Hello/Settings/hello.conf', problem: 'modified' }]]],
    )
    assert.equal(mod.ok, true)
    const lib = path.join(sb.root, 'Programs/LibGreet/1.0/lib/libgreet.so')
    fs.rmSync(lib)
    const missing = ok(run('verify', 'LibGreet'), 1).result
    assert.deepEqual(
      missing.programs.map((p: { state: string; problems: unknown[] }) => [p.state, p.problems]),
      [['MISSING', [{ path: 'Programs/LibGreet/1.0/lib/libgreet.so', problem: 'missing' }]]],
    )
    assert.equal(missing.ok, false)
    const listed = ok(run('list', 'LibGreet')).result
    assert.deepEqual([listed[0].integrity, typeof listed[0].verifiedAt], ['MISSING', 'string'])
    const fixed = ok(run('verify', '--repair')).result
    assert.deepEqual(
      fixed.programs.map((p: { name: string; state: string; repairedState?: string }) => [p.name, p.state, p.repairedState]),
      [
        ['Hello', 'MODIFIED', undefined],
        ['LibGreet', 'MISSING', 'VERIFIED'],
      ],
    )
    assert.equal(fixed.ok, true)
    assert.equal(fs.readFileSync(lib, 'utf8'), LIB)
    // the user's edit is never "repaired"
    assert.equal(fs.readFileSync(path.join(sb.root, 'Programs/Hello/Settings/hello.conf'), 'utf8'), 'greeting=bonjour\n')
    assert.equal(ok(run('list', 'LibGreet')).result[0].integrity, 'VERIFIED')
  })

  it('autoremove --dry-run shows the orphaned dependency, autoremove removes it as a new generation', () => {
    assert.deepEqual(ok(run('autoremove', '--dry-run')).result, { dryRun: true, plan: [], removed: [] })
    ok(run('remove', 'Hello'))
    const dry = ok(run('autoremove', '--dry-run'))
    assert.deepEqual(dry, { ok: true, command: 'autoremove', result: { dryRun: true, plan: [{ name: 'LibGreet', version: '1.0' }], removed: [] } })
    assert.equal(current('LibGreet'), '1.0')
    const r = ok(run('autoremove')).result
    assert.deepEqual([r.dryRun, r.plan, r.removed], [false, [{ name: 'LibGreet', version: '1.0' }], [{ name: 'LibGreet', version: '1.0' }]])
    assert.equal(current('LibGreet'), null)
    assert.deepEqual(ok(run('list')).result, [])
    assert.deepEqual(
      (ok(run('list', '--all')).result as { name: string; version: string; active: boolean }[]).map((p) => `${p.name}@${p.version}:${p.active}`),
      ['Hello@2.0:false', 'LibGreet@1.0:false'],
    )
    const last = gens().at(-1)
    assert.deepEqual([last?.id, last?.kind, last?.changes], [9, 'autoremove', [{ name: 'LibGreet', version: '1.0', before: 'current', after: 'absent' }]])
    // and it can be rolled back like any other generation
    ok(run('rollback'))
    assert.equal(current('LibGreet'), '1.0')
  })

  it('doctor --full re-hashes every blob; a damaged one makes it exit 1', () => {
    const report = ok(run('doctor', '--full')).result
    const blob = report.findings.find((f: { check: string }) => f.check === 'blob-hash')
    assert.deepEqual([report.healthy, blob.severity], [true, 'ok'])
    assert.match(blob.message, /^\d+ blob\(s\) re-hashed \(all\): all match\.$/)
    const sample = ok(run('doctor')).result.findings.find((f: { check: string }) => f.check === 'blob-hash')
    assert.match(sample.message, /\(a sample; --full re-hashes all\)/)
    const lib = path.join(sb.root, 'Programs/LibGreet/1.0/lib/libgreet.so')
    fs.chmodSync(lib, 0o644)
    fs.writeFileSync(lib, 'damaged\n')
    const bad = ok(run('doctor', '--full'), 1).result
    assert.deepEqual([bad.healthy, bad.findings.find((f: { check: string }) => f.check === 'blob-hash').severity], [false, 'error'])
  })
})
