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

  // Every operation that writes: install, upgrade, switch, rollback, remove, generations delete, gc;
  // and a folded link directory expanded and retired.
  const SEQUENCE = [
    'install hello@1.0',
    'install hello@2.0',
    // hello's share/hello is one folded link until hello-extras puts a file there (an expansion)
    'install hello-extras',
    'switch hello 1.0',
    'rollback',
    'switch hello 2.0',
    'remove hello-extras',
    'remove hello',
    'generations-delete 1',
    'gc',
    'install hello@2.0',
    'remove libgreet',
    'gc',
  ]

  /** One kill trial: run SEQUENCE under `env` (or killed from outside after `killAfterMs`), check, go on. */
  async function trial(label: string, opts: { env?: Record<string, string>; killAfterMs?: number }): Promise<boolean> {
    const root = await tempRoot('nip-kill-')
    try {
      let killed = false
      if (opts.killAfterMs === undefined) {
        const r = runOps(root, SEQUENCE, opts.env)
        killed = r.signal === 'SIGKILL'
        if (!killed) assert.equal(r.status, 0, `${label}: ${JSON.stringify(r.results)}`)
      } else {
        killed = await new Promise<boolean>((resolve, reject) => {
          const p = spawn(process.execPath, [runner, root, ...SEQUENCE], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NIP_RUNNER_READY: '1' } })
          let timer: NodeJS.Timeout | undefined
          let err = ''
          p.stderr.on('data', (d: Buffer) => {
            err += d.toString()
            if (timer === undefined && err.includes('ready\n')) timer = setTimeout(() => p.kill('SIGKILL'), opts.killAfterMs)
          })
          p.on('error', reject)
          p.on('close', (code, signal) => {
            clearTimeout(timer)
            if (signal === 'SIGKILL') resolve(true)
            else if (code === 0) resolve(false)
            else reject(new Error(`${label}: exit ${code}: ${err}`))
          })
        })
      }
      await assertConsistent(root, label)
      // and nip still works afterwards: every kind of write once more
      const after = runOps(root, ['install hello@2.0', 'switch hello 2.0', 'rollback', 'gc'])
      assert.ok(after.results.every((x) => x.ok || x.code === 'ERR_NIP_ALREADY_INSTALLED' || x.code === 'ERR_NIP_NO_GENERATION'), `${label}: ${JSON.stringify(after.results)}`)
      await assertConsistent(root, `${label}, after`)
      return killed
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  }

  it(`survives ${LONG ? 200 : 6} kills at random named steps of install, upgrade, switch, rollback, remove, generations delete and gc`, async () => {
    const trials = LONG ? 200 : 6
    let killed = 0
    // p ≈ 1/30 per step: most runs die somewhere in the sequence, at a different step each seed
    for (let t = 0; t < trials; t++) if (await trial(`named-step trial ${t} (seed ${t + 1})`, { env: { NIP_CRASH_AT: `random:${t + 1}:0.03` } })) killed++
    console.log(`      reliability figures: {"class":"kill at a random named step","trials":${trials},"killed":${killed},"consistent":${trials}}`)
    assert.ok(killed >= trials / 2, `only ${killed} of ${trials} trials were killed: the random crash points do not fire`)
  })

  it(`survives ${LONG ? 200 : 6} SIGKILLs sent from outside at random times (not only at named steps)`, async () => {
    const trials = LONG ? 200 : 6
    // How long the whole sequence takes here, uninterrupted; kill times are drawn over [0, that).
    // (from the moment the runner has loaded its modules to its exit)
    const probe = await tempRoot('nip-kill-span-')
    const span = await new Promise<number>((resolve, reject) => {
      const p = spawn(process.execPath, [runner, probe, ...SEQUENCE], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NIP_RUNNER_READY: '1' } })
      let t0 = 0
      let out = ''
      p.stdout.on('data', (d: Buffer) => (out += d.toString()))
      p.stderr.on('data', (d: Buffer) => {
        if (t0 === 0 && d.toString().includes('ready')) t0 = performance.now()
      })
      p.on('error', reject)
      p.on('close', (code) => {
        const results = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as OpResult)
        if (code !== 0 || !results.every((x) => x.ok)) reject(new Error(`uninterrupted run failed: ${out}`))
        else resolve(performance.now() - t0)
      })
    })
    fs.rmSync(probe, { recursive: true, force: true })
    let seed = 0x5eed
    const rnd = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return seed / 0x100000000
    }
    let killed = 0
    for (let t = 0; t < trials; t++) {
      const at = Math.floor(rnd() * span)
      if (await trial(`timed trial ${t} (kill after ${at} ms)`, { killAfterMs: at })) killed++
    }
    console.log(`      reliability figures: {"class":"SIGKILL at a random time","trials":${trials},"killed":${killed},"consistent":${trials},"spanMs":${Math.round(span)}}`)
    assert.ok(killed >= trials / 2, `only ${killed} of ${trials} trials were killed`)
  })

  it('four writers and a reader at once: all finish or fail cleanly, waiters say who holds the lock', async () => {
    const root = await tempRoot('nip-conc-')
    try {
      const scripts = [
        ['install hello@1.0', 'install hello@2.0', 'switch hello 1.0', 'gc'],
        ['install libgreet', 'remove hello', 'gc', 'install hello@2.0'],
        ['install hello@2.0', 'switch hello 2.0', 'rollback', 'remove hello'],
        ['gc', 'install hello@1.0', 'remove libgreet', 'generations-delete 2', 'gc', 'install libgreet'],
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
      assert.ok(results.filter((r) => r.ok).length >= 9, JSON.stringify(results))
      console.log(`      reliability figures: {"class":"4 concurrent writers + reader","operations":${results.length},"ok":${results.filter((r) => r.ok).length},"cleanErrors":${results.filter((r) => !r.ok).length},"readerPolls":${readerTimes.length},"readerMaxMs":${Math.round(Math.max(...readerTimes))}}`)
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
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', root])
      } catch {
        console.log('      (skipped: cannot mount a tmpfs here)')
        this.skip()
      }
      const small = await buildTar([{ path: 'bin/small', content: 'small\n', mode: 0o755 }], { compression: 'gzip' })
      const big = await buildTar(
        Array.from({ length: 4 }, (_, i) => ({ path: `share/big/${i}`, content: Buffer.alloc(1024 * 1024, i + 1) })),
        { compression: 'gzip' },
      )
      const source = new TarAdapter([
        { name: 'small', version: '1', archive: small },
        { name: 'big', version: '1', archive: big },
      ])
      const tmpEntries = (): string[] => fs.readdirSync(path.join(root, 'var/nip/cas/tmp'))
      const { nip } = await openNip(root, [source])
      try {
        await nip.install(['small'])
        // The user's own files take most of the space: 4 MiB of blobs do not fit.
        fs.writeFileSync(path.join(root, 'filler'), Buffer.alloc(5 * 1024 * 1024, 1))
        await assert.rejects(nip.install(['big']), (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_NO_SPACE' && /no space left/i.test(e.message) && e.hint !== undefined)
        assert.deepEqual(nip.list().map((p) => p.name), ['small'])
        assert.ok(!fs.existsSync(path.join(root, 'Programs/big')), 'nothing of big is visible')
        assert.deepEqual(tmpEntries(), [], 'no temporary blob is left behind')
        assert.deepEqual((await checkConsistency(nip)).problems, [])

        // Now the disk is full to the last byte: remove, generations delete and gc still work —
        // they release nip's space reserve to finish — and the store stays consistent.
        let fill = 0
        try {
          const fd = fs.openSync(path.join(root, 'filler2'), 'w')
          try {
            for (;;) fill += fs.writeSync(fd, Buffer.alloc(64 * 1024, 2))
          } finally {
            fs.closeSync(fd)
          }
        } catch (e) {
          assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC')
        }
        assert.ok(fill > 0)
        const atFull: string[] = []
        assert.ok(fs.existsSync(path.join(root, 'var/nip/reserve')), 'nip keeps a space reserve')
        for (const op of [() => nip.remove(['small']), () => nip.generationsDelete({ keep: 1 }), () => nip.gc()]) {
          try {
            await op()
            atFull.push('done')
          } catch (e) {
            assert.ok(e instanceof NipError && e.code === 'ERR_NIP_NO_SPACE', `full disk: ${String(e)}`)
            atFull.push(e.code)
          }
          assert.deepEqual((await checkConsistency(nip)).problems, [])
        }
        assert.deepEqual(atFull, ['done', 'done', 'done'], 'commands that free space work on a full disk')
        assert.ok(!fs.existsSync(path.join(root, 'Programs/small')), 'gc collected small on the full disk')

        // The user frees space: nip works again, gc collects what is unreferenced, big fits.
        fs.rmSync(path.join(root, 'filler'))
        fs.rmSync(path.join(root, 'filler2'))
        if (nip.list().some((p) => p.name === 'small')) await nip.remove(['small'])
        await nip.generationsDelete({ keep: 1 })
        const freed = await nip.gc()
        console.log(`      reliability figures: {"class":"disk full","fillBytes":${fill},"removeGenerationsDeleteGcAtFullDisk":${JSON.stringify(atFull)}}`)
        assert.ok(!fs.existsSync(path.join(root, 'Programs/small/1')), 'gc collected small once space was back')
        const r = await nip.install(['big'])
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
