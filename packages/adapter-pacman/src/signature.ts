/**
 * pacman's SigLevel policy over detached OpenPGP signatures (binary `.sig` files and base64
 * `%PGPSIG%`). The OpenPGP work is core's (`readKeyring`, `verifyDetached`); this module decides
 * whether a signature is needed and names the file, the mirror and the key in every refusal.
 *
 * Contract: `checkSignature` returns normally only when the policy is met: a valid signature by
 * a keyring key that is valid now, or no signature where the policy allows it. Otherwise it
 * throws ERR_NIP_SIGNATURE_MISSING (Required, none given), ERR_NIP_KEY_UNKNOWN (signed by a key
 * not in the keyring) or ERR_NIP_SIGNATURE_INVALID (does not verify, larger than pacman's limit,
 * or made by an expired or revoked key — libalpm refuses those under TrustAll too).
 */
import { readFile } from 'node:fs/promises'
import { NipError, isNipError, readKeyring, verifyDetached, type PublicKeyring } from '@nip/core'
import type { SigPolicy } from './sigLevel.js'

/** pacman refuses signature files larger than this (MAX_SIGFILE_SIZE). */
export const MAX_SIGNATURE_SIZE = 16384

/** The trusted keys, or null when no keyring is configured (every signature is then by an unknown key). */
export type Keyring = PublicKeyring | null

export async function loadKeyring(file: string | null): Promise<Keyring> {
  if (file === null) return null
  let data: Buffer
  try {
    data = await readFile(file)
  } catch (e) {
    throw new NipError('ERR_NIP_CONFIG', `Cannot read the pacman keyring ${file}: ${(e as Error).message}`, {
      hint: 'Set [pacman] keyring to a file of armored public keys (gpg --export --armor KEYID).',
      data: { keyring: file },
      cause: e,
    })
  }
  try {
    return await readKeyring(data)
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
  data: Buffer
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
  if (c.signature.length > MAX_SIGNATURE_SIZE) {
    throw new NipError('ERR_NIP_SIGNATURE_INVALID', `The signature of ${c.what} from ${c.origin} is not valid: it is larger than ${MAX_SIGNATURE_SIZE} bytes`, {
      hint: 'The file or its signature was altered, or the mirror is compromised. Do not install it; try another mirror.',
      data: { file: c.what, mirror: c.origin, reason: 'too-large' },
    })
  }
  if (c.keyring === null) {
    throw new NipError('ERR_NIP_KEY_UNKNOWN', `${c.what} from ${c.origin} is signed, but no pacman keyring is configured.`, {
      hint: 'Add the packager\'s public key to the file named by [pacman] keyring if you trust it.',
      data: { file: c.what, mirror: c.origin },
    })
  }
  try {
    const v = await verifyDetached({ data: c.data, signature: c.signature, keyring: c.keyring })
    return { status: 'verified', keyId: v.keyId, fingerprint: v.fingerprint, userIds: v.userIds }
  } catch (e) {
    throw isNipError(e) ? named(e, c) : e
  }
}

/** Core's verdict, restated with the file and the mirror (the code and core's data are kept). */
function named(e: NipError, c: SignatureCheck): NipError {
  const hints: Partial<Record<string, string>> = {
    ERR_NIP_KEY_UNKNOWN: 'Add the packager\'s public key to the file named by [pacman] keyring if you trust it.',
    ERR_NIP_SIGNATURE_INVALID: 'The file or its signature was altered, or the mirror is compromised. Do not install it; try another mirror.',
  }
  const keyIds = (e.data.keyIds as string[] | undefined) ?? []
  const key = keyIds[0] ?? ((e.data.failures as { keyId?: string }[] | undefined) ?? [])[0]?.keyId
  const message =
    e.code === 'ERR_NIP_KEY_UNKNOWN'
      ? `${c.what} from ${c.origin} is signed by key ${keyIds.join(', ') || '(unnamed)'}, which is not in the pacman keyring.`
      : `The signature of ${c.what} from ${c.origin} is not valid${key ? ` (key ${key})` : ''}: ${e.message}`
  return new NipError(e.code, message, {
    hint: hints[e.code] ?? e.hint,
    data: { ...e.data, file: c.what, mirror: c.origin, ...(key ? { key } : {}) },
    cause: e,
  })
}
