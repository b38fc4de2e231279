/**
 * update, outdated and upgrade through the executable (`--json` envelopes, human output), with a
 * local Gobo repository whose Hello goes from 1.0 to 2.0.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { buildTar } from '@nip/testing'
import { sandbox, type NipRun, type Sandbox } from './helpers.js'

async function goboPackage(name: string, version: string, files: Record<string, string>): Promise<Buffer> {
  const dirs = new Set<string>([`${name}/`, `${name}/${version}/`])
  const entries: { path: string; content: string; mode: number }[] = []
  for (const [p, content] of Object.entries(files)) {
    const parts = p.split('/')
    for (let i = 1; i < parts.length; i++) dirs.add(`${name}/${version}/${parts.slice(0, i).join('/')}/`)
    entries.push({ path: `${name}/${version}/${p}`, content, mode: p.startsWith('bin/') ? 0o755 : 0o644 })
  }
  return buildTar([...[...dirs].sort().map((d) => ({ path: d, type: 'dir' as const })), ...entries], { compression: 'gzip' })
}

describe('nip update, outdated and upgrade (executable, Gobo repository)', function () {
  this.timeout(120_000)
  let sb: Sandbox
  let repo: string
  const run = (...args: string[]): NipRun => sb.nip([...args, '--root', sb.root])
  const ok = (r: NipRun, status = 0) => {
    assert.equal(r.status, status, r.stdout + r.stderr)
    return sb.json(r)
  }

  before(async () => {
    sb = sandbox()
    repo = path.join(sb.home, 'repo')
    fs.mkdirSync(repo)
    const deps = 'LibGreet >= 1.0\n'
    fs.writeFileSync(path.join(repo, 'Hello--1.0--noarch.tar.gz'), await goboPackage('Hello', '1.0', { 'bin/hello': '#!/bin/sh\necho 1.0\n', 'Resources/Dependencies': deps }))
    fs.writeFileSync(path.join(repo, 'LibGreet--1.0--noarch.tar.gz'), await goboPackage('LibGreet', '1.0', { 'lib/libgreet.so': 'lib\n', 'Resources/Dependencies': '' }))
    fs.mkdirSync(path.join(sb.root, 'etc', 'nip'), { recursive: true })
    fs.writeFileSync(path.join(sb.root, 'etc', 'nip', 'nip.conf'), `[gobo]\nrepositories = [${JSON.stringify(repo)}]\n`)
  })
  after(() => sb.cleanup())

  it('outdated lists Hello once 2.0 appears, upgrade --dry-run marks it, upgrade grafts it in one generation', async () => {
    ok(run('install', 'gobo:Hello', '--yes', '--json'))
    assert.deepEqual(ok(run('outdated', '--json')).result, { programs: [] })
    assert.equal(run('outdated').stdout.trim(), 'Every program is up to date.')
    fs.writeFileSync(path.join(repo, 'Hello--2.0--noarch.tar.gz'), await goboPackage('Hello', '2.0', { 'bin/hello': '#!/bin/sh\necho 2.0\n', 'Resources/Dependencies': 'LibGreet >= 1.0\n' }))

    const outdated = ok(run('outdated', '--json')).result as { programs: { name: string; installed: string; available: string; source: string; status: string; explicit: boolean }[] }
    assert.deepEqual(outdated.programs.map((p) => [p.name, p.installed, p.available, p.source, p.status, p.explicit]), [['Hello', '1.0', '2.0', 'gobo', 'upgrade', true]])
    assert.match(run('outdated', '--no-color').stdout, /^Hello\s+1\.0\s+2\.0\s+gobo\s+upgrade$/m)
    const all = ok(run('outdated', '--all', '--json')).result as { programs: { name: string; status: string }[] }
    assert.deepEqual(all.programs.map((p) => `${p.name} ${p.status}`), ['Hello upgrade', 'LibGreet up-to-date'])

    const dry = ok(run('upgrade', '--dry-run', '--json')).result as { dryRun: boolean; plan: { programs: { name: string; version: string; change: string; from?: { version: string } }[] } }
    assert.equal(dry.dryRun, true)
    assert.deepEqual(dry.plan.programs.map((p) => [p.name, p.version, p.change, p.from?.version]), [['Hello', '2.0', 'upgrade', '1.0']])
    assert.match(run('upgrade', '--dry-run', '--no-color').stdout, /^Hello\s+2\.0\s+gobo\s+requested\s+upgrade from 1\.0\s/m)
    assert.equal(fs.readlinkSync(path.join(sb.root, 'Programs', 'Hello', 'Current')), '1.0')

    const generations = (ok(run('generations', '--json')).result as unknown[]).length
    const up = ok(run('upgrade', '--yes', '--json'))
    assert.equal(up.command, 'upgrade')
    assert.deepEqual((up.result.grafted as { name: string; version: string }[]).map((p) => `${p.name} ${p.version}`), ['Hello 2.0'])
    assert.deepEqual((up.result.held as { name: string; reason: string }[]).map((h) => `${h.name} ${h.reason}`), ['LibGreet up-to-date'])
    const gens = ok(run('generations', '--json')).result as { kind: string }[]
    assert.equal(gens.length, generations + 1)
    assert.equal(gens.at(-1)!.kind, 'upgrade')
    assert.equal(fs.readlinkSync(path.join(sb.root, 'Programs', 'Hello', 'Current')), '2.0')
    assert.equal(fs.readFileSync(path.join(sb.root, 'System/Links/Executables/hello'), 'utf8'), '#!/bin/sh\necho 2.0\n')
    assert.deepEqual(ok(run('outdated', '--json')).result, { programs: [] })
    // Switched back by hand: upgrade does not graft 2.0 again, it says how to switch.
    ok(run('switch', 'Hello', '1.0', '--json'))
    const held = ok(run('upgrade', '--yes', '--json')).result as { grafted: unknown[]; held: { name: string; reason: string; message?: string }[]; plan: { warnings: string[] } }
    assert.deepEqual(held.grafted, [])
    assert.deepEqual(held.held.filter((h) => h.name === 'Hello').map((h) => [h.reason, h.message]), [['grafted-not-current', 'held: Current is 1.0, newest grafted 2.0 — nip switch Hello 2.0']])
    assert.match(run('upgrade', '--yes', '--no-color').stdout + run('upgrade', '--yes', '--no-color').stderr, /Hello: held: Current is 1\.0, newest grafted 2\.0 — nip switch Hello 2\.0/)
    assert.equal(fs.readlinkSync(path.join(sb.root, 'Programs', 'Hello', 'Current')), '1.0')
  })

  it('update reports per source; search ranks the exact name first and marks what is installed', () => {
    const u = ok(run('update', '--source', 'gobo', '--json')).result as { ok: boolean; sources: { source: string; status: string }[] }
    assert.deepEqual(u, { sources: [{ source: 'gobo', status: 'not-supported', detail: 'no local index: its metadata is read when a command needs it' }], ok: true })
    assert.match(run('update', '--source', 'gobo', '--no-color').stdout, /^gobo\s+not-supported\s+no local index/m)
    const hits = ok(run('search', 'hello', '--source', 'gobo', '--json')).result as { ref: { name: string; version: string }; installed?: { version: string } }[]
    // Current is 1.0 (switched back above): the 2.0 hit names the version that is installed.
    assert.deepEqual([hits[0]!.ref.name, hits[0]!.ref.version], ['Hello', '2.0'])
    assert.deepEqual(hits[0]!.installed, { version: '1.0', source: 'gobo' })
    assert.match(run('search', 'hello', '--source', 'gobo', '--no-color').stdout, /^Hello\s+2\.0\s+gobo\s+\[installed: 1\.0 gobo\]/m)
  })
})
