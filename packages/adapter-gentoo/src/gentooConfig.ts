/**
 * The `[gentoo]` configuration table:
 *
 *   [gentoo]
 *   repository = "/var/db/repos/gentoo"        # ebuild repository with metadata/md5-cache and profiles/
 *   profile = "default/linux/amd64/23.0"       # relative to <repository>/profiles (or an absolute path)
 *   binhosts = ["https://binhost.example/amd64"]  # base URLs holding a Packages index, in priority order
 *   use = ["-X", "vaapi", "video_cards=intel"] # global USE (like make.conf USE)
 *   accept-keywords = ["~amd64"]               # added to the profile's ACCEPT_KEYWORDS
 *   keyring = "/etc/nip/gentoo-binhost.asc"    # OpenPGP keys; when set, GPKG Manifests must be signed by one
 *   retries = 3                                # extra tries per URL for transient download failures
 *   timeout = 30                               # seconds without a byte before a request is dropped
 *   [gentoo.package-use]                       # per-package USE (like package.use)
 *   "media-video/ffmpeg" = ["+vaapi", "-doc"]
 *
 * Relative repository paths are resolved against the target root.
 */
import path from 'node:path'
import { NipError } from '@nip/core'
import { parseAtom, type Atom } from './atom.js'

export interface GentooConfig {
  repository?: string
  /** Absolute profile directory. */
  profile?: string
  binhosts: string[]
  use: string[]
  acceptKeywords: string[]
  /** Absolute paths of OpenPGP public key files trusted for GPKG signatures. */
  keyring: string[]
  packageUse: { atom: Atom; flags: string[] }[]
  /** What `retries` and `timeout` pass to core's downloader (absent: its defaults). */
  download: { retries?: number; timeoutMs?: number }
}

export function parseGentooConfig(table: Record<string, unknown>, root: string): GentooConfig {
  const repository = optionalString(table, 'repository')
  const profile = optionalString(table, 'profile')
  const binhostsRaw = table.binhosts ?? table.binhost ?? []
  const binhosts = typeof binhostsRaw === 'string' ? [binhostsRaw] : binhostsRaw
  if (!Array.isArray(binhosts) || !binhosts.every((b) => typeof b === 'string' && /^(https?|file):\/\//.test(b))) {
    throw configError('gentoo.binhosts must be a list of http(s):// or file:// URLs', binhostsRaw)
  }
  const use = table.use ?? []
  if (!Array.isArray(use) || !use.every((u) => typeof u === 'string')) throw configError('gentoo.use must be a list of flags', use)
  const ak = table['accept-keywords'] ?? []
  if (!Array.isArray(ak) || !ak.every((k) => typeof k === 'string' && /^[~-]?[\w*-]+$/.test(k))) throw configError('gentoo.accept-keywords must be a list of keywords such as "~amd64"', ak)
  const kr = table.keyring ?? []
  const keyring = typeof kr === 'string' ? [kr] : kr
  if (!Array.isArray(keyring) || !keyring.every((k) => typeof k === 'string' && k !== '')) throw configError('gentoo.keyring must be a key file path or a list of them', kr)
  const pu = table['package-use'] ?? {}
  if (typeof pu !== 'object' || pu === null || Array.isArray(pu)) throw configError('gentoo.package-use must be a table of atom = [flags]', pu)
  const packageUse: GentooConfig['packageUse'] = []
  for (const [atomText, flags] of Object.entries(pu as Record<string, unknown>)) {
    const atom = parseAtom(atomText, { allowWildcard: true, allowRepo: true })
    if (atom === null) throw configError(`gentoo.package-use: ${JSON.stringify(atomText)} is not a package atom`, atomText)
    const list = typeof flags === 'string' ? flags.split(/\s+/).filter(Boolean) : flags
    if (!Array.isArray(list) || !list.every((f) => typeof f === 'string')) throw configError(`gentoo.package-use.${atomText} must be a list of flags`, flags)
    packageUse.push({ atom, flags: list as string[] })
  }
  const retries = table.retries
  if (retries !== undefined && (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0)) throw configError('gentoo.retries must be a non-negative integer', retries)
  const timeout = table.timeout
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0))) throw configError('gentoo.timeout must be a positive number of seconds', timeout)
  const repo = repository === undefined ? undefined : path.resolve(root, repository)
  return {
    repository: repo,
    profile: profile === undefined ? undefined : path.isAbsolute(profile) ? profile : repo === undefined ? path.resolve(root, profile) : path.join(repo, 'profiles', profile),
    binhosts: (binhosts as string[]).map((b) => b.replace(/\/+$/, '')),
    use: use as string[],
    acceptKeywords: ak as string[],
    keyring: (keyring as string[]).map((k) => path.resolve(root, k)),
    packageUse,
    download: {
      ...(retries !== undefined ? { retries: retries as number } : {}),
      ...(timeout !== undefined ? { timeoutMs: Math.max(1, Math.round((timeout as number) * 1000)) } : {}),
    },
  }
}

function optionalString(table: Record<string, unknown>, key: string): string | undefined {
  const v = table[key]
  if (v === undefined) return undefined
  if (typeof v !== 'string' || v === '') throw configError(`gentoo.${key} must be a non-empty string`, v)
  return v
}

function configError(message: string, value: unknown): NipError {
  return new NipError('ERR_NIP_CONFIG', message, {
    hint: 'Fix the [gentoo] table in nip.conf (see docs/gentoo.md), e.g. binhosts = ["https://example.org/binpkgs"].',
    data: { value },
  })
}
