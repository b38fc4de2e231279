/**
 * OpenPGP signature verification (pacman .sig files, Debian InRelease/Release.gpg, pkgsrc
 * gpg-signed packages) on the `openpgp` package: pure JavaScript, so no gpg binary, agent or
 * home directory is needed at run time.
 *
 * Contract: a result is returned only when at least one signature verifies with a key of the
 * given keyring AND that signing key is valid now (not expired, not revoked). Everything else
 * throws a NipError:
 * - ERR_NIP_SIGNATURE_MISSING  there is no signature (empty, or not a signed message);
 * - ERR_NIP_KEY_UNKNOWN        every signature is by a key that is not in the keyring (names the key ids);
 * - ERR_NIP_SIGNATURE_INVALID  the signature does not match the data, is malformed, or its key is
 *                              expired or revoked (the reason is in the message and data.reason);
 * - ERR_NIP_KEYRING_INVALID    the keyring cannot be parsed.
 * Key ids and fingerprints are uppercase hex, as gpg prints them.
 */
import type * as openpgp from 'openpgp'

/** openpgp is loaded on first use: most commands verify nothing, and it costs ~35 ms to load. */
let loaded: Promise<typeof openpgp> | undefined
const pgp = (): Promise<typeof openpgp> => (loaded ??= import('openpgp'))
import { NipError } from '../errors.js'

/** Trusted public keys. Opaque: build it with readKeyring (and combineKeyrings). */
export class PublicKeyring {
  readonly #keys: openpgp.Key[]
  constructor(keys: openpgp.Key[]) {
    this.#keys = keys
  }
  /** Primary-key fingerprints, uppercase hex. */
  get fingerprints(): string[] {
    return this.#keys.map((k) => k.getFingerprint().toUpperCase())
  }
  /** @internal The openpgp key objects (public parts only). */
  keys(): openpgp.Key[] {
    return this.#keys
  }
}

export interface DetachedVerification {
  valid: true
  keyId: string
  fingerprint: string
  userIds: string[]
}

export interface CleartextVerification {
  valid: true
  keyId: string
  fingerprint: string
  /** The signed text, dash-escaping removed. */
  data: string
}

/** Reads one or many public keys, ASCII-armored or binary. Private keys are reduced to public. */
export async function readKeyring(data: Buffer | string): Promise<PublicKeyring> {
  let keys: openpgp.Key[]
  try {
    if (isArmored(data)) {
      // readKeys reads one armor block; keyring files often concatenate several.
      const text = typeof data === 'string' ? data : data.toString('utf8')
      const blocks = text.match(/-----BEGIN PGP (?:PUBLIC|PRIVATE) KEY BLOCK-----[\s\S]*?-----END PGP (?:PUBLIC|PRIVATE) KEY BLOCK-----/g) ?? [text]
      const lib = await pgp()
      keys = (await Promise.all(blocks.map((armoredKeys) => lib.readKeys({ armoredKeys })))).flat()
    } else {
      keys = await (await pgp()).readKeys({ binaryKeys: new Uint8Array(data as Buffer) })
    }
  } catch (e) {
    throw new NipError('ERR_NIP_KEYRING_INVALID', `The keyring cannot be read: ${(e as Error).message}`, {
      hint: 'Give an OpenPGP public key file (gpg --export or --export --armor).',
      cause: e,
    })
  }
  if (keys.length === 0) throw new NipError('ERR_NIP_KEYRING_INVALID', 'The keyring holds no key')
  return new PublicKeyring(keys.map((k) => (k.isPrivate() ? k.toPublic() : k)))
}

/** One keyring with the keys of all of `rings`. */
export function combineKeyrings(...rings: PublicKeyring[]): PublicKeyring {
  return new PublicKeyring(rings.flatMap((r) => r.keys()))
}

/** Verifies a detached signature (armored or binary) over `data`. */
export async function verifyDetached(opts: { data: Buffer; signature: Buffer | string; keyring: PublicKeyring }): Promise<DetachedVerification> {
  const { signature, keyring } = opts
  if (signature.length === 0 || (typeof signature === 'string' && signature.trim() === '')) {
    throw new NipError('ERR_NIP_SIGNATURE_MISSING', 'The signature is empty', { hint: 'The source must publish a signature for this file.' })
  }
  let sig: openpgp.Signature
  try {
    sig = isArmored(signature)
      ? await (await pgp()).readSignature({ armoredSignature: typeof signature === 'string' ? signature : signature.toString('utf8') })
      : await (await pgp()).readSignature({ binarySignature: new Uint8Array(signature as Buffer) })
  } catch (e) {
    throw invalid(`the signature cannot be parsed: ${(e as Error).message}`, 'malformed', [], e)
  }
  const message = await (await pgp()).createMessage({ binary: new Uint8Array(opts.data) })
  const lib = await pgp()
  const result = await verifyOrMalformed(() => lib.verify({ message, signature: sig, verificationKeys: keyring.keys(), format: 'binary' }))
  const good = await firstValid(result.signatures, keyring)
  const key = good.key
  return { valid: true, keyId: good.keyId, fingerprint: key.getFingerprint().toUpperCase(), userIds: key.getUserIDs() }
}

/** Verifies a cleartext-signed message (`-----BEGIN PGP SIGNED MESSAGE-----`). */
export async function verifyCleartext(opts: { text: string; keyring: PublicKeyring }): Promise<CleartextVerification> {
  if (!opts.text.includes('-----BEGIN PGP SIGNED MESSAGE-----')) {
    throw new NipError('ERR_NIP_SIGNATURE_MISSING', 'The text is not a cleartext-signed OpenPGP message', {
      hint: 'Expected "-----BEGIN PGP SIGNED MESSAGE-----" (an InRelease-style file).',
    })
  }
  let message: openpgp.CleartextMessage
  try {
    message = await (await pgp()).readCleartextMessage({ cleartextMessage: opts.text })
  } catch (e) {
    throw invalid(`the signed message cannot be parsed: ${(e as Error).message}`, 'malformed', [], e)
  }
  const lib = await pgp()
  const result = await verifyOrMalformed(() => lib.verify({ message, verificationKeys: opts.keyring.keys() }))
  const good = await firstValid(result.signatures, opts.keyring)
  return { valid: true, keyId: good.keyId, fingerprint: good.key.getFingerprint().toUpperCase(), data: result.data }
}

/**
 * openpgp.verify throws a plain Error for a signature packet that parses but holds values it
 * cannot use (an unknown signature type, say): that is a malformed signature, not a crash.
 */
async function verifyOrMalformed<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (e) {
    if (e instanceof NipError) throw e
    throw invalid(`the signature cannot be used: ${(e as Error).message}`, 'malformed', [], e)
  }
}

interface GoodSignature {
  keyId: string
  key: openpgp.Key
}

/**
 * The first signature that verifies by a keyring key valid now. When none does, the error
 * reflects the most telling failure: a bad or expired/revoked signature by a known key beats
 * "unknown key".
 */
async function firstValid(sigs: { keyID: openpgp.KeyID; verified: Promise<true> }[], keyring: PublicKeyring): Promise<GoodSignature> {
  if (sigs.length === 0) throw new NipError('ERR_NIP_SIGNATURE_MISSING', 'The signature block contains no signature')
  const unknown: string[] = []
  const failures: { keyId: string; reason: string; message: string }[] = []
  for (const s of sigs) {
    const keyId = s.keyID.toHex().toUpperCase()
    const key = keyring.keys().find((k) => k.getKeys(s.keyID).length > 0)
    if (!key) {
      unknown.push(keyId)
      await s.verified.catch(() => undefined)
      continue
    }
    try {
      await s.verified
    } catch (e) {
      const message = (e as Error).message
      failures.push({ keyId, reason: reasonOf(message), message })
      continue
    }
    // The signature was valid when made; the key must also be valid now.
    try {
      await key.getSigningKey(s.keyID, new Date())
    } catch (e) {
      const message = (e as Error).message
      failures.push({ keyId, reason: reasonOf(message), message })
      continue
    }
    return { keyId, key }
  }
  if (failures.length > 0) {
    const f = failures[0]!
    throw invalid(`signature by key ${f.keyId} is not valid: ${f.message}`, f.reason, failures)
  }
  throw new NipError('ERR_NIP_KEY_UNKNOWN', `Signed by key ${unknown.join(', ')}, which is not in the trusted keyring`, {
    hint: 'Add the key to the source\'s keyring only if you trust it (check its fingerprint with the distribution).',
    data: { keyIds: unknown, keyring: keyring.fingerprints },
  })
}

function reasonOf(message: string): string {
  if (/revoked/i.test(message)) return 'revoked'
  if (/expired/i.test(message)) return 'expired'
  if (/signed digest did not match|verification failed|invalid signature/i.test(message)) return 'bad-signature'
  return 'invalid'
}

function invalid(detail: string, reason: string, failures: unknown[], cause?: unknown): NipError {
  return new NipError('ERR_NIP_SIGNATURE_INVALID', `Signature check failed: ${detail}`, {
    hint:
      reason === 'expired' || reason === 'revoked'
        ? 'The signing key is no longer valid; update the source\'s keyring from the distribution.'
        : 'The file or its signature was altered, or they do not belong together; refresh the source and try again.',
    data: { reason, failures },
    ...(cause === undefined ? {} : { cause }),
  })
}

function isArmored(data: Buffer | string): boolean {
  const head = typeof data === 'string' ? data.slice(0, 64) : data.subarray(0, 64).toString('latin1')
  return head.trimStart().startsWith('-----BEGIN PGP')
}
