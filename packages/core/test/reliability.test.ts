/**
 * Reliability under faults: nip processes killed at random points, several writers and readers
 * at once in one root, and a full disk. After each, the store must be consistent (DB ≡ trees ≡
 * links ≡ refcounts, no staging visible) and nip must keep working.
 * NIP_LONG_TESTS=1 runs the long version (200 random kills).
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { MemoryAdapter, TarAdapter, buildTar, openNip, tempRoot, checkConsistency } from '@nip/testing'
import { NipError } from '@nip/core'
// @ts-expect-error plain ESM fixture without types
import { packages } from './fixtures/crashPackages.mjs'

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures')
const runner = path.join(fixtures, 'opRunner.mjs')
const LONG = process.env.NIP_LONG_TESTS === '1'

interface OpResult {
  op: string
  ok: boolean
  code?: string
  waited?: boolean
}

function runOps(root: string, ops: string[], env: Record<string, string> = {}): { results: OpResult[]; signal: NodeJS.Signals | null; status: number | null } {
  const r = spawnSync(process.execPath, [runner, root, ...ops], { env: { ...process.env, ...env }, encoding: 'utf8' })
  const results = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as OpResult)
  return { results, signal: r.signal, status: r.status }
}

async function assertConsistent(root: string, label: string): Promise<void> {
  const { nip } = await openNip(root, [new MemoryAdapter(packages())])
  try {
    await nip.doctor({ fix: true }) // the next writer recovers whatever was interrupted
    const c = await checkConsistency(nip)
    assert.deepEqual(c.problems, [], `${label}: ${c.problems.join('\n')}`)
    // every program nip lists has its full tree and every link of the current version resolves
    for (const p of nip.list().filter((x) => x.current)) {
      for (const l of fs.readdirSync(path.join(root, 'System/Links/Executables'))) assert.ok(fs.existsSync(path.join(root, 'System/Links/Executables', l)), `${label}: dangling ${l}`)
      assert.ok(fs.existsSync(path.join(root, 'Programs', p.name, p.version)))
    }
  } finally {
    nip.close()
  }
}

describe('reliability', function () {
  this.timeout(600000)

  it(`survives ${LONG ? 200 : 12} kills at random points of install, upgrade, switch and remove`, async () => {
    const trials = LONG ? 200 : 12
    const sequence = ['install hello@1.0', 'install hello@2.0', 'switch hello 1.0', 'switch hello 2.0', 'remove hello', 'install hello@2.0', 'remove libgreet']
    let killed = 0
    for (let t = 0; t < trials; t++) {
      const root = await tempRoot('nip-kill-')
      try {
        // p ≈ 1/25: most runs die somewhere in the sequence, at a different step each seed
        const r = runOps(root, sequence, { NIP_CRASH_AT: `random:${t + 1}:0.04` })
        if (r.signal === 'SIGKILL') killed++
        else assert.equal(r.status, 0, `trial ${t}: ${JSON.stringify(r.results)}`)
        await assertConsistent(root, `trial ${t} (seed ${t + 1})`)
        // and nip still works afterwards
        const after = runOps(root, ['install hello@2.0', 'switch hello 2.0'])
        assert.ok(after.results.every((x) => x.ok || x.code === 'ERR_NIP_ALREADY_INSTALLED'), JSON.stringify(after.results))
        await assertConsistent(root, `trial ${t} after`)
      } finally {
        fs.rmSync(root, { recursive: true, force: true })
      }
    }
    assert.ok(killed >= trials / 2, `only ${killed} of ${trials} trials were killed: the random crash points do not fire`)
  })

  it('four writers and a reader at once: all finish or fail cleanly, waiters say who holds the lock', async () => {
    const root = await tempRoot('nip-conc-')
    try {
      const scripts = [
        ['install hello@1.0', 'install hello@2.0', 'switch hello 1.0'],
        ['install libgreet', 'remove hello', 'install hello@2.0'],
        ['install hello@2.0', 'switch hello 2.0', 'remove hello'],
        ['install hello@1.0', 'remove libgreet', 'install libgreet'],
      ]
      const procs = scripts.map(
        (ops) =>
          new Promise<OpResult[]>((resolve, reject) => {
            const p = spawn(process.execPath, [runner, root, ...ops], { stdio: ['ignore', 'pipe', 'pipe'] })
            let out = ''
            p.stdout.on('data', (d) => (out += d))
            p.on('error', reject)
            p.on('close', (code) => (code === 0 ? resolve(out.split('\n').filter(Boolean).map((l) => JSON.parse(l))) : reject(new Error(`exit ${code}: ${out}`))))
          }),
      )
      // A reader polls while the writers run: it must never wait for the lock.
      const readerTimes: number[] = []
      let done = false
      const reader = (async () => {
        while (!done) {
          const { nip } = await openNip(root, [new MemoryAdapter(packages())])
          const t0 = performance.now()
          try {
            nip.list()
            nip.status()
          } finally {
            nip.close()
          }
          readerTimes.push(performance.now() - t0)
          await new Promise((r) => setTimeout(r, 20))
        }
      })()
      const results = (await Promise.all(procs)).flat()
      done = true
      await reader
      for (const r of results) assert.ok(r.ok || (r.code && r.code.startsWith('ERR_NIP_')), `unclean: ${JSON.stringify(r)}`)
      assert.ok(results.filter((r) => r.ok).length >= 6, JSON.stringify(results))
      assert.ok(results.some((r) => r.waited), 'some writer had to wait and said who held the lock')
      assert.ok(readerTimes.length > 3)
      await assertConsistent(root, 'after concurrent writers')
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  })

  it('a full disk fails with ERR_NIP_NO_SPACE, undoes the transaction, and nip works again once space is freed', async function () {
    if (process.getuid?.() !== 0) {
      console.log('      (skipped: mounting a small tmpfs needs root)')
      this.skip()
    }
    const root = await tempRoot('nip-full-')
    try {
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', root])
      } catch {
        console.log('      (skipped: cannot mount a tmpfs here)')
        this.skip()
      }
      const small = await buildTar([{ path: 'bin/small', content: 'small\n', mode: 0o755 }], { compression: 'gzip' })
      const big = await buildTar(
        Array.from({ length: 8 }, (_, i) => ({ path: `share/big/${i}`, content: Buffer.alloc(1024 * 1024, i + 1) })),
        { compression: 'gzip' },
      )
      const source = new TarAdapter([
        { name: 'small', version: '1', archive: small },
        { name: 'big', version: '1', archive: big },
      ])
      const { nip } = await openNip(root, [source])
      try {
        await nip.install(['small'])
        await assert.rejects(nip.install(['big']), (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_NO_SPACE' && /no space left/i.test(e.message))
        assert.deepEqual(nip.list().map((p) => p.name), ['small'])
        assert.deepEqual((await checkConsistency(nip)).problems, [])
        // free space: drop the blobs the failed transaction left (nothing references them), then retry smaller
        for (const f of fs.readdirSync(path.join(root, 'var/nip/cas/tmp'))) fs.rmSync(path.join(root, 'var/nip/cas/tmp', f), { force: true })
        await nip.remove(['small'])
        const r = await nip.install(['small'])
        assert.equal(r.grafted.length, 1)
        assert.deepEqual((await checkConsistency(nip)).problems, [])
      } finally {
        nip.close()
      }
    } finally {
      try {
        execFileSync('umount', [root])
      } catch {
        /* not mounted */
      }
      fs.rmSync(root, { recursive: true, force: true })
    }
  })
})
