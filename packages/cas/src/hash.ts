/**
 * Hash functions. BLAKE3 (the store's address) and BLAKE2b (formats that ask for it) come from
 * the native @napi-rs/blake-hash binding, which runs at several GB/s.
 */
import { open } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { Blake2BHasher, Blake2BParam, Blake3Hasher, blake3 } from '@napi-rs/blake-hash'

/** Read size used when hashing files: large enough that the native call dominates. */
export const HASH_CHUNK_SIZE = 1 << 20

/** BLAKE3 (256-bit) of `data`, as 64 lowercase hex characters. */
export function blake3Hex(data: Buffer | Uint8Array): string {
  return blake3(data).toString('hex')
}

/** An incremental BLAKE3 hasher. `update` copies nothing: the chunk may be reused after it returns. */
export interface Blake3Stream {
  update(chunk: Buffer | Uint8Array): void
  /** The digest of everything updated so far, as 64 lowercase hex characters. */
  digestHex(): string
}

export function createBlake3(): Blake3Stream {
  const hasher = new Blake3Hasher()
  return {
    update(chunk) {
      hasher.update(chunk)
    },
    digestHex() {
      return hasher.digest('hex')
    },
  }
}

/**
 * BLAKE3 digest and byte size of a file's content. Double-buffered: the next chunk is read (on
 * libuv's thread pool) while the current one is hashed (synchronously, natively).
 */
export async function hashFile(path: string): Promise<{ digest: string; size: number }> {
  const handle = await open(path, 'r')
  const buffers = [Buffer.allocUnsafe(HASH_CHUNK_SIZE), Buffer.allocUnsafe(HASH_CHUNK_SIZE)]
  let reading = handle.read(buffers[0], 0, HASH_CHUNK_SIZE, null)
  try {
    const hasher = new Blake3Hasher()
    let size = 0
    for (let turn = 0; ; turn++) {
      const { bytesRead, buffer } = await reading
      if (bytesRead === 0) break
      reading = handle.read(buffers[(turn + 1) % 2], 0, HASH_CHUNK_SIZE, null)
      hasher.update(buffer.subarray(0, bytesRead))
      size += bytesRead
    }
    return { digest: hasher.digest('hex'), size }
  } finally {
    await reading.catch(() => undefined)
    await handle.close()
  }
}

/**
 * BLAKE2b of `data` with an output of `outLen` bytes (1..64), as lowercase hex. The output
 * length is part of BLAKE2b's parameter block, so BLAKE2b-256 is not a truncated BLAKE2b-512:
 * lengths other than 64 go through the parameterised native hasher; 64 uses node:crypto's
 * 'blake2b512'.
 */
export function blake2bHex(data: Buffer | Uint8Array, outLen = 64): string {
  if (!Number.isInteger(outLen) || outLen < 1 || outLen > 64) {
    throw new RangeError(`BLAKE2b output length must be 1..64 bytes, got ${outLen}`)
  }
  if (outLen === 64) return createHash('blake2b512').update(data).digest('hex')
  const param = new Blake2BParam()
  param.hashLength(outLen)
  const hasher = Blake2BHasher.withParams(param)
  hasher.update(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength))
  return hasher.digest('hex')
}
