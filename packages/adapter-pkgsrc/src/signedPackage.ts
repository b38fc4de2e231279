/**
 * Signed pkgsrc packages (`lib/pkg_signature.c`): an `ar` archive holding `+PKG_HASH`, then
 * `+PKG_GPG_SIGNATURE` (detached OpenPGP over +PKG_HASH) or `+PKG_SIGNATURE` (PKCS#7), then
 * the package itself. +PKG_HASH gives the SHA-512 of every block of the inner package.
 *
 * Contract: `verifySignedPackage` accepts only when +PKG_HASH is well formed (version 1,
 * SHA512, block size >= 1024, one 128-hex line per block), names the same size as the inner
 * member, every block hashes as listed, and the OpenPGP signature verifies against the keyring.
 * PKCS#7 signatures are not supported and count as unverifiable.
 */
import { createHash } from 'node:crypto'
import { NipError, readKeyring, verifyDetached } from '@nip/core'

export const AR_MAGIC = '!<arch>\n'

export interface ArMember {
  name: string
  data: Buffer
}

export function isArArchive(head: Buffer): boolean {
  return head.subarray(0, 8).toString('latin1') === AR_MAGIC
}

/**
 * Members of an ar archive: short names (`name/` or `name`), BSD long names (`#1/<len>`, the
 * name stored before the data) and GNU long names (`/<offset>` into the `//` table).
 */
export function readAr(buf: Buffer, archive: string): ArMember[] {
  if (!isArArchive(buf)) throw bad(`${archive} is not an ar archive`, archive)
  const out: ArMember[] = []
  let off = 8
  let gnuNames = ''
  while (off < buf.length) {
    if (off + 60 > buf.length) throw bad(`${archive}: truncated ar header`, archive)
    const h = buf.subarray(off, off + 60).toString('latin1')
    if (h.slice(58, 60) !== '`\n') throw bad(`${archive}: malformed ar header`, archive)
    let name = h.slice(0, 16).trim()
    const sizeText = h.slice(48, 58).trim()
    if (!/^[0-9]+$/.test(sizeText)) throw bad(`${archive}: malformed ar member size`, archive)
    const size = Number(sizeText)
    const start = off + 60
    if (start + size > buf.length) throw bad(`${archive}: truncated ar member ${name}`, archive)
    let data = buf.subarray(start, start + size)
    off = start + size + (size % 2)
    const bsd = /^#1\/([0-9]+)$/.exec(name)
    if (bsd) {
      const length = Number(bsd[1])
      if (length > size) throw bad(`${archive}: malformed ar long name`, archive)
      name = data.subarray(0, length).toString('utf8').replace(/\0+$/, '')
      data = data.subarray(length)
    } else if (name === '//') {
      gnuNames = data.toString('utf8')
      continue
    } else if (/^\/[0-9]+$/.test(name)) {
      const at = Number(name.slice(1))
      const end = gnuNames.indexOf('/\n', at)
      if (end < 0) throw bad(`${archive}: malformed ar long name`, archive)
      name = gnuNames.slice(at, end)
    } else if (name === '/') {
      continue
    } else {
      name = name.replace(/\/$/, '')
    }
    out.push({ name, data })
  }
  return out
}

export interface PkgHash {
  pkgname: string
  blockSize: number
  fileSize: number
  blocks: string[]
}

export function parsePkgHash(text: string, archive: string): PkgHash {
  const lines = text.split('\n')
  const fail = (why: string) => bad(`${archive}: +PKG_HASH ${why}`, archive)
  if (lines[0] !== 'pkgsrc signature' || lines[1] !== '') throw fail('does not start with "pkgsrc signature"')
  const fields = new Map<string, string>()
  let i = 2
  for (; i < lines.length && lines[i] !== ''; i++) {
    const m = /^([a-z ]+): (.*)$/.exec(lines[i])
    if (!m) throw fail(`has a malformed line ${JSON.stringify(lines[i])}`)
    fields.set(m[1], m[2])
  }
  if (fields.get('version') !== '1') throw fail('has an unknown version')
  if (fields.get('algorithm') !== 'SHA512') throw fail('uses an algorithm other than SHA512')
  const blockSize = Number(fields.get('block size'))
  const fileSize = Number(fields.get('file size'))
  if (!Number.isInteger(blockSize) || blockSize < 1024) throw fail('has a block size below 1024')
  if (!Number.isInteger(fileSize) || fileSize < 0) throw fail('has no valid file size')
  const blocks: string[] = []
  for (i++; i < lines.length && lines[i] !== 'end pkgsrc signature'; i++) {
    if (!/^[0-9a-f]{128}$/.test(lines[i])) throw fail('has a block hash that is not 128 lowercase hex digits')
    blocks.push(lines[i])
  }
  if (i >= lines.length) throw fail('has no "end pkgsrc signature" line')
  const expectedBlocks = Math.ceil(fileSize / blockSize)
  if (blocks.length !== expectedBlocks) throw fail(`lists ${blocks.length} blocks, the file size needs ${expectedBlocks}`)
  return { pkgname: fields.get('pkgname') ?? '', blockSize, fileSize, blocks }
}

export interface SignedPackage {
  pkgname: string
  /** The inner package (.tgz …). */
  inner: Buffer
  signer: string
}

/** Verify a signed package (see the module contract); `keyring` is armored or binary keys. */
export async function verifySignedPackage(buf: Buffer, opts: { archive: string; keyring: Buffer | null }): Promise<SignedPackage> {
  const { archive } = opts
  const members = readAr(buf, archive)
  if (members[0]?.name !== '+PKG_HASH') throw bad(`${archive}: a signed package must start with +PKG_HASH`, archive)
  const sig = members[1]
  const inner = members[2]
  if (sig === undefined || inner === undefined || members.length !== 3) throw bad(`${archive}: a signed package holds +PKG_HASH, a signature and the package`, archive)
  const hash = parsePkgHash(members[0].data.toString('utf8'), archive)
  if (inner.data.length !== hash.fileSize) {
    throw new NipError('ERR_NIP_SIZE_MISMATCH', `${archive}: the signed package is ${inner.data.length} bytes, +PKG_HASH says ${hash.fileSize}.`, {
      hint: 'The package was altered after signing; nothing was grafted.',
      data: { archive, expected: hash.fileSize, actual: inner.data.length },
    })
  }
  hash.blocks.forEach((expected, b) => {
    const block = inner.data.subarray(b * hash.blockSize, Math.min((b + 1) * hash.blockSize, hash.fileSize))
    const actual = createHash('sha512').update(block).digest('hex')
    if (actual !== expected) {
      throw new NipError('ERR_NIP_HASH_MISMATCH', `${archive}: block ${b} of the signed package does not match +PKG_HASH.`, {
        hint: 'The package was altered after signing; nothing was grafted.',
        data: { archive, block: b, algorithm: 'sha512', expected, actual },
      })
    }
  })
  if (sig.name !== '+PKG_GPG_SIGNATURE') {
    throw new NipError('ERR_NIP_SIGNATURE_INVALID', `${archive} carries a ${sig.name} signature, which nip cannot verify (only +PKG_GPG_SIGNATURE).`, {
      hint: 'Use OpenPGP-signed packages, or set [pkgsrc] verified-installation = "never" to skip signatures.',
      data: { archive, member: sig.name },
    })
  }
  if (opts.keyring === null) {
    throw new NipError('ERR_NIP_KEY_UNKNOWN', `${archive} is signed, but no [pkgsrc] gpg-keyring is configured to verify it.`, {
      hint: 'Set [pkgsrc] gpg-keyring to the repository\'s public key file.',
      data: { archive },
    })
  }
  const keyring = await readKeyring(opts.keyring)
  const v = await verifyDetached({ data: members[0].data, signature: sig.data, keyring })
  return { pkgname: hash.pkgname, inner: inner.data, signer: v.fingerprint }
}

function bad(message: string, archive: string): NipError {
  return new NipError('ERR_NIP_BAD_PACKAGE', `${message}.`, { hint: 'The signed package is malformed; nothing was grafted.', data: { archive } })
}
