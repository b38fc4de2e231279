/**
 * The Nix source: programs from Nix binary caches, with their closures.
 *
 * Contracts:
 * - resolve/describe/search only read substituters and the channel index (cached in cacheDir).
 * - resolve only checks that a substituter has the narinfo; every narinfo is signature-checked (require-sigs) before it is used, in describe and again
 *   in fetch. fetch verifies FileSize/FileHash of the download and NarSize/NarHash of the
 *   decompressed NAR, and writes nothing but blobs (and the download in cacheDir). A refused
 *   path leaves at most blobs behind, and nothing is grafted.
 * - A narinfo's References (other than itself) are dependencies with the exact version of that
 *   store path (`raw` is the full store path, so resolve finds exactly it again).
 * - Store references inside files are relocated into the tree (relocation.ts).
 */
import path from 'node:path'
import {
  NipError,
  type AdapterContext,
  type AdapterStatus,
  type DependencySpec,
  type FetchResult,
  type PackageManifest,
  type PackageRef,
  type PackageSpec,
  type SearchHit,
  type SourceAdapter,
  type SourceUpdate,
} from '@nip/core'
import { BinaryCache, type LocatedNarInfo } from './binaryCache.js'
import { describeAge, loadChannelIndex, type ChannelIndex } from './channelIndex.js'
import { checkElfTree } from './elfCheck.js'
import { formatHashSri } from './hashString.js'
import { narToCas } from './narToCas.js'
import { parseNixConfig, type NixConfig } from './nixConfig.js'
import { programNameOf } from './programName.js'
import { Relocation } from './relocation.js'
import { RECORD_FILE, type ProgramRecord } from './verifyProgram.js'
import { formatStorePath, parseStorePath, parseStorePathBase, type StorePath } from './storePath.js'
import { compareVersions } from './versionOrder.js'

const ID = 'nix'
/** Links into other closure members followed before giving up. */
const MAX_HOPS = 8

interface State {
  key: string
  config: NixConfig
  cache: BinaryCache
  index?: Promise<ChannelIndex>
}

export class NixAdapter implements SourceAdapter {
  readonly id = ID
  private state: State | null = null

  async configured(ctx: AdapterContext): Promise<boolean> {
    return this.stateOf(ctx).config.substituters.length > 0
  }

  async probe(ctx: AdapterContext): Promise<AdapterStatus> {
    const { config, cache } = this.stateOf(ctx)
    if (config.substituters.length === 0) return { id: ID, configured: false, reachable: null, detail: 'no substituters configured ([nix] substituters = ["URL"])' }
    // Reachable means nix-cache-info was fetched (and names our store), not merely configured.
    const reachable = await cache.reachableSubstituters()
    return {
      id: ID,
      configured: true,
      reachable: reachable.length > 0,
      detail: reachable.length > 0 ? `substituters: ${reachable.join(', ')}` : `no substituter answers: ${config.substituters.join(', ')}`,
    }
  }

  async *search(query: string, ctx: AdapterContext): AsyncIterable<SearchHit> {
    const index = await this.indexOf(ctx)
    if (index === null) return
    const q = query.toLowerCase()
    for (const hit of index.search(q)) {
      yield { ref: this.refOf(hit.storePath, ctx), score: hit.name.toLowerCase() === q ? 1 : 0.5 }
    }
  }

  async resolve(spec: PackageSpec, ctx: AdapterContext): Promise<PackageRef[]> {
    const state = this.stateOf(ctx)
    const direct = this.storePathIn(spec, state.config)
    if (direct !== null) {
      const located = await state.cache.narInfo(direct)
      return located === null ? [] : [this.refOf(direct, ctx)]
    }
    if (spec.file) return []
    const index = await this.indexOf(ctx)
    if (index === null) return []
    let hits = index.lookup(spec.name)
    if (spec.version !== undefined) hits = hits.filter((h) => h.version === spec.version)
    return hits.map((h) => this.refOf(h.storePath, ctx))
  }

  async describe(ref: PackageRef, ctx: AdapterContext): Promise<PackageManifest> {
    const { config } = this.stateOf(ctx)
    const self = this.storePathOf(ref, config)
    const located = await this.located(self, ctx)
    const { info } = located
    const dependencies: DependencySpec[] = []
    for (const base of info.references) {
      if (base === `${self.hashPart}-${self.name}`) continue
      const p = parseStorePathBase(base)!
      const { name, version } = programNameOf(p)
      dependencies.push({ name, constraint: version, raw: formatStorePath(p, config.storeDir) })
    }
    return {
      ref,
      dependencies,
      provides: [],
      conflicts: [],
      downloadSize: info.fileSize ?? 0,
      installedSize: info.narSize,
      hashes: { narHash: formatHashSri(info.narHash) },
      extra: {
        storePath: ref.id,
        references: info.references.map((r) => `${config.storeDir}/${r}`),
        substituter: located.substituter,
        ...(located.signedBy ? { signedBy: located.signedBy } : {}),
        ...(info.deriver ? { deriver: info.deriver } : {}),
      },
    }
  }

  async fetch(ref: PackageRef, ctx: AdapterContext): Promise<FetchResult> {
    const state = this.stateOf(ctx)
    const self = this.storePathOf(ref, state.config)
    const located = await this.located(self, ctx)
    const { info } = located
    const label = `${ref.name} ${ref.version}`
    ctx.reporter.emit({ type: 'progress', id: ref.id, label, done: 0, total: info.fileSize ?? 0, unit: 'bytes' })
    const main = await this.unpack(located, ctx, undefined)
    let downloaded = main.downloaded
    const entries = [...main.result.entries]
    const record: ProgramRecord = { storePath: ref.id, narHash: formatHashSri(info.narHash), narSize: info.narSize, links: main.result.record, replaced: {} }
    const drop = (p: string, original: string, why: string) => {
      record.replaced[p] = original
      ctx.reporter.emit({ type: 'warning', code: 'nix-link-dropped', message: `${ref.name} ${ref.version}: the link ${p} -> ${original} ${why}; it is left out`, data: { path: p, target: original } })
    }
    for (const d of main.result.dropped) drop(d.path, d.original, 'points outside the closure')
    // Links into other closure members are replaced by what they point at (a version directory
    // may not hold links that leave it); chains are followed up to MAX_HOPS.
    let queue = main.result.pending.map((p) => ({ link: p, original: p.original, top: p.path }))
    for (let hop = 0; queue.length > 0; hop++) {
      const next: typeof queue = []
      for (const { link, original, top } of queue) {
        if (hop >= MAX_HOPS) {
          drop(top, original, 'is a chain of links that is too long')
          continue
        }
        const dep = await this.located(link.storePath, ctx)
        const sub = await this.unpack(dep, ctx, { sub: link.sub, at: link.path })
        downloaded += sub.downloaded
        if (!sub.result.selected) {
          drop(top, original, 'points at nothing')
          continue
        }
        if (top === link.path) record.replaced[top] = original
        entries.push(...sub.result.entries)
        for (const d of sub.result.dropped) ctx.reporter.emit({ type: 'warning', code: 'nix-link-dropped', message: `${ref.name} ${ref.version}: the link ${d.path} -> ${d.original} points outside the closure; it is left out`, data: { path: d.path } })
        next.push(...sub.result.pending.map((p) => ({ link: p, original: p.path === top ? original : p.original, top: p.path === top ? top : p.path })))
      }
      queue = next
    }
    const blob = ctx.cas.addBufferSync(Buffer.from(JSON.stringify(record, null, 1) + '\n'), {})
    entries.push({ path: RECORD_FILE, type: 'file', mode: 0o644, blob: blob.key, size: blob.size })
    entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    ctx.reporter.emit({ type: 'progress', id: ref.id, label, done: downloaded, total: downloaded, unit: 'bytes' })
    return { ref, entries, downloaded }
  }

  /** Download, verify and unpack one store path (or the `select`ed part of it) into the CAS. */
  private async unpack(located: LocatedNarInfo, ctx: AdapterContext, select: { sub: string; at: string } | undefined) {
    const state = this.stateOf(ctx)
    const { info } = located
    const self = info.storePath
    const id = formatStorePath(self, state.config.storeDir)
    const closure = [self, ...info.references.map((r) => parseStorePathBase(r)!)]
    const relocation = new Relocation({ storeDir: state.config.storeDir, programsDir: this.runProgramsDir(ctx, state.config) }, closure)
    const { stream, downloaded } = await state.cache.nar(located, ctx.cacheDir)
    const result = await narToCas(stream, {
      cas: ctx.cas,
      self,
      relocation,
      hashAlgorithm: info.narHash.algorithm,
      archive: `${id} (${info.url})`,
      maxTotalSize: ctx.limits.maxTotalSize,
      maxEntries: ctx.limits.maxEntries,
      ...(select ? { select } : {}),
    })
    if (result.size !== info.narSize) {
      throw new NipError('ERR_NIP_SIZE_MISMATCH', `The NAR of ${id} has ${result.size} bytes, but its narinfo says NarSize ${info.narSize}`, {
        hint: 'The binary cache serves a corrupt or tampered NAR; nothing was grafted. Try another substituter.',
        data: { storePath: id, expected: info.narSize, actual: result.size },
      })
    }
    if (!result.digest.equals(info.narHash.digest)) {
      throw new NipError('ERR_NIP_HASH_MISMATCH', `The NAR of ${id} does not match its NarHash ${formatHashSri(info.narHash)}`, {
        hint: 'The binary cache serves a corrupt or tampered NAR; nothing was grafted. Try another substituter.',
        data: { storePath: id, expected: formatHashSri(info.narHash), actual: formatHashSri({ algorithm: info.narHash.algorithm, digest: result.digest }) },
      })
    }
    return { result, downloaded }
  }

  compareVersions(a: string, b: string): number {
    return compareVersions(a, b)
  }

  /** A Nix dependency names one exact store path: its version must be that path's version. */
  satisfies(dep: DependencySpec, version: string): boolean {
    return dep.constraint === undefined || dep.constraint === '' || dep.constraint === version
  }

  /**
   * Health of a grafted program (for `nip doctor`): every ELF file's interpreter and needed
   * libraries must resolve. Returns one line per problem, empty when healthy.
   */
  async checkProgram(versionDir: string): Promise<string[]> {
    const { problems } = await checkElfTree(versionDir)
    return problems.map((p) => `${p.file}: ${p.kind === 'interpreter' ? 'interpreter' : 'library'} ${p.missing} does not resolve`)
  }

  /** The relocation of a store path's contents (what fetch applied), for recomputing its NarHash. */
  async relocationOf(ref: PackageRef, ctx: AdapterContext): Promise<{ self: StorePath; relocation: Relocation }> {
    const state = this.stateOf(ctx)
    const self = this.storePathOf(ref, state.config)
    const located = await this.located(self, ctx)
    const closure = [self, ...located.info.references.map((r) => parseStorePathBase(r)!)]
    return { self, relocation: new Relocation({ storeDir: state.config.storeDir, programsDir: this.runProgramsDir(ctx, state.config) }, closure) }
  }

  private async located(p: StorePath, ctx: AdapterContext): Promise<LocatedNarInfo> {
    const located = await this.stateOf(ctx).cache.verifiedNarInfo(p)
    if (located === null) {
      throw new NipError('ERR_NIP_NOT_FOUND', `No substituter has ${formatStorePath(p, this.stateOf(ctx).config.storeDir)}`, {
        hint: 'Check [nix] substituters; the path may have been garbage-collected from the cache.',
        data: { storePath: formatStorePath(p, this.stateOf(ctx).config.storeDir) },
      })
    }
    return located
  }

  private runProgramsDir(ctx: AdapterContext, config: NixConfig): string {
    const runRoot = config.runRoot ?? ctx.layout.root
    return path.posix.join(runRoot, path.relative(ctx.layout.root, ctx.layout.programsDir).split(path.sep).join('/'))
  }

  private refOf(p: StorePath, ctx: AdapterContext): PackageRef {
    const { name, version } = programNameOf(p)
    return { source: ID, name, version, id: formatStorePath(p, this.stateOf(ctx).config.storeDir) }
  }

  private storePathOf(ref: PackageRef, config: NixConfig): StorePath {
    const p = parseStorePath(ref.id, config.storeDir)
    if (p === null) throw new NipError('ERR_NIP_BAD_SPEC', `${ref.id} is not a store path under ${config.storeDir}`, { data: { id: ref.id } })
    return p
  }

  /** A store path given directly: `nix:/nix/store/<hash>-<name>`, or a dependency's raw path. */
  private storePathIn(spec: PackageSpec, config: NixConfig): StorePath | null {
    for (const text of [spec.name, spec.raw.replace(/^nix:/, ''), spec.file ?? '']) {
      const p = parseStorePath(text.replace(/\/+$/, ''), config.storeDir)
      if (p !== null) return p
    }
    return null
  }

  private async indexOf(ctx: AdapterContext): Promise<ChannelIndex | null> {
    const state = this.stateOf(ctx)
    if (state.config.channel === '') return null
    if (state.index === undefined) {
      const index = this.loadChannel(ctx, state.config, false)
      index.catch(() => {
        if (state.index === index) delete state.index
      })
      state.index = index
    }
    return state.index
  }

  private loadChannel(ctx: AdapterContext, config: NixConfig, force: boolean): ReturnType<typeof loadChannelIndex> {
    return loadChannelIndex({
      channel: config.channel,
      storeDir: config.storeDir,
      cacheDir: ctx.cacheDir,
      maxAgeSeconds: ctx.index?.maxAgeSeconds ?? 86400,
      force,
      onStale: (reason, age) =>
        ctx.reporter.emit({ type: 'warning', code: 'nix-stale-channel', message: `nix: ${config.channel}/store-paths.xz could not be refreshed (${reason}); using the cached name index${age === null ? '' : ` from ${describeAge(age)} ago`}`, data: { channel: config.channel, ageSeconds: age } }),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    })
  }

  /** `nip update`: the channel's name index (binary caches have no index: their narinfo files are asked per path). */
  async update(ctx: AdapterContext): Promise<SourceUpdate> {
    const state = this.stateOf(ctx)
    delete state.index
    if (state.config.channel === '') return { source: ID, status: 'not-supported', detail: 'no channel configured: binary caches have no index to refresh' }
    const name = `${state.config.channel}/store-paths.xz`
    try {
      const index = await this.loadChannel(ctx, state.config, true)
      const part = index.stale !== undefined ? { name, status: 'failed' as const, detail: `${index.stale} (the cached name index stays in use)` } : { name, status: index.state === 'downloaded' ? ('updated' as const) : ('unchanged' as const), detail: `${index.size} names` }
      return { source: ID, status: part.status, detail: `channel name index: ${part.status}`, parts: [part] }
    } catch (e) {
      const detail = `${e instanceof NipError ? `${e.code}: ` : ''}${(e as Error).message.split('\n')[0]}`
      return { source: ID, status: 'failed', detail, parts: [{ name, status: 'failed', detail }], ...(e instanceof NipError ? { error: { code: e.code, message: e.message } } : {}) }
    }
  }

  private stateOf(ctx: AdapterContext): State {
    const key = JSON.stringify(ctx.config)
    if (this.state?.key !== key) {
      const config = parseNixConfig(ctx.config)
      this.state = { key, config, cache: new BinaryCache(config, ctx.signal, ctx.reporter) }
    }
    return this.state
  }
}

export function createAdapter(): SourceAdapter {
  return new NixAdapter()
}
