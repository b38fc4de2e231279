/**
 * Incremental digests for the algorithms package sources publish (sha256/sha512/md5 from
 * node:crypto, BLAKE3 from the store's native hasher). `update` may be called with a chunk that
 * is reused afterwards: both implementations consume it before returning.
 */
import { createHash } from 'node:crypto'
import { createBlake3 } from '@nip/cas'

export type DigestAlgorithm = 'sha256' | 'sha512' | 'md5' | 'blake3'

export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = ['sha256', 'sha512', 'md5', 'blake3']

/** Hex length of each algorithm's digest (used to reject a malformed expected digest early). */
export const DIGEST_HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128, md5: 32, blake3: 64 }

export interface Digest {
  update(chunk: Buffer | Uint8Array): void
  /** Lowercase hex of everything updated so far. Call once. */
  digestHex(): string
}

export function createDigest(algorithm: DigestAlgorithm): Digest {
  if (algorithm === 'blake3') return createBlake3()
  const hash = createHash(algorithm)
  return {
    update(chunk) {
      hash.update(chunk)
    },
    digestHex() {
      return hash.digest('hex')
    },
  }
}
