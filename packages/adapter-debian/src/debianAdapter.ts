/**
 * The Debian source: packages from apt repositories (the host's apt sources or `[debian]`
 * sources), and local `.deb` files.
 *
 * Contracts:
 * - resolve/describe/search read verified indices only (InRelease signature, Release hashes);
 *   they write nothing but the adapter's cache directory.
 * - fetch downloads the .deb into the cache, checks its SHA256 and size against the verified
 *   Packages index, checks that its control file names the package and version the index
 *   promised, and streams data.tar into the CAS (md5sums checked); maintainer scripts are
 *   returned as scriptlets and reported, never run.
 * - After the md5sums check (on the bytes the package shipped), ELF files get a RUNPATH into
 *   System/Links/Libraries (core's relocateTree; `relocate = false` turns it off): the returned
 *   entries name the patched blobs, so the DB and `nip verify` know what is on disk.
 * - Dependencies already installed by dpkg on the host (its status database) are not grafted,
 *   unless `host-packages = false`.
 * - The index is built once per adapter instance and configuration.
 */
import path from 'node:path'
import {
  NipError,
  relocateTree,
  type NipErrorCode,
  type AdapterContext,
  type AdapterStatus,
  type DependencySpec,
  type FetchResult,
  type PackageManifest,
  type PackageRef,
  type PackageSpec,
  type SearchHit,
  type SourceAdapter,
  type SourceUpdate, describeAge } from '@nip/core'
import { readAptSources, type AptSource } from './aptSources.js'
import { chooseDependencies } from './dependencyChoice.js'
import { readDeb, readDebControl, readDebLayout } from './debPackage.js'
import { parseDebianConfig, type DebianConfig } from './debianConfig.js'
import { readDpkgStatus } from './dpkgStatus.js'
import { downloadVerified } from './verifiedDownload.js'
import { PackageIndex, packageFromStanza, type DebianPackage } from './packageIndex.js'
import { parseConstraint, versionSatisfies } from './relation.js'
import { readUpdatedAt } from './indexState.js'
import { LocalIndexDb, type LocalPackages } from './localIndexDb.js'
import { listDirOf, loadSource, type LoadedSource, type LoadSourceOptions } from './repository.js'
import { compareVersions } from './versionCompare.js'

const ID = 'debian'

interface Index {
  config: DebianConfig
  sources: AptSource[]
  loaded: LoadedSource[]
  /** Sources that failed to load, with the reason (reported by probe). */
  failed: { source: AptSource; error: NipError }[]
  /** The packages of the loaded suites, from the local index database. */
  packages: LocalPackages
  /** The host's dpkg status, read when a dependency choice first needs it (search does not). */
  host: () => Promise<PackageIndex | null>
}

export class DebianAdapter implements SourceAdapter {
  readonly id = ID
  private index: { key: string; value: Promise<Index> } | null = null
  private db: { file: string; value: LocalIndexDb } | null = null
  private readonly local = new Map<string, DebianPackage>()

  async configured(ctx: AdapterContext): Promise<boolean> {
    return (await this.sourcesOf(parseDebianConfig(ctx.config))).length > 0
  }

  async probe(ctx: AdapterContext): Promise<AdapterStatus> {
    const config = parseDebianConfig(ctx.config)
    const sources = await this.sourcesOf(config)
    if (sources.length === 0) {
      return { id: ID, configured: false, reachable: null, detail: 'no apt sources (host sources absent; set [debian] sources)' }
    }
    // Probing stays cheap and writes nothing: the indexes (tens of MB per suite) are fetched by
    // nip update or the first search/info/install, not by `nip sources`.
    const now = Date.now()
    const names = await Promise.all(
      sources.map(async (s) => {
        const at = await readUpdatedAt(listDirOf(s, ctx.cacheDir))
        return `${s.uri} ${s.suite} (${at === null ? 'no local index yet' : `local index from ${describeAge(Math.max(0, (now - at.getTime()) / 1000))} ago`})`
      }),
    )
    return { id: ID, configured: true, reachable: null, detail: `${sources.length} source(s): ${names.join(', ')}` }
  }

  async *search(query: string, ctx: AdapterContext): AsyncIterable<SearchHit> {
    const q = query.toLowerCase()
    const index = await this.requireIndex(ctx)
    for (const best of index.packages.search(q)) {
      const byName = best.name.includes(q)
      yield { ref: toRef(best, idOf(best)), score: best.name === q ? 1 : byName ? 0.5 : 0.25 }
    }
  }

  async *names(ctx: AdapterContext): AsyncIterable<string> {
    yield* (await this.requireIndex(ctx)).packages.names()
  }

  async resolve(spec: PackageSpec, ctx: AdapterContext): Promise<PackageRef[]> {
    if (spec.file) {
      const pkg = await this.localPackage(spec.file, ctx)
      return [toRef(pkg, idOf(pkg))]
    }
    const index = await this.requireIndex(ctx)
    const name = spec.name.toLowerCase()
    let candidates = index.packages.versionsOf(name)
    if (candidates.length === 0) {
      // A virtual package: its providers, best version first.
      candidates = index.packages.providersOf(name).map((p) => p.pkg).sort((a, b) => compareVersions(b.version, a.version) || a.priority - b.priority)
    }
    if (spec.version !== undefined) candidates = candidates.filter((p) => p.version === spec.version)
    if (candidates.length === 0) throwIfLost(index, spec.raw)
    return candidates.map((p) => toRef(p, idOf(p)))
  }

  async describe(ref: PackageRef, ctx: AdapterContext): Promise<PackageManifest> {
    const index = await this.requireIndex(ctx)
    const pkg = this.packageOf(ref, index)
    const { dependencies, onHost } = chooseDependencies(pkg, index.packages, await index.host())
    return {
      ref: toRef(pkg, ref.id),
      dependencies,
      provides: pkg.provides.flat().map((p) => p.name),
      conflicts: [...pkg.conflicts, ...pkg.breaks].flat().map((r) => r.raw),
      downloadSize: pkg.size ?? 0,
      installedSize: pkg.installedSize ?? 0,
      ...(pkg.description !== undefined ? { description: pkg.description } : {}),
      ...(pkg.homepage !== undefined ? { homepage: pkg.homepage } : {}),
      ...(pkg.sha256 !== undefined ? { hashes: { sha256: pkg.sha256 } } : {}),
      extra: { architecture: pkg.architecture, origin: pkg.origin, satisfiedOnHost: onHost, ...(pkg.section ? { section: pkg.section } : {}) },
    }
  }

  async fetch(ref: PackageRef, ctx: AdapterContext): Promise<FetchResult> {
    const index = await this.requireIndex(ctx)
    const pkg = this.packageOf(ref, index)
    const label = `${pkg.name} ${pkg.version}`
    let file: string
    let downloaded = 0
    if (pkg.url === undefined || pkg.url.startsWith('/')) {
      file = pkg.url ?? ref.id
    } else {
      const got = await downloadVerified({
        urls: [pkg.url, ...(pkg.mirrorUrls ?? [])],
        dest: path.join(ctx.cacheDir, 'debs', `${pkg.sha256 ?? 'unverified'}.deb`),
        ...(pkg.size !== undefined ? { size: pkg.size } : {}),
        ...(pkg.sha256 !== undefined ? { sha256: pkg.sha256 } : {}),
        settings: index.config.download,
        label: `${pkg.name}_${pkg.version}.deb`,
        reporter: ctx.reporter,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      })
      if (pkg.sha256 === undefined) throw new NipError('ERR_NIP_BAD_PACKAGE', `${pkg.name} ${pkg.version} has no SHA256 in its index`, { hint: 'nip only grafts packages it can verify.', data: { url: pkg.url } })
      file = got.path
      downloaded = got.downloaded
    }
    const deb = await readDeb(file, {
      cas: ctx.cas,
      limits: ctx.limits,
      ...(ctx.stage !== undefined ? { stage: ctx.stage } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      onWarning: (w) => ctx.reporter.emit({ type: 'warning', code: w.code, message: `${label}: ${w.message}`, data: { path: w.path } }),
      onProgress: (done, total) => ctx.reporter.emit({ type: 'progress', id: ref.id, label, done, total, unit: 'bytes' }),
    })
    const name = deb.control.get('package')
    const version = deb.control.get('version')
    if (name !== pkg.name || version !== pkg.version) {
      throw new NipError('ERR_NIP_BAD_PACKAGE', `${path.basename(file)} contains ${name} ${version}, not ${pkg.name} ${pkg.version}`, {
        hint: 'The .deb does not match its index entry; do not install it.',
        data: { file, expected: { name: pkg.name, version: pkg.version }, actual: { name, version } },
      })
    }
    // Maintainer scripts are reported once, by core, for the program grafted (scriptlet-not-run).
    // Relocation comes after readDeb's md5sums check: the package's hashes are of the bytes it
    // shipped, the DB records the patched ones.
    if (!index.config.relocate) return { ref, entries: deb.entries, scriptlets: deb.scriptlets, downloaded }
    const relocated = await relocateTree(deb.entries, {
      cas: ctx.cas,
      layout: ctx.layout,
      reporter: ctx.reporter,
      label,
      tmpDir: path.join(ctx.cacheDir, 'relocate'),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    })
    return { ref, entries: relocated.entries, scriptlets: deb.scriptlets, downloaded, scratchBlobs: relocated.replacedBlobs }
  }

  compareVersions(a: string, b: string): number {
    return compareVersions(a, b)
  }

  satisfies(dep: DependencySpec, version: string): boolean {
    const { op, version: required } = parseConstraint(dep.constraint)
    return versionSatisfies(version, op, required)
  }

  claimsFile(file: string): boolean {
    return file.endsWith('.deb')
  }

  private packageOf(ref: PackageRef, index: Index): DebianPackage {
    const pkg = index.packages.versionsOf(ref.name).find((p) => idOf(p) === ref.id) ?? this.local.get(ref.id)
    if (pkg === undefined) {
      throw new NipError('ERR_NIP_NOT_FOUND', `The Debian sources no longer offer ${ref.name} ${ref.version}`, { hint: 'Run the command again to re-read the indices.', data: { ref } })
    }
    return pkg
  }

  private async localPackage(file: string, ctx: AdapterContext): Promise<DebianPackage> {
    const abs = path.resolve(file)
    const layout = await readDebLayout(abs)
    const { control } = await readDebControl(abs, layout, ctx.limits)
    const pkg = packageFromStanza(control, { origin: abs, priority: -1 })!
    pkg.url = abs
    const index = await this.requireIndex(ctx, true)
    if (pkg.architecture !== index.config.architecture && pkg.architecture !== 'all') {
      throw new NipError('ERR_NIP_BAD_PACKAGE', `${path.basename(abs)} is built for ${pkg.architecture}, not ${index.config.architecture}`, {
        hint: `Use the ${index.config.architecture} or "all" package.`,
        data: { file: abs, architecture: pkg.architecture },
      })
    }
    this.local.set(abs, pkg)
    return pkg
  }

  private async sourcesOf(config: DebianConfig): Promise<AptSource[]> {
    if (config.sources.length > 0) return config.sources
    return config.hostSources ? readAptSources(config.aptDir) : []
  }

  /** The index; a failure of every source is an error (unless `allowEmpty`, for local files). */
  private async requireIndex(ctx: AdapterContext, allowEmpty = false): Promise<Index> {
    const index = await this.indexOf(ctx)
    if (!allowEmpty && index.loaded.length === 0 && index.failed.length > 0) throw index.failed[0].error
    return index
  }

  private indexOf(ctx: AdapterContext): Promise<Index> {
    const config = parseDebianConfig(ctx.config)
    const key = JSON.stringify(config)
    if (this.index?.key !== key) {
      const value = this.buildIndex(config, ctx)
      value.catch(() => {
        if (this.index?.value === value) this.index = null
      })
      this.index = { key, value }
    }
    return this.index.value
  }

  /**
   * `nip update`: every suite from the network, verified; a suite that fails keeps its last good
   * copy (nothing of it is replaced before it verifies). The next query reads the new index.
   */
  async update(ctx: AdapterContext): Promise<SourceUpdate> {
    const config = parseDebianConfig(ctx.config)
    const sources = await this.sourcesOf(config)
    this.index = null
    if (sources.length === 0) return { source: ID, status: 'not-supported', detail: 'no apt sources (host sources absent; set [debian] sources)' }
    const parts: NonNullable<SourceUpdate['parts']> = []
    let error: SourceUpdate['error']
    await Promise.all(
      sources.map(async (source, priority) => {
        const name = `${source.uri} ${source.suite}`
        try {
          const l = await loadSource(this.loadOptions(config, ctx, source, priority))
          const kept = l.stale.filter((x) => x.keptFrom !== undefined).map((x) => `${x.index}: the last good copy (${x.keptFrom}) is kept`)
          const lost = l.stale.filter((x) => x.keptFrom === undefined).map((x) => `${x.index}: not in use`)
          const status = l.stale.length > 0 ? 'partial' : l.changed ? 'updated' : 'unchanged'
          const count = this.store(ctx, l).view([l.view], config.architecture).count()
          parts[priority] = { name, status, detail: [`${count} packages`, ...kept, ...lost].join('; ') }
        } catch (e) {
          const err = e instanceof NipError ? e : new NipError('ERR_NIP_INTERNAL', String((e as Error)?.message ?? e), { cause: e })
          error ??= { code: err.code, message: err.message }
          parts[priority] = { name, status: 'failed', detail: `${err.code}: ${err.message.split('\n')[0]} (the last good copy stays)` }
        }
      }),
    )
    const failed = parts.filter((p) => p.status === 'failed').length
    const status = failed === parts.length ? 'failed' : failed > 0 || parts.some((p) => p.status === 'partial') ? 'partial' : parts.some((p) => p.status === 'updated') ? 'updated' : 'unchanged'
    const detail = `${parts.length} suite(s): ${parts.filter((p) => p.status === 'updated').length} updated, ${parts.filter((p) => p.status === 'unchanged').length} unchanged, ${parts.filter((p) => p.status === 'partial').length} partial, ${failed} failed`
    return { source: ID, status, detail, parts, ...(error ? { error } : {}) }
  }

  private loadOptions(config: DebianConfig, ctx: AdapterContext, source: AptSource, priority: number): LoadSourceOptions {
    return {
      source,
      priority,
      architecture: config.architecture,
      defaultKeyrings: config.keyrings,
      checkValidUntil: config.checkValidUntil,
      cacheDir: ctx.cacheDir,
      download: config.download,
      reporter: ctx.reporter,
      known: (suite) => this.database(ctx).holds(suite),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    }
  }

  /** The local index database (`<state-dir>/index/debian.sqlite`), opened once per adapter and root. */
  private database(ctx: AdapterContext): LocalIndexDb {
    const file = path.join(ctx.layout.stateDir, 'index', 'debian.sqlite')
    if (this.db?.file !== file) {
      this.db?.value.close()
      this.db = { file, value: LocalIndexDb.open(file) }
    }
    return this.db.value
  }

  /** Puts a freshly parsed suite into the database; returns the database. */
  private store(ctx: AdapterContext, l: LoadedSource): LocalIndexDb {
    const db = this.database(ctx)
    if (l.records !== null) {
      db.replace(l.suite, l.records)
      l.records = null
    }
    return db
  }

  /**
   * One suite for a query: the local index when it is younger than the maximum age (no network),
   * else refreshed from the network; when that fails and a local index exists, the local index,
   * with a warning giving its age.
   */
  private async loadForQuery(config: DebianConfig, ctx: AdapterContext, source: AptSource, priority: number): Promise<LoadedSource> {
    const opts = this.loadOptions(config, ctx, source, priority)
    const updatedAt = await readUpdatedAt(listDirOf(source, ctx.cacheDir))
    const age = updatedAt === null ? null : Math.max(0, (Date.now() - updatedAt.getTime()) / 1000)
    const maxAge = ctx.index?.maxAgeSeconds ?? 86400
    if (age !== null && age < maxAge && ctx.index?.refresh !== 'force') {
      try {
        return await loadSource({ ...opts, offline: true })
      } catch {
        // A damaged local index: refreshed from the network below.
      }
    }
    try {
      return await loadSource(opts)
    } catch (e) {
      if (age === null || ctx.signal?.aborted) throw e
      const reason = e instanceof Error ? e.message.split('\n')[0]! : String(e)
      const l = await loadSource({ ...opts, offline: true })
      l.offline = { reason, ageSeconds: Math.round(age) }
      ctx.reporter.emit({
        type: 'warning',
        code: 'debian-index-offline',
        message: `debian: ${source.uri} ${source.suite} could not be refreshed (${reason}); using the local index from ${describeAge(age)} ago`,
        data: { source: source.origin, ageSeconds: Math.round(age), ...(e instanceof NipError ? { code: e.code } : {}) },
      })
      return l
    }
  }

  private async buildIndex(config: DebianConfig, ctx: AdapterContext): Promise<Index> {
    const sources = await this.sourcesOf(config)
    const results = await Promise.allSettled(sources.map((source, priority) => this.loadForQuery(config, ctx, source, priority)))
    const loaded: LoadedSource[] = []
    const failed: { source: AptSource; error: NipError }[] = []
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') loaded.push(r.value)
      else {
        const error = r.reason instanceof NipError ? r.reason : new NipError('ERR_NIP_INTERNAL', String((r.reason as Error)?.message ?? r.reason), { cause: r.reason })
        failed.push({ source: sources[i], error })
        ctx.reporter.emit({ type: 'warning', code: error.code, message: `debian: ${sources[i].uri} ${sources[i].suite}: ${error.message}`, data: { source: sources[i].origin } })
      }
    })
    for (const l of loaded) this.store(ctx, l)
    const packages = this.database(ctx).view(loaded.map((l) => l.view), config.architecture)
    let hostIndex: Promise<PackageIndex | null> | undefined
    const host = (): Promise<PackageIndex | null> => (hostIndex ??= config.hostPackages ? readDpkgStatus(config.dpkgStatus, config.architecture) : Promise.resolve(null))
    return { config, sources, loaded, failed, packages, host }
  }
}

export function createAdapter(): SourceAdapter {
  return new DebianAdapter()
}

/**
 * Nothing matched, but an index of a loaded suite is not in use at all (no mirror delivered it
 * intact and nip had no earlier copy): the package may well be listed there, so its failure is
 * the answer rather than "not found".
 */
function throwIfLost(index: Index, spec: string): void {
  const lost = index.loaded.flatMap((l) => l.stale.filter((s) => s.keptFrom === undefined))
  if (lost.length === 0) return
  const first = lost[0]!
  throw new NipError(first.code as NipErrorCode, `${spec} is not in the Debian indexes in use; ${lost.map((l) => `${l.index}`).join(', ')} ${lost.length === 1 ? 'is' : 'are'} not in use: ${first.reason}`, {
    hint: 'The mirrors did not deliver that index intact; try again later (nip uses an index only when it matches the signed Release).',
    data: { spec, lost: lost.map((l) => ({ index: l.index, path: l.path, code: l.code })) },
  })
}

export { describeAge }

/** A package's identity: the .deb URL (or local path) — unique across sources and versions. */
function idOf(p: DebianPackage): string {
  return p.url ?? `${p.name}_${p.version}_${p.architecture}`
}

function toRef(p: DebianPackage, id: string): PackageRef {
  return { source: ID, name: p.name, version: p.version, id, ...(p.summary !== undefined ? { summary: p.summary } : {}) }
}
