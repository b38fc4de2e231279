#!/usr/bin/env node
// Hashing benchmark for the content-addressable store (not a test).
//
//   node bench/hash.mjs [size]      size in bytes, or with a K/M/G suffix (binary); default 1G
//
// Measures (a) raw BLAKE3 throughput of the native hasher over in-memory buffers, (b) Cas.addFile
// (hash + write into a fresh store) on a random file of that size, and (c) b3sum on the same file
// when it is installed. Needs the built store: npx tsc -b packages/cas
import { spawnSync } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Blake3Hasher } from '@napi-rs/blake-hash'
import { Cas, hashFile } from '../packages/cas/dist/index.js'

const CHUNK = 1 << 20

function parseSize(text) {
  const match = /^(\d+(?:\.\d+)?)([KMG]?)i?B?$/i.exec(text ?? '1G')
  if (match === null) throw new Error(`bad size ${text}; use e.g. 1G, 256M, 1048576`)
  const unit = { '': 1, K: 1 << 10, M: 1 << 20, G: 1 << 30 }[match[2].toUpperCase()]
  return Math.round(Number(match[1]) * unit)
}

function gbps(bytes, ms) {
  return bytes / 1e9 / (ms / 1000)
}

function time(fn) {
  const start = process.hrtime.bigint()
  const result = fn()
  return { result, ms: Number(process.hrtime.bigint() - start) / 1e6 }
}

async function timeAsync(fn) {
  const start = process.hrtime.bigint()
  const result = await fn()
  return { result, ms: Number(process.hrtime.bigint() - start) / 1e6 }
}

const size = parseSize(process.argv[2])
const dir = await mkdtemp(join(tmpdir(), 'nip-bench-'))
try {
  // The random input file, written in 1 MiB chunks so memory stays small.
  const file = join(dir, 'input.bin')
  const chunk = Buffer.allocUnsafe(CHUNK)
  const handle = await open(file, 'w')
  for (let written = 0; written < size; written += CHUNK) {
    randomFillSync(chunk)
    await handle.write(chunk, 0, Math.min(CHUNK, size - written))
  }
  // Flush the input so its write-back does not compete with the measurements below.
  await handle.sync()
  await handle.close()
  console.log(`input: ${(size / (1 << 20)).toFixed(0)} MiB random data`)

  // (a) native BLAKE3 over in-memory buffers: a 64 MiB random buffer hashed in 1 MiB updates
  // until `size` bytes have gone through.
  const memory = randomFillSync(Buffer.allocUnsafe(Math.min(size, 64 << 20)))
  const raw = time(() => {
    const hasher = new Blake3Hasher()
    for (let done = 0; done < size; ) {
      for (let offset = 0; offset < memory.length && done < size; offset += CHUNK, done += CHUNK) {
        hasher.update(memory.subarray(offset, Math.min(offset + CHUNK, offset + size - done)))
      }
    }
    return hasher.digest('hex')
  })
  console.log(`(a) BLAKE3 in memory:   ${gbps(size, raw.ms).toFixed(2)} GB/s`)

  // hashFile (read + hash) on the file, which the page cache now holds.
  const hashed = await timeAsync(() => hashFile(file))
  console.log(`    hashFile:           ${gbps(size, hashed.ms).toFixed(2)} GB/s  ${hashed.result.digest}`)

  // (b) Cas.addFile: hash while writing the blob into a fresh store.
  const cas = new Cas(join(dir, 'cas'))
  await cas.init()
  const added = await timeAsync(() => cas.addFile(file))
  if (added.result.digest !== hashed.result.digest) throw new Error('addFile and hashFile disagree')
  const nip = gbps(size, added.ms)
  console.log(`(b) Cas.addFile:        ${nip.toFixed(2)} GB/s  ${added.result.key}`)

  // (c) b3sum on the same file.
  const probe = spawnSync('b3sum', ['--version'], { encoding: 'utf8' })
  if (probe.error !== undefined || probe.status !== 0) {
    console.log('(c) b3sum not installed — skipped')
  } else {
    const b3 = time(() => spawnSync('b3sum', ['--no-names', file], { encoding: 'utf8' }))
    const digest = b3.result.stdout.trim()
    if (digest !== hashed.result.digest) throw new Error(`b3sum disagrees: ${digest}`)
    const b3gbps = gbps(size, b3.ms)
    console.log(`(c) b3sum:              ${b3gbps.toFixed(2)} GB/s (memory-mapped, all cores)`)
    const single = time(() => spawnSync('b3sum', ['--no-names', '--num-threads', '1', file], { encoding: 'utf8' }))
    console.log(`    b3sum, one thread:  ${gbps(size, single.ms).toFixed(2)} GB/s`)
    const ratio = (gbpsOfNip, ofB3) => (gbpsOfNip / ofB3).toFixed(2)
    console.log(`    ratio nip/b3sum: addFile ${ratio(nip, b3gbps)}, hashFile ${ratio(gbps(size, hashed.ms), b3gbps)}, hashFile vs one-thread b3sum ${ratio(gbps(size, hashed.ms), gbps(size, single.ms))}`)
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
