import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import assert from 'node:assert/strict'
import { chmod, lstat, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Cas, FsPool, blake3Hex } from '../src/index.js'
import { makeTempDir } from './tempDir.js'

/** Enough blobs that the writer goes past its synchronous start and uses its worker thread. */
const MANY = 1500

/** Run `fn` with a new store (at <tmp>/cas) and remove it all afterwards. */
async function withStore(fn: (cas: Cas, dir: string) => Promise<void>, options?: { fsync?: boolean }): Promise<void> {
  const { dir, cleanup } = await makeTempDir()
  try {
    const cas = new Cas(join(dir, 'cas'), options)
    await cas.init()
    await fn(cas, dir)
  } finally {
    await cleanup()
  }
}

function content(i: number): Buffer {
  return Buffer.from(`blob number ${i}\n`.repeat(1 + (i % 7)))
}

describe('Cas.blobWriter', () => {
  it('with a digest: every added blob\'s digest, from the worker or the calling thread, identical content once', async () => {
    await withStore(async (cas) => {
      for (const large of [false, true]) {
        const writer = cas.blobWriter({ large, digest: 'sha256' })
        const keys: { key: string; buf: Buffer }[] = []
        try {
          for (let i = 0; i < MANY; i++) {
            const buf = content(i % 1000) // the last 500 repeat earlier content
            keys.push({ key: writer.add(buf, {}, `f${i}`).key, buf })
            const wait = writer.ready()
            if (wait !== null) await wait
          }
          // an existing blob (EEXIST in the worker): its digest too
          await writer.flush()
        } finally {
          await writer.close()
        }
        for (const { key, buf } of keys) assert.equal(writer.digestOf(key), createHash('sha256').update(buf).digest('hex'))
        assert.equal(writer.digestOf('0'.repeat(64)), undefined)
      }
    })
  })

  it('writes its first blobs on the calling thread, unless told the archive is large', async () => {
    await withStore(async (cas) => {
      for (const large of [false, true]) {
        const writer = cas.blobWriter({ large })
        try {
          const info = writer.add(Buffer.from(`first blob, large: ${large}`), {}, 'first')
          // Synchronous: there at once. Large: queued for a worker until a batch fills or flush.
          assert.equal(existsSync(cas.pathOf(info.key)), !large)
          await writer.flush()
          assert.ok(await cas.verify(info.key))
        } finally {
          await writer.close()
        }
      }
    })
  })

  it('stores many blobs (through its worker), each once, complete after flush', async () => {
    await withStore(async (cas) => {
      const writer = cas.blobWriter()
      const keys: string[] = []
      try {
        for (let i = 0; i < MANY; i++) {
          const info = writer.add(content(i), { executable: i % 3 === 0, expectSize: content(i).length }, `f${i}`)
          assert.equal(info.digest, blake3Hex(content(i)))
          keys.push(info.key)
          // The same content again: written once, reported as existing.
          if (i % 100 === 0) assert.equal(writer.add(content(i), { executable: i % 3 === 0 }).existed, true)
          const wait = writer.ready()
          if (wait !== null) await wait
        }
        await writer.flush()
      } finally {
        await writer.close()
      }
      for (const [i, key] of keys.entries()) {
        assert.ok(await cas.verify(key), `blob ${i} verifies`)
        assert.equal((await lstat(cas.pathOf(key))).mode & 0o7777, i % 3 === 0 ? 0o555 : 0o444)
      }
    })
  })

  it('with keysByWorkers: the keys, digests and placements arrive with the flush, repeats and torn blobs included', async () => {
    await withStore(async (cas, dir) => {
      // A torn blob the writer will meet (EEXIST in the worker, repaired on this thread).
      const victim = content(1199)
      const torn = cas.addBufferSync(victim)
      await chmod(cas.pathOf(torn.key), 0o644)
      await writeFile(cas.pathOf(torn.key), 'torn')
      await chmod(cas.pathOf(torn.key), 0o444)
      const writer = cas.blobWriter({ large: true, keysByWorkers: true, digest: 'sha256' })
      const added: { info: ReturnType<typeof writer.add>; buf: Buffer; exec: boolean; place: string }[] = []
      try {
        for (let i = 0; i < MANY; i++) {
          const buf = content(i % 1200) // the last 300 repeat earlier content
          const exec = i % 3 === 0
          const place = join(dir, 'tree', `d${i % 5}`, `f${i}`)
          const info = writer.add(buf, { executable: exec, expectSize: buf.length }, `f${i}`, place)
          assert.equal(info.key, '', 'not known before the flush')
          added.push({ info, buf, exec, place })
          const wait = writer.ready()
          if (wait !== null) await wait
        }
        assert.throws(() => writer.add(Buffer.from('x'), { expectSize: 2 }), { code: 'ERR_NIP_SIZE_MISMATCH' })
        await writer.flush()
      } finally {
        await writer.close()
      }
      const placements = writer.placements()
      for (const { info, buf, exec, place } of added) {
        assert.equal(info.digest, blake3Hex(buf))
        assert.equal(info.key, blake3Hex(buf) + (exec ? '-x' : ''))
        assert.equal(info.size, buf.length)
        assert.ok(await cas.verify(info.key), `${info.key} verifies`)
        assert.equal(writer.digestOf(info.key), createHash('sha256').update(buf).digest('hex'))
        if (placements.has(place)) {
          assert.equal(placements.get(place), info.key)
          assert.equal((await lstat(place)).ino, (await lstat(cas.pathOf(info.key))).ino)
        } else assert.equal(existsSync(place), false, `${place} is not left behind`)
      }
      // Each distinct blob was placed exactly once (the torn one was repaired on this thread, not placed).
      const distinct = new Set(added.map((a) => a.info.key))
      assert.equal(new Set(placements.values()).size, distinct.size - 1)
      assert.deepEqual(await readFile(cas.pathOf(torn.key)), victim)
    })
  })

  it('content the store holds already is linked in place, not written again; a blob verify() found damaged is re-hashed and repaired', async () => {
    await withStore(async (cas, dir) => {
      const stored = []
      for (let i = 0; i < MANY; i++) stored.push(cas.addBufferSync(content(i), { executable: i % 3 === 0 }))
      // Damaged in place at its full size: it still looks complete, so adds take it as it is.
      const damaged = stored[MANY - 2]
      const bytes = await readFile(cas.pathOf(damaged.key))
      const mode = (await lstat(cas.pathOf(damaged.key))).mode & 0o7777
      await chmod(cas.pathOf(damaged.key), 0o644)
      await writeFile(cas.pathOf(damaged.key), Buffer.alloc(bytes.length, 0x21))
      await chmod(cas.pathOf(damaged.key), mode)
      const before = new Map<string, { ino: number; mtimeMs: number }>()
      for (const b of stored) before.set(b.key, await lstat(cas.pathOf(b.key)))

      const graft = async (tree: string) => {
        const writer = cas.blobWriter({ large: true, keysByWorkers: true })
        const added: { info: ReturnType<typeof writer.add>; place: string }[] = []
        try {
          for (let i = 0; i < MANY; i++) {
            const place = join(dir, tree, `d${i % 5}`, `f${i}`)
            added.push({ info: writer.add(content(i), { executable: i % 3 === 0 }, `f${i}`, place), place })
            const wait = writer.ready()
            if (wait !== null) await wait
          }
          await writer.flush()
        } finally {
          await writer.close()
        }
        return { added, placements: writer.placements() }
      }

      const first = await graft('tree1')
      for (const [i, { info, place }] of first.added.entries()) {
        assert.equal(info.key, stored[i].key)
        assert.equal(info.existed, true, `${place} found its blob stored`)
        assert.equal(first.placements.get(place), info.key)
        const st = await lstat(place)
        assert.equal(st.ino, before.get(info.key)!.ino, 'the place is the stored blob itself')
        assert.equal((await lstat(cas.pathOf(info.key))).mtimeMs, before.get(info.key)!.mtimeMs, 'the blob was not written')
      }
      assert.deepEqual(await readFile(join(dir, 'tree1', `d${(MANY - 2) % 5}`, `f${MANY - 2}`)), Buffer.alloc(bytes.length, 0x21), 'not re-hashed on an add')

      // Re-hashing is verify()'s: it finds the damage, and from then on adds re-hash and repair.
      assert.equal(await cas.verify(damaged.key), false)
      const second = await graft('tree2')
      const repairedPlace = join(dir, 'tree2', `d${(MANY - 2) % 5}`, `f${MANY - 2}`)
      assert.equal(second.placements.has(repairedPlace), false, 'the damaged blob is not linked in place')
      assert.equal(existsSync(repairedPlace), false)
      assert.equal(second.added[MANY - 2].info.repaired, true)
      assert.ok(await cas.verify(damaged.key))
      assert.deepEqual(await readFile(cas.pathOf(damaged.key)), content(MANY - 2))
    })
  })

  it('repairs a blob that exists at its address with other content', async () => {
    await withStore(async (cas) => {
      // A torn blob for content the writer will add late (past its synchronous start).
      const victim = content(MANY - 1)
      const torn = cas.addBufferSync(victim)
      await chmod(cas.pathOf(torn.key), 0o644)
      await writeFile(cas.pathOf(torn.key), 'torn')
      await chmod(cas.pathOf(torn.key), 0o444)
      assert.equal(await cas.verify(torn.key), false)
      const writer = cas.blobWriter()
      try {
        for (let i = 0; i < MANY; i++) writer.add(content(i))
        await writer.flush()
      } finally {
        await writer.close()
      }
      assert.ok(await cas.verify(torn.key))
      assert.deepEqual(await readFile(cas.pathOf(torn.key)), victim)
    })
  })

  it('a store with fsync writes on the calling thread, with the same result', async () => {
    await withStore(async (cas) => {
      const writer = cas.blobWriter()
      const keys: string[] = []
      try {
        for (let i = 0; i < 600; i++) keys.push(writer.add(content(i)).key)
        await writer.flush()
      } finally {
        await writer.close()
      }
      for (const key of keys) assert.ok(await cas.verify(key))
    }, { fsync: true })
  })
})

describe('FsPool', () => {
  it('runs calls in order on several threads and reports each failure', async () => {
    const { dir, cleanup } = await makeTempDir()
    const pool = new FsPool(2)
    try {
      await writeFile(`${dir}/taken`, 'x')
      const results = await pool.run([
        { op: 'symlink', target: 'a', path: `${dir}/l1` },
        { op: 'symlink', target: 'b', path: `${dir}/taken` },
        { op: 'link', from: `${dir}/taken`, path: `${dir}/h1` },
        { op: 'link', from: `${dir}/missing`, path: `${dir}/h2` },
      ])
      assert.equal(results[0], null)
      assert.equal(results[1]?.code, 'EEXIST')
      assert.equal(results[2], null)
      assert.equal(results[3]?.code, 'ENOENT')
      assert.equal((await lstat(`${dir}/h1`)).nlink, 2)
    } finally {
      await pool.close()
      await cleanup()
    }
  })
})
