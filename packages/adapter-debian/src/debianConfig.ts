/**
 * The `[debian]` configuration table:
 *
 *   [debian]
 *   host-sources = true          # read the host's apt sources (apt-dir) when `sources` is empty
 *   apt-dir = "/etc/apt"
 *   sources = [{ uri = "http://deb.example.org/debian", suite = "bookworm", components = ["main"],
 *                signed-by = "/usr/share/keyrings/example.gpg", architectures = ["amd64"] }]
 *   keyrings = ["/etc/apt/trusted.gpg.d"]    # for sources without Signed-By (files or directories)
 *   architecture = "amd64"       # default: the machine's, in dpkg's naming
 *   host-packages = true         # skip dependencies that dpkg already has installed on the host
 *   dpkg-status = "/var/lib/dpkg/status"
 *   check-valid-until = true
 *   retries = 3                  # extra tries per mirror for transient download failures
 *   timeout = 30                 # seconds without a byte before a request is dropped
 *   relocate = true              # give grafted ELF files a RUNPATH into System/Links/Libraries
 *
 * A source table may list `mirrors = ["http://other.example/debian"]`: other base URIs serving
 * the same archive, tried in order when `uri` fails (everything is still checked against the
 * one signed InRelease).
 */
import { NipError } from '@nip/core'
import type { AptSource } from './aptSources.js'

export interface DebianConfig {
  hostSources: boolean
  aptDir: string
  sources: AptSource[]
  keyrings: string[]
  architecture: string
  hostPackages: boolean
  dpkgStatus: string
  checkValidUntil: boolean
  /** Give grafted ELF files a RUNPATH into System/Links/Libraries (core's relocateTree). */
  relocate: boolean
  download: DownloadSettings
}

/** What the `retries` and `timeout` keys pass to core's downloader (absent: its defaults). */
export interface DownloadSettings {
  retries?: number
  timeoutMs?: number
}

const DPKG_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: 'i386', arm: 'armhf', ppc64: 'ppc64el', s390x: 's390x', riscv64: 'riscv64' }

export function machineArchitecture(nodeArch: string = process.arch): string {
  return DPKG_ARCH[nodeArch] ?? nodeArch
}

export function parseDebianConfig(table: Record<string, unknown>): DebianConfig {
  const bool = (key: string, dflt: boolean): boolean => {
    const v = table[key] ?? dflt
    if (typeof v !== 'boolean') throw configError(`debian.${key} must be true or false`, v)
    return v
  }
  const str = (key: string, dflt: string): string => {
    const v = table[key] ?? dflt
    if (typeof v !== 'string' || v === '') throw configError(`debian.${key} must be a non-empty string`, v)
    return v
  }
  const list = (v: unknown, what: string): string[] => {
    if (v === undefined) return []
    if (typeof v === 'string') return [v]
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw configError(`${what} must be a list of strings`, v)
    return v as string[]
  }
  const rawSources = table.sources ?? []
  if (!Array.isArray(rawSources)) throw configError('debian.sources must be a list of tables', rawSources)
  const sources = rawSources.map((s, i): AptSource => {
    if (typeof s !== 'object' || s === null) throw configError(`debian.sources[${i}] must be a table`, s)
    const t = s as Record<string, unknown>
    if (typeof t.uri !== 'string' || typeof t.suite !== 'string') throw configError(`debian.sources[${i}] needs uri and suite`, s)
    return {
      uri: t.uri,
      suite: t.suite,
      components: list(t.components, `debian.sources[${i}].components`),
      architectures: list(t.architectures, `debian.sources[${i}].architectures`),
      signedBy: list(t['signed-by'], `debian.sources[${i}].signed-by`),
      origin: `[debian] sources[${i}]`,
      ...(t.mirrors !== undefined ? { mirrors: list(t.mirrors, `debian.sources[${i}].mirrors`) } : {}),
    }
  })
  const retries = table.retries
  if (retries !== undefined && (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0)) throw configError('debian.retries must be a non-negative integer', retries)
  const timeout = table.timeout
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0))) throw configError('debian.timeout must be a positive number of seconds', timeout)
  return {
    hostSources: bool('host-sources', true),
    aptDir: str('apt-dir', '/etc/apt'),
    sources,
    keyrings: list(table.keyrings ?? ['/etc/apt/trusted.gpg.d', '/etc/apt/trusted.gpg'], 'debian.keyrings'),
    architecture: str('architecture', machineArchitecture()),
    hostPackages: bool('host-packages', true),
    dpkgStatus: str('dpkg-status', '/var/lib/dpkg/status'),
    checkValidUntil: bool('check-valid-until', true),
    relocate: bool('relocate', true),
    download: {
      ...(retries !== undefined ? { retries: retries as number } : {}),
      ...(timeout !== undefined ? { timeoutMs: Math.round((timeout as number) * 1000) } : {}),
    },
  }
}

function configError(message: string, value: unknown): NipError {
  return new NipError('ERR_NIP_CONFIG', message, {
    hint: 'Fix the [debian] table in nip.conf (see docs/debian.md).',
    data: { value },
  })
}
