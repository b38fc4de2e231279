/**
 * Hash strings as narinfo files write them (Hash::parseAnyPrefixed, src/libutil/hash.cc):
 * `algo:<base16|nix32|base64>` or SRI `algo-<base64>`. The encoding is decided by the length of
 * the text: base16, then Nix32, then base64. SRI without its trailing `=` is accepted.
 */
import { NipError } from '@nip/core'
import { decodeNix32, encodeNix32, nix32Length } from './nixBase32.js'

export type HashAlgorithm = 'md5' | 'sha1' | 'sha256' | 'sha512'

export const DIGEST_SIZE: Record<HashAlgorithm, number> = { md5: 16, sha1: 20, sha256: 32, sha512: 64 }

export interface NixHash {
  algorithm: HashAlgorithm
  digest: Buffer
}

export function parseHash(text: string): NixHash {
  const colon = text.indexOf(':')
  const dash = text.indexOf('-')
  const sri = colon < 0 && dash > 0
  const sep = sri ? dash : colon
  if (sep <= 0) throw badHash(text, 'no algorithm prefix')
  const algorithm = text.slice(0, sep)
  if (!(algorithm in DIGEST_SIZE)) throw badHash(text, `unknown algorithm ${JSON.stringify(algorithm)}`)
  const size = DIGEST_SIZE[algorithm as HashAlgorithm]
  const rest = text.slice(sep + 1)
  const algo = algorithm as HashAlgorithm
  if (!sri && rest.length === size * 2) {
    if (!/^[0-9a-fA-F]+$/.test(rest)) throw badHash(text, 'invalid base16')
    return { algorithm: algo, digest: Buffer.from(rest, 'hex') }
  }
  if (!sri && rest.length === nix32Length(size)) return { algorithm: algo, digest: decodeNix32(rest, size) }
  const b64 = rest.padEnd(Math.ceil(rest.length / 4) * 4, '=')
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw badHash(text, 'invalid base64')
  const digest = Buffer.from(b64, 'base64')
  if (digest.length !== size || digest.toString('base64') !== b64) throw badHash(text, `length does not match ${algorithm}`)
  return { algorithm: algo, digest }
}

/** `sha256:<nix32>`, the form narinfo writers and signature fingerprints use. */
export function formatHashNix32(hash: NixHash): string {
  return `${hash.algorithm}:${encodeNix32(hash.digest)}`
}

export function formatHashSri(hash: NixHash): string {
  return `${hash.algorithm}-${hash.digest.toString('base64')}`
}

function badHash(text: string, why: string): NipError {
  return new NipError('ERR_NIP_BAD_PACKAGE', `Not a valid Nix hash ${JSON.stringify(text)}: ${why}`, {
    hint: 'The binary cache metadata is malformed.',
    data: { hash: text },
  })
}
