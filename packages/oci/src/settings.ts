/**
 * The `[oci]` table:
 *   registries = ["oci://HOST[:PORT]/REPO", ...]   caches to read, in order (mirrors of one cache, or several caches)
 *   push-to = "oci://HOST[:PORT]/REPO"            where `nip cache push` and `nip build --push` publish (default: the first registry)
 *   trusted-public-keys = ["NAME:BASE64", ...]    keys whose signatures pull accepts
 *   secret-key-files = ["PATH", ...]              signing keys for push (the first is used)
 *   require-sigs = true                           refuse unsigned artifacts
 *   insecure-registries = ["HOST[:PORT]", ...]    registries spoken to over plain HTTP
 *   credentials = { "HOST[:PORT]" = { username = "...", password = "..." } }
 *   retries = 3, timeout = 30 (seconds), chunk-size = 8388608 (bytes), jobs = 4 (parallel blob transfers)
 */
import { readFileSync } from 'node:fs'
import { NipError } from '@nip/core'
import { parsePublicKey, parseSecretKey, type PublicKey, type SecretKey } from './signing.js'
import { parseRegistryRef, type RegistryRef } from './reference.js'

export interface OciSettings {
  registries: RegistryRef[]
  pushTo?: RegistryRef
  trustedKeys: PublicKey[]
  secretKeyFiles: string[]
  requireSigs: boolean
  insecure: Set<string>
  credentials: Record<string, unknown>
  retries: number
  timeoutMs: number
  chunkSize: number
  jobs: number
}

const KNOWN = new Set(['priority', 'enabled', 'registries', 'push-to', 'trusted-public-keys', 'secret-key-files', 'require-sigs', 'insecure-registries', 'credentials', 'retries', 'timeout', 'chunk-size', 'jobs'])

function bad(key: string, want: string, value: unknown): NipError {
  return new NipError('ERR_NIP_CONFIG', `[oci] ${key} must be ${want}, not ${JSON.stringify(value)}.`, { hint: 'See docs/fleet.md for the [oci] keys.', data: { key: `oci.${key}` } })
}

function strings(t: Record<string, unknown>, key: string): string[] {
  const v = t[key]
  if (v === undefined) return []
  if (typeof v === 'string') return [v]
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(key, 'a list of strings', v)
  return v as string[]
}

function int(t: Record<string, unknown>, key: string, def: number, min: number): number {
  const v = t[key]
  if (v === undefined) return def
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw bad(key, `an integer of at least ${min}`, v)
  return v
}

export function readOciSettings(table: Record<string, unknown>): OciSettings {
  for (const k of Object.keys(table)) {
    if (!KNOWN.has(k)) throw new NipError('ERR_NIP_CONFIG', `[oci] has no key ${JSON.stringify(k)}.`, { hint: `The [oci] keys are: ${[...KNOWN].join(', ')}.`, data: { key: `oci.${k}` } })
  }
  const registries = strings(table, 'registries').map(parseRegistryRef)
  const pushTo = typeof table['push-to'] === 'string' ? parseRegistryRef(table['push-to']) : registries[0]
  if (table['require-sigs'] !== undefined && typeof table['require-sigs'] !== 'boolean') throw bad('require-sigs', 'true or false', table['require-sigs'])
  const creds = table.credentials ?? {}
  if (typeof creds !== 'object' || Array.isArray(creds)) throw bad('credentials', 'a table of { username, password } by host', creds)
  return {
    registries,
    ...(pushTo ? { pushTo } : {}),
    trustedKeys: strings(table, 'trusted-public-keys').map(parsePublicKey),
    secretKeyFiles: strings(table, 'secret-key-files'),
    requireSigs: table['require-sigs'] !== false,
    insecure: new Set(strings(table, 'insecure-registries')),
    credentials: creds as Record<string, unknown>,
    retries: int(table, 'retries', 3, 0),
    timeoutMs: int(table, 'timeout', 30, 1) * 1000,
    chunkSize: int(table, 'chunk-size', 8 * 1024 * 1024, 1024),
    jobs: int(table, 'jobs', 4, 1),
  }
}

export function readSecretKeyFile(file: string): SecretKey {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new NipError('ERR_NIP_KEYRING_INVALID', `Cannot read the signing key ${file}: ${(e as Error).message}.`, { hint: 'Create one with nip cache keygen NAME, and name it in [oci] secret-key-files or with --key.', data: { file } })
  }
  return parseSecretKey(text)
}
