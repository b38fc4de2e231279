// GC benchmark (not a test): builds a store of N small programs through nip's own API (core with
// an in-memory source, in batches, so there are several generations), removes GARBAGE of them,
// deletes the generations that still held them, and times `nip gc` (lock, recover, select, delete).
//   node bench/gc.mjs N [GARBAGE=1% of N]      prints one JSON line
// gc.sh passes the same GARBAGE for both store sizes, so the ratio isolates the store's size.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { openNip } from '@nip/testing'
import { NipError } from '@nip/core'

const N = Number(process.argv[2] ?? 2000)
const GARBAGE = Number(process.argv[3] ?? Math.round(N * 0.01))
const BATCH = 1000

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

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-bench-gc-'))
try {
  const source = new BenchSource()
  const open = async () => (await openNip(root, [source])).nip
  let nip = await open()
  const t0 = Date.now()
  for (let i = 0; i < N; i += BATCH) {
    const specs = Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => `p${i + k}`)
    await nip.install(specs)
  }
  const garbage = Array.from({ length: GARBAGE }, (_, k) => `p${Math.floor((k * N) / GARBAGE)}`)
  await nip.remove(garbage)
  await nip.generationsDelete({ keep: 1 })
  const buildMs = Date.now() - t0
  nip.close()
  nip = await open()
  const t1 = process.hrtime.bigint()
  const r = await nip.gc()
  const gcMs = Number(process.hrtime.bigint() - t1) / 1e6
  nip.close()
  if (r.programs.length !== garbage.length) throw new Error(`gc collected ${r.programs.length}, expected ${garbage.length}`)
  console.log(JSON.stringify({ programs: N, garbage: garbage.length, gcMs: Math.round(gcMs * 10) / 10, freedBlobs: r.blobs, freedBytes: r.bytes, buildMs }))
} catch (e) {
  console.error(e instanceof NipError ? `${e.code}: ${e.message}` : e)
  process.exitCode = 1
} finally {
  fs.rmSync(root, { recursive: true, force: true })
}
