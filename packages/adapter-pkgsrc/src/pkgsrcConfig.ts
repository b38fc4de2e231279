/**
 * The `[pkgsrc]` configuration table:
 *
 *   repositories = ["https://mirror.example/pub/pkgsrc/packages/NetBSD/x86_64/10.0/All",
 *                   { url = "file:///usr/pkgsrc/packages/All", priority = 5 }]
 *   machine-arch = "x86_64"            # default: this machine's, in pkgsrc's spelling
 *   verified-installation = "trusted"  # never | trusted | always (pkg_install's names)
 *   gpg-keyring = "/etc/nip/pkgsrc-keys.asc"
 *   retries = 3                        # extra tries per URL for transient download failures
 *   timeout = 30                       # seconds without a byte before a request is dropped
 *
 * A repository table may list `mirrors = ["https://other/…/All"]`: the same directory on other
 * hosts, tried in order when `url` fails (files are still checked against pkg_summary).
 * Repositories are PKG_PATH-style directory URLs (http, https, file, or an absolute path);
 * a lower `priority` is asked first, and listed order breaks ties. `verified-installation`:
 * `never` ignores signatures, `trusted` verifies a signed package and accepts an unsigned one,
 * `always` refuses unsigned packages. Relative paths are taken from the target root.
 */
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { NipError } from '@nip/core'

export type VerifiedInstallation = 'never' | 'trusted' | 'always'

export interface PkgsrcRepository {
  /** Directory URL without a trailing slash. */
  url: string
  priority: number
  /** The same directory elsewhere, tried in order after `url` (no trailing slash). */
  mirrors: string[]
}

/** What the `retries` and `timeout` keys pass to core's downloader (absent: its defaults). */
export interface DownloadSettings {
  retries?: number
  timeoutMs?: number
}

export interface PkgsrcConfig {
  repositories: PkgsrcRepository[]
  machineArch: string
  verifiedInstallation: VerifiedInstallation
  gpgKeyring?: string
  download: DownloadSettings
}

const ARCHES: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i386', arm: 'earmv7hf', ppc64: 'powerpc64', riscv64: 'riscv64', s390x: 's390x' }

export function machineArch(nodeArch: string = process.arch): string {
  return ARCHES[nodeArch] ?? nodeArch
}

export function parsePkgsrcConfig(table: Record<string, unknown>, root: string): PkgsrcConfig {
  const known = new Set(['repositories', 'machine-arch', 'verified-installation', 'gpg-keyring', 'retries', 'timeout'])
  for (const key of Object.keys(table)) if (!known.has(key)) throw configError(`unknown key [pkgsrc] ${key}`)
  const raw = table.repositories ?? []
  if (!Array.isArray(raw)) throw configError('[pkgsrc] repositories must be a list of URLs or { url, priority } tables')
  const repositories = raw.map((r, i) => {
    const item = typeof r === 'string' ? { url: r, priority: 50 } : r
    if (typeof item !== 'object' || item === null || typeof (item as { url?: unknown }).url !== 'string') {
      throw configError(`[pkgsrc] repositories[${i}] must be a URL or { url = "…", priority = N }`)
    }
    const { url, priority = 50, mirrors = [] } = item as { url: string; priority?: unknown; mirrors?: unknown }
    if (typeof priority !== 'number' || !Number.isInteger(priority)) throw configError(`[pkgsrc] repositories[${i}].priority must be an integer`)
    if (!Array.isArray(mirrors) || !mirrors.every((m) => typeof m === 'string')) throw configError(`[pkgsrc] repositories[${i}].mirrors must be a list of URLs`)
    return { url: normalizeUrl(url, root), priority, mirrors: (mirrors as string[]).map((m) => normalizeUrl(m, root)), order: i }
  })
  repositories.sort((a, b) => a.priority - b.priority || a.order - b.order)
  const vi = table['verified-installation'] ?? 'trusted'
  if (vi !== 'never' && vi !== 'trusted' && vi !== 'always') throw configError('[pkgsrc] verified-installation must be "never", "trusted" or "always"')
  const arch = table['machine-arch'] ?? machineArch()
  if (typeof arch !== 'string' || arch === '') throw configError('[pkgsrc] machine-arch must be a string such as "x86_64"')
  const keyring = table['gpg-keyring']
  if (keyring !== undefined && typeof keyring !== 'string') throw configError('[pkgsrc] gpg-keyring must be a path')
  const retries = table.retries
  if (retries !== undefined && (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0)) throw configError('[pkgsrc] retries must be a non-negative integer')
  const timeout = table.timeout
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0))) throw configError('[pkgsrc] timeout must be a positive number of seconds')
  return {
    download: {
      ...(retries !== undefined ? { retries: retries as number } : {}),
      ...(timeout !== undefined ? { timeoutMs: Math.round((timeout as number) * 1000) } : {}),
    },
    repositories: repositories.map(({ url, priority, mirrors }) => ({ url, priority, mirrors })),
    machineArch: arch,
    verifiedInstallation: vi,
    ...(keyring !== undefined ? { gpgKeyring: path.resolve(root, keyring) } : {}),
  }
}

function normalizeUrl(url: string, root: string): string {
  let u = url
  if (!/^[a-z][a-z0-9+.-]*:/i.test(u)) u = pathToFileURL(path.resolve(root, u)).href
  if (!/^(https?|file):/i.test(u)) throw configError(`[pkgsrc] repository ${url}: only http, https and file URLs are supported`)
  return u.replace(/\/+$/, '')
}

function configError(message: string): NipError {
  return new NipError('ERR_NIP_CONFIG', `${message}.`, { hint: 'See docs/pkgsrc.md for the [pkgsrc] table.', data: { source: 'pkgsrc' } })
}
