/**
 * Crash consistency: a nip process is killed with SIGKILL at each named step of install,
 * remove and switch (NIP_CRASH_AT), then the next nip run must leave the store consistent:
 * every program in the DB has its full tree, no staging directory shows as a program, links
 * match the DB, blob reference counts match. Before the point of no return ("registered") the
 * transaction is rolled back; after it, rolled forward.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { MemoryAdapter, openNip, tempRoot, checkConsistency } from '@nip/testing'
import { blake3Hex } from '@nip/cas'
// @ts-expect-error plain ESM fixture without types
import { packages } from './fixtures/crashPackages.mjs'

function casParts(content: string, exec: boolean): string[] {
  const key = blake3Hex(Buffer.from(content)) + (exec ? '-x' : '')
  return [key.slice(0, 2), key]
}

const runner = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'crashRunner.mjs')

function runKilled(root: string, step: string, args: string[]): { signal: NodeJS.Signals | null; status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [runner, root, ...args], { env: { ...process.env, NIP_CRASH_AT: step }, encoding: 'utf8' })
  return { signal: r.signal, status: r.status, stderr: r.stderr }
}

async function state(root: string) {
  const { nip } = await openNip(root, [new MemoryAdapter(packages())])
  try {
    return {
      programs: nip.list({ all: true }).map((p) => `${p.name}@${p.version}${p.current ? '*' : ''}`),
      active: nip.list().filter((p) => p.active).map((p) => `${p.name}@${p.version}`),
      execs: fs.existsSync(path.join(root, 'System/Links/Executables')) ? fs.readdirSync(path.join(root, 'System/Links/Executables')).sort() : [],
      interrupted: nip.status().interruptedTransactions.length,
      generations: nip.generations().map((g) => g.id),
    }
  } finally {
    nip.close()
  }
}

/** The next writer recovers; afterwards the store must be consistent. */
async function recoverAndCheck(root: string) {
  const { nip } = await openNip(root, [new MemoryAdapter(packages())])
  try {
    await nip.doctor({ fix: true })
    const c = await checkConsistency(nip)
    assert.deepEqual(c.problems, [], `inconsistent after recovery: ${c.problems.join('\n')}`)
    assert.equal(nip.status().interruptedTransactions.length, 0)
  } finally {
    nip.close()
  }
}

const RECONCILE = ['reconcile:unlinking', 'reconcile:unlinked', 'reconcile:current-temp', 'reconcile:current', 'reconcile:linking', 'reconcile:linked']

describe('crash consistency (SIGKILL at each named step)', function () {
  this.timeout(120000)

  const fresh = ['install:journal', 'install:fetched', 'install:staged', 'install:renamed']
  for (const step of [...fresh, 'install:registered', 'reconcile:current', 'reconcile:linking', 'reconcile:linked']) {
    it(`install into an empty root, killed at ${step}`, async () => {
      const root = await tempRoot()
      try {
        const r = runKilled(root, step, ['install', 'hello@2.0'])
        assert.equal(r.signal, 'SIGKILL', `not killed at ${step}: ${r.stderr}`)
        const before = await state(root)
        assert.equal(before.interrupted, 1)
        await recoverAndCheck(root)
        const after = await state(root)
        if (fresh.includes(step)) {
          assert.deepEqual(after.programs, [])
          assert.deepEqual(after.execs, [])
        } else {
          assert.deepEqual(after.programs, ['hello@2.0*', 'libgreet@1.0*'])
          assert.deepEqual(after.execs, ['hello', 'hello-new'])
          assert.equal(fs.readFileSync(path.join(root, 'System/Links/Executables/hello'), 'utf8'), '#!/bin/sh\necho 2.0\n')
        }
      } finally {
        fs.rmSync(root, { recursive: true, force: true })
      }
    })
  }

  for (const step of ['install:fetched', 'install:renamed', 'install:registered', ...RECONCILE]) {
    it(`upgrade 1.0 → 2.0, killed at ${step}`, async () => {
      const root = await tempRoot()
      try {
        assert.equal(runKilled(root, 'none', ['install', 'hello@1.0']).status, 0)
        const r = runKilled(root, step, ['install', 'hello@2.0'])
        assert.equal(r.signal, 'SIGKILL', `not killed at ${step}: ${r.stderr}`)
        await recoverAndCheck(root)
        const after = await state(root)
        if (step === 'install:fetched' || step === 'install:renamed') {
          assert.deepEqual(after.programs, ['hello@1.0*', 'libgreet@1.0*'])
          assert.deepEqual(after.execs, ['hello', 'hello-old'])
        } else {
          assert.deepEqual(after.programs, ['hello@1.0', 'hello@2.0*', 'libgreet@1.0*'])
          assert.deepEqual(after.execs, ['hello', 'hello-new'])
        }
      } finally {
        fs.rmSync(root, { recursive: true, force: true })
      }
    })
  }

  for (const step of ['remove:journal', 'remove:registered', 'reconcile:unlinking', 'reconcile:unlinked']) {
    it(`remove, killed at ${step}`, async () => {
      const root = await tempRoot()
      try {
        assert.equal(runKilled(root, 'none', ['install', 'hello@2.0']).status, 0)
        const r = runKilled(root, step, ['remove', 'hello'])
        assert.equal(r.signal, 'SIGKILL', `not killed at ${step}: ${r.stderr}`)
        await recoverAndCheck(root)
        const after = await state(root)
        if (step === 'remove:journal') {
          assert.deepEqual(after.programs, ['hello@2.0*', 'libgreet@1.0*'])
          assert.deepEqual(after.execs, ['hello', 'hello-new'])
        } else {
          // removed from the current generation; the tree stays until gc finds it unreferenced
          assert.deepEqual(after.programs, ['hello@2.0', 'libgreet@1.0*'])
          assert.deepEqual(after.active, ['libgreet@1.0'])
          assert.deepEqual(after.execs, [])
          assert.ok(fs.existsSync(path.join(root, 'Programs/hello/2.0')))
          assert.equal(runKilled(root, 'none', ['generations-delete', '1']).status, 0)
          assert.equal(runKilled(root, 'none', ['gc']).status, 0)
          assert.ok(!fs.existsSync(path.join(root, 'Programs/hello/2.0')))
          assert.deepEqual((await state(root)).programs, ['libgreet@1.0*'])
        }
      } finally {
        fs.rmSync(root, { recursive: true, force: true })
      }
    })
  }

  for (const step of ['switch:journal', 'switch:registered', ...RECONCILE]) {
    it(`switch 2.0 → 1.0, killed at ${step}`, async () => {
      const root = await tempRoot()
      try {
        assert.equal(runKilled(root, 'none', ['install', 'hello@1.0']).status, 0)
        assert.equal(runKilled(root, 'none', ['install', 'hello@2.0']).status, 0)
        const r = runKilled(root, step, ['switch', 'hello', '1.0'])
        assert.equal(r.signal, 'SIGKILL', `not killed at ${step}: ${r.stderr}`)
        await recoverAndCheck(root)
        const after = await state(root)
        if (step === 'switch:journal') assert.deepEqual(after.execs, ['hello', 'hello-new'])
        else assert.deepEqual(after.execs, ['hello', 'hello-old'])
        assert.equal(fs.readlinkSync(path.join(root, 'Programs/hello/Current')), step === 'switch:journal' ? '2.0' : '1.0')
      } finally {
        fs.rmSync(root, { recursive: true, force: true })
      }
    })
  }

  // install 1.0 (g1), install 2.0 (g2): rollback returns to g1's set.
  for (const step of ['rollback:journal', 'rollback:registered', ...RECONCILE]) {
    it(`rollback 2.0 → 1.0, killed at ${step}`, async () => {
      const root = await tempRoot()
      try {
        assert.equal(runKilled(root, 'none', ['install', 'hello@1.0']).status, 0)
        assert.equal(runKilled(root, 'none', ['install', 'hello@2.0']).status, 0)
        const r = runKilled(root, step, ['rollback'])
        assert.equal(r.signal, 'SIGKILL', `not killed at ${step}: ${r.stderr}`)
        await recoverAndCheck(root)
        const after = await state(root)
        const back = step !== 'rollback:journal'
        assert.deepEqual(after.execs, back ? ['hello', 'hello-old'] : ['hello', 'hello-new'])
        assert.equal(fs.readlinkSync(path.join(root, 'Programs/hello/Current')), back ? '1.0' : '2.0')
        assert.deepEqual(after.active, back ? ['hello@1.0', 'libgreet@1.0'] : ['hello@1.0', 'hello@2.0', 'libgreet@1.0'])
        assert.deepEqual(after.generations, back ? [0, 1, 2, 3] : [0, 1, 2])
        // nothing a kept generation references was deleted
        assert.ok(fs.existsSync(path.join(root, 'Programs/hello/2.0/bin/hello-new')))
      } finally {
        fs.rmSync(root, { recursive: true, force: true })
      }
    })
  }

  for (const step of ['generations-delete:selected', 'generations-delete:committed']) {
    it(`generations delete, killed at ${step}`, async () => {
      const root = await tempRoot()
      try {
        assert.equal(runKilled(root, 'none', ['install', 'hello@2.0']).status, 0)
        assert.equal(runKilled(root, 'none', ['remove', 'hello']).status, 0)
        const r = runKilled(root, step, ['generations-delete', '1'])
        assert.equal(r.signal, 'SIGKILL', `not killed at ${step}: ${r.stderr}`)
        await recoverAndCheck(root)
        const after = await state(root)
        assert.deepEqual(after.generations, step === 'generations-delete:selected' ? [0, 1, 2] : [0, 2])
        assert.ok(fs.existsSync(path.join(root, 'Programs/hello/2.0/bin/hello-new')))
      } finally {
        fs.rmSync(root, { recursive: true, force: true })
      }
    })
  }

  for (const step of ['gc:journal', 'gc:registered', 'gc:trashed', 'gc:blobs']) {
    it(`gc of a removed version, killed at ${step}`, async () => {
      const root = await tempRoot()
      try {
        assert.equal(runKilled(root, 'none', ['install', 'hello@1.0']).status, 0)
        assert.equal(runKilled(root, 'none', ['install', 'hello@2.0']).status, 0)
        assert.equal(runKilled(root, 'none', ['remove', 'hello@1.0']).status, 0)
        assert.equal(runKilled(root, 'none', ['generations-delete', '1']).status, 0)
        const r = runKilled(root, step, ['gc'])
        assert.equal(r.signal, 'SIGKILL', `not killed at ${step}: ${r.stderr}`)
        await recoverAndCheck(root)
        const rolledBack = step === 'gc:journal'
        let after = await state(root)
        assert.deepEqual(after.programs, rolledBack ? ['hello@1.0', 'hello@2.0*', 'libgreet@1.0*'] : ['hello@2.0*', 'libgreet@1.0*'])
        assert.equal(fs.existsSync(path.join(root, 'Programs/hello/1.0')), rolledBack)
        // what is referenced is intact; the next gc finishes the job
        assert.equal(fs.readFileSync(path.join(root, 'System/Links/Executables/hello'), 'utf8'), '#!/bin/sh\necho 2.0\n')
        assert.equal(runKilled(root, 'none', ['gc']).status, 0)
        after = await state(root)
        assert.deepEqual(after.programs, ['hello@2.0*', 'libgreet@1.0*'])
        assert.ok(!fs.existsSync(path.join(root, 'var/nip/cas', ...casParts('old\n', true))))
        assert.ok(fs.existsSync(path.join(root, 'var/nip/cas', ...casParts('new\n', true))))
        await recoverAndCheck(root)
      } finally {
        fs.rmSync(root, { recursive: true, force: true })
      }
    })
  }

  it('a stale lock left by a killed nip is recognised and replaced', async () => {
    const root = await tempRoot()
    try {
      runKilled(root, 'install:fetched', ['install', 'hello@2.0'])
      // the killed process never released its lock
      assert.ok(fs.existsSync(path.join(root, 'var/nip/lock')))
      const { nip } = await openNip(root, [new MemoryAdapter(packages())])
      try {
        const report = await nip.doctor()
        const lock = report.findings.find((f) => f.check === 'stale-lock')
        assert.equal(lock?.severity, 'error')
        assert.equal(report.healthy, false)
        const r = await nip.install(['hello@1.0'])
        assert.deepEqual(r.grafted.map((g) => g.version), ['1.0', '1.0'].slice(0, r.grafted.length))
        assert.ok(!fs.existsSync(path.join(root, 'var/nip/lock')))
      } finally {
        nip.close()
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  })
})

describe('crash consistency of a program unpacked in place', function () {
  this.timeout(120000)
  // "bulk" (tar source) has its files created in its staging directory while it is unpacked.
  for (const step of ['install:fetched', 'install:staged', 'install:renamed', 'install:registered', 'reconcile:linked']) {
    it(`killed at ${step}: ${step === 'install:registered' || step === 'reconcile:linked' ? 'rolled forward' : 'nothing of it is left'}`, async () => {
      const root = await tempRoot()
      try {
        const r = runKilled(root, step, ['install', 'bulk'])
        assert.equal(r.signal, 'SIGKILL', `not killed at ${step}: ${r.stderr}`)
        if (step === 'install:fetched') {
          // Killed before staging: the files there were created by unpacking.
          const staging = fs.readdirSync(path.join(root, 'Programs/bulk')).filter((n) => n.startsWith('.1.0.tmp-'))
          assert.equal(staging.length, 1)
          assert.equal(fs.readFileSync(path.join(root, 'Programs/bulk', staging[0], 'share/bulk/d3/f3'), 'utf8'), 'file 3\n')
        }
        await recoverAndCheck(root)
        const after = await state(root)
        const programs = fs.existsSync(path.join(root, 'Programs')) ? fs.readdirSync(path.join(root, 'Programs')) : []
        if (step === 'install:registered' || step === 'reconcile:linked') {
          assert.deepEqual(after.programs, ['bulk@1.0*'])
          const tree = path.join(root, 'Programs/bulk/1.0')
          assert.deepEqual(fs.readdirSync(path.join(root, 'Programs/bulk')).sort(), ['1.0', 'Current'])
          assert.equal(fs.readFileSync(path.join(root, 'System/Links/Executables/bulk'), 'utf8'), '#!/bin/sh\necho bulk\n')
          assert.equal(fs.readFileSync(path.join(tree, 'share/bulk/d3/f507'), 'utf8'), 'file 7\n')
          // Every file of the tree is its blob's inode.
          for (const f of ['bin/bulk', 'share/bulk/d3/f507', 'share/bulk/d0/f0']) {
            const key = blake3Hex(fs.readFileSync(path.join(tree, f))) + (f.startsWith('bin/') ? '-x' : '')
            assert.equal(fs.statSync(path.join(tree, f)).ino, fs.statSync(path.join(root, 'var/nip/cas', key.slice(0, 2), key)).ino, f)
          }
        } else {
          assert.deepEqual(after.programs, [])
          assert.deepEqual(programs, [])
        }
      } finally {
        fs.rmSync(root, { recursive: true, force: true })
      }
    })
  }
})
