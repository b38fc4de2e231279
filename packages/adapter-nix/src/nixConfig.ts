/**
 * The `[nix]` configuration table:
 *   substituters         binary cache URLs, tried in order (then by their nix-cache-info Priority)
 *   trusted-public-keys  `name:base64` Ed25519 keys; a path must be signed by one of them
 *   require-sigs         default true; false accepts unsigned paths (hashes are still checked)
 *   channel              channel URL whose `store-paths.xz` is the name index ("" disables names)
 *   store-dir            the store directory of the caches (default /nix/store)
 *   run-root             where the tree will run, for relocation (default: the target root)
 *   retries              extra tries per URL for transient download failures (default: 1 for
 *                        nix-cache-info and narinfo files, 3 for NARs)
 *   timeout              seconds without a byte before a request is dropped (default 30)
 */
import { NipError } from '@nip/core'
import { parsePublicKey, type PublicKey } from './signature.js'
import { DEFAULT_STORE_DIR } from './storePath.js'

export const DEFAULT_SUBSTITUTERS = ['https://cache.nixos.org']
export const DEFAULT_TRUSTED_KEYS = ['cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=']
export const DEFAULT_CHANNEL = 'https://channels.nixos.org/nixos-unstable'

export interface NixConfig {
  substituters: string[]
  trustedKeys: PublicKey[]
  requireSigs: boolean
  channel: string
  storeDir: string
  runRoot?: string
  /** Passed to core's downloader; absent: its defaults (see the file comment). */
  retries?: number
  timeoutMs?: number
}

export function parseNixConfig(table: Record<string, unknown>): NixConfig {
  const list = (key: string, fallback: string[]): string[] => {
    const v = table[key]
    if (v === undefined) return fallback
    if (typeof v === 'string') return v.split(/\s+/).filter((s) => s !== '')
    if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[]
    throw bad(key, 'a list of strings')
  }
  const str = (key: string, fallback: string): string => {
    const v = table[key]
    if (v === undefined) return fallback
    if (typeof v !== 'string') throw bad(key, 'a string')
    return v
  }
  const requireSigs = table['require-sigs'] ?? true
  if (typeof requireSigs !== 'boolean') throw bad('require-sigs', 'true or false')
  const storeDir = str('store-dir', DEFAULT_STORE_DIR).replace(/\/+$/, '')
  if (!storeDir.startsWith('/')) throw bad('store-dir', 'an absolute path')
  const runRoot = table['run-root']
  if (runRoot !== undefined && (typeof runRoot !== 'string' || !runRoot.startsWith('/'))) throw bad('run-root', 'an absolute path')
  const retries = table.retries
  if (retries !== undefined && (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0)) throw bad('retries', 'a non-negative integer')
  const timeout = table.timeout
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0))) throw bad('timeout', 'a positive number of seconds')
  return {
    substituters: list('substituters', DEFAULT_SUBSTITUTERS).map((s) => s.replace(/\/+$/, '')),
    trustedKeys: list('trusted-public-keys', DEFAULT_TRUSTED_KEYS).map(parsePublicKey),
    requireSigs,
    channel: str('channel', DEFAULT_CHANNEL).replace(/\/+$/, ''),
    storeDir,
    ...(runRoot !== undefined ? { runRoot: runRoot as string } : {}),
    ...(retries !== undefined ? { retries: retries as number } : {}),
    ...(timeout !== undefined ? { timeoutMs: Math.max(1, Math.round((timeout as number) * 1000)) } : {}),
  }
}

function bad(key: string, what: string): NipError {
  return new NipError('ERR_NIP_CONFIG', `[nix] ${key} must be ${what}`, { hint: 'See docs/nix.md for the [nix] settings.', data: { key } })
}
