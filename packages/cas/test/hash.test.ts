import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { blake2bHex, blake3Hex, createBlake3, hashFile } from '../src/index.js'
import { makeTempDir } from './tempDir.js'

const vectors = JSON.parse(readFileSync(new URL('./fixtures/blake3-vectors.json', import.meta.url), 'utf8')) as {
  cases: { input_len: number; hash: string }[]
}

/** The reference vectors' input: `length` bytes of 0, 1, ..., 250, 0, 1, ... */
function vectorInput(length: number): Buffer {
  const buf = Buffer.alloc(length)
  for (let i = 0; i < length; i++) buf[i] = i % 251
  return buf
}

describe('hash', () => {
  it('BLAKE3 of "" and "abc"', () => {
    assert.equal(blake3Hex(Buffer.alloc(0)), 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262')
    assert.equal(blake3Hex(Buffer.from('abc')), '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85')
    assert.equal(blake3Hex(new Uint8Array([0x61, 0x62, 0x63])), '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85')
  })

  it('BLAKE3 reference vectors, one-shot and streamed in odd chunks', () => {
    assert.equal(vectors.cases.length, 15)
    for (const { input_len: length, hash } of vectors.cases) {
      const input = vectorInput(length)
      assert.equal(blake3Hex(input), hash, `one-shot, length ${length}`)
      const stream = createBlake3()
      for (let offset = 0; offset < length; offset += 1000) stream.update(input.subarray(offset, offset + 1000))
      assert.equal(stream.digestHex(), hash, `streamed, length ${length}`)
    }
  })

  it('createBlake3 of nothing is the empty digest', () => {
    assert.equal(createBlake3().digestHex(), 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262')
  })

  it('hashFile gives the digest and size of a multi-chunk file', async () => {
    const { dir, cleanup } = await makeTempDir()
    try {
      const input = vectorInput(102400)
      // Three full 1 MiB chunks plus a tail: the vector input repeated, checked against the one-shot hash.
      const big = Buffer.concat(Array.from({ length: 31 }, () => input))
      await writeFile(join(dir, 'big'), big)
      assert.deepEqual(await hashFile(join(dir, 'big')), { digest: blake3Hex(big), size: 31 * 102400 })
      await writeFile(join(dir, 'v'), input)
      assert.deepEqual(await hashFile(join(dir, 'v')), {
        digest: 'bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085',
        size: 102400,
      })
      await writeFile(join(dir, 'empty'), '')
      assert.deepEqual(await hashFile(join(dir, 'empty')), {
        digest: 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262',
        size: 0,
      })
    } finally {
      await cleanup()
    }
  })

  it('BLAKE2b-512 and BLAKE2b-256 of "abc"', () => {
    assert.equal(
      blake2bHex(Buffer.from('abc')),
      'ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923',
    )
    // BLAKE2b-256 is its own parameterisation, not a prefix of BLAKE2b-512 (value from `b2sum -l 256`).
    assert.equal(blake2bHex(new Uint8Array(Buffer.from('abc')), 32), 'bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319')
  })

  it('BLAKE2b rejects output lengths outside 1..64', () => {
    assert.throws(() => blake2bHex(Buffer.from('abc'), 0), RangeError)
    assert.throws(() => blake2bHex(Buffer.from('abc'), 65), RangeError)
  })
})
