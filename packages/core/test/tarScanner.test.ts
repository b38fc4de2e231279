/**
 * The synchronous tar scanner against tar-stream (the reader it replaced), differentially: on
 * every hostile archive, on archives from the system's GNU tar in its gnu, pax and ustar formats
 * (long names, long link names, big uids), and on 1,500 mutations of them (bytes flipped, cut
 * short, blocks zeroed), both must see the same members with the same header fields and bytes,
 * or both must fail — whatever sizes the input arrives in.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { extract } from 'tar-stream'
import { buildHostileArchives, buildTar, mutate, prng } from '@nip/testing'
import { TarScanner } from '../src/archive/tarScanner.js'

interface Seen {
  name: string
  type: string | null
  size: number | null
  linkname: string | null
  mode: number | null
  uid: number | null
  gid: number | null
  mtime: number
  content: string
}

/** What tar-stream reads: the members (with their bytes), or that it failed. */
async function viaTarStream(data: Buffer): Promise<Seen[] | 'error'> {
  const ex = extract()
  const out: Seen[] = []
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        out.push({ name: h.name, type: h.type ?? null, size: h.size ?? null, linkname: h.linkname ?? null, mode: h.mode ?? null, uid: h.uid ?? null, gid: h.gid ?? null, mtime: h.mtime?.getTime() ?? 0, content: Buffer.concat(chunks).toString('base64') })
        next()
      })
      stream.on('error', reject)
    })
    ex.on('finish', resolve)
    ex.on('error', reject)
  })
  ex.end(data)
  try {
    await done
    return out
  } catch {
    return 'error'
  }
}

/** What the scanner reads, fed in pieces of the sizes `rnd` picks. */
function viaScanner(data: Buffer, rnd: () => number, wholeLimit: number): Seen[] | 'error' {
  const s = new TarScanner(wholeLimit)
  const out: Seen[] = []
  let open: { seen: Seen; parts: Buffer[] } | undefined
  const drain = (): void => {
    for (const ev of s.take()) {
      if (ev.kind === 'entry' || ev.kind === 'begin') {
        const h = ev.header
        const seen: Seen = { name: h.name, type: h.type, size: h.size, linkname: h.linkname, mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime.getTime(), content: '' }
        if (ev.kind === 'entry') {
          seen.content = (ev.content ?? Buffer.alloc(0)).toString('base64')
          out.push(seen)
        } else open = { seen, parts: [] }
      } else if (ev.kind === 'data') open!.parts.push(ev.chunk)
      else {
        open!.seen.content = Buffer.concat(open!.parts).toString('base64')
        out.push(open!.seen)
        open = undefined
      }
    }
  }
  try {
    for (let at = 0; at < data.length; ) {
      const n = 1 + Math.floor(rnd() * (rnd() < 0.5 ? 700 : 70000))
      s.push(data.subarray(at, at + n))
      at += n
      drain()
    }
    s.finish()
    drain()
    return out
  } catch {
    return 'error'
  }
}

async function same(data: Buffer, label: string, seed: number): Promise<void> {
  const expected = await viaTarStream(data)
  for (const wholeLimit of [0, 1024, 1 << 30]) {
    const got = viaScanner(data, prng(seed + wholeLimit), wholeLimit)
    assert.deepEqual(got, expected, `${label} (whole up to ${wholeLimit} bytes)`)
  }
}

function gnuTar(format: string): Buffer | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-tarsrc-'))
  try {
    const long = `share/${'long-directory-name-'.repeat(8)}/${'file-'.repeat(30)}.txt`
    fs.mkdirSync(path.join(dir, path.dirname(long)), { recursive: true })
    fs.writeFileSync(path.join(dir, long), 'long name\n')
    fs.mkdirSync(path.join(dir, 'bin'))
    fs.writeFileSync(path.join(dir, 'bin/tool'), Buffer.alloc(70000, 7), { mode: 0o755 })
    fs.symlinkSync(`../${long}`, path.join(dir, 'bin/long-link'))
    fs.linkSync(path.join(dir, 'bin/tool'), path.join(dir, 'bin/tool-hard'))
    fs.writeFileSync(path.join(dir, 'empty'), '')
    const r = spawnSync('tar', [`--format=${format}`, '--owner=3000000:0', '--group=0', '-cf', '-', '-C', dir, '.'], { maxBuffer: 1 << 26 })
    return r.status === 0 ? r.stdout : undefined
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

describe('archive: tar scanner agrees with tar-stream', function () {
  this.timeout(120000)
  const inputs: { label: string; data: Buffer }[] = []

  before(async () => {
    for (const [name, a] of Object.entries(buildHostileArchives())) inputs.push({ label: `hostile ${name}`, data: await buildTar(a.entries) })
    for (const format of ['gnu', 'pax', 'ustar', 'oldgnu']) {
      const data = gnuTar(format)
      if (data) inputs.push({ label: `GNU tar --format=${format}`, data })
    }
  })

  it('on every hostile archive and on GNU tar output in four formats', async function () {
    if (!inputs.some((i) => i.label.startsWith('GNU tar'))) console.log('      (GNU tar not found: its archives are skipped)')
    assert.ok(inputs.length > 20)
    let seed = 1
    for (const i of inputs) await same(i.data, i.label, seed++)
  })

  it('on 1,500 mutations of them: the same members, or both fail', async () => {
    const rnd = prng(4242)
    let failedBoth = 0
    for (let k = 0; k < 1500; k++) {
      const base = inputs[k % inputs.length]!
      let { data, how } = mutate(base.data, rnd)
      if (k % 5 === 0) {
        // zero a random block (an early end-of-archive, or a hole in a member)
        data = Buffer.from(data)
        const block = Math.floor(rnd() * Math.max(1, data.length / 512))
        data.fill(0, Math.min(data.length, block * 512), Math.min(data.length, block * 512 + 512))
        how += `, block ${block} zeroed`
      }
      const expected = await viaTarStream(data)
      if (expected === 'error') failedBoth++
      await same(data, `${base.label}, ${how}`, 100 + k)
    }
    // The mutations are not all harmless: many must be refused by both.
    assert.ok(failedBoth > 200, `only ${failedBoth} mutations refused`)
  })
})
