/**
 * The `[pacman]` configuration table, and pacman.conf when asked for:
 *
 *   [pacman]
 *   repositories = [{ name = "core", servers = ["https://mirror/$repo/os/$arch"], siglevel = "Required" }]
 *   keyring = "/etc/nip/pacman-keyring.asc"    # armored public keys (relative: against the target root)
 *   parallel-downloads = 4
 *   architecture = "x86_64"                    # default: the machine's ("auto" too)
 *   siglevel = "Required DatabaseOptional"     # default for every repository ([options] SigLevel)
 *   use-host-config = true                     # or a path; true reads /etc/pacman.conf if present
 *   retries = 3                                # extra tries per mirror for transient failures
 *   timeout = 30                               # seconds without a byte before a request is dropped
 *
 * Repositories from pacman.conf come first (in its order), then those of the table. When
 * `use-host-config` is absent it defaults to true only when the table lists no repositories.
 */
import { readFileSync, existsSync } from 'node:fs'
import path from 'node:path'
import { NipError } from '@nip/core'
import { DEFAULT_SIGLEVEL, parseSigLevel, type SigLevel } from './sigLevel.js'

export interface RepositoryConfig {
  name: string
  /** Server URLs with `$repo` and `$arch` already substituted. */
  servers: string[]
  siglevel: SigLevel
}

/** What the `retries` and `timeout` keys pass to core's downloader (absent: its defaults). */
export interface DownloadSettings {
  retries?: number
  timeoutMs?: number
}

export interface PacmanConfig {
  repositories: RepositoryConfig[]
  /** Absolute path of an armored keyring, or null. */
  keyring: string | null
  parallelDownloads: number
  architecture: string
  /** SigLevel for local package files (`nip install ./x.pkg.tar.zst`). */
  localFileSigLevel: SigLevel
  /** The pacman.conf read, if any. */
  hostConfig: string | null
  download: DownloadSettings
}

const MACHINE_ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i686', arm: 'armv7h' }
export const HOST_CONFIG = '/etc/pacman.conf'

export function machineArch(): string {
  return MACHINE_ARCH[process.arch] ?? process.arch
}

export function parsePacmanConfig(table: Record<string, unknown>, root: string): PacmanConfig {
  const repos = table.repositories ?? []
  if (!Array.isArray(repos)) throw configError('pacman.repositories must be a list of tables', repos)
  let arch = table.architecture ?? 'auto'
  if (typeof arch !== 'string' || !/^[A-Za-z0-9_]+$/.test(arch)) throw configError('pacman.architecture must be an architecture name such as "x86_64"', arch)
  const parallel = table['parallel-downloads'] ?? 4
  if (typeof parallel !== 'number' || !Number.isInteger(parallel) || parallel < 1) throw configError('pacman.parallel-downloads must be a positive integer', parallel)
  const keyring = table.keyring ?? null
  if (keyring !== null && typeof keyring !== 'string') throw configError('pacman.keyring must be a path to an armored keyring', keyring)
  const retries = table.retries
  if (retries !== undefined && (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0)) throw configError('pacman.retries must be a non-negative integer', retries)
  const timeout = table.timeout
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0))) throw configError('pacman.timeout must be a positive number of seconds', timeout)
  const base = typeof table.siglevel === 'string' ? parseSigLevel(table.siglevel) : DEFAULT_SIGLEVEL
  const host = table['use-host-config'] ?? repos.length === 0
  if (typeof host !== 'boolean' && typeof host !== 'string') throw configError('pacman.use-host-config must be true, false or a path', host)
  const hostFile = host === true ? (existsSync(HOST_CONFIG) ? HOST_CONFIG : null) : host === false ? null : path.resolve(root, host)

  let fromHost: ReturnType<typeof parsePacmanConf> | null = null
  if (hostFile !== null) fromHost = parsePacmanConf(hostFile, { architecture: arch, siglevel: base })
  if (arch === 'auto') arch = fromHost?.architecture ?? 'auto'
  if (arch === 'auto') arch = machineArch()
  const finalArch = arch as string
  const repositories: RepositoryConfig[] = (fromHost?.repositories ?? []).map((r) => ({ ...r, servers: r.servers.map((s) => expand(s, r.name, finalArch)) }))
  for (const r of repos) {
    if (typeof r !== 'object' || r === null) throw configError('each pacman.repositories entry must be a table { name, servers, siglevel }', r)
    const { name, servers, siglevel } = r as Record<string, unknown>
    if (typeof name !== 'string' || !/^[A-Za-z0-9_.+-]+$/.test(name) || name.startsWith('.')) throw configError('pacman.repositories: name must be a repository name', name)
    if (!Array.isArray(servers) || !servers.every((s) => typeof s === 'string')) throw configError(`pacman.repositories ${name}: servers must be a list of URLs`, servers)
    if (siglevel !== undefined && typeof siglevel !== 'string') throw configError(`pacman.repositories ${name}: siglevel must be a SigLevel string`, siglevel)
    repositories.push({
      name,
      servers: (servers as string[]).map((s) => expand(s, name, finalArch)),
      siglevel: siglevel === undefined ? (fromHost?.siglevel ?? base) : parseSigLevel(siglevel, fromHost?.siglevel ?? base),
    })
  }
  return {
    repositories,
    keyring: keyring === null ? null : path.resolve(root, keyring),
    parallelDownloads: parallel,
    architecture: finalArch,
    localFileSigLevel: fromHost?.localFileSigLevel ?? base,
    hostConfig: hostFile,
    download: {
      ...(retries !== undefined ? { retries: retries as number } : {}),
      ...(timeout !== undefined ? { timeoutMs: Math.round((timeout as number) * 1000) } : {}),
    },
  }
}

function expand(server: string, repo: string, arch: string): string {
  return server.replaceAll('$repo', repo).replaceAll('$arch', arch)
}

interface ParsedConf {
  architecture?: string
  siglevel: SigLevel
  localFileSigLevel: SigLevel
  repositories: RepositoryConfig[]
}

/**
 * Read a pacman.conf: `[options]` (Architecture, SigLevel, LocalFileSigLevel) and one section per
 * repository (Server, Include, SigLevel). Include files hold `Server =` lines (mirrorlists) and are
 * read relative to nothing: pacman's paths are absolute.
 */
export function parsePacmanConf(file: string, defaults: { architecture: string; siglevel: SigLevel }): ParsedConf {
  const out: ParsedConf = { siglevel: defaults.siglevel, localFileSigLevel: defaults.siglevel, repositories: [] }
  let section: string | null = null
  let repo: { name: string; servers: string[]; siglevel?: string } | null = null
  const finish = (): void => {
    if (repo) {
      out.repositories.push({ name: repo.name, servers: repo.servers, siglevel: repo.siglevel === undefined ? out.siglevel : parseSigLevel(repo.siglevel, out.siglevel) })
    }
    repo = null
  }
  const readLines = (f: string, depth: number): void => {
    let text: string
    try {
      text = readFileSync(f, 'utf8')
    } catch (e) {
      throw new NipError('ERR_NIP_CONFIG', `Cannot read ${f}: ${(e as Error).message}`, { hint: 'Fix the pacman configuration, or set use-host-config = false.', data: { file: f }, cause: e })
    }
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim()
      if (line === '') continue
      const sec = /^\[(.+)\]$/.exec(line)
      if (sec) {
        finish()
        section = sec[1]
        if (section !== 'options') repo = { name: section, servers: [] }
        continue
      }
      const eq = line.indexOf('=')
      const key = (eq < 0 ? line : line.slice(0, eq)).trim()
      const value = eq < 0 ? '' : line.slice(eq + 1).trim()
      if (key === 'Include') {
        if (depth > 10) throw new NipError('ERR_NIP_CONFIG', `${f}: Include nests too deeply`, { hint: 'Remove the Include loop.', data: { file: f } })
        readLines(value, depth + 1)
      } else if (section === 'options') {
        if (key === 'Architecture') {
          const first = value.split(/\s+/)[0]
          if (first !== 'auto') out.architecture = first
        } else if (key === 'SigLevel') out.siglevel = parseSigLevel(value, out.siglevel)
        else if (key === 'LocalFileSigLevel') out.localFileSigLevel = parseSigLevel(value, out.siglevel)
      } else if (repo !== null) {
        const r = repo as { name: string; servers: string[]; siglevel?: string }
        if (key === 'Server') r.servers.push(value)
        else if (key === 'SigLevel') r.siglevel = r.siglevel === undefined ? value : `${r.siglevel} ${value}`
      }
    }
  }
  readLines(file, 0)
  finish()
  if (out.architecture === undefined && defaults.architecture !== 'auto') out.architecture = defaults.architecture
  return out
}

function configError(message: string, value: unknown): NipError {
  return new NipError('ERR_NIP_CONFIG', message, {
    hint: 'Fix the [pacman] table in nip.conf, e.g. repositories = [{ name = "core", servers = ["https://mirror/$repo/os/$arch"] }].',
    data: { value },
  })
}
