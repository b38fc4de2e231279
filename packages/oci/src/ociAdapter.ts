/**
 * The fleet cache as a source (DESIGN §8): programs other machines built or grafted and pushed to
 * OCI registries (`[oci] registries`). resolve and search read each registry's cache index;
 * describe reads the artifact's signed document; fetch pulls and verifies it (pull.ts) into the
 * CAS, trying the registries in order (mirrors of one cache fail over to each other).
 * Configured with no registries, it offers nothing and costs nothing.
 */
import type { AdapterContext, AdapterStatus, DependencySpec, FetchResult, PackageManifest, PackageRef, PackageSpec, SearchHit, SourceAdapter } from '@nip/core'
import { NipError, compareVersionsNatural } from '@nip/core'
import { readCatalog, type CacheIndex, type IndexEntry } from './cacheIndex.js'
import type { RegistryClient } from './client.js'
import { pullProgram, readProgram, type ReadProgram } from './pull.js'
import { clientFor } from './registry.js'
import { readOciSettings, type OciSettings } from './settings.js'

export const OCI_SOURCE = 'oci'

interface Located {
  entry: IndexEntry
  client: RegistryClient
}

export class OciAdapter implements SourceAdapter {
  readonly id = OCI_SOURCE
  private readonly indexes = new Map<string, Promise<CacheIndex>>()
  private readonly clients = new Map<string, RegistryClient>()
  /** Verified artifacts by manifest digest: describe and fetch read the document once. */
  private readonly programs = new Map<string, Promise<ReadProgram>>()

  private read(ctx: AdapterContext, digest: string): Promise<ReadProgram> {
    let p = this.programs.get(digest)
    if (!p) {
      const s = this.settings(ctx)
      p = this.firstAnswer(ctx, (c) => readProgram(c, digest, { trusted: s.trustedKeys, requireSigs: s.requireSigs }))
      this.programs.set(digest, p)
      p.catch(() => this.programs.delete(digest))
    }
    return p
  }

  private settings(ctx: AdapterContext): OciSettings {
    return readOciSettings(ctx.config)
  }

  private clientsOf(ctx: AdapterContext): RegistryClient[] {
    const s = this.settings(ctx)
    return s.registries.map((ref) => {
      let c = this.clients.get(ref.url)
      if (!c) this.clients.set(ref.url, (c = clientFor(ref, s, { reporter: ctx.reporter, ...(ctx.signal ? { signal: ctx.signal } : {}) })))
      return c
    })
  }

  private index(client: RegistryClient): Promise<CacheIndex> {
    let p = this.indexes.get(client.ref.url)
    if (!p) {
      p = readCatalog(client)
      this.indexes.set(client.ref.url, p)
      p.catch(() => this.indexes.delete(client.ref.url))
    }
    return p
  }

  /** Every index entry of every reachable registry; unreachable ones are reported as warnings. */
  private async entries(ctx: AdapterContext): Promise<Located[]> {
    const out: Located[] = []
    const failures: string[] = []
    for (const client of this.clientsOf(ctx)) {
      try {
        for (const entry of (await this.index(client)).programs) out.push({ entry, client })
      } catch (e) {
        if (e instanceof NipError && e.code === 'ERR_NIP_REGISTRY_AUTH') throw e
        failures.push(`${client.ref.url}: ${(e as Error).message}`)
        ctx.reporter.emit({ type: 'warning', code: 'oci-index-unreadable', message: `oci: cannot read the cache index of ${client.ref.url}: ${(e as Error).message}` })
      }
    }
    if (out.length === 0 && failures.length > 0 && failures.length === this.clientsOf(ctx).length) {
      throw new NipError('ERR_NIP_SOURCE_UNAVAILABLE', `No configured registry answered: ${failures.join('; ')}`, { hint: 'Check [oci] registries and that the registries run.', data: { failures } })
    }
    return out
  }

  /** Configured when `[oci] registries` names at least one registry (no network). */
  async configured(ctx: AdapterContext): Promise<boolean> {
    return this.settings(ctx).registries.length > 0
  }

  async probe(ctx: AdapterContext): Promise<AdapterStatus> {
    const clients = this.clientsOf(ctx)
    if (clients.length === 0) return { id: this.id, configured: false, reachable: null, detail: 'no registries ([oci] registries)' }
    const notes: string[] = []
    let reachable = false
    for (const c of clients) {
      try {
        const n = (await this.index(c)).programs.length
        reachable = true
        notes.push(`${c.ref.url}: ${n} programs`)
      } catch (e) {
        notes.push(`${c.ref.url}: ${(e as Error).message}`)
      }
    }
    return { id: this.id, configured: true, reachable, detail: notes.join('; ') }
  }

  async *search(query: string, ctx: AdapterContext): AsyncIterable<SearchHit> {
    const q = query.toLowerCase()
    const seen = new Set<string>()
    for (const { entry } of await this.entries(ctx)) {
      if (seen.has(entry.digest)) continue
      if (!entry.name.toLowerCase().includes(q) && !(entry.summary ?? '').toLowerCase().includes(q)) continue
      seen.add(entry.digest)
      yield { ref: this.refOf(entry), score: entry.name.toLowerCase() === q ? 1 : 0.5 }
    }
  }

  private refOf(entry: IndexEntry): PackageRef {
    return { source: this.id, name: entry.name, version: entry.version, id: `${entry.tag}@${entry.digest}`, ...(entry.summary ? { summary: entry.summary } : {}) }
  }

  async resolve(spec: PackageSpec, ctx: AdapterContext): Promise<PackageRef[]> {
    if ((spec.source && spec.source !== this.id) || spec.file) return []
    if (this.clientsOf(ctx).length === 0) return []
    const byDigest = new Map<string, IndexEntry>()
    for (const { entry } of await this.entries(ctx)) {
      if (entry.name !== spec.name || (spec.version && entry.version !== spec.version)) continue
      const had = byDigest.get(entry.digest)
      if (!had || had.pushedAt < entry.pushedAt) byDigest.set(entry.digest, entry)
    }
    return [...byDigest.values()].sort((a, b) => compareVersionsNatural(b.version, a.version) || (a.pushedAt < b.pushedAt ? 1 : -1)).map((e) => this.refOf(e))
  }

  private digestOf(ref: PackageRef): string {
    const at = ref.id.lastIndexOf('@')
    const digest = ref.id.slice(at + 1)
    if (at < 0 || !/^sha256:[0-9a-f]{64}$/.test(digest)) throw new NipError('ERR_NIP_BAD_SPEC', `${ref.id} is not an oci package id (TAG@sha256:…).`, { data: { id: ref.id } })
    return digest
  }

  /** Runs `work` on each registry in order until one succeeds; throws the first registry's error. */
  private async firstAnswer<T>(ctx: AdapterContext, work: (c: RegistryClient) => Promise<T>): Promise<T> {
    const clients = this.clientsOf(ctx)
    if (clients.length === 0) throw new NipError('ERR_NIP_SOURCE_UNAVAILABLE', 'No registries are configured ([oci] registries).', { hint: 'See docs/fleet.md.' })
    let first: unknown
    for (const c of clients) {
      try {
        return await work(c)
      } catch (e) {
        first ??= e
        if (clients.length > 1) ctx.reporter.emit({ type: 'warning', code: 'oci-registry-failover', message: `oci: ${c.ref.url}: ${(e as Error).message}` })
      }
    }
    throw first
  }

  async describe(ref: PackageRef, ctx: AdapterContext): Promise<PackageManifest> {
    const digest = this.digestOf(ref)
    const { document, signedBy } = await this.read(ctx, digest)
    return {
      ref,
      dependencies: document.dependencies,
      provides: [],
      conflicts: [],
      downloadSize: document.layers.reduce((n, l) => n + l.size, 0),
      installedSize: document.size,
      ...(document.summary ? { description: document.summary } : {}),
      variants: document.variants,
      hashes: { tree: `blake3:${document.treeDigest}`, manifest: digest },
      extra: { fingerprint: document.fingerprint, source: document.source, packageId: document.packageId, ...(signedBy ? { signedBy } : {}) },
    }
  }

  async fetch(ref: PackageRef, ctx: AdapterContext): Promise<FetchResult> {
    const s = this.settings(ctx)
    const digest = this.digestOf(ref)
    const read = await this.read(ctx, digest).catch(() => undefined)
    const pulled = await this.firstAnswer(ctx, (client) => pullProgram(digest, { ...(read ? { read } : {}), client, cas: ctx.cas, trusted: s.trustedKeys, requireSigs: s.requireSigs, limits: { maxEntries: ctx.limits.maxEntries, maxTotalSize: ctx.limits.maxTotalSize }, jobs: s.jobs }))
    if (pulled.document.name !== ref.name || pulled.document.version !== ref.version) {
      throw new NipError('ERR_NIP_BAD_PACKAGE', `${ref.id} holds ${pulled.document.name} ${pulled.document.version}, not ${ref.name} ${ref.version}.`, { hint: 'The cache index does not match the artifact; push it again.', data: { ref } })
    }
    return { ref, entries: pulled.entries, downloaded: pulled.downloaded }
  }

  compareVersions(a: string, b: string): number {
    return compareVersionsNatural(a, b)
  }

  satisfies(dep: DependencySpec, version: string): boolean {
    const c = (dep.constraint ?? '').trim()
    if (!c) return true
    const m = /^(>=|<=|=|==|>|<)?\s*(\S+)$/.exec(c)
    if (!m) return false
    const d = compareVersionsNatural(version, m[2])
    switch (m[1]) {
      case '>=': return d >= 0
      case '<=': return d <= 0
      case '>': return d > 0
      case '<': return d < 0
      default: return d === 0
    }
  }
}

export function createAdapter(): SourceAdapter {
  return new OciAdapter()
}
