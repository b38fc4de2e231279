import assert from 'node:assert/strict'
import { gzipSync } from 'node:zlib'
import { randomBytes } from 'node:crypto'
import { buildTar, compressBuffer } from '@nip/testing'
import { decompressChunks, decompressStream, detectCompression, looksLikeTar, type Compression } from '../src/archive/decompress.js'
import { NipError } from '../src/errors.js'

async function collect(src: AsyncIterable<Buffer | Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of src) chunks.push(Buffer.from(c))
  return Buffer.concat(chunks)
}

async function rejection(p: Promise<unknown>): Promise<NipError> {
  try {
    await p
  } catch (e) {
    assert.ok(e instanceof NipError, `expected a NipError, got ${String(e)}`)
    return e
  }
  assert.fail('expected a rejection')
}

/** Yields `data` in chunks of `size` bytes, to exercise the head peek across chunk borders. */
async function* chunked(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size)
}

describe('archive: detectCompression', () => {
  const cases: Array<[string, number[], Compression]> = [
    ['gzip', [0x1f, 0x8b, 0x08, 0x00], 'gzip'],
    ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], 'xz'],
    ['xz without its NUL', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x01], 'none'],
    ['zstd', [0x28, 0xb5, 0x2f, 0xfd, 0x00], 'zstd'],
    ['bzip2 level 9', [0x42, 0x5a, 0x68, 0x39], 'bzip2'],
    ['bzip2 level 1', [0x42, 0x5a, 0x68, 0x31], 'bzip2'],
    ['"BZh0" is no bzip2', [0x42, 0x5a, 0x68, 0x30], 'none'],
    ['short input', [0x1f], 'none'],
    ['empty input', [], 'none'],
  ]
  for (const [name, bytes, expected] of cases) {
    it(`${name} → ${expected}`, () => assert.equal(detectCompression(Buffer.from(bytes)), expected))
  }

  it('recognises a ustar header and nothing else', async () => {
    const tar = await buildTar([{ path: 'a', content: 'x' }])
    assert.equal(looksLikeTar(tar), true)
    assert.equal(looksLikeTar(Buffer.alloc(512)), false)
  })
})

describe('archive: decompressStream', () => {
  const payload = Buffer.from('payload '.repeat(5000))
  for (const compression of ['none', 'gzip', 'xz', 'zstd', 'bzip2'] as const) {
    it(`round-trips ${compression}, fed one byte at a time at first`, async () => {
      const packed = await compressBuffer(payload, compression)
      async function* source(): AsyncGenerator<Buffer> {
        for (let i = 0; i < 8; i++) yield packed.subarray(i, i + 1)
        yield packed.subarray(8)
      }
      assert.deepEqual(await collect(decompressStream(source())), payload)
    })
  }

  it('reads every member of a multi-member gzip', async () => {
    const both = Buffer.concat([gzipSync(Buffer.from('first,')), gzipSync(Buffer.from('second'))])
    assert.equal((await collect(decompressStream(chunked(both, 7)))).toString(), 'first,second')
  })

  it('honours an explicit compression over detection', async () => {
    const raw = Buffer.from([0x1f, 0x8b, 0x41])
    assert.deepEqual(await collect(decompressStream([raw], { compression: 'none' })), raw)
  })

  for (const compression of ['gzip', 'xz', 'zstd', 'bzip2'] as const) {
    it(`a truncated ${compression} stream is ERR_NIP_ARCHIVE_CORRUPT`, async () => {
      const packed = await compressBuffer(Buffer.from('0123456789abcdef'.repeat(4096)), compression)
      const err = await rejection(collect(decompressStream([packed.subarray(0, packed.length - 20)], { archive: 't.bin' })))
      assert.equal(err.code, 'ERR_NIP_ARCHIVE_CORRUPT')
      assert.equal(err.data.compression, compression)
      assert.equal(err.data.archive, 't.bin')
    })
  }

  for (const compression of ['gzip', 'xz', 'zstd'] as const) {
    it(`damaged ${compression} data is ERR_NIP_ARCHIVE_COMPRESSION`, async () => {
      const packed = Buffer.from(await compressBuffer(Buffer.from('x'.repeat(100000)), compression))
      // Keep the magic; flip the bytes of the last part (payload and checksums).
      for (let i = packed.length - 12; i < packed.length; i++) packed[i] ^= 0x55
      const err = await rejection(collect(decompressStream([packed])))
      assert.equal(err.code, 'ERR_NIP_ARCHIVE_COMPRESSION')
      assert.equal(err.data.compression, compression)
      assert.match(err.message, new RegExp(compression))
    })
  }

  it('passes a NipError of the source through unchanged', async () => {
    const boom = new NipError('ERR_NIP_FETCH_FAILED', 'mirror went away')
    async function* source(): AsyncGenerator<Buffer> {
      yield gzipSync(Buffer.from('a'.repeat(1000))).subarray(0, 20)
      throw boom
    }
    assert.equal(await rejection(collect(decompressStream(source()))), boom)
  })
})

describe('archive: decompressChunks', () => {
  for (const compression of ['none', 'gzip', 'xz', 'zstd', 'bzip2'] as const) {
    it(`round-trips ${compression} as a plain async iterable`, async () => {
      const payload = Buffer.from('chunks '.repeat(9000))
      const packed = await compressBuffer(payload, compression)
      assert.deepEqual(await collect(decompressChunks(chunked(packed, 1000))), payload)
    })
  }

  it('zstd: decodes every frame of a multi-frame stream into chunks of at most 1 MiB', async () => {
    const a = Buffer.alloc(3 * 1024 * 1024 + 17, 'a')
    const b = Buffer.from('second frame '.repeat(100))
    const packed = Buffer.concat([await compressBuffer(a, 'zstd'), await compressBuffer(b, 'zstd')])
    const sizes: number[] = []
    const chunks: Buffer[] = []
    for await (const c of decompressChunks(chunked(packed, 4096))) {
      sizes.push(c.length)
      chunks.push(c)
    }
    assert.deepEqual(Buffer.concat(chunks), Buffer.concat([a, b]))
    assert.ok(Math.max(...sizes) <= 1024 * 1024, `a chunk of ${Math.max(...sizes)} bytes`)
    assert.ok(sizes.length >= 4)
  })

  it('zstd: a stream cut between frames is whole; one cut inside a frame is ERR_NIP_ARCHIVE_CORRUPT', async () => {
    const one = await compressBuffer(Buffer.from('x'.repeat(50000)), 'zstd')
    const two = Buffer.concat([one, one])
    assert.equal((await collect(decompressChunks([two.subarray(0, one.length)]))).length, 50000)
    assert.equal((await collect(decompressChunks([Buffer.alloc(0), one, Buffer.alloc(0)]))).length, 50000, 'empty chunks around a whole frame')
    const err = await rejection(collect(decompressChunks([two.subarray(0, one.length + 9)], { archive: 'cut.zst' })))
    assert.equal(err.code, 'ERR_NIP_ARCHIVE_CORRUPT')
    assert.equal(err.data.archive, 'cut.zst')
  })

  for (const compression of ['none', 'gzip', 'zstd'] as const) {
    it(`${compression}: stopping early stops reading the source`, async () => {
      const packed = await compressBuffer(randomBytes(4 * 1024 * 1024), compression)
      let read = 0
      let closed = false
      async function* source(): AsyncGenerator<Buffer> {
        try {
          for (let i = 0; i < packed.length; i += 65536) {
            read++
            yield packed.subarray(i, i + 65536)
          }
        } finally {
          closed = true
        }
      }
      for await (const c of decompressChunks(source())) {
        assert.ok(c.length > 0)
        break
      }
      assert.ok(closed, 'the source was closed')
      assert.ok(read < Math.ceil(packed.length / 65536), `read ${read} of ${Math.ceil(packed.length / 65536)} pieces`)
    })
  }
})
