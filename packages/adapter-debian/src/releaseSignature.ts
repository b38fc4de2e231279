/**
 * Verifying an InRelease file: apt's strict split first (clearsigned.ts), then core's OpenPGP
 * verification over the signed text only — each signature block as a detached signature over
 * that text (a cleartext signature is a text-mode signature: line ends are canonicalised to CRLF,
 * and the split has already removed trailing whitespace, as RFC 4880 §7.1 requires).
 *
 * The file is accepted when at least one signature verifies with a key of the source's keyring
 * that is valid now (what gpgv does for apt); signatures by keys outside the keyring are ignored,
 * and if no signature is by a known key the file is refused with ERR_NIP_KEY_UNKNOWN.
 *
 * Keyrings are binary (`.gpg`, what Debian ships in /usr/share/keyrings) or ASCII-armored (`.asc`).
 */
import { NipError, isNipError, readKeyring as readCoreKeyring, verifyDetached, type PublicKeyring } from '@nip/core'
import { splitClearSigned } from './clearsigned.js'

export interface VerifiedRelease {
  /** The signed text, and nothing outside it. */
  text: string
  /** Fingerprint (hex, lower case) of the key whose signature verified. */
  fingerprint: string
}

/** A keyring file's keys; an unreadable keyring is a configuration error naming `source`. */
export async function readKeyring(data: Uint8Array, source: string): Promise<PublicKeyring> {
  try {
    return await readCoreKeyring(Buffer.from(data.buffer, data.byteOffset, data.byteLength))
  } catch (e) {
    throw new NipError('ERR_NIP_CONFIG', `The keyring ${source} cannot be read: ${(e as Error).message}`, {
      hint: 'Signed-By must name an OpenPGP keyring file (binary .gpg or armored .asc).',
      data: { keyring: source },
      cause: e,
    })
  }
}

export async function verifyInRelease(input: string, keyring: PublicKeyring, file: string): Promise<VerifiedRelease> {
  const split = splitClearSigned(input, file)
  if (!split.signed) {
    throw new NipError('ERR_NIP_SIGNATURE_MISSING', `${file} is not clear-signed`, {
      hint: 'The repository must publish a signed InRelease file; nip does not use unsigned repositories.',
      data: { file },
    })
  }
  const data = Buffer.from(split.text, 'utf8')
  const failures: string[] = []
  for (const signature of split.signatures) {
    try {
      const v = await verifyDetached({ data, signature, keyring })
      return { text: split.text, fingerprint: v.fingerprint.toLowerCase() }
    } catch (e) {
      if (isNipError(e, 'ERR_NIP_KEY_UNKNOWN')) continue // by a key we do not trust: ignored, as gpgv does
      // A signature packet the OpenPGP library parses but cannot check (an unknown signature
      // type or algorithm) makes it throw a plain Error: that signature does not verify.
      if (!isNipError(e)) {
        failures.push(`unreadable signature: ${(e as Error).message}`)
        continue
      }
      failures.push(e.code === 'ERR_NIP_SIGNATURE_MISSING' ? `unreadable signature: ${e.message}` : e.message)
    }
  }
  if (failures.length === 0) {
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
