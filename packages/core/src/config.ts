/**
 * Configuration loading. Layers, later wins key by key:
 *   built-in defaults → <root>/etc/nip/nip.conf → ~/.nip/config → $NIP_CONFIG → --config FILE → flags.
 * Missing system/user files are skipped; a file named explicitly ($NIP_CONFIG, --config) must exist.
 *
 * Keys are the original nip's flat keys (`programs-dir`, `nix-priority`, ...) plus one table per
 * source (`[pacman]`, ...). `<id>-priority` is shorthand for `[<id>] priority`; inside one file the
 * table wins over the shorthand. Directory keys are root-relative: "/Programs" means
 * <root>/Programs, and ".." is refused so no configured path can leave the root.
 *
 * Every problem is ERR_NIP_CONFIG naming the file (or "flag") and the key.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parse as parseToml, TomlError } from 'smol-toml'
import type { AdapterId } from './adapter.js'
import type { ConfigOrigin, LoadConfigOptions, LoadedConfig, NipConfig, SourceConfig } from './configTypes.js'
import { NipError } from './errors.js'
import { closest as nearest } from './suggest.js'

/** Every source nip knows, with its default priority (lower is tried first). */
export const SOURCE_PRIORITIES: Readonly<Record<string, number>> = {
  // The fleet cache (@nip/oci): offers nothing until [oci] registries names one.
  oci: 3,
  gobo: 5,
  nix: 10,
  pkgsrc: 20,
  pacman: 30,
  gentoo: 40,
  debian: 50,
  // Builds from recipes (@nip/build): answers only when asked by name (`nip build`, --source build).
  build: 90,
}

export const SOURCE_IDS = Object.keys(SOURCE_PRIORITIES) as AdapterId[]

type KeyKind = 'dir' | 'count' | 'seconds' | 'size'

interface FlatKey {
  kind: KeyKind
  field: keyof NipConfig
  default: string | number
  summary: string
}

/** The flat (top-level, non-source) keys, in the order documentation and `config show` use. */
export const FLAT_KEYS: Readonly<Record<string, FlatKey>> = {
  'programs-dir': { kind: 'dir', field: 'programsDir', default: '/Programs', summary: 'Where programs are grafted (one directory per program and version).' },
  'links-dir': { kind: 'dir', field: 'linksDir', default: '/System/Links', summary: 'The symlink farm (Executables, Libraries, Headers, Shared, Manuals).' },
  'settings-dir': { kind: 'dir', field: 'settingsDir', default: '/System/Settings', summary: 'Links to the programs\' configuration files.' },
  'state-dir': { kind: 'dir', field: 'stateDir', default: '/var/nip', summary: 'nip\'s own state: database, lock, journal.' },
  'cas-dir': { kind: 'dir', field: 'casDir', default: '/var/nip/cas', summary: 'The content-addressable store of file contents.' },
  'cache-dir': { kind: 'dir', field: 'cacheDir', default: '/var/nip/cache', summary: 'Downloaded package files and source indexes.' },
  'log-dir': { kind: 'dir', field: 'logDir', default: '/var/log/nip', summary: 'The transaction log.' },
  'parallel-downloads': { kind: 'count', field: 'parallelDownloads', default: 4, summary: 'How many downloads run at once.' },
  'lock-timeout': { kind: 'seconds', field: 'lockTimeout', default: 300, summary: 'Seconds to wait for another nip to release the lock.' },
  'index-max-age': { kind: 'seconds', field: 'indexMaxAge', default: 86400, summary: 'Seconds a source\'s local index is used before a query refreshes it (nip update refreshes at once; 0: refresh on every use).' },
  'max-archive-entries': { kind: 'count', field: 'maxArchiveEntries', default: 1_000_000, summary: 'Refuse archives with more entries than this.' },
  'max-archive-size': { kind: 'size', field: 'maxArchiveSize', default: '64G', summary: 'Refuse archives that expand to more bytes than this (a number of bytes, or "512M", "64G").' },
}

/** Keys of a source table that nip itself interprets; every other key belongs to the adapter. */
const SOURCE_TABLE_KEYS = { priority: 'integer', enabled: 'boolean' } as const

/**
 * The keys each source's table may hold besides priority and enabled (what its adapter reads; the
 * docs of each source describe them). A key not listed is refused with the nearest one, naming the
 * file: a typo in a source table would otherwise be ignored silently. A source with no list here
 * (one registered from outside) has its table passed on unchecked.
 */
export const SOURCE_KEYS: Readonly<Record<string, readonly string[]>> = {
  gobo: ['repositories', 'arch', 'require-checksums'],
  nix: ['substituters', 'trusted-public-keys', 'require-sigs', 'channel', 'store-dir', 'run-root', 'retries', 'timeout'],
  pkgsrc: ['repositories', 'machine-arch', 'verified-installation', 'gpg-keyring', 'retries', 'timeout'],
  pacman: ['repositories', 'keyring', 'siglevel', 'architecture', 'parallel-downloads', 'use-host-config', 'retries', 'timeout'],
  gentoo: ['repository', 'profile', 'binhosts', 'binhost', 'use', 'accept-keywords', 'package-use', 'keyring', 'retries', 'timeout'],
  build: ['recipe-dirs', 'profile-dirs', 'profiles', 'variants', 'cflags', 'ldflags', 'jobs', 'rebuild', 'keep-work', 'executor', 'podman-socket', 'image', 'container-image', 'bootstrap-recipe-dirs', 'bootstrap-recipes-url', 'bootstrap-recipes-key', 'distfile-mirrors', 'gentoo-profile', 'gentoo-provided', 'gentoo-host-packages', 'bootstrap-mirrors', 'gentoo-repository', 'gentoo-repository-key', 'gentoo-repository-signature-url'],
  debian: ['host-sources', 'apt-dir', 'sources', 'keyrings', 'architecture', 'host-packages', 'dpkg-status', 'check-valid-until', 'relocate', 'retries', 'timeout'],
  oci: ['registries', 'push-to', 'trusted-public-keys', 'secret-key-files', 'require-sigs', 'insecure-registries', 'credentials', 'retries', 'timeout', 'chunk-size', 'jobs'],
}

/** The adapter-specific keys each source table conventionally holds (named in renderDefaultConfig). */
const ADAPTER_KEYS: Readonly<Record<string, string>> = {
  oci: 'registries, push-to, trusted-public-keys, secret-key-files, require-sigs, insecure-registries, credentials, retries, timeout, chunk-size, jobs (docs/fleet.md)',
  gobo: 'repositories (local directories or file:// URLs), arch, require-checksums',
  nix: 'substituters, trusted-public-keys, require-sigs, channel, store-dir, run-root, retries, timeout (docs/nix.md)',
  pkgsrc: 'repositories ({ url, priority, mirrors }), machine-arch, verified-installation, gpg-keyring, retries, timeout (docs/pkgsrc.md)',
  pacman: 'repositories ({ name, servers, siglevel }), keyring, siglevel, architecture, parallel-downloads, use-host-config, retries, timeout (docs/pacman.md)',
  gentoo: 'repository metadata, profiles, binhosts and USE settings (docs/gentoo.md)',
  build: 'recipe-dirs, profile-dirs, profiles, variants, cflags, ldflags, jobs, rebuild, keep-work, executor, podman-socket, image (docs/build.md); container-image, bootstrap-recipe-dirs, bootstrap-recipes-url, bootstrap-recipes-key, bootstrap-mirrors, distfile-mirrors, gentoo-profile, gentoo-provided, gentoo-host-packages, gentoo-repository, gentoo-repository-key, gentoo-repository-signature-url (docs/bootstrap.md)',
  debian: 'host-sources, apt-dir, sources ({ uri, suite, components, signed-by, mirrors }), keyrings, architecture, host-packages, dpkg-status, check-valid-until, relocate, retries, timeout (docs/debian.md)',
}

const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4, P: 1024 ** 5 }

type Origin = LoadedConfig['origins'][string]

/** Where a value comes from while loading (a file, or a non-file layer). */
interface Layer {
  origin: ConfigOrigin
  file?: string
}

export async function loadConfig(opts: LoadConfigOptions): Promise<LoadedConfig> {
  const env = opts.env ?? process.env
  const root = path.resolve(opts.root)
  const origins: Record<string, Origin> = {}
  const files: string[] = []
  const flat: Record<string, number | string> = {}
  const sources = new Map<string, { priority: number; enabled: boolean; table: Record<string, unknown> }>()

  for (const [key, spec] of Object.entries(FLAT_KEYS)) {
    const value = normalizeFlat(key, spec, spec.default, { origin: 'default' })
    flat[key] = value
    origins[key] = { value, origin: 'default' }
  }
  for (const id of SOURCE_IDS) {
    sources.set(id, { priority: SOURCE_PRIORITIES[id], enabled: true, table: {} })
    origins[`${id}.priority`] = { value: SOURCE_PRIORITIES[id], origin: 'default' }
    origins[`${id}.enabled`] = { value: true, origin: 'default' }
  }

  const apply = (doc: Record<string, unknown>, layer: Layer): void => {
    const set = (key: string, value: unknown) => {
      origins[key] = { value, origin: layer.origin, ...(layer.file ? { file: layer.file } : {}) }
    }
    // Flat keys first, so that a source table in the same layer overrides `<id>-priority`.
    for (const [key, raw] of Object.entries(doc)) {
      if (raw === undefined) continue
      const spec = FLAT_KEYS[key]
      if (spec) {
        flat[key] = normalizeFlat(key, spec, raw, layer)
        set(key, flat[key])
        continue
      }
      const prio = /^(.+)-priority$/.exec(key)
      if (prio && sources.has(prio[1])) {
        const n = expectInteger(key, raw, layer)
        sources.get(prio[1])!.priority = n
        set(`${prio[1]}.priority`, n)
        continue
      }
      if (sources.has(key)) continue
      throw unknownKey(key, layer)
    }
    for (const [id, src] of sources) {
      if (!(id in doc)) continue
      const table = doc[id]
      if (!isTable(table)) throw badType(id, 'a table', table, layer)
      for (const [k, v] of Object.entries(table)) {
        const dotted = `${id}.${k}`
        const allowed = SOURCE_KEYS[id]
        if (allowed !== undefined && !(k in SOURCE_TABLE_KEYS) && !allowed.includes(k)) throw unknownSourceKey(id, k, [...Object.keys(SOURCE_TABLE_KEYS), ...allowed], layer)
        if (k === 'priority') src.priority = expectInteger(dotted, v, layer)
        else if (k === 'enabled') {
          if (typeof v !== 'boolean') throw badType(dotted, SOURCE_TABLE_KEYS.enabled, v, layer)
          src.enabled = v
        }
        src.table[k] = v
        set(dotted, v)
      }
    }
  }

  const readLayer = (file: string, origin: ConfigOrigin, mustExist: boolean): void => {
    let text: string
    try {
      text = fs.readFileSync(file, 'utf8')
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (!mustExist && code === 'ENOENT') return
      throw new NipError('ERR_NIP_CONFIG', `Cannot read the configuration file ${file}: ${(e as Error).message}`, {
        hint: code === 'ENOENT' ? 'Check the path given with --config or NIP_CONFIG.' : 'Check the file\'s permissions.',
        data: { file, errno: code },
        cause: e,
      })
    }
    files.push(file)
    apply(parseConfigText(text, file), { origin, file })
  }

  readLayer(path.join(root, 'etc', 'nip', 'nip.conf'), 'system', false)
  const userPath = opts.userConfigPath === undefined ? defaultUserConfigPath(env) : opts.userConfigPath
  if (userPath) readLayer(userPath, 'user', false)
  if (env.NIP_CONFIG) readLayer(path.resolve(env.NIP_CONFIG), 'env', true)
  if (opts.configFile) readLayer(path.resolve(opts.configFile), 'flag', true)
  if (opts.flags) apply(opts.flags, { origin: 'flag' })

  checkDirectoryOverlaps(flat, origins)
  const config = { root } as NipConfig
  for (const [key, spec] of Object.entries(FLAT_KEYS)) (config as unknown as Record<string, unknown>)[spec.field] = flat[key]
  config.sources = [...sources.entries()]
    .map(([id, s]): SourceConfig => ({ id, enabled: s.enabled, priority: s.priority, table: s.table }))
    .sort((a, b) => a.priority - b.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  return { config, origins, files }
}

/**
 * Nestings of the area directories that nip is built for: the CAS and the download cache live in
 * the state directory by default. Every other pair where one directory equals or contains the
 * other would let one area's housekeeping (gc emptying the trash, doctor removing what the farm
 * does not own, the CAS's temporary files) act on another's files.
 */
const DESIGNED_NESTING: ReadonlyArray<readonly [inner: string, outer: string]> = [
  ['cas-dir', 'state-dir'],
  ['cache-dir', 'state-dir'],
]

/** What nip itself keeps directly in the state directory (layout.ts); a nested area must not be one of them. */
const STATE_ENTRIES = ['db', 'lock', 'trash', 'tmp', 'reserve', 'reserve.tmp']

function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(`${outer}/`)
}

/** Any two directory keys where one equals or contains the other, other than a designed nesting, is ERR_NIP_CONFIG naming both. */
export function checkDirectoryOverlaps(flat: Record<string, string | number>, origins: Record<string, { origin: ConfigOrigin; file?: string }> = {}): void {
  const dirs = Object.entries(FLAT_KEYS)
    .filter(([, spec]) => spec.kind === 'dir')
    .map(([key]) => ({ key, value: String(flat[key]) }))
  const from = (key: string): string => {
    const o = origins[key]
    return o === undefined || o.origin === 'default' ? 'the default' : o.file ?? (o.origin === 'flag' ? 'a command-line flag' : `the ${o.origin} layer`)
  }
  const refuse = (a: { key: string; value: string }, b: { key: string; value: string }, reason: string): NipError =>
    new NipError('ERR_NIP_CONFIG', `"${a.key}" (/${a.value}, from ${from(a.key)}) and "${b.key}" (/${b.value}, from ${from(b.key)}) overlap: ${reason}.`, {
      hint: 'Give each of nip\'s directories its own place in the root (nip config show lists them; nip config init shows the defaults).',
      data: { keys: [a.key, b.key], values: [`/${a.value}`, `/${b.value}`], files: [origins[a.key]?.file ?? null, origins[b.key]?.file ?? null] },
    })
  for (let i = 0; i < dirs.length; i++) {
    for (let j = i + 1; j < dirs.length; j++) {
      const [a, b] = [dirs[i], dirs[j]]
      if (a.value === b.value) throw refuse(a, b, 'they are the same directory')
      const [inner, outer] = within(a.value, b.value) ? [a, b] : within(b.value, a.value) ? [b, a] : [null, null]
      if (inner === null || outer === null) continue
      if (!DESIGNED_NESTING.some(([x, y]) => x === inner.key && y === outer.key)) throw refuse(inner, outer, `${inner.key} lies inside ${outer.key}`)
      const rest = inner.value.slice(outer.value.length + 1).split('/')[0]
      if (STATE_ENTRIES.includes(rest)) throw refuse(inner, outer, `${inner.key} would be nip's own ${outer.key}/${rest}`)
    }
  }
}

/** The default user configuration path: ~/.nip/config. */
export function defaultUserConfigPath(env: Record<string, string | undefined> = process.env): string {
  return path.join(env.HOME || os.homedir(), '.nip', 'config')
}

/** The system configuration path of a root: <root>/etc/nip/nip.conf. */
export function systemConfigPath(root: string): string {
  return path.join(path.resolve(root), 'etc', 'nip', 'nip.conf')
}

/** Parse TOML, turning a syntax error into ERR_NIP_CONFIG with file:line:column. */
function parseConfigText(text: string, file: string): Record<string, unknown> {
  try {
    return parseToml(text) as Record<string, unknown>
  } catch (e) {
    if (e instanceof TomlError) {
      const reason = e.message.split('\n')[0].replace(/^Invalid TOML document:\s*/i, '')
      throw new NipError('ERR_NIP_CONFIG', `${file}:${e.line}:${e.column}: ${reason}`, {
        hint: 'Fix the TOML syntax at that line (nip config init --force writes a fresh, commented file).',
        data: { file, line: e.line, column: e.column },
        cause: e,
      })
    }
    throw e
  }
}

function normalizeFlat(key: string, spec: FlatKey, raw: unknown, layer: Layer): string | number {
  switch (spec.kind) {
    case 'dir':
      return normalizeDir(key, raw, layer)
    case 'count': {
      const n = expectInteger(key, raw, layer)
      if (n < 1) throw badValue(key, `must be at least 1 (got ${n})`, layer)
      return n
    }
    case 'seconds': {
      if (typeof raw !== 'number' || !Number.isFinite(raw)) throw badType(key, 'a number of seconds', raw, layer)
      if (raw < 0) throw badValue(key, `must not be negative (got ${raw})`, layer)
      return raw
    }
    case 'size':
      return parseSize(key, raw, layer)
  }
}

/** A directory key as a root-relative POSIX path ("/Programs" → "Programs"). */
function normalizeDir(key: string, raw: unknown, layer: Layer): string {
  if (typeof raw !== 'string') throw badType(key, 'a string (a path inside the root)', raw, layer)
  if (raw.includes('\0')) throw badValue(key, 'contains a NUL byte', layer)
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.')
  if (parts.includes('..')) throw badValue(key, `"${raw}" contains ".."; configured directories must stay inside the root`, layer)
  if (parts.length === 0) throw badValue(key, `"${raw}" names the root itself; give a directory inside it`, layer)
  return parts.join('/')
}

/** Bytes from an integer or a size string: "64G", "512M", "1.5G", "100KiB" (binary units). */
export function parseSize(key: string, raw: unknown, layer: Layer = { origin: 'default' }): number {
  if (typeof raw === 'number') {
    if (!Number.isSafeInteger(raw) || raw < 1) throw badValue(key, `must be a positive whole number of bytes (got ${raw})`, layer)
    return raw
  }
  if (typeof raw !== 'string') throw badType(key, 'a size (bytes, or a string like "64G")', raw, layer)
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:i?B)?\s*$/i.exec(raw)
  if (!m) throw badValue(key, `"${raw}" is not a size; write bytes or a number with K, M, G, T or P`, layer)
  const bytes = Math.floor(Number(m[1]) * SIZE_UNITS[m[2].toUpperCase()])
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw badValue(key, `"${raw}" is out of range`, layer)
  return bytes
}

function expectInteger(key: string, raw: unknown, layer: Layer): number {
  if (typeof raw !== 'number' || !Number.isSafeInteger(raw)) throw badType(key, 'an integer', raw, layer)
  return raw
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date)
}

function where(layer: Layer): string {
  return layer.file ?? (layer.origin === 'flag' ? 'a command-line flag' : `the ${layer.origin} layer`)
}

function describeValue(v: unknown): string {
  if (Array.isArray(v)) return 'an array'
  if (v === null) return 'null'
  if (v instanceof Date) return 'a date'
  if (typeof v === 'object') return 'a table'
  return `${typeof v} ${JSON.stringify(v)}`
}

function badType(key: string, expected: string, got: unknown, layer: Layer): NipError {
  return new NipError('ERR_NIP_CONFIG', `${where(layer)}: "${key}" must be ${expected}, not ${describeValue(got)}.`, {
    hint: `Write ${key} as ${expected} (nip config init shows every key with its default).`,
    data: { file: layer.file ?? null, origin: layer.origin, key, expected },
  })
}

function badValue(key: string, reason: string, layer: Layer): NipError {
  return new NipError('ERR_NIP_CONFIG', `${where(layer)}: "${key}" ${reason}.`, {
    hint: 'nip config init shows every key with its default.',
    data: { file: layer.file ?? null, origin: layer.origin, key },
  })
}

function unknownKey(key: string, layer: Layer): NipError {
  const known = [...Object.keys(FLAT_KEYS), ...SOURCE_IDS.map((id) => `${id}-priority`), ...SOURCE_IDS]
  const suggestion = closest(key, known)
  return new NipError('ERR_NIP_CONFIG', `${where(layer)}: unknown key "${key}".`, {
    hint: suggestion ? `Did you mean "${suggestion}"?` : `Known keys: ${known.join(', ')}.`,
    data: { file: layer.file ?? null, origin: layer.origin, key, ...(suggestion ? { suggestion } : {}) },
  })
}

function unknownSourceKey(id: string, key: string, known: string[], layer: Layer): NipError {
  const suggestion = closest(key, known)
  return new NipError('ERR_NIP_CONFIG', `${where(layer)}: unknown key "${key}" in the [${id}] table.`, {
    hint: suggestion ? `Did you mean "${suggestion}"? (keys of [${id}]: ${known.join(', ')})` : `Keys of [${id}]: ${known.join(', ')}.`,
    data: { file: layer.file ?? null, origin: layer.origin, key: `${id}.${key}`, table: id, ...(suggestion ? { suggestion } : {}) },
  })
}

/** The known key nearest to `key` by edit distance, if it is plausibly a typo. */
function closest(key: string, known: string[]): string | undefined {
  return nearest(key, known, { limit: 1, maxDistance: (n) => Math.max(2, Math.floor(n / 3)) })[0]
}

/** A commented configuration file listing every key with its default; parses back to the defaults. */
export function renderDefaultConfig(): string {
  const out: string[] = [
    '# nip configuration (TOML).',
    '#',
    '# Read in this order, later files winning key by key:',
    '#   <root>/etc/nip/nip.conf, ~/.nip/config, the file named by $NIP_CONFIG, --config FILE.',
    '# Directories are inside the target root: "/Programs" means <root>/Programs.',
    '# Every key below is shown with its default, commented out.',
    '',
  ]
  for (const [key, spec] of Object.entries(FLAT_KEYS)) {
    out.push(`# ${spec.summary}`)
    out.push(`# ${key} = ${JSON.stringify(spec.default)}`, '')
  }
  out.push('# Source priorities: lower is tried first. `<source>-priority` is shorthand for `[<source>] priority`.')
  for (const id of SOURCE_IDS) out.push(`# ${id}-priority = ${SOURCE_PRIORITIES[id]}`)
  out.push('')
  out.push('# One table per source. `priority` and `enabled` override the flat keys; every other key is')
  out.push('# passed to the source\'s adapter.')
  for (const id of SOURCE_IDS) {
    out.push(`# [${id}]`, `# priority = ${SOURCE_PRIORITIES[id]}`, '# enabled = true')
    out.push(`#   adapter keys: ${ADAPTER_KEYS[id]}`, '')
  }
  return out.join('\n')
}
