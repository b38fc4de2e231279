/**
 * Ed25519 signing keys for the fleet cache, in Nix's format (`nix-store --generate-binary-cache-key`):
 * a secret key is `NAME:base64(64 bytes: seed ‖ public key)`, a public key `NAME:base64(32 bytes)`.
 * `[oci] secret-key-files` names the files holding secret keys (used by push), `[oci]
 * trusted-public-keys` the keys pull accepts. The signature is over the artifact's config blob,
 * byte for byte (that document names every layer's sha256 and every file's BLAKE3), and sits in
 * the manifest's `dev.nip.signature` annotation as `NAME:base64(64 bytes)`.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { NipError } from '@nip/core'

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
const NAME = /^[A-Za-z0-9._-]+$/

export interface SecretKey {
  name: string
  key: KeyObject
  /** The matching public key, `NAME:base64`. */
  publicKey: string
}

export interface PublicKey {
  name: string
  key: KeyObject
}

export function generateKeyPair(name: string): { secret: string; public: string } {
  if (!NAME.test(name)) throw new NipError('ERR_NIP_USAGE', `${JSON.stringify(name)} is not a key name.`, { hint: 'Use letters, digits, ".", "_" and "-", e.g. cache.example.org-1.' })
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length)
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length)
  return { secret: `${name}:${Buffer.concat([seed, pub]).toString('base64')}`, public: `${name}:${pub.toString('base64')}` }
}

function split(text: string, what: string, bytes: number[]): { name: string; raw: Buffer } {
  const t = text.trim()
  const i = t.indexOf(':')
  const raw = i > 0 ? Buffer.from(t.slice(i + 1), 'base64') : Buffer.alloc(0)
  if (i <= 0 || !NAME.test(t.slice(0, i)) || !bytes.includes(raw.length)) {
    throw new NipError('ERR_NIP_KEYRING_INVALID', `Not an Ed25519 ${what}: ${JSON.stringify(t.length > 40 && what.startsWith('secret') ? `${t.slice(0, t.indexOf(':') + 1)}…` : t)}.`, {
      hint: `A ${what} is NAME:BASE64, as nip cache keygen writes it.`,
    })
  }
  return { name: t.slice(0, i), raw }
}

export function parseSecretKey(text: string): SecretKey {
  const { name, raw } = split(text, 'secret key', [64])
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw.subarray(0, 32)]), format: 'der', type: 'pkcs8' })
  const pub = createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length)
  return { name, key, publicKey: `${name}:${pub.toString('base64')}` }
}

export function parsePublicKey(text: string): PublicKey {
  const { name, raw } = split(text, 'public key', [32])
  return { name, key: createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' }) }
}

export function signDocument(doc: Buffer, key: SecretKey): string {
  return `${key.name}:${sign(null, doc, key.key).toString('base64')}`
}

/**
 * Checks `signature` over `doc` against the trusted keys. Absent → ERR_NIP_ARTIFACT_UNSIGNED;
 * by an unknown key or not verifying → ERR_NIP_ARTIFACT_SIGNATURE. Returns the key name.
 */
export function verifyDocument(doc: Buffer, signature: string | undefined, trusted: PublicKey[], what: string): string {
  if (!signature) {
    throw new NipError('ERR_NIP_ARTIFACT_UNSIGNED', `${what} is not signed; nip grafts only artifacts signed by a trusted key.`, {
      hint: 'Push it again with a signing key ([oci] secret-key-files, or nip cache push --key FILE), or (a private test cache only) set [oci] require-sigs = false.',
      data: { artifact: what },
    })
  }
  const i = signature.indexOf(':')
  const name = signature.slice(0, i)
  const sig = Buffer.from(signature.slice(i + 1), 'base64')
  const candidates = trusted.filter((k) => k.name === name)
  if (i <= 0 || candidates.length === 0) {
    throw new NipError('ERR_NIP_ARTIFACT_SIGNATURE', `${what} is signed by ${JSON.stringify(name)}, which is not among the trusted keys (${trusted.map((k) => k.name).join(', ') || 'none'}).`, {
      hint: 'Add the publisher\'s public key to [oci] trusted-public-keys if you trust it.',
      data: { artifact: what, key: name },
    })
  }
  if (!candidates.some((k) => sig.length === 64 && verify(null, doc, k.key, sig))) {
    throw new NipError('ERR_NIP_ARTIFACT_SIGNATURE', `${what}: the signature by ${name} does not verify; the artifact was changed after signing, or signed with another key of that name.`, {
      hint: 'Nothing was grafted. Do not trust this registry\'s copy; push the artifact again from a trusted machine.',
      data: { artifact: what, key: name },
    })
  }
  return name
}
