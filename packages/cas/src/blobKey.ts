/**
 * Blob keys. A key is the BLAKE3 hex digest of the content, with "-x" appended when the blob
 * is executable: hardlinked copies share one inode and so one mode, so the executable bit must
 * be part of the address. A blob lives at <dir>/<key[0:2]>/<key>.
 *
 * One level of 256 buckets, not two (<aa>/<bb>/, 65,536 buckets): on a fresh or young store
 * nearly every blob would otherwise need a bucket directory of its own, and creating a directory
 * costs as much as creating the blob (measured on ext4: 5,000 blobs took 2.0 s with two levels,
 * 1.1 s with one). A directory of a few thousand entries is cheap for every modern filesystem
 * (ext4 htree, XFS and btrfs B-trees), and 256 buckets keep it there up to about a million
 * blobs. Git's object store and pnpm's store make the same choice.
 */
import { join } from 'node:path'
import { CasError } from './casError.js'

const KEY_PATTERN = /^([0-9a-f]{64})(-x)?$/
const DIGEST_PATTERN = /^[0-9a-f]{64}$/

/** Stored mode of a blob: read-only for everyone, executable when the key says so. */
export function blobMode(executable: boolean): number {
  return executable ? 0o555 : 0o444
}

export function isDigest(value: string): boolean {
  return DIGEST_PATTERN.test(value)
}

export function isKey(value: string): boolean {
  return KEY_PATTERN.test(value)
}

export function keyOf(digest: string, executable: boolean): string {
  if (!isDigest(digest)) {
    throw new CasError('ERR_NIP_CAS_CORRUPT', `not a BLAKE3 hex digest: ${JSON.stringify(digest)}`, {
      hint: 'A digest is 64 lowercase hexadecimal characters.',
      data: { digest },
    })
  }
  return executable ? `${digest}-x` : digest
}

/** Splits a key into digest and executable bit; throws ERR_NIP_CAS_CORRUPT on a malformed key. */
export function parseKey(key: string): { digest: string; executable: boolean } {
  const match = typeof key === 'string' ? KEY_PATTERN.exec(key) : null
  if (match === null) {
    throw new CasError('ERR_NIP_CAS_CORRUPT', `malformed blob key: ${JSON.stringify(key)}`, {
      hint: 'A blob key is a 64-character lowercase BLAKE3 hex digest, optionally followed by "-x".',
      data: { key },
    })
  }
  return { digest: match[1], executable: match[2] !== undefined }
}

/** Path of a blob under the store directory (the key is validated first). */
export function blobPath(dir: string, key: string): string {
  parseKey(key)
  // A plain concatenation where join would change nothing (an absolute, normalised store
  // directory): it is called once per file of every graft.
  return isNormalAbsolute(dir) ? `${dir}/${key.slice(0, 2)}/${key}` : join(dir, key.slice(0, 2), key)
}

let lastNormal = ''
/** Whether `dir` is absolute and join would leave it as it is (no trailing slash, no //, . or ..). */
function isNormalAbsolute(dir: string): boolean {
  if (dir === lastNormal) return true
  if (dir.length < 2 || dir[0] !== '/' || dir.endsWith('/') || /\/\/|\/\.\.?(\/|$)/.test(dir)) return false
  lastNormal = dir
  return true
}
