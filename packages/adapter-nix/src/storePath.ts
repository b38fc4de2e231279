/**
 * Store paths `<storeDir>/<hashPart>-<name>` (NixOS/nix src/libstore/path.cc): a 32-character
 * Nix32 hash part, a dash, and a name of at most 211 characters from [0-9a-zA-Z+-._?=] that is
 * not "." or ".." and does not start with ".-" or "..-".
 */
import { NipError } from '@nip/core'
import { NIX32_ALPHABET } from './nixBase32.js'

export const DEFAULT_STORE_DIR = '/nix/store'
export const HASH_PART_LENGTH = 32
const MAX_NAME_LENGTH = 211
const NAME_CHARS = /^[0-9a-zA-Z+\-._?=]+$/

export interface StorePath {
  hashPart: string
  name: string
}

/** Parse a base name `<hashPart>-<name>`; null when it is not a valid one. */
export function parseStorePathBase(base: string): StorePath | null {
  if (base.length < HASH_PART_LENGTH + 2 || base[HASH_PART_LENGTH] !== '-') return null
  const hashPart = base.slice(0, HASH_PART_LENGTH)
  for (const c of hashPart) if (!NIX32_ALPHABET.includes(c)) return null
  const name = base.slice(HASH_PART_LENGTH + 1)
  if (!isValidName(name)) return null
  return { hashPart, name }
}

export function isValidName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || !NAME_CHARS.test(name)) return false
  if (name === '.' || name === '..' || name.startsWith('.-') || name.startsWith('..-')) return false
  return true
}

/** Parse a canonical full store path under `storeDir`; null when it is not one. */
export function parseStorePath(text: string, storeDir = DEFAULT_STORE_DIR): StorePath | null {
  const prefix = storeDir + '/'
  if (!text.startsWith(prefix)) return null
  return parseStorePathBase(text.slice(prefix.length))
}

/** Like parseStorePath, but a NipError names what is wrong. */
export function requireStorePath(text: string, storeDir = DEFAULT_STORE_DIR): StorePath {
  const parsed = parseStorePath(text, storeDir)
  if (parsed === null) {
    throw new NipError('ERR_NIP_BAD_SPEC', `${JSON.stringify(text)} is not a valid store path under ${storeDir}`, {
      hint: `A store path looks like ${storeDir}/<32 Nix32 characters>-<name>.`,
      data: { path: text, storeDir },
    })
  }
  return parsed
}

export function storePathBase(p: StorePath): string {
  return `${p.hashPart}-${p.name}`
}

export function formatStorePath(p: StorePath, storeDir = DEFAULT_STORE_DIR): string {
  return `${storeDir}/${p.hashPart}-${p.name}`
}
