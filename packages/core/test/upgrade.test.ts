/**
 * What a plan does to Current (classifyPlan), nip outdated / nip upgrade, and the ranking of
 * search hits, with two in-memory sources: alpha (asked first) and beta.
 */
import { strict as assert } from 'node:assert'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { isNipError, type SearchHit } from '@nip/core'
import { rankSearchHits } from '../src/searchRank.js'
import { variantsOf } from '../src/upgrade.js'
import { MemoryAdapter, openNip, tempRoot, type MemoryPackage } from '@nip/testing'

const pkg = (name: string, version: string, dependencies: string[] = []): MemoryPackage => ({ name, version, files: { [`bin/${name}`]: `#!/bin/sh\necho ${name} ${version}\n` }, dependencies })

describe('plans and Current; outdated and upgrade (in-memory sources)', function () {
  this.timeout(30000)
  const roots: string[] = []
  after(() => {
    for (const r of roots) fs.rmSync(r, { recursive: true, force: true })
  })

  async function setup() {
    const parent = await tempRoot('nip-upgrade-')
    roots.push(parent)
    const root = path.join(parent, 'root')
    const alpha = new MemoryAdapter([pkg('tool', '1.0', ['lib >= 1.0']), pkg('tool', '0.9', ['lib >= 1.0']), pkg('lib', '1.0')], { id: 'alpha' })
    const beta = new MemoryAdapter([pkg('tool', '0.5'), pkg('tool', '3.0')], { id: 'beta' })
    beta.packages.splice(1) // beta offers tool 0.5 only, until a test adds more
    const { nip, reporter } = await openNip(root, [alpha, beta])
    return { parent, root, nip, reporter, alpha, beta }
  }

  it('marks new programs and dependencies; a lower version from another source is refused until both are said', async () => {
    const { nip } = await setup()
    try {
      const first = await nip.install(['tool'], {})
      assert.deepEqual(first.plan.programs.map((p) => `${p.name} ${p.change}`).sort(), ['lib new-dependency', 'tool install'])
      // Named source, but a lower version: still refused without --allow-downgrade.
      await assert.rejects(nip.install(['beta:tool'], {}), (e) => isNipError(e, 'ERR_NIP_CHANGE_REFUSED') && /tool: Current would move from 1\.0 \(alpha\) to 0\.5 \(beta\): another source \(alpha → beta\) and a lower version/.test((e as Error).message))
      const dry = await nip.install(['beta:tool'], { dryRun: true })
      assert.deepEqual(dry.plan.programs.map((p) => [p.change, p.sourceChange, p.movesCurrent, p.from]), [['downgrade', true, true, { version: '1.0', source: 'alpha' }]])
      assert.match(dry.plan.warnings.join('\n'), /refused without being told to: tool/)
      const r = await nip.install(['beta:tool'], { allowDowngrade: true })
      assert.match(r.plan.warnings.join('\n'), /tool: Current moves from 1\.0 \(alpha\) to 0\.5 \(beta\) — from alpha to beta, a lower version/)
      assert.equal(nip.list().find((p) => p.name === 'tool' && p.current)?.version, '0.5')
    } finally {
      nip.close()
    }
  })

  it('an explicit @version says the downgrade; a pinned Current or --no-switch moves nothing, so nothing is refused', async () => {
    const { nip } = await setup()
    try {
      await nip.install(['tool'], {})
      const down = await nip.install(['tool@0.9'], {})
      assert.deepEqual(down.plan.programs.map((p) => `${p.name} ${p.change} ${p.movesCurrent}`), ['tool downgrade true'])
      assert.equal(nip.list().find((p) => p.name === 'tool' && p.current)?.version, '0.9')
      const beside = await nip.install(['beta:tool'], { noSwitch: true, dryRun: true })
      assert.deepEqual(beside.plan.programs.map((p) => `${p.change} ${p.movesCurrent}`), ['downgrade false'])
      assert.deepEqual(beside.plan.warnings, [])
      await nip.pin('tool')
      const pinned = await nip.install(['beta:tool'], {})
      assert.deepEqual(pinned.plan.programs.map((p) => `${p.change} ${p.movesCurrent}`), ['downgrade false'])
      assert.equal(nip.list().find((p) => p.name === 'tool' && p.current)?.version, '0.9')
    } finally {
      nip.close()
    }
  })

  it('outdated and upgrade: upgrades within each source, keeps dependencies dependencies, one generation', async () => {
    const { nip, alpha, beta, parent } = await setup()
    try {
      await nip.install(['tool'], {})
      assert.deepEqual((await nip.outdated()).programs.map((p) => `${p.name} ${p.status}`), ['lib up-to-date', 'tool up-to-date'])
      alpha.packages.push(pkg('tool', '2.0', ['lib >= 1.1']), pkg('lib', '1.1'))
      beta.packages.push(pkg('tool', '9.0')) // a higher version elsewhere is not taken without beta:tool
      assert.deepEqual((await nip.outdated()).programs.map((p) => `${p.name} ${p.installed}→${p.available} ${p.status}`), ['lib 1.0→1.1 upgrade', 'tool 1.0→2.0 upgrade'])
      const gens = nip.generations().length
      const r = await nip.upgrade([], {})
      assert.deepEqual(r.grafted.map((p) => `${p.name} ${p.version} ${p.source} explicit=${p.explicit}`).sort(), ['lib 1.1 alpha explicit=false', 'tool 2.0 alpha explicit=true'])
      assert.equal(nip.generations().length, gens + 1)
      assert.equal(nip.generations().at(-1)!.kind, 'upgrade')
      // Asked by name from beta: a change of source the user said, and the plan names it.
      const b = await nip.upgrade(['beta:tool'], { dryRun: true })
      assert.deepEqual(b.plan.programs.map((p) => `${p.name} ${p.version} ${p.change} ${p.sourceChange}`), ['tool 9.0 upgrade true'])
      assert.deepEqual(fs.readdirSync(parent), ['root'], 'nothing was written beside the root')
    } finally {
      nip.close()
    }
  })

  it('a Current switched away from a newer grafted version is held and listed, with the nip switch back', async () => {
    const { nip, alpha } = await setup()
    try {
      await nip.install(['tool'], {})
      alpha.packages.push(pkg('tool', '2.0', ['lib >= 1.0']))
      await nip.upgrade(['tool'], {})
      await nip.switch('tool', '1.0')
      const r = await nip.upgrade([], {})
      assert.deepEqual(r.grafted, [])
      assert.deepEqual(r.held.filter((h) => h.name === 'tool').map((h) => [h.reason, h.message]), [['grafted-not-current', 'held: Current is 1.0, newest grafted 2.0 — nip switch tool 2.0']])
      assert.ok(r.plan.warnings.includes('tool: held: Current is 1.0, newest grafted 2.0 — nip switch tool 2.0'), r.plan.warnings.join('\n'))
      // A newer version offered still leaves the user's choice alone, and says so.
      alpha.packages.push(pkg('tool', '3.0', ['lib >= 1.0']))
      const again = await nip.upgrade([], { dryRun: true })
      assert.deepEqual(again.plan.programs, [])
      assert.equal(again.held.find((h) => h.name === 'tool')?.message, 'held: Current is 1.0, newest grafted 2.0 — nip switch tool 2.0; its source offers 3.0 (nip upgrade tool@3.0)')
      // Named with its version, it upgrades.
      const named = await nip.upgrade(['tool@3.0'], { dryRun: true })
      assert.deepEqual(named.plan.programs.map((p) => `${p.name} ${p.version} ${p.change}`), ['tool 3.0 upgrade'])
      assert.equal(nip.list().find((p) => p.name === 'tool' && p.current)?.version, '1.0')
    } finally {
      nip.close()
    }
  })

  it('nip update takes the root\'s lock like other writers', async () => {
    const parent = await tempRoot('nip-update-lock-')
    roots.push(parent)
    const root = path.join(parent, 'root')
    let updated = false
    const alpha = new MemoryAdapter([pkg('tool', '1.0')], { id: 'alpha' })
    Object.assign(alpha, { update: async () => ((updated = true), { source: 'alpha', status: 'updated' }) })
    const { nip } = await openNip(root, [alpha], { lockTimeout: 0 })
    try {
      assert.equal((await nip.update()).ok, true)
      assert.equal(updated, true)
      assert.equal(fs.existsSync(path.join(root, 'var/nip/lock')), false, 'released after the update')
      // Another live nip holds the lock (this process's PID: alive): update waits, then gives up.
      updated = false
      fs.writeFileSync(path.join(root, 'var/nip/lock'), JSON.stringify({ pid: process.pid, host: os.hostname(), command: 'install tool', since: new Date().toISOString() }) + '\n')
      await assert.rejects(nip.update(), (e) => isNipError(e, 'ERR_NIP_LOCKED'))
      assert.equal(updated, false, 'no source was refreshed without the lock')
    } finally {
      nip.close()
    }
  })

  it('an upgrade keeps the variants a build was grafted with (recorded in its package id)', () => {
    assert.deepEqual(variantsOf('binpkg:app-misc/hello/hello-1.0-1.gpkg.tar@@http://binhost.invalid/amd64 +foo -bar video_cards=intel'), ['+foo', '-bar', 'video_cards=intel'])
    assert.deepEqual(variantsOf('binpkg:app-misc/hello/hello-1.0-2.gpkg.tar@@http://binhost.invalid/amd64'), [])
    assert.deepEqual(variantsOf('/home/someone/my file.deb'), [])
  })

  it('ranks search hits: exact name, then prefix, then the rest; marks what is Current', () => {
    const hit = (name: string, source = 'alpha', score = 0.5): SearchHit => ({ ref: { source, name, version: '1', id: `${source}/${name}` }, score })
    const ranked = rankSearchHits('jq', [hit('gojq', 'alpha', 0.9), hit('jqp'), hit('jq', 'beta', 0.1), hit('libjq1'), hit('jq-doc', 'alpha', 0.6)], [
      { name: 'jq', version: '1.6', source: 'beta', current: 1, active: 1 },
      { name: 'gojq', version: '0.1', source: 'alpha', current: 0, active: 1 },
    ])
    assert.deepEqual(ranked.map((h) => h.ref.name), ['jq', 'jq-doc', 'jqp', 'gojq', 'libjq1'])
    assert.deepEqual(ranked.map((h) => h.installed?.version ?? null), ['1.6', null, null, null, null])
  })
})
