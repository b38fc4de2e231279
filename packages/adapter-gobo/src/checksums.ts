/**
 * A repository's optional SHA256SUMS, in sha256sum's output format: `<64 hex>  <file name>`
 * (`<hex> *<file name>` in binary mode). A listed package must match before nip reads a byte of
 * it; with `require-checksums`, an unlisted package is refused.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import path from 'node:path'
import { NipError } from '@nip/core'

export const CHECKSUMS_FILE = 'SHA256SUMS'

const LINE = /^([0-9a-fA-F]{64}) [ *](.+)$/

/** File name → lower-case hex digest. Lines that are not checksum lines are ignored. */
export function parseSha256Sums(text: string): Map<string, string> {
  const sums = new Map<string, string>()
  for (const line of text.split(/\r?\n/)) {
    const m = LINE.exec(line)
    if (m) sums.set(m[2], m[1].toLowerCase())
  }
  return sums
}

export async function sha256File(file: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file, signal ? { signal } : {})) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

export interface VerifyChecksumOptions {
  /** The package file. */
  file: string
  /** The repository's SHA256SUMS, or null when it has none. */
  sums: Map<string, string> | null
  /** Refuse a package the sums do not list. */
  required: boolean
  signal?: AbortSignal
}

/** Throws ERR_NIP_HASH_MISMATCH when the file is listed with another digest (or unlisted but required). */
export async function verifyChecksum(opts: VerifyChecksumOptions): Promise<'verified' | 'unlisted'> {
  const name = path.basename(opts.file)
  const expected = opts.sums?.get(name)
  if (expected === undefined) {
    if (!opts.required) return 'unlisted'
    throw new NipError('ERR_NIP_HASH_MISMATCH', `${name} has no checksum in its repository's ${CHECKSUMS_FILE}, and checksums are required.`, {
      hint: `Add the package to ${CHECKSUMS_FILE} (sha256sum ${name} >> ${CHECKSUMS_FILE}) or set require-checksums = false in [gobo].`,
      data: { file: opts.file, expected: null, actual: null },
    })
  }
  const actual = await sha256File(opts.file, opts.signal)
  if (actual !== expected) {
    throw new NipError('ERR_NIP_HASH_MISMATCH', `${name}: SHA-256 ${actual} does not match ${expected} from ${CHECKSUMS_FILE}.`, {
      hint: 'The package file was altered or damaged; fetch it again from a trusted copy.',
      data: { file: opts.file, expected, actual, algorithm: 'sha256' },
    })
  }
  return 'verified'
}
