#!/usr/bin/env node
// Setting a RUNPATH on ELF files: nip's own editor (core's setElfRunpath, in memory, then written
// to a file) against `patchelf --set-rpath` on a copy, on the same files, A/B interleaved per
// round. Prints the median time per round of each, their ratio, and the spread (min–max).
// Not a test.
//   node bench/relocate.mjs [DIR] [FILES] [ROUNDS]
// DIR: where to take dynamically linked ELF files from (default: the host's multiarch library
// directory); FILES: how many (default 200, the largest first is not chosen: directory order);
// ROUNDS: default 5. Needs patchelf and a built tree (npm run build).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const core = await import(path.join(here, '..', 'packages', 'core', 'dist', 'index.js'))
const dir = process.argv[2] ?? ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'].find((d) => fs.existsSync(d))
const count = Number(process.argv[3] ?? 200)
const rounds = Number(process.argv[4] ?? 5)
const patchelf = await core.findPatchelf()
if (patchelf === null) {
  console.error('patchelf is not installed: nothing to compare with')
  process.exit(2)
}
const files = []
for (const n of fs.readdirSync(dir)) {
  if (files.length >= count) break
  const p = path.join(dir, n)
  const st = fs.lstatSync(p)
  if (!st.isFile() || st.size > 64 * 1024 * 1024) continue
  const elf = await core.readElfDynamic(p)
  if (elf !== null && elf.dynamic && elf.needed.length > 0) files.push(p)
}
const bytes = files.reduce((a, f) => a + fs.statSync(f).size, 0)
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-bench-relocate-'))
const runpath = '$ORIGIN:$ORIGIN/../../../../System/Links/Libraries'
const ours = () => {
  for (const [i, f] of files.entries()) {
    const r = core.setElfRunpath(fs.readFileSync(f), runpath)
    if (!r.ok) throw new Error(`${f}: ${r.reason}`)
    fs.writeFileSync(path.join(work, `n${i}`), r.content)
  }
}
const theirs = () => {
  const copies = files.map((f, i) => {
    const c = path.join(work, `p${i}`)
    fs.copyFileSync(f, c)
    return c
  })
  // One run per 32 files, as core's fallback runs it.
  for (let i = 0; i < copies.length; i += 32) execFileSync(patchelf, ['--set-rpath', runpath, ...copies.slice(i, i + 32)])
}
const time = (fn) => {
  const t = process.hrtime.bigint()
  fn()
  return Number(process.hrtime.bigint() - t) / 1e9
}
const a = []
const b = []
try {
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      a.push(time(ours))
      b.push(time(theirs))
    } else {
      b.push(time(theirs))
      a.push(time(ours))
    }
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const fmt = (xs) => `${median(xs).toFixed(3)} s (${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)})`
console.log(`${files.length} files, ${(bytes / 1048576).toFixed(1)} MiB, from ${dir}; ${rounds} rounds, interleaved`)
console.log(`nip's editor   ${fmt(a)}`)
console.log(`patchelf       ${fmt(b)}`)
console.log(`ratio (nip / patchelf, medians): ${(median(a) / median(b)).toFixed(2)}`)
