/**
 * Ed25519 signatures over narinfo fingerprints (src/libutil/signature/local-keys.cc), with
 * `require-sigs` semantics: a path is trusted when at least one of its signatures verifies with a
 * trusted public key of the same name. Unknown key names do not count. Failures are distinct:
 * no signature at all (ERR_NIP_SIGNATURE_MISSING), signatures only by keys that are not trusted
 * (ERR_NIP_KEY_UNKNOWN), and a signature by a trusted key name that does not verify
 * (ERR_NIP_SIGNATURE_INVALID: the narinfo was altered). Each error names the keys it saw.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import { NipError } from '@nip/core'
import { fingerprint, type NarInfo } from './narInfo.js'
import { formatStorePath } from './storePath.js'

export interface PublicKey {
  name: string
  key: KeyObject
  raw: Buffer
}

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 raw key bytes follow. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/** Parse `name:base64(32 bytes)`. */
export function parsePublicKey(text: string): PublicKey {
  const colon = text.indexOf(':')
  const name = colon > 0 ? text.slice(0, colon) : ''
  const raw = colon > 0 ? Buffer.from(text.slice(colon + 1), 'base64') : Buffer.alloc(0)
  if (name === '' || raw.length !== 32) {
    throw new NipError('ERR_NIP_CONFIG', `${JSON.stringify(text)} is not a Nix public key (name:base64 of 32 bytes)`, {
      hint: 'Copy the key exactly as the cache publishes it, e.g. cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=.',
      data: { key: text },
    })
  }
  const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
  return { name, key, raw }
}

export interface ParsedSignature {
  keyName: string
  sig: Buffer
}

/** `name:base64(64 bytes)`; null when malformed (Nix: "signature is corrupt"). */
export function parseSignature(text: string): ParsedSignature | null {
  const colon = text.indexOf(':')
  if (colon <= 0) return null
  const sig = Buffer.from(text.slice(colon + 1), 'base64')
  if (sig.length !== 64) return null
  return { keyName: text.slice(0, colon), sig }
}

/** The names of the trusted keys whose signature verifies (empty: not verified). */
export function verifiedBy(info: NarInfo, keys: PublicKey[], storeDir?: string): string[] {
  const message = Buffer.from(fingerprint(info, storeDir))
  const ok: string[] = []
  for (const text of info.sigs) {
    const s = parseSignature(text)
    if (s === null) continue
    for (const k of keys) if (k.name === s.keyName && verify(null, message, k.key, s.sig)) ok.push(k.name)
  }
  return ok
}

/** Throws unless one signature verifies with a trusted key (see the file comment). */
export function requireSignature(info: NarInfo, keys: PublicKey[], opts: { storeDir?: string; source?: string } = {}): string {
  const ok = verifiedBy(info, keys, opts.storeDir)
  if (ok.length > 0) return ok[0]
  const path = formatStorePath(info.storePath, opts.storeDir)
  const seen = info.sigs.map((s) => s.slice(0, Math.max(0, s.indexOf(':'))) || '(malformed)')
  const trusted = keys.map((k) => k.name)
  const data = { storePath: path, keysSeen: seen, trustedKeys: trusted, source: opts.source }
  if (seen.length === 0) {
    throw new NipError('ERR_NIP_SIGNATURE_MISSING', `${path} is not signed; nip requires a signature by a trusted key (trusted: ${trusted.join(', ') || 'none'})`, {
      hint: 'Sign the path (nix store sign) or publish it with a secret key, or set [nix] require-sigs = false for a cache you trust by other means.',
      data,
    })
  }
  const trustedSeen = seen.filter((n) => trusted.includes(n))
  if (trustedSeen.length === 0) {
    throw new NipError('ERR_NIP_KEY_UNKNOWN', `${path} is signed only by keys that are not trusted: ${seen.join(', ')} (trusted: ${trusted.join(', ') || 'none'})`, {
      hint: 'Add the cache\'s public key to [nix] trusted-public-keys if you trust it.',
      data,
    })
  }
  throw new NipError('ERR_NIP_SIGNATURE_INVALID', `The signature of ${path} by ${trustedSeen.join(', ')} does not verify: the narinfo was altered or the signature is corrupt`, {
    hint: 'Do not use this binary cache until it is repaired; try another substituter.',
    data,
  })
}
