/**
 * Dispatcher: asks the configured sources, in priority order, who has a package. Adapters are
 * loaded lazily (only when a command needs a source). When no source has it, the error names
 * every source tried and what each said. A local package file goes to the source of its
 * format, judged by the file's content (packageFormat.ts).
 */
import type { AdapterContext, AdapterId, PackageRef, PackageSpec, SearchHit, SourceAdapter } from './adapter.js'
import type { SourceConfig } from './configTypes.js'
import type { SourceStatus } from './api.js'
import { NipError, isNipError, type NipErrorCode } from './errors.js'
import { DEFAULT_LIMITS, type Limits } from './archive/limits.js'
import { sniffPackageFile, unrecognisedPackage } from './packageFormat.js'
import { editDistance } from './suggest.js'

/** Refusals that mean "this source's data is not trustworthy", as opposed to "not here". */
const VERIFICATION_CODES = new Set<NipErrorCode>([
  'ERR_NIP_SIGNATURE_INVALID',
  'ERR_NIP_SIGNATURE_MISSING',
  'ERR_NIP_KEY_UNKNOWN',
  'ERR_NIP_KEYRING_INVALID',
  'ERR_NIP_ARTIFACT_SIGNATURE',
  'ERR_NIP_ARTIFACT_UNSIGNED',
  'ERR_NIP_METADATA_EXPIRED',
  'ERR_NIP_HASH_MISMATCH',
  'ERR_NIP_SIZE_MISMATCH',
])

export interface DispatcherOptions {
  sources: SourceConfig[]
  adapters?: SourceAdapter[]
  factories?: Record<string, () => Promise<SourceAdapter>>
  context: (id: AdapterId, source: SourceConfig | undefined) => AdapterContext
  /** Bounds of the walk that tells a local file's format (default: the default archive limits). */
  limits?: Limits
}

export interface Attempt {
  source: AdapterId
  outcome: string
  /** The error code when the source failed (rather than not having the package). */
  code?: string
  /** Set (false) when the source has nothing configured to look in. */
  configured?: boolean
  /** When a version was asked for and the source has the name: the versions it has, best first. */
  versions?: string[]
}

/** A package a source has under a name near the one asked for. */
export interface Suggestion {
  name: string
  source: AdapterId
}

export class Dispatcher {
  private readonly loaded = new Map<string, SourceAdapter>()

  constructor(private readonly opts: DispatcherOptions) {
    for (const a of opts.adapters ?? []) this.loaded.set(a.id, a)
  }

  /** Every source id nip knows: configured ones, then any extra adapter given directly. */
  knownIds(): AdapterId[] {
    const ids = this.opts.sources.map((s) => s.id)
    for (const id of [...this.loaded.keys(), ...Object.keys(this.opts.factories ?? {})]) if (!ids.includes(id)) ids.push(id)
    return ids
  }

  /** Enabled sources in priority order (adapters given directly count as enabled). */
  enabledIds(): AdapterId[] {
    const cfg = this.opts.sources.filter((s) => s.enabled).map((s) => s.id)
    const direct = [...this.loaded.keys()].filter((id) => !this.opts.sources.some((s) => s.id === id))
    return [...cfg, ...direct].filter((id) => this.loaded.has(id) || this.opts.factories?.[id] !== undefined)
  }

  sourceConfig(id: AdapterId): SourceConfig | undefined {
    return this.opts.sources.find((s) => s.id === id)
  }

  async adapter(id: AdapterId): Promise<SourceAdapter> {
    const have = this.loaded.get(id)
    if (have) return have
    const factory = this.opts.factories?.[id]
    if (!factory) {
      throw new NipError('ERR_NIP_UNKNOWN_SOURCE', `Unknown source "${id}".`, {
        hint: `Known sources: ${this.knownIds().join(', ')}.`,
        data: { source: id },
      })
    }
    const a = await factory()
    this.loaded.set(id, a)
    return a
  }

  context(id: AdapterId): AdapterContext {
    return this.opts.context(id, this.sourceConfig(id))
  }

  /** The best candidates for a spec, from the first source that has any. */
  async resolve(spec: PackageSpec): Promise<{ adapter: SourceAdapter; refs: PackageRef[] }> {
    if (spec.file !== undefined) return this.resolveFile(spec, spec.file)
    const ids = spec.source ? [spec.source] : this.enabledIds()
    if (spec.source && !this.knownIds().includes(spec.source)) {
      throw new NipError('ERR_NIP_UNKNOWN_SOURCE', `Unknown source "${spec.source}".`, {
        hint: `Known sources: ${this.knownIds().join(', ')}.`,
        data: { source: spec.source },
      })
    }
    const tried: Attempt[] = []
    const failures: unknown[] = []
    for (const id of ids) {
      let adapter: SourceAdapter
      try {
        adapter = await this.adapter(id)
      } catch (e) {
        tried.push({ source: id, outcome: `could not be loaded: ${(e as Error).message}` })
        continue
      }
      try {
        const refs = await adapter.resolve(spec, this.context(id))
        if (refs.length > 0) return { adapter, refs }
        if (adapter.configured && !(await adapter.configured(this.context(id)))) tried.push({ source: id, outcome: 'is not configured', configured: false })
        else tried.push(spec.version ? await this.versionMiss(adapter, spec) : { source: id, outcome: `has no package named ${spec.name}` })
      } catch (e) {
        tried.push({ source: id, outcome: isNipError(e) ? `${e.code}: ${e.message}` : `failed: ${(e as Error).message}`, ...(isNipError(e) ? { code: e.code } : {}) })
        failures.push(e)
        // A source that fails verification (a bad signature, a tampered index) stops the search:
        // quietly taking the package from the next source would hide an attack on this one.
        if (isNipError(e) && VERIFICATION_CODES.has(e.code)) {
          throw new NipError(e.code, e.message, { hint: e.hint, data: { ...e.data, spec: spec.raw, tried }, cause: e })
        }
      }
    }
    // The only source asked failed with its own error (unreachable mirrors, an unknown USE flag
    // with the nearest ones, …): that error says more than "not found", so it is passed on.
    const only = failures.length === 1 && tried.length === 1 ? failures[0] : undefined
    if (isNipError(only)) throw new NipError(only.code, only.message, { hint: only.hint, data: { ...only.data, spec: spec.raw, tried }, cause: only })
    const what = spec.version ? `${spec.name}@${spec.version}` : spec.name
    const lines = tried.length ? tried.map((t) => `  ${t.source}: ${t.outcome}`).join('\n') : '  (no source is enabled)'
    // "Did you mean": only a plain name, and only the sources that were asked and answered.
    const suggestions = spec.version === undefined ? await this.suggest(spec.name, tried.filter((t) => t.code === undefined && t.configured !== false).map((t) => t.source)) : []
    const unconfigured = tried.filter((t) => t.configured === false).map((t) => t.source)
    const mean = suggestions.length ? `Did you mean ${suggestions.map((h) => `${h.name} (${h.source})`).join(', ')}? ` : ''
    const available = tried.filter((t) => t.versions !== undefined && t.versions.length > 0)
    throw new NipError('ERR_NIP_NOT_FOUND', `No source offers ${what}. Tried:\n${lines}`, {
      hint: available.length
        ? `Pick one of the versions listed (${spec.name}@${available[0].versions![0]}), or leave the version out for the best one.`
        : tried.length
          ? `${mean}Check the spelling, try nip search${unconfigured.length ? `, or configure ${unconfigured.join(', ')} (nip sources)` : ', or configure another source (nip sources)'}.`
          : 'Enable a source in nip.conf (nip config init writes a commented example).',
      data: { spec: spec.raw, tried, ...(suggestions.length ? { suggestions } : {}) },
    })
  }

  /** A source without the version asked for: which versions of the name it does have (newest first, at most 10 shown). */
  private async versionMiss(adapter: SourceAdapter, spec: PackageSpec): Promise<Attempt> {
    let versions: string[] = []
    try {
      const { version: _v, ...rest } = spec
      versions = [...new Set((await adapter.resolve(rest, this.context(adapter.id))).map((r) => r.version))]
    } catch {
      /* the name alone failed too: say only what was asked */
    }
    if (versions.length === 0) return { source: adapter.id, outcome: `has no ${spec.name} at version ${spec.version}`, versions }
    const shown = versions.slice(0, 10).join(', ') + (versions.length > 10 ? `, … (${versions.length} in all)` : '')
    return { source: adapter.id, outcome: `has no ${spec.name} at version ${spec.version}; it has ${shown}`, versions }
  }

  /**
   * A local package file goes to the source of its format, judged by its content
   * (packageFormat.ts): a file no source recognises is ERR_NIP_BAD_PACKAGE naming what was looked
   * for; a source that recognises it and refuses it reports its own error, unchanged.
   */
  private async resolveFile(spec: PackageSpec, file: string): Promise<{ adapter: SourceAdapter; refs: PackageRef[] }> {
    const sniffed = await sniffPackageFile(file, this.opts.limits ?? DEFAULT_LIMITS)
    let id: AdapterId
    if (sniffed.format === null) {
      // --source names the reader of a file nip cannot place (a variant the sniffer does not
      // know): that source decides, and its refusal is the answer.
      if (spec.source === undefined) throw unrecognisedPackage(file, sniffed)
      id = spec.source
    } else {
      id = sniffed.source
      if (spec.source !== undefined && spec.source !== id) {
        throw new NipError('ERR_NIP_BAD_SPEC', `${file} is ${sniffed.description}; the ${spec.source} source cannot install it.`, {
          hint: `Leave out --source (nip installs a local file with the source of its format), or give --source ${id}.`,
          data: { spec: spec.raw, file, format: sniffed.format, source: id, given: spec.source },
        })
      }
    }
    if (!this.knownIds().includes(id) && sniffed.format === null) {
      throw new NipError('ERR_NIP_UNKNOWN_SOURCE', `Unknown source "${id}".`, { hint: `Known sources: ${this.knownIds().join(', ')}.`, data: { source: id } })
    }
    if (!this.knownIds().includes(id)) {
      throw new NipError('ERR_NIP_SOURCE_UNAVAILABLE', `${file} is ${sniffed.format === null ? 'a package file' : sniffed.description}, but nip has no ${id} source here.`, {
        hint: `Known sources: ${this.knownIds().join(', ')}.`,
        data: { spec: spec.raw, file, ...(sniffed.format ? { format: sniffed.format } : {}), source: id },
      })
    }
    const cfg = this.sourceConfig(id)
    if (spec.source === undefined && cfg !== undefined && !cfg.enabled) {
      throw new NipError('ERR_NIP_SOURCE_UNAVAILABLE', `${file} is ${sniffed.format === null ? 'a package file' : sniffed.description}, and the ${id} source is disabled.`, {
        hint: `Enable it in nip.conf ([${id}] enabled = true), or name it for this command: --source ${id}.`,
        data: { spec: spec.raw, file, ...(sniffed.format ? { format: sniffed.format } : {}), source: id },
      })
    }
    const adapter = await this.adapter(id)
    if (!adapter.claimsFile) {
      throw new NipError('ERR_NIP_NOT_IMPLEMENTED', `The ${id} source does not install local package files (${file}).`, {
        hint: `Install it by name from a configured ${id} repository.`,
        data: { spec: spec.raw, file, source: id },
      })
    }
    const refs = await adapter.resolve(spec, this.context(id))
    if (refs.length === 0) {
      throw new NipError('ERR_NIP_BAD_PACKAGE', `The ${id} source found no package in ${file}.`, {
        hint: 'The file may be damaged; fetch it again.',
        data: { spec: spec.raw, file, source: id },
      })
    }
    return { adapter, refs }
  }

  /**
   * Names near `name` in the local indexes of `ids` (read as they are: no refresh, so no network
   * beyond what resolving just did): names that start with it first, then those a typo away
   * (edit distance, a swap of two letters costing one: `hlelo` → `hello`), then names that contain
   * it or that it contains, nearest in length first; at most five, one per name and source.
   */
  private async suggest(name: string, ids: AdapterId[]): Promise<Suggestion[]> {
    const q = name.toLowerCase()
    const maxDistance = Math.max(1, Math.floor(q.length / 3))
    const found = new Map<string, Suggestion & { rank: number }>()
    const consider = (n: string, id: AdapterId): void => {
      const l = n.toLowerCase()
      if (l === q) return
      const d = editDistance(q, l, maxDistance)
      const tier = l.startsWith(q) ? 0 : d <= maxDistance ? d : l.includes(q) ? maxDistance + 1 : q.includes(l) ? maxDistance + 2 : -1
      if (tier < 0) return
      const rank = tier * 1000 + Math.abs(l.length - q.length)
      const key = `${l}\0${id}`
      const had = found.get(key)
      if (!had || rank < had.rank) found.set(key, { name: n, source: id, rank })
    }
    for (const id of ids) {
      try {
        const adapter = await this.adapter(id)
        const ctx = { ...this.context(id), index: { maxAgeSeconds: Number.MAX_SAFE_INTEGER } }
        if (adapter.names) {
          for await (const n of adapter.names(ctx)) consider(n, id)
        } else {
          let seen = 0
          for await (const h of adapter.search(name, ctx)) {
            if (++seen > 2000) break
            consider(h.ref.name, id)
          }
        }
      } catch {
        // A source that cannot list or search has no suggestion to make.
      }
    }
    return [...found.values()]
      .sort((a, b) => a.rank - b.rank || a.name.localeCompare(b.name) || String(a.source).localeCompare(String(b.source)))
      .slice(0, 5)
      .map(({ name: n, source }) => ({ name: n, source }))
  }

  async search(query: string, source?: AdapterId): Promise<SearchHit[]> {
    const hits: SearchHit[] = []
    for (const id of source ? [source] : this.enabledIds()) {
      const adapter = await this.adapter(id)
      try {
        for await (const h of adapter.search(query, this.context(id))) hits.push(h)
      } catch (e) {
        if (source) throw e
      }
    }
    return hits
  }

  async statuses(): Promise<SourceStatus[]> {
    const out: SourceStatus[] = []
    for (const id of this.knownIds()) {
      const cfg = this.sourceConfig(id)
      const base = { priority: cfg?.priority ?? 100, enabled: cfg?.enabled ?? true }
      try {
        const a = await this.adapter(id)
        out.push({ ...(await a.probe(this.context(id))), ...base })
      } catch (e) {
        out.push({ id, configured: false, reachable: null, detail: (e as Error).message, ...base })
      }
    }
    return out.sort((a, b) => a.priority - b.priority || String(a.id).localeCompare(String(b.id)))
  }
}
