/**
 * Detached OpenPGP signatures (binary `.sig` files and base64 `%PGPSIG%`) checked against an
 * armored keyring, with pacman's SigLevel policy applied.
 *
 * Contract: `checkSignature` returns normally only when the policy is met: a valid signature by
 * a keyring key, or no signature where the policy allows it. Otherwise it throws
 * ERR_NIP_SIGNATURE_MISSING (Required, none given), ERR_NIP_KEY_UNKNOWN (signed by a key not in
 * the keyring) or ERR_NIP_SIGNATURE_INVALID (does not verify, or an expired/revoked key under
 * TrustedOnly); each names the file, the mirror and the key.
 */
import { readFile } from 'node:fs/promises'
import * as openpgp from 'openpgp'
import { NipError } from '@nip/core'
import type { SigPolicy } from './sigLevel.js'

/** pacman refuses signature files larger than this (MAX_SIGFILE_SIZE). */
export const MAX_SIGNATURE_SIZE = 16384

export type Keyring = openpgp.PublicKey[]

export async function loadKeyring(file: string | null): Promise<Keyring> {
  if (file === null) return []
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (e) {
    throw new NipError('ERR_NIP_CONFIG', `Cannot read the pacman keyring ${file}: ${(e as Error).message}`, {
      hint: 'Set [pacman] keyring to a file of armored public keys (gpg --export --armor KEYID).',
      data: { keyring: file },
      cause: e,
    })
  }
  try {
    return await openpgp.readKeys({ armoredKeys: text })
  } catch (e) {
    throw new NipError('ERR_NIP_CONFIG', `The pacman keyring ${file} holds no readable public keys: ${(e as Error).message}`, {
      hint: 'Export the keys with gpg --export --armor KEYID.',
      data: { keyring: file },
      cause: e,
    })
  }
}

export interface SignatureCheck {
  /** What is signed, for messages ("core.db", "foo-1.0-1-x86_64.pkg.tar.zst"). */
  what: string
  /** Where it came from (mirror URL or file). */
  origin: string
  data: Buffer | Uint8Array
  /** The binary detached signature, or null when there is none. */
  signature: Buffer | null
  keyring: Keyring
  policy: SigPolicy
}

export interface SignatureOutcome {
  status: 'verified' | 'unsigned' | 'skipped'
  keyId?: string
  fingerprint?: string
  userIds?: string[]
}

export async function checkSignature(c: SignatureCheck): Promise<SignatureOutcome> {
  if (c.policy.check === 'never') return { status: 'skipped' }
  if (c.signature === null) {
    if (c.policy.check === 'optional') return { status: 'unsigned' }
    throw new NipError('ERR_NIP_SIGNATURE_MISSING', `${c.what} from ${c.origin} has no signature, and its SigLevel requires one.`, {
      hint: 'Sign it (repo-add --sign, gpg --detach-sign), or relax SigLevel for this repository.',
      data: { file: c.what, mirror: c.origin },
    })
  }
  const invalid = (why: string, key?: string, cause?: unknown): NipError =>
    new NipError('ERR_NIP_SIGNATURE_INVALID', `The signature of ${c.what} from ${c.origin} is not valid${key ? ` (key ${key})` : ''}: ${why}`, {
      hint: 'The file or its signature was altered, or the mirror is compromised. Do not install it; try another mirror.',
      data: { file: c.what, mirror: c.origin, key },
      ...(cause !== undefined ? { cause } : {}),
    })
  if (c.signature.length > MAX_SIGNATURE_SIZE) throw invalid(`the signature is larger than ${MAX_SIGNATURE_SIZE} bytes`)
  let signature: openpgp.Signature
  try {
    signature = await openpgp.readSignature({ binarySignature: c.signature })
  } catch (e) {
    throw invalid(`the signature cannot be parsed: ${(e as Error).message}`, undefined, e)
  }
  const issuers = signature.getSigningKeyIDs().map((k) => k.toHex().toUpperCase())
  const key = c.keyring.find((k) => k.getKeys().some((sub) => issuers.includes(sub.getKeyID().toHex().toUpperCase())))
  if (key === undefined) {
    throw new NipError('ERR_NIP_KEY_UNKNOWN', `${c.what} from ${c.origin} is signed by key ${issuers.join(', ') || '(unnamed)'}, which is not in the pacman keyring.`, {
      hint: 'Add the packager\'s public key to the file named by [pacman] keyring if you trust it.',
      data: { file: c.what, mirror: c.origin, key: issuers[0] },
    })
  }
  const fingerprint = key.getFingerprint().toUpperCase()
  const message = await openpgp.createMessage({ binary: c.data instanceof Buffer ? new Uint8Array(c.data.buffer, c.data.byteOffset, c.data.byteLength) : c.data })
  try {
    const result = await openpgp.verify({
      message,
      signature,
      verificationKeys: [key],
      ...(c.policy.trust === 'trustAll' ? { date: signature.packets[0]?.created ?? new Date() } : {}),
    })
    await result.signatures[0].verified
  } catch (e) {
    throw invalid((e as Error).message, fingerprint, e)
  }
  const userIds = key.getUserIDs()
  return { status: 'verified', keyId: issuers[0], fingerprint, userIds }
}
