// GC benchmark (not a test). Builds a store of N one-file programs through nip's own API (core
// with an in-memory source, in batches, so there are several generations), then runs ROUNDS
// rounds; each makes GARBAGE programs garbage (remove, then delete the generations that still
// held them) and times gc:
//   - in-process: a fresh node process opens the store (Nip.open, as the CLI does) and times the
//     whole of nip.gc() — lock, open the DB, recover, select, register, delete trees and blobs,
//     commit, close the DB, release the lock — with hrtime (bench/gc.mjs --time-gc ROOT). A
//     fresh process per round, like `nip gc`: the build's heap is not collected inside the timing.
//   - CLI: the wall time of `node packages/cli/bin/run.js gc --root ROOT` (CLI_ROUNDS rounds),
//     which adds node's start and oclif's command loading to the same work.
// Round r removes programs p(k*N/GARBAGE + r), k < GARBAGE: every round's garbage is spread over
// the whole store like the first one, and the previous round's garbage is grafted again first,
// so each round starts from N programs.
//   node bench/gc.mjs N [GARBAGE=1% of N] [ROUNDS=5] [CLI_ROUNDS=3]      prints one JSON line
// gc.sh passes the same GARBAGE for both store sizes, so the ratio isolates the store's size.
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { openNip } from '@nip/testing'
import { NipError } from '@nip/core'

const self = fileURLToPath(import.meta.url)
const repo = path.resolve(path.dirname(self), '..')

if (process.argv[2] === '--time-gc') {
  // One timed gc in this (fresh) process: what `nip gc` does after opening the store.
  const { nip } = await openNip(process.argv[3], [])
  const t = process.hrtime.bigint()
  const r = await nip.gc()
  const gcMs = Number(process.hrtime.bigint() - t) / 1e6
  nip.close()
  console.log(JSON.stringify({ gcMs, programs: r.programs.length, blobs: r.blobs, bytes: r.bytes }))
  process.exit(0)
}

const N = Number(process.argv[2] ?? 2000)
const GARBAGE = Number(process.argv[3] ?? Math.round(N * 0.01))
const ROUNDS = Number(process.argv[4] ?? 5)
const CLI_ROUNDS = Number(process.argv[5] ?? 3)
const BATCH = 1000
if (GARBAGE < 1 || GARBAGE > N || ROUNDS + CLI_ROUNDS > Math.floor(N / GARBAGE)) throw new Error(`need 1 <= GARBAGE <= N and ROUNDS + CLI_ROUNDS <= N / GARBAGE`)

/** A source of N one-file programs with O(1) resolve (the MemoryAdapter scans its list). */
class BenchSource {
  id = 'bench'
  async probe() { return { id: this.id, configured: true, reachable: true, detail: `${N} programs` } }
  async *search() {}
  ref(name) { return { source: this.id, name, version: '1.0', id: name } }
  async resolve(spec) {
    const m = /^p(\d+)$/.exec(spec.name)
    if (!m || Number(m[1]) >= N) return []
    return [this.ref(spec.name)]
  }
  async describe(ref) { return { ref, dependencies: [], provides: [], conflicts: [], downloadSize: 16, installedSize: 16 } }
  async fetch(ref, ctx) {
    const content = Buffer.from(`program ${ref.name}\n`)
    const blob = await ctx.cas.addBuffer(content, { executable: true })
    return { ref, entries: [{ path: 'bin', type: 'dir', mode: 0o755 }, { path: `bin/${ref.name}`, type: 'file', mode: 0o755, blob: blob.key, size: content.length }] }
  }
  compareVersions(a, b) { return a < b ? -1 : a > b ? 1 : 0 }
  satisfies() { return true }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const round1 = (x) => Math.round(x * 10) / 10

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-bench-gc-'))
// The CLI reads no configuration of the user running the benchmark.
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-bench-home-'))
try {
  const source = new BenchSource()
  const withNip = async (fn) => {
    const { nip } = await openNip(root, [source])
    try {
      return await fn(nip)
    } finally {
      nip.close()
    }
  }
  const t0 = Date.now()
  await withNip(async (nip) => {
    for (let i = 0; i < N; i += BATCH) await nip.install(Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => `p${i + k}`))
  })
  const buildMs = Date.now() - t0

  let previous = []
  /** Graft the previous round's garbage again, make this round's garbage; returns its names. */
  const makeGarbage = async (r) => {
    const garbage = Array.from({ length: GARBAGE }, (_, k) => `p${Math.floor((k * N) / GARBAGE) + r}`)
    await withNip(async (nip) => {
      if (previous.length) await nip.install(previous)
      await nip.remove(garbage)
      await nip.generationsDelete({ keep: 1 })
    })
    previous = garbage
    // Let the filesystem settle: the timing should not pay for the preparation's writeback.
    execFileSync('sync')
    return garbage
  }
  const check = (what, collected) => {
    if (collected !== GARBAGE) throw new Error(`${what} collected ${collected} programs, expected ${GARBAGE}`)
  }

  const gcRuns = []
  let freed = { blobs: 0, bytes: 0 }
  for (let r = 0; r < ROUNDS; r++) {
    await makeGarbage(r)
    const out = execFileSync(process.execPath, [self, '--time-gc', root], { encoding: 'utf8' })
    const res = JSON.parse(out)
    check('gc', res.programs)
    gcRuns.push(res.gcMs)
    freed = { blobs: res.blobs, bytes: res.bytes }
  }

  const cliRuns = []
  const cli = path.join(repo, 'packages/cli/bin/run.js')
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') }
  delete env.NIP_CONFIG
  delete env.NIP_ROOT
  for (let r = ROUNDS; r < ROUNDS + CLI_ROUNDS; r++) {
    await makeGarbage(r)
    const t = process.hrtime.bigint()
    const p = spawnSync(process.execPath, [cli, 'gc', '--root', root, '--json'], { encoding: 'utf8', env })
    const ms = Number(process.hrtime.bigint() - t) / 1e6
    if (p.status !== 0) throw new Error(`nip gc failed (${p.status}): ${p.stderr}`)
    check('nip gc (CLI)', JSON.parse(p.stdout).result.programs.length)
    cliRuns.push(ms)
  }

  console.log(
    JSON.stringify({
      programs: N,
      garbage: GARBAGE,
      gcMs: round1(median(gcRuns)),
      gcRuns: gcRuns.map(round1),
      cliMs: cliRuns.length ? round1(median(cliRuns)) : null,
      cliRuns: cliRuns.map(round1),
      freedBlobs: freed.blobs,
      freedBytes: freed.bytes,
      buildMs,
    }),
  )
} catch (e) {
  console.error(e instanceof NipError ? `${e.code}: ${e.message}` : e)
  process.exitCode = 1
} finally {
  fs.rmSync(root, { recursive: true, force: true })
  fs.rmSync(home, { recursive: true, force: true })
}
