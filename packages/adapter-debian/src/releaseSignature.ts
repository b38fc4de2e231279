/**
 * Verifying an InRelease file: apt's strict split first (clearsigned.ts), then OpenPGP over the
 * signed text only. The file is accepted when at least one of its signatures verifies with a key
 * of the source's keyring (what gpgv does for apt); signatures by keys outside the keyring are
 * ignored, and if no signature is by a known key the file is refused with ERR_NIP_KEY_UNKNOWN.
 *
 * Keyrings are binary (`.gpg`, what Debian ships in /usr/share/keyrings) or ASCII-armored (`.asc`).
 */
import * as openpgp from 'openpgp'
import { NipError } from '@nip/core'
import { splitClearSigned } from './clearsigned.js'

/** openpgp's CleartextMessage takes (text, signature) at run time; its typings omit the constructor. */
const CleartextWithSignature = openpgp.CleartextMessage as unknown as new (text: string, signature: openpgp.Signature) => openpgp.CleartextMessage

export interface VerifiedRelease {
  /** The signed text, and nothing outside it. */
  text: string
  /** Fingerprint (hex, lower case) of the key whose signature verified. */
  fingerprint: string
}

export async function readKeyring(data: Uint8Array, source: string): Promise<openpgp.PublicKey[]> {
  try {
    const text = Buffer.from(data.subarray(0, 64)).toString('latin1')
    if (text.includes('-----BEGIN PGP')) return await openpgp.readKeys({ armoredKeys: Buffer.from(data).toString('utf8') })
    return await openpgp.readKeys({ binaryKeys: data })
  } catch (e) {
    throw new NipError('ERR_NIP_CONFIG', `The keyring ${source} cannot be read: ${(e as Error).message}`, {
      hint: 'Signed-By must name an OpenPGP keyring file (binary .gpg or armored .asc).',
      data: { keyring: source },
      cause: e,
    })
  }
}

export async function verifyInRelease(input: string, keys: openpgp.PublicKey[], file: string): Promise<VerifiedRelease> {
  const split = splitClearSigned(input, file)
  if (!split.signed) {
    throw new NipError('ERR_NIP_SIGNATURE_MISSING', `${file} is not clear-signed`, {
      hint: 'The repository must publish a signed InRelease file; nip does not use unsigned repositories.',
      data: { file },
    })
  }
  const knownIds = new Set(keys.flatMap((k) => k.getKeyIDs().map((id) => id.toHex())))
  let sawKnown = false
  const failures: string[] = []
  for (const armored of split.signatures) {
    let signature: openpgp.Signature
    try {
      signature = await openpgp.readSignature({ armoredSignature: armored })
    } catch (e) {
      failures.push(`unreadable signature: ${(e as Error).message}`)
      continue
    }
    const message = new CleartextWithSignature(split.text, signature)
    const result = await openpgp.verify({ message, verificationKeys: keys, expectSigned: false })
    for (const s of result.signatures) {
      if (!knownIds.has(s.keyID.toHex())) continue
      sawKnown = true
      try {
        await s.verified
        const key = keys.find((k) => k.getKeyIDs().some((id) => id.equals(s.keyID)))!
        return { text: split.text, fingerprint: key.getFingerprint() }
      } catch (e) {
        failures.push(`${s.keyID.toHex()}: ${(e as Error).message}`)
      }
    }
  }
  if (!sawKnown && failures.length === 0) {
    const ids = split.signatures.length
    throw new NipError('ERR_NIP_KEY_UNKNOWN', `${file} is signed (${ids} signature${ids === 1 ? '' : 's'}) but by no key of the source's keyring`, {
      hint: 'Check Signed-By (or [debian] keyring) names the archive key of this repository.',
      data: { file },
    })
  }
  throw new NipError('ERR_NIP_SIGNATURE_INVALID', `${file}: the signature does not verify (${failures.join('; ')})`, {
    hint: 'The file was modified after signing or the mirror is broken. Nothing from it was used.',
    data: { file, failures },
  })
}
