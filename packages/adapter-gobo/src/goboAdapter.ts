/**
 * The GoboLinux source: binary packages (`<Name>--<Version>[-rN]--<arch>.tar.*`) from local
 * repository directories, or a package file given on the command line.
 *
 * Contracts:
 * - resolve/search read directory listings only; describe reads the package's Resources/; neither
 *   writes anything.
 * - A package listed in its repository's SHA256SUMS is verified before any of its bytes are
 *   parsed, by describe and again by fetch (the file may have changed in between).
 * - fetch writes blobs into the CAS and nothing else. Every member must lie under
 *   `<Name>/<Version>/`; InstallPackage's revision and architecture rules are enforced.
 * - The index (directory listings) is built once per adapter instance and configuration.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import path from 'node:path'
import {
  NipError,
  fromSystemError,
  unpackToCas,
  type AdapterContext,
  type AdapterStatus,
  type DependencySpec,
  type FetchResult,
  type PackageManifest,
  type PackageRef,
  type PackageSpec,
  type SearchHit,
  type SourceAdapter,
} from '@nip/core'
import { verifyChecksum } from './checksums.js'
import { satisfies } from './constraint.js'
import { parseDependencies } from './dependencies.js'
import { parseDescription } from './description.js'
import { parseGoboConfig, type GoboConfig } from './goboConfig.js'
import { mapMemberPath } from './memberPath.js'
import { parsePackageFileName, versionWithRevision, type PackageFileName } from './packageFileName.js'
import { checkResources, readResources, resourceMemberPath, RESOURCE_FILES, type ResourceFile } from './packageResources.js'
import { archMatches, readChecksums, scanRepository, type IndexedPackage, type Repository } from './repositoryIndex.js'
import { compareVersions } from './versionOrder.js'

const ID = 'gobo'
const REVISION_SUFFIX = /-r[0-9]+(?:p[0-9]+)?$/
/** Emit a progress event at most every this many bytes. */
const PROGRESS_STEP = 1 << 20
/** Read size for package files: large reads keep the per-chunk cost of the stream pipeline low. */
const READ_CHUNK_SIZE = 1 << 20

interface Index {
  config: GoboConfig
  repositories: Repository[]
}

export class GoboAdapter implements SourceAdapter {
  readonly id = ID
  private index: { key: string; value: Promise<Index> } | null = null
  private readonly manifests = new Map<string, Promise<PackageManifest>>()
  /** Package file → identity and digest when it last matched its SHA256SUMS (see verify()). */
  private readonly verified = new Map<string, string>()

  async configured(ctx: AdapterContext): Promise<boolean> {
    return (await this.indexOf(ctx)).config.repositories.length > 0
  }

  async probe(ctx: AdapterContext): Promise<AdapterStatus> {
    const { config, repositories } = await this.indexOf(ctx)
    const present = repositories.filter((r) => r.exists)
    const missing = repositories.filter((r) => !r.exists).map((r) => r.dir)
    if (config.repositories.length === 0) {
      return { id: ID, configured: false, reachable: null, detail: 'no repositories configured ([gobo] repositories = ["DIR"])' }
    }
    const packages = present.reduce((n, r) => n + r.packages.length, 0)
    const counted = `${plural(present.length, 'repository', 'repositories')}, ${plural(packages, 'package', 'packages')}`
    return {
      id: ID,
      configured: present.length > 0,
      reachable: present.length > 0,
      detail: missing.length > 0 ? `${counted}; missing: ${missing.join(', ')}` : counted,
    }
  }

  async *search(query: string, ctx: AdapterContext): AsyncIterable<SearchHit> {
    const q = query.toLowerCase()
    for (const best of bestPerName(await this.packages(ctx))) {
      const ref = toRef(best)
      const manifest = this.manifests.has(best.file) ? await this.manifests.get(best.file)!.catch(() => null) : null
      const summary = manifest?.ref.summary
      const byName = best.name.toLowerCase().includes(q)
      if (byName || (summary !== undefined && summary.toLowerCase().includes(q))) {
        yield { ref: summary !== undefined ? { ...ref, summary } : ref, score: byName ? (best.name.toLowerCase() === q ? 1 : 0.5) : 0.25 }
      }
    }
  }

  async *names(ctx: AdapterContext): AsyncIterable<string> {
    for (const p of await this.packages(ctx)) yield p.name
  }

  async resolve(spec: PackageSpec, ctx: AdapterContext): Promise<PackageRef[]> {
    if (spec.file) return [toRef(await this.localPackage(spec.file, ctx))]
    const name = spec.name.toLowerCase()
    let candidates = (await this.packages(ctx)).filter((p) => p.name.toLowerCase() === name)
    if (spec.version !== undefined) {
      const exact = REVISION_SUFFIX.test(spec.version)
      candidates = candidates.filter((p) => (exact ? versionWithRevision(p) : p.version) === spec.version)
    }
    return sortBestFirst(candidates).map(toRef)
  }

  describe(ref: PackageRef, ctx: AdapterContext): Promise<PackageManifest> {
    let manifest = this.manifests.get(ref.id)
    if (manifest === undefined) {
      manifest = this.readManifest(ref, ctx)
      this.manifests.set(ref.id, manifest)
      manifest.catch(() => this.manifests.delete(ref.id))
    }
    return manifest
  }

  async fetch(ref: PackageRef, ctx: AdapterContext): Promise<FetchResult> {
    const pkg = await this.packageOf(ref, ctx)
    const config = (await this.indexOf(ctx)).config
    await this.verify(pkg, config, ctx)
    const size = (await statPackage(pkg.file)).size
    const label = `${pkg.name} ${versionWithRevision(pkg)}`
    const memberCtx = { name: pkg.name, version: pkg.version, file: pkg.file }
    const resourcePaths = new Set(RESOURCE_FILES.map((f) => resourceMemberPath(pkg, f)))
    const settingsPaths = new Set<string>()
    const source = createReadStream(pkg.file, { highWaterMark: READ_CHUNK_SIZE, ...(ctx.signal ? { signal: ctx.signal } : {}) })
    let result: Awaited<ReturnType<typeof unpackToCas>>
    try {
      result = await unpackToCas(countProgress(source, { id: ref.id, label, total: size, ctx }), {
        cas: ctx.cas,
        limits: ctx.limits,
        archive: pkg.file,
        sourceSize: size,
        ...(ctx.stage !== undefined ? { stage: ctx.stage } : {}),
        mapPath: (member, entry) => {
          const mapped = mapMemberPath(member, entry.type, memberCtx)
          if (mapped?.settings) settingsPaths.add(mapped.path)
          return mapped?.path ?? null
        },
        isSettings: (mapped) => settingsPaths.has(mapped),
        captureMetadata: (member) => resourcePaths.has(member),
        onWarning: (w) => ctx.reporter.emit({ type: 'warning', code: w.code, message: `${path.basename(pkg.file)}: ${w.message}`, data: { path: w.path } }),
      })
    } finally {
      source.destroy()
    }
    const files: Partial<Record<ResourceFile, string>> = {}
    for (const f of RESOURCE_FILES) {
      const content = result.metadata.get(resourceMemberPath(pkg, f))
      if (content !== undefined) files[f] = content.toString('utf8')
    }
    const warning = checkResources(files, { file: pkg.file, pkg, arch: config.arch })
    if (warning) ctx.reporter.emit({ type: 'warning', code: 'gobo-revision-unchecked', message: warning, data: { file: pkg.file } })
    ctx.reporter.emit({ type: 'progress', id: ref.id, label, done: size, total: size, unit: 'bytes' })
    // Everything under Settings/ (its directories included) belongs to the version-neutral
    // /Programs/<Name>/Settings, never to the version directory.
    const entries = result.entries.map((e) => (e.path === 'Settings' || e.path.startsWith('Settings/') ? { ...e, settings: true } : e))
    return { ref, entries, downloaded: 0 }
  }

  compareVersions(a: string, b: string): number {
    return compareVersions(a, b)
  }

  satisfies(dep: DependencySpec, version: string): boolean {
    return satisfies(dep, version)
  }

  claimsFile(file: string): boolean {
    return parsePackageFileName(path.basename(file)) !== null
  }

  private async readManifest(ref: PackageRef, ctx: AdapterContext): Promise<PackageManifest> {
    const pkg = await this.packageOf(ref, ctx)
    const config = (await this.indexOf(ctx)).config
    const checksum = await this.verify(pkg, config, ctx)
    const size = (await statPackage(pkg.file)).size
    const { files, installedSize } = await readResources(pkg.file, pkg, { limits: ctx.limits, ...(ctx.signal ? { signal: ctx.signal } : {}) })
    const warning = checkResources(files, { file: pkg.file, pkg, arch: config.arch })
    if (warning) ctx.reporter.emit({ type: 'warning', code: 'gobo-revision-unchecked', message: warning, data: { file: pkg.file } })
    const { dependencies, warnings } = parseDependencies(files.Dependencies ?? '', `${path.basename(pkg.file)}: Resources/Dependencies`)
    for (const message of warnings) ctx.reporter.emit({ type: 'warning', code: 'gobo-foreign-dependency', message, data: { file: pkg.file } })
    const description = parseDescription(files.Description ?? '')
    const summary = description.summary
    return {
      ref: { ...toRef(pkg), ...(summary !== undefined ? { summary } : {}) },
      dependencies,
      provides: [],
      conflicts: [],
      downloadSize: size,
      installedSize,
      ...(description.description !== undefined ? { description: description.description } : {}),
      ...(description.license !== undefined ? { license: description.license } : {}),
      ...(description.homepage !== undefined ? { homepage: description.homepage } : {}),
      ...(checksum.sha256 !== undefined ? { hashes: { sha256: checksum.sha256 } } : {}),
      extra: { revision: pkg.revision, arch: pkg.arch, repository: pkg.repository },
    }
  }

  /**
   * Verify a package against the SHA256SUMS of its directory. A file this adapter verified before
   * (describe, then fetch) is hashed again only when it may have changed: its identity (device,
   * inode, size, mtime and ctime, taken before hashing) is remembered with the digest it matched,
   * and any write to or replacement of the file changes it.
   */
  private async verify(pkg: IndexedPackage, config: GoboConfig, ctx: AdapterContext): Promise<{ sha256?: string }> {
    const repo = (await this.indexOf(ctx)).repositories.find((r) => r.dir === pkg.repository)
    const sums = repo ? repo.sums : await readChecksums(pkg.repository)
    const expected = sums?.get(path.basename(pkg.file))
    const identity = expected === undefined ? undefined : `${await fileIdentity(pkg.file)} ${expected}`
    if (identity !== undefined && this.verified.get(pkg.file) === identity) return { sha256: expected }
    const outcome = await verifyChecksum({ file: pkg.file, sums, required: config.requireChecksums, ...(ctx.signal ? { signal: ctx.signal } : {}) })
    if (outcome !== 'verified') return {}
    this.verified.set(pkg.file, identity!)
    return { sha256: expected }
  }

  private indexOf(ctx: AdapterContext): Promise<Index> {
    const config = parseGoboConfig(ctx.config, ctx.layout.root)
    const key = JSON.stringify(config)
    if (this.index?.key !== key) {
      const value = Promise.all(config.repositories.map((dir) => scanRepository(dir, config.arch))).then((repositories) => ({ config, repositories }))
      value.catch(() => {
        if (this.index?.value === value) this.index = null
      })
      this.index = { key, value }
    }
    return this.index.value
  }

  private async packages(ctx: AdapterContext): Promise<IndexedPackage[]> {
    return (await this.indexOf(ctx)).repositories.flatMap((r) => r.packages)
  }

  /** The indexed package a ref names, or the local file it names. */
  private async packageOf(ref: PackageRef, ctx: AdapterContext): Promise<IndexedPackage> {
    const indexed = (await this.packages(ctx)).find((p) => p.file === ref.id)
    return indexed ?? this.localPackage(ref.id, ctx)
  }

  private async localPackage(file: string, ctx: AdapterContext): Promise<IndexedPackage> {
    const abs = path.resolve(file)
    const parsed = parsePackageFileName(path.basename(abs))
    if (parsed === null) {
      throw new NipError('ERR_NIP_BAD_PACKAGE', `${path.basename(abs)} is not named like a GoboLinux package.`, {
        hint: 'GoboLinux packages are named <Name>--<Version>[-rN]--<arch>.tar.bz2 (or .gz, .xz, .zst).',
        data: { file: abs },
      })
    }
    const { config } = await this.indexOf(ctx)
    if (!archMatches(parsed.arch, config.arch)) {
      throw new NipError('ERR_NIP_BAD_PACKAGE', `${path.basename(abs)} is built for ${parsed.arch}, not for this machine (${config.arch}).`, {
        hint: `Use the ${config.arch} or noarch package.`,
        data: { file: abs, arch: parsed.arch, machine: config.arch },
      })
    }
    await statPackage(abs)
    return { ...parsed, file: abs, repository: path.dirname(abs) }
  }
}

export function createAdapter(): SourceAdapter {
  return new GoboAdapter()
}

function toRef(p: PackageFileName & { file: string }): PackageRef {
  return { source: ID, name: p.name, version: p.version, id: p.file }
}

function sortBestFirst(packages: IndexedPackage[]): IndexedPackage[] {
  return packages
    .map((p, i) => ({ p, i }))
    .sort((a, b) => compareVersions(versionWithRevision(b.p), versionWithRevision(a.p)) || a.i - b.i)
    .map((x) => x.p)
}

function bestPerName(packages: IndexedPackage[]): IndexedPackage[] {
  const groups = new Map<string, IndexedPackage[]>()
  for (const p of packages) {
    const key = p.name.toLowerCase()
    groups.set(key, [...(groups.get(key) ?? []), p])
  }
  return [...groups.values()].map((g) => sortBestFirst(g)[0]).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

async function statPackage(file: string): Promise<{ size: number }> {
  try {
    const st = await stat(file)
    if (!st.isFile()) throw new NipError('ERR_NIP_BAD_PACKAGE', `${file} is not a regular file.`, { hint: 'Name a package file.', data: { file } })
    return { size: st.size }
  } catch (e) {
    if (e instanceof NipError) throw e
    throw fromSystemError(e, 'reading a package', file)
  }
}

/** What changes whenever a file is written to or replaced. */
async function fileIdentity(file: string): Promise<string> {
  try {
    const st = await stat(file, { bigint: true })
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`
  } catch (e) {
    throw fromSystemError(e, 'reading a package', file)
  }
}

interface ProgressOptions {
  id: string
  label: string
  total: number
  ctx: AdapterContext
}

/** Pass a stream through, reporting bytes read as progress events. */
async function* countProgress(src: AsyncIterable<Buffer | string>, opts: ProgressOptions): AsyncGenerator<Uint8Array> {
  let done = 0
  let reported = 0
  opts.ctx.reporter.emit({ type: 'progress', id: opts.id, label: opts.label, done: 0, total: opts.total, unit: 'bytes' })
  for await (const chunk of src) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    done += buf.length
    if (done - reported >= PROGRESS_STEP) {
      reported = done
      opts.ctx.reporter.emit({ type: 'progress', id: opts.id, label: opts.label, done, total: opts.total, unit: 'bytes' })
    }
    yield buf
  }
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`
}
