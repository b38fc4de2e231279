import assert from 'node:assert/strict'
import { createReadStream } from 'node:fs'
import { chmod, lstat, mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { Cas, CasError, blake3Hex } from '../src/index.js'
import { listNames, makeTempDir } from './tempDir.js'

const ABC = '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85'
const EMPTY = 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262'

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const item of iterable) out.push(item)
  return out.sort()
}

async function* chunks(parts: (string | Uint8Array)[]): AsyncIterable<Uint8Array | string> {
  for (const part of parts) {
    await new Promise((resolve) => setImmediate(resolve))
    yield part
  }
}

function modeOf(st: { mode: number }): number {
  return st.mode & 0o7777
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<CasError> {
  try {
    await promise
  } catch (err) {
    assert.ok(err instanceof CasError, `expected a CasError, got ${String(err)}`)
    assert.equal(err.code, code)
    return err
  }
  assert.fail(`expected ${code}`)
}

describe('Cas', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let cas: Cas

  beforeEach(async () => {
    ;({ dir, cleanup } = await makeTempDir())
    cas = new Cas(join(dir, 'cas'))
    await cas.init()
  })
  afterEach(async () => cleanup())

  describe('keys and paths', () => {
    it('init creates the store, its tmp directory and its 256 buckets (real directories, checked once)', async () => {
      const names = await listNames(join(dir, 'cas'))
      assert.deepEqual(names, [...Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0')), 'tmp'].sort())
      assert.equal(cas.dir, join(dir, 'cas'))
    })

    it('a bucket or the tmp directory planted as a symlink is refused (ERR_NIP_CONFINED), nothing written through it', async () => {
      const { mkdir, rm: rmp, symlink, readdir } = await import('node:fs/promises')
      for (const planted of ['64', 'tmp']) {
        const outside = join(dir, `outside-${planted}`)
        await mkdir(outside)
        const store = join(dir, `cas-${planted}`)
        await new Cas(store).init()
        await rmp(join(store, planted), { recursive: true })
        await symlink(outside, join(store, planted))
        const fresh = new Cas(store)
        await rejectsWith(fresh.init(), 'ERR_NIP_CONFINED')
        await rejectsWith(fresh.addBuffer(Buffer.from('abc')), 'ERR_NIP_CONFINED')
        assert.deepEqual(await readdir(outside), [])
      }
    })

    it('key is the digest, with -x when executable; path is bucketed by the first two characters', () => {
      assert.equal(cas.keyOf(ABC, false), ABC)
      assert.equal(cas.keyOf(ABC, true), `${ABC}-x`)
      assert.equal(cas.pathOf(`${ABC}-x`), join(dir, 'cas', '64', `${ABC}-x`))
      assert.deepEqual(Cas.parseKey(`${ABC}-x`), { digest: ABC, executable: true })
      assert.deepEqual(Cas.parseKey(ABC), { digest: ABC, executable: false })
    })

    it('malformed keys are ERR_NIP_CAS_CORRUPT', () => {
      for (const bad of ['', ABC.toUpperCase(), ABC.slice(1), `${ABC}-y`, `${ABC}x`, `../${ABC.slice(3)}`, `${ABC}-x-x`]) {
        assert.throws(() => Cas.parseKey(bad), (err: unknown) => err instanceof CasError && err.code === 'ERR_NIP_CAS_CORRUPT', bad)
        assert.throws(() => cas.pathOf(bad), (err: unknown) => err instanceof CasError && err.code === 'ERR_NIP_CAS_CORRUPT', bad)
      }
      assert.throws(() => cas.keyOf('xyz', false), (err: unknown) => err instanceof CasError && err.code === 'ERR_NIP_CAS_CORRUPT')
    })
  })

  describe('adding', () => {
    it('stores a blob read-only and is idempotent', async () => {
      const first = await cas.addBuffer(Buffer.from('abc'))
      assert.deepEqual(first, { key: ABC, digest: ABC, executable: false, size: 3, existed: false })
      const path = join(dir, 'cas', '64', ABC)
      const before = await stat(path)
      assert.equal(modeOf(before), 0o444)
      assert.equal(before.nlink, 1)
      assert.equal(await readFile(path, 'utf8'), 'abc')

      const second = await cas.addBuffer(Buffer.from('abc'))
      assert.deepEqual(second, { key: ABC, digest: ABC, executable: false, size: 3, existed: true })
      const after = await stat(path)
      assert.equal(after.ino, before.ino)
      assert.equal(after.nlink, 1)
      assert.deepEqual(await listNames(join(dir, 'cas', 'tmp')), [])
      assert.equal(await cas.has(ABC), true)
      assert.deepEqual(await cas.stat(ABC), { size: 3 })
    })

    it('executable and non-executable copies of the same content are two blobs', async () => {
      const plain = await cas.addBuffer(Buffer.from('abc'))
      const exec = await cas.addBuffer(Buffer.from('abc'), { executable: true })
      assert.equal(plain.key, ABC)
      assert.deepEqual(exec, { key: `${ABC}-x`, digest: ABC, executable: true, size: 3, existed: false })
      assert.equal(modeOf(await stat(cas.pathOf(ABC))), 0o444)
      assert.equal(modeOf(await stat(cas.pathOf(`${ABC}-x`))), 0o555)
      assert.notEqual((await stat(cas.pathOf(ABC))).ino, (await stat(cas.pathOf(`${ABC}-x`))).ino)
      assert.deepEqual(await collect(cas.keys()), [ABC, `${ABC}-x`])
    })

    it('stores the empty blob', async () => {
      const info = await cas.addStream(chunks([]))
      assert.deepEqual(info, { key: EMPTY, digest: EMPTY, executable: false, size: 0, existed: false })
      assert.equal((await stat(cas.pathOf(EMPTY))).size, 0)
    })

    it('accepts Node readable streams and string chunks', async () => {
      const fromStrings = await cas.addStream(chunks(['a', 'b', 'c']))
      assert.equal(fromStrings.key, ABC)
      const fromReadable = await cas.addStream(Readable.from([Buffer.from('ab'), Buffer.from('c')]), { executable: true })
      assert.equal(fromReadable.key, `${ABC}-x`)
    })

    it('addFile takes the executable bit from the file unless told', async () => {
      const src = join(dir, 'tool')
      const content = Buffer.alloc(3 * 1024 * 1024 + 17, 7)
      await writeFile(src, content, { mode: 0o750 })
      const digest = blake3Hex(content)
      assert.deepEqual(await cas.addFile(src), { key: `${digest}-x`, digest, executable: true, size: content.length, existed: false })
      assert.equal((await cas.addFile(src, { executable: false })).key, digest)
      await chmod(src, 0o640)
      assert.equal((await cas.addFile(src)).key, digest)
      assert.deepEqual(await readFile(cas.pathOf(digest)), content)
    })

    it('addFile of a missing file is ERR_NIP_IO naming the file', async () => {
      const err = await rejectsWith(cas.addFile(join(dir, 'missing'), { executable: false }), 'ERR_NIP_IO')
      assert.equal(err.data.errno, 'ENOENT')
      assert.equal(err.data.path, join(dir, 'missing'))
      assert.deepEqual(await listNames(join(dir, 'cas', 'tmp')), [])
    })

    it('a digest mismatch throws and leaves nothing behind', async () => {
      const other = 'f'.repeat(64)
      const err = await rejectsWith(cas.addBuffer(Buffer.from('abc'), { expectDigest: other }), 'ERR_NIP_HASH_MISMATCH')
      assert.deepEqual(err.data, { expected: other, actual: ABC, size: 3 })
      assert.match(err.message, new RegExp(`${ABC}.*${other}`))
      assert.equal(typeof err.hint, 'string')
      assert.deepEqual(await collect(cas.keys()), [])
      assert.deepEqual((await listNames(join(dir, 'cas'))).filter((n) => !/^[0-9a-f]{2}$/.test(n)), ['tmp'])
      for (const b of ['00', '64', 'ff']) assert.deepEqual(await listNames(join(dir, 'cas', b)), [])
      assert.deepEqual(await listNames(join(dir, 'cas', 'tmp')), [])
    })

    it('a matching expected digest (any case) and size are accepted', async () => {
      const info = await cas.addBuffer(Buffer.from('abc'), { expectDigest: ABC.toUpperCase(), expectSize: 3 })
      assert.equal(info.key, ABC)
    })

    it('a size mismatch throws, short or long, and leaves nothing behind', async () => {
      const short = await rejectsWith(cas.addBuffer(Buffer.from('abc'), { expectSize: 4 }), 'ERR_NIP_SIZE_MISMATCH')
      assert.deepEqual(short.data, { expected: 4, actual: 3 })
      // Oversized input is cut off at the first chunk past the limit.
      const long = await rejectsWith(cas.addStream(chunks(['ab', 'cd', 'ef']), { expectSize: 3 }), 'ERR_NIP_SIZE_MISMATCH')
      assert.deepEqual(long.data, { expected: 3, actual: 4, atLeast: true })
      assert.deepEqual(await collect(cas.keys()), [])
      assert.deepEqual(await listNames(join(dir, 'cas', 'tmp')), [])
    })

    it('an error from the source passes through unchanged and removes the temporary file', async () => {
      const boom = new Error('source failed')
      async function* failing(): AsyncIterable<Uint8Array> {
        yield Buffer.alloc(1 << 20, 1)
        yield Buffer.alloc(1 << 20, 2)
        throw boom
      }
      await assert.rejects(cas.addStream(failing()), (err: unknown) => err === boom)
      assert.deepEqual(await listNames(join(dir, 'cas', 'tmp')), [])
      assert.deepEqual(await collect(cas.keys()), [])
    })

    it('ENOSPC from the source side becomes ERR_NIP_NO_SPACE and removes the temporary file', async () => {
      async function* full(): AsyncIterable<Uint8Array> {
        yield Buffer.from('partial')
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', path: join(dir, 'x') })
      }
      const err = await rejectsWith(cas.addStream(full()), 'ERR_NIP_NO_SPACE')
      assert.equal(err.data.errno, 'ENOSPC')
      assert.deepEqual(await listNames(join(dir, 'cas', 'tmp')), [])
    })

    it('a source that is not readable is ERR_NIP_IO with the temporary file removed', async () => {
      const err = await rejectsWith(cas.addStream(createReadStream(join(dir, 'nope'))), 'ERR_NIP_IO')
      assert.equal(err.data.errno, 'ENOENT')
      assert.deepEqual(await listNames(join(dir, 'cas', 'tmp')), [])
    })

    it('concurrent adds of the same content all succeed with one blob', async () => {
      const parts = Array.from({ length: 4 }, (_, i) => Buffer.alloc(300_000, i))
      const digest = blake3Hex(Buffer.concat(parts))
      const results = await Promise.all(Array.from({ length: 8 }, () => cas.addStream(chunks(parts))))
      for (const info of results) assert.deepEqual({ ...info, existed: undefined }, { key: digest, digest, executable: false, size: 1_200_000, existed: undefined })
      assert.ok(results.filter((info) => !info.existed).length >= 1)
      assert.deepEqual(await collect(cas.keys()), [digest])
      assert.equal((await stat(cas.pathOf(digest))).nlink, 1)
      assert.deepEqual(await listNames(join(dir, 'cas', 'tmp')), [])
    })

    it('adds and lists 10,000 small blobs', async function () {
      this.timeout(120_000)
      const expected: string[] = []
      const batch = 200
      for (let start = 0; start < 10_000; start += batch) {
        const infos = await Promise.all(
          Array.from({ length: batch }, (_, i) => cas.addBuffer(Buffer.from(`blob ${start + i}\n`), { executable: (start + i) % 7 === 0 })),
        )
        for (const info of infos) expected.push(info.key)
      }
      assert.equal(new Set(expected).size, 10_000)
      assert.equal(expected[0], `${blake3Hex(Buffer.from('blob 0\n'))}-x`)
      assert.deepEqual(await collect(cas.keys()), expected.sort())
    })
  })

  describe('verification and repair', () => {
    it('detects a corrupted blob and repairs it on the next add', async () => {
      const { key } = await cas.addBuffer(Buffer.from('abc'))
      const path = cas.pathOf(key)
      assert.equal(await cas.verify(key), true)
      await chmod(path, 0o644)
      await writeFile(path, 'abd')
      await chmod(path, 0o444)
      assert.equal(await cas.verify(key), false)

      const info = await cas.addBuffer(Buffer.from('abc'))
      assert.deepEqual(info, { key: ABC, digest: ABC, executable: false, size: 3, existed: false, repaired: true })
      assert.equal(await readFile(path, 'utf8'), 'abc')
      assert.equal(modeOf(await stat(path)), 0o444)
      assert.equal(await cas.verify(key), true)
      assert.deepEqual(await listNames(join(dir, 'cas', 'tmp')), [])
    })

    it('an add takes a complete-looking blob as it is; damage at full size is verify()\'s to find', async () => {
      const { key } = cas.addBufferSync(Buffer.from('abc'))
      const path = cas.pathOf(key)
      await chmod(path, 0o644)
      await writeFile(path, 'abd')
      await chmod(path, 0o444)
      // Same size and mode: not re-hashed by an add (no read of the stored content).
      assert.deepEqual(cas.addBufferSync(Buffer.from('abc')), { key: ABC, digest: ABC, executable: false, size: 3, existed: true })
      assert.deepEqual(await cas.addBuffer(Buffer.from('abc')), { key: ABC, digest: ABC, executable: false, size: 3, existed: true })
      assert.equal(await readFile(path, 'utf8'), 'abd')
      // verify() re-hashes; the key it found damaged is re-hashed, and repaired, by the next add.
      assert.equal(await cas.verify(key), false)
      assert.deepEqual(cas.addBufferSync(Buffer.from('abc')), { key: ABC, digest: ABC, executable: false, size: 3, existed: false, repaired: true })
      assert.equal(await readFile(path, 'utf8'), 'abc')
      assert.equal(await cas.verify(key), true)
    })

    it('a blob with the wrong mode fails verification and is repaired', async () => {
      const { key } = await cas.addBuffer(Buffer.from('abc'), { executable: true })
      await chmod(cas.pathOf(key), 0o444)
      assert.equal(await cas.verify(key), false)
      assert.equal((await cas.addBuffer(Buffer.from('abc'), { executable: true })).repaired, true)
      assert.equal(modeOf(await stat(cas.pathOf(key))), 0o555)
      assert.equal(await cas.verify(key), true)
    })

    it('addBufferSync creates the blob at its address, with its mode, leaving no temporary file', async () => {
      const info = cas.addBufferSync(Buffer.from('abc'), { executable: true })
      assert.deepEqual(info, { key: `${ABC}-x`, digest: ABC, executable: true, size: 3, existed: false })
      assert.equal(await readFile(join(dir, 'cas', '64', `${ABC}-x`), 'utf8'), 'abc')
      assert.equal(modeOf(await stat(cas.pathOf(info.key))), 0o555)
      assert.deepEqual(await listNames(join(dir, 'cas', 'tmp')), [])
      assert.deepEqual(cas.addBufferSync(Buffer.from('abc'), { executable: true }), { ...info, existed: true })
    })

    it('addBufferSync repairs a short blob left at its address by a killed write', async () => {
      const path = cas.pathOf(ABC)
      await mkdir(join(dir, 'cas', '64'), { recursive: true })
      await writeFile(path, 'ab', { mode: 0o444 })
      assert.equal(await cas.verify(ABC), false)
      const info = cas.addBufferSync(Buffer.from('abc'))
      assert.deepEqual(info, { key: ABC, digest: ABC, executable: false, size: 3, existed: false, repaired: true })
      assert.equal(await readFile(path, 'utf8'), 'abc')
      assert.equal(modeOf(await stat(path)), 0o444)
      assert.equal(await cas.verify(ABC), true)
      assert.deepEqual(await listNames(join(dir, 'cas', 'tmp')), [])
    })

    it('addBufferSync checks its expectations before writing anything', async () => {
      assert.throws(() => cas.addBufferSync(Buffer.from('abc'), { expectSize: 4 }), (e: unknown) => e instanceof CasError && e.code === 'ERR_NIP_SIZE_MISMATCH')
      assert.throws(() => cas.addBufferSync(Buffer.from('abc'), { expectDigest: EMPTY }), (e: unknown) => e instanceof CasError && e.code === 'ERR_NIP_HASH_MISMATCH')
      assert.deepEqual(await collect(cas.keys()), [])
    })

    it('with fsync, addBufferSync publishes through a temporary file and cleans up', async () => {
      const synced = new Cas(join(dir, 'synced'), { fsync: true })
      await synced.init()
      const info = synced.addBufferSync(Buffer.from('abc'))
      assert.equal(info.existed, false)
      assert.equal(await synced.verify(ABC), true)
      assert.deepEqual(await listNames(join(dir, 'synced', 'tmp')), [])
    })

    it('a missing blob does not verify', async () => {
      assert.equal(await cas.verify(ABC), false)
    })
  })

  describe('removal and listing', () => {
    it('remove deletes once', async () => {
      const { key } = await cas.addBuffer(Buffer.from('abc'))
      assert.equal(await cas.remove(key), true)
      assert.equal(await cas.remove(key), false)
      assert.equal(await cas.has(key), false)
      assert.equal(await cas.stat(key), null)
      assert.deepEqual(await collect(cas.keys()), [])
    })

    it('keys ignores foreign files and misplaced names', async () => {
      await cas.addBuffer(Buffer.from('abc'))
      await writeFile(join(dir, 'cas', '64', 'README'), 'x')
      await mkdir(join(dir, 'cas', 'ff', 'ff'), { recursive: true })
      await writeFile(join(dir, 'cas', 'ff', ABC), 'misplaced')
      await writeFile(join(dir, 'cas', 'ff', 'ff', ABC), 'misplaced')
      await writeFile(join(dir, 'cas', 'import-methods.json'), '{}')
      assert.deepEqual(await collect(cas.keys()), [ABC])
    })

    it('keys of a store that was never initialised is empty', async () => {
      assert.deepEqual(await collect(new Cas(join(dir, 'none')).keys()), [])
    })
  })

  describe('cleanTmp', () => {
    it('removes files of dead processes, old files and foreign files, and keeps live ones', async () => {
      const tmp = join(dir, 'cas', 'tmp')
      const live = `${process.pid}.blob.00aa.tmp`
      const old = `${process.pid}.blob.00bb.tmp`
      const dead = '99999999.blob.00cc.tmp'
      await writeFile(join(tmp, live), 'x')
      await writeFile(join(tmp, old), 'x')
      await writeFile(join(tmp, dead), 'x')
      await writeFile(join(tmp, 'stray'), 'x')
      const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000)
      await utimes(join(tmp, old), twoDaysAgo, twoDaysAgo)
      assert.equal(await cas.cleanTmp(), 3)
      assert.deepEqual(await listNames(tmp), [live])
      assert.equal(await cas.cleanTmp({ maxAgeMs: -1 }), 1)
      assert.deepEqual(await listNames(tmp), [])
      assert.ok((await lstat(tmp)).isDirectory())
    })
  })
})

describe('blob paths', () => {
  const key = blake3Hex(Buffer.from('x'))
  it('are the join of store directory, bucket and key, however the directory is written', async () => {
    const { blobPath } = await import('../src/blobKey.js')
    for (const dir of ['/var/nip/cas', '/var/nip/cas/', '/var//nip/cas', '/var/nip/./cas', '/var/x/../nip/cas', 'rel/cas', '/']) {
      assert.equal(blobPath(dir, key), join(dir, key.slice(0, 2), key), dir)
    }
    // The fast path remembers a directory: another one afterwards is still joined properly.
    assert.equal(blobPath('/var/nip/cas', key), `/var/nip/cas/${key.slice(0, 2)}/${key}`)
    assert.equal(blobPath('/var/nip/cas/..', key), join('/var/nip', key.slice(0, 2), key))
  })
  it('refuse a malformed key', async () => {
    const { blobPath } = await import('../src/blobKey.js')
    assert.throws(() => blobPath('/var/nip/cas', '../../etc/passwd'), { code: 'ERR_NIP_CAS_CORRUPT' })
  })
})
