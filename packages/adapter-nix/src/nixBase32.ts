/**
 * Nix32 ("nix-base32"), the encoding of store-path hash parts and narinfo hashes
 * (NixOS/nix src/libutil/base-nix-32.cc). Not RFC 4648: its own alphabet (no e, o, t, u), no
 * padding, and the characters are emitted from the highest 5-bit group down.
 */
import { NipError } from '@nip/core'

export const NIX32_ALPHABET = '0123456789abcdfghijklmnpqrsvwxyz'

/** Characters needed for `bytes` bytes: (n*8 - 1) / 5 + 1 (20 → 32, 32 → 52, 64 → 103). */
export function nix32Length(bytes: number): number {
  return bytes === 0 ? 0 : Math.floor((bytes * 8 - 1) / 5) + 1
}

export function encodeNix32(bytes: Uint8Array): string {
  const len = nix32Length(bytes.length)
  let out = ''
  for (let n = len - 1; n >= 0; n--) {
    const b = n * 5
    const i = b >> 3
    const j = b & 7
    const c = (bytes[i] >> j) | (i < bytes.length - 1 ? bytes[i + 1] << (8 - j) : 0)
    out += NIX32_ALPHABET[c & 31]
  }
  return out
}

/**
 * Decode into exactly `size` bytes. Refuses characters outside the alphabet, a wrong length, and
 * non-canonical strings whose first character carries bits beyond `size` bytes (as Nix does).
 */
export function decodeNix32(text: string, size: number): Buffer {
  if (text.length !== nix32Length(size)) throw badNix32(text, `expected ${nix32Length(size)} characters`)
  const out = Buffer.alloc(size)
  for (let n = 0; n < text.length; n++) {
    const digit = NIX32_ALPHABET.indexOf(text[text.length - n - 1])
    if (digit < 0) throw badNix32(text, `invalid character ${JSON.stringify(text[text.length - n - 1])}`)
    const b = n * 5
    const i = b >> 3
    const j = b & 7
    out[i] |= (digit << j) & 0xff
    const carry = digit >> (8 - j)
    if (i < size - 1) out[i + 1] |= carry
    else if (carry !== 0) throw badNix32(text, 'non-canonical encoding (bits beyond the digest)')
  }
  return out
}

export function isNix32(text: string): boolean {
  for (const c of text) if (!NIX32_ALPHABET.includes(c)) return false
  return true
}

function badNix32(text: string, why: string): NipError {
  return new NipError('ERR_NIP_BAD_PACKAGE', `Not a valid Nix32 string ${JSON.stringify(text)}: ${why}`, {
    hint: 'The binary cache metadata is malformed.',
    data: { text },
  })
}
