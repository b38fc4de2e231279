/**
 * The pkgsrc source: binary packages from pkg_summary repositories (pkgin's model), or a
 * package file given on the command line.
 *
 * Contracts:
 * - resolve/search/describe read repository indexes (fetched into the cache directory, and
 *   nothing else); describe also reads the grafted programs (read-only) to refuse CONFLICTS in
 *   either direction with ERR_NIP_PACKAGE_CONFLICT before anything is fetched.
 * - Version order is dewey.c's, dependency patterns are pkg_match's (dewey, {a,b}, globs); a
 *   DEPENDS pattern with alternatives becomes a DependencySpec with `anyOf`, one per expansion.
 * - fetch downloads into the cache (size and FILE_CKSUM checked while streaming), verifies a
 *   signed package as `verified-installation` says, then unpacks into the CAS enforcing the
 *   packing list and its MD5s (binaryPackage.ts). @exec/@unexec and +INSTALL/+DEINSTALL are
 *   reported as scriptlets, never run.
 */
import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'

import {
  Database,
  NipError,
  download,
  fromSystemError,
  type AdapterContext,
  type AdapterStatus,
  type DependencySpec,
  type FetchResult,
  type PackageManifest,
  type PackageRef,
  type PackageSpec,
  type Scriptlet,
  type SearchHit,
  type SourceAdapter,
  type SourceUpdate,
  type TreeEntry,
} from '@nip/core'
import { badPackage, readPackageMetadata, unpackPackage, type PackageMetadata } from './binaryPackage.js'
import { parseConfFiles } from './confFiles.js'
import { compareDewey } from './dewey.js'
import { mapPackagePath } from './packageLayout.js'
import { expandAllAlternatives, patternName, pkgMatch } from './pattern.js'
import { parsePkgsrcConfig, type PkgsrcConfig } from './pkgsrcConfig.js'
import { splitPkgName } from './pkgName.js'
import { loadRepository, type LoadedRepository } from './repository.js'
import { isArArchive, readAr, verifySignedPackage } from './signedPackage.js'
import type { SummaryEntry } from './summary.js'

const ID = 'pkgsrc'
const PATTERN_CHARS = /[<>*?[\]{}]/
const PACKAGE_SUFFIX = /\.(tgz|tbz|tbz2|txz|tzst|tar\.gz|tar\.bz2|tar\.xz|tar\.zst)$/

interface Indexed {
  entry: SummaryEntry
  repo: LoadedRepository
  /** The package's URL: the ref id. */
  url: string
}

interface Index {
  config: PkgsrcConfig
  packages: Indexed[]
  byUrl: Map<string, Indexed>
}

export class PkgsrcAdapter implements SourceAdapter {
  readonly id = ID
  private index: { key: string; value: Promise<Index> } | null = null
  private readonly locals = new Map<string, Promise<PackageMetadata>>()

  async configured(ctx: AdapterContext): Promise<boolean> {
    return parsePkgsrcConfig(ctx.config, ctx.layout.root).repositories.length > 0
  }

  async probe(ctx: AdapterContext): Promise<AdapterStatus> {
    const config = parsePkgsrcConfig(ctx.config, ctx.layout.root)
    if (config.repositories.length === 0) {
      return { id: ID, configured: false, reachable: null, detail: 'no repositories configured ([pkgsrc] repositories = ["URL"]); local packages install' }
    }
    try {
      const { packages } = await this.indexOf(ctx)
      const repos = config.repositories.length
      return { id: ID, configured: true, reachable: true, detail: `${repos} ${repos === 1 ? 'repository' : 'repositories'}, ${packages.length} packages for ${config.machineArch}` }
    } catch (e) {
      return { id: ID, configured: true, reachable: false, detail: (e as Error).message }
    }
  }

  async *search(query: string, ctx: AdapterContext): AsyncIterable<SearchHit> {
    const q = query.toLowerCase()
    const best = new Map<string, Indexed>()
    for (const p of (await this.indexOf(ctx)).packages) {
      const have = best.get(p.entry.name)
      if (have === undefined || compareDewey(p.entry.version, have.entry.version) > 0) best.set(p.entry.name, p)
    }
    const hits: SearchHit[] = []
    for (const p of best.values()) {
      const name = p.entry.name.toLowerCase()
      const score = name === q ? 1 : name.includes(q) ? 0.5 : p.entry.comment.toLowerCase().includes(q) ? 0.25 : 0
      if (score > 0) hits.push({ ref: toRef(p), score })
    }
    hits.sort((a, b) => b.score! - a.score! || (a.ref.name < b.ref.name ? -1 : a.ref.name > b.ref.name ? 1 : 0))
    yield* hits
  }

  async *names(ctx: AdapterContext): AsyncIterable<string> {
    for (const p of (await this.indexOf(ctx)).packages) yield p.entry.name
  }

  async resolve(spec: PackageSpec, ctx: AdapterContext): Promise<PackageRef[]> {
    if (spec.file) return [await this.localRef(spec.file, ctx)]
    const pattern = PATTERN_CHARS.test(spec.name) ? spec.name : PATTERN_CHARS.test(spec.raw) && !/[@:]/.test(spec.raw) ? spec.raw : null
    const { packages } = await this.indexOf(ctx)
    let candidates: Indexed[]
    if (pattern !== null) {
      candidates = packages.filter((p) => pkgMatch(pattern, p.entry.pkgname))
    } else {
      candidates = packages.filter((p) => p.entry.name === spec.name)
      if (candidates.length === 0) candidates = packages.filter((p) => p.entry.name.toLowerCase() === spec.name.toLowerCase())
    }
    if (spec.version !== undefined) candidates = candidates.filter((p) => p.entry.version === spec.version)
    // Best first: highest dewey version; on a tie the repository asked first (priority order).
    return candidates
      .map((p, i) => ({ p, i }))
      .sort((a, b) => compareDewey(b.p.entry.version, a.p.entry.version) || a.i - b.i)
      .map(({ p }) => toRef(p))
  }

  async describe(ref: PackageRef, ctx: AdapterContext): Promise<PackageManifest> {
    const indexed = (await this.indexOf(ctx)).byUrl.get(ref.id)
    let manifest: PackageManifest
    if (indexed !== undefined) {
      const e = indexed.entry
      manifest = {
        ref: { ...ref, summary: e.comment },
        dependencies: e.depends.map(toDependency),
        provides: [],
        conflicts: e.conflicts,
        downloadSize: e.fileSize ?? 0,
        installedSize: e.sizePkg,
        ...(e.description ? { description: e.description } : {}),
        ...(e.license ? { license: e.license } : {}),
        ...(e.homepage ? { homepage: e.homepage } : {}),
        ...(e.fileCksum ? { hashes: { [e.fileCksum.algorithm]: e.fileCksum.digest } } : {}),
        extra: { pkgname: e.pkgname, pkgpath: e.pkgpath, repository: indexed.repo.url, fileName: e.fileName, provides: e.provides, requires: e.requires, supersedes: e.supersedes, opsys: e.opsys, machineArch: e.machineArch, buildDate: e.buildDate },
      }
    } else {
      const meta = await this.localMetadata(ref.id, ctx)
      if (meta.plist.name !== `${ref.name}-${ref.version}`) {
        throw badPackage(`${path.basename(ref.id)}: its packing list names ${meta.plist.name}, not ${ref.name}-${ref.version}`, ref.id)
      }
      const size = (await statFile(ref.id)).size
      manifest = {
        ref: { ...ref, summary: meta.comment },
        dependencies: meta.plist.pkgdeps.map(toDependency),
        provides: [],
        conflicts: meta.plist.conflicts,
        downloadSize: size,
        installedSize: meta.sizePkg ?? 0,
        ...(meta.description ? { description: meta.description } : {}),
        ...(meta.buildInfo.LICENSE ? { license: meta.buildInfo.LICENSE } : {}),
        extra: { pkgname: meta.plist.name, file: ref.id, opsys: meta.buildInfo.OPSYS, machineArch: meta.buildInfo.MACHINE_ARCH },
      }
    }
    await this.checkConflicts(ref, manifest.conflicts, ctx)
    return manifest
  }

  async fetch(ref: PackageRef, ctx: AdapterContext): Promise<FetchResult> {
    const indexed = (await this.indexOf(ctx)).byUrl.get(ref.id)
    const config = (await this.indexOf(ctx)).config
    let file = ref.id
    let downloaded = 0
    if (indexed !== undefined) {
      const e = indexed.entry
      const cksum = e.fileCksum && ['sha256', 'sha512', 'md5'].includes(e.fileCksum.algorithm) ? e.fileCksum : undefined
      const result = await download({
        urls: [indexed.url, ...indexed.repo.mirrors.map((m) => `${m}/${e.fileName}`)],
        dest: path.join(ctx.cacheDir, 'packages', path.basename(new URL(indexed.url).pathname)),
        ...(e.fileSize !== undefined ? { expectSize: e.fileSize } : {}),
        ...(cksum ? { expectHash: { algorithm: cksum.algorithm as 'sha256', digest: cksum.digest } } : {}),
        reporter: ctx.reporter,
        label: `${e.name} ${e.version}`,
        ...config.download,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      })
      file = result.path
      downloaded = result.size
    }
    let data: Buffer
    try {
      data = await readFile(file)
    } catch (e) {
      throw fromSystemError(e, 'reading a pkgsrc package', file)
    }
    const archive = path.basename(file)
    data = await this.checkSignature(data, { archive, config, ctx })
    const metadata = await readPackageMetadata([data], { limits: ctx.limits, archive })
    const pkgname = splitPkgName(metadata.plist.name)
    if (pkgname === null || pkgname.name !== ref.name || pkgname.version !== ref.version) {
      throw badPackage(`${archive}: its packing list names ${metadata.plist.name}, not ${ref.name}-${ref.version}`, archive)
    }
    const unpacked = await unpackPackage([data], {
      cas: ctx.cas,
      limits: ctx.limits,
      ...(ctx.stage !== undefined ? { stage: ctx.stage } : {}),
      archive,
      metadata,
      onWarning: (w) => ctx.reporter.emit({ type: 'warning', code: w.code, message: `${archive}: ${w.message}`, data: { path: w.path } }),
    })
    const entries = addConfFiles(unpacked.entries, metadata)
    return { ref, entries, scriptlets: scriptletsOf(metadata), downloaded }
  }

  compareVersions(a: string, b: string): number {
    return compareDewey(a, b)
  }

  satisfies(dep: DependencySpec, version: string): boolean {
    const pattern = dep.constraint || dep.raw
    if (patternName(pattern) !== null || !pattern.includes('-')) return pkgMatch(pattern, `${dep.name}-${version}`)
    // The pattern's name holds a wildcard: only its version part can be checked here.
    return pkgMatch(`x-${pattern.slice(pattern.lastIndexOf('-') + 1)}`, `x-${version}`)
  }

  claimsFile(file: string): boolean {
    return PACKAGE_SUFFIX.test(path.basename(file)) && splitPkgName(path.basename(file).replace(PACKAGE_SUFFIX, '')) !== null
  }

  /** Signed packages per `verified-installation`; returns the inner package. */
  private async checkSignature(data: Buffer, opts: { archive: string; config: PkgsrcConfig; ctx: AdapterContext }): Promise<Buffer> {
    const { archive, config } = opts
    const signed = isArArchive(data)
    if (!signed) {
      if (config.verifiedInstallation === 'always') {
        throw new NipError('ERR_NIP_SIGNATURE_MISSING', `${archive} is not signed, and [pkgsrc] verified-installation = "always".`, {
          hint: 'Use signed packages (+PKG_GPG_SIGNATURE), or relax verified-installation to "trusted".',
          data: { archive },
        })
      }
      return data
    }
    if (config.verifiedInstallation === 'never') {
      opts.ctx.reporter.emit({ type: 'warning', code: 'pkgsrc-signature-skipped', message: `${archive}: signature not checked (verified-installation = "never")`, data: { archive } })
    }
    let keyring: Buffer | null = null
    if (config.gpgKeyring !== undefined) {
      try {
        keyring = await readFile(config.gpgKeyring)
      } catch (e) {
        throw fromSystemError(e, 'reading [pkgsrc] gpg-keyring', config.gpgKeyring)
      }
    }
    if (config.verifiedInstallation === 'never') {
      return readAr(data, archive)[2]?.data ?? data
    }
    return (await verifySignedPackage(data, { archive, keyring })).inner
  }

  /**
   * CONFLICTS in both directions (pkg_add): the new package's patterns against every grafted
   * program, and grafted pkgsrc packages' patterns (from the index) against the new package.
   * Another version of the same package is an upgrade, not a conflict.
   */
  private async checkConflicts(ref: PackageRef, conflicts: string[], ctx: AdapterContext): Promise<void> {
    const db = Database.openReader(ctx.layout.dbPath)
    if (db === null) return
    try {
      const self = `${ref.name}-${ref.version}`
      const { packages } = await this.indexOf(ctx)
      for (const p of db.programs()) {
        if (p.name === ref.name) continue
        const grafted = `${p.name}-${p.version}`
        const theirs = p.source === ID ? (packages.find((x) => x.url === p.package_id)?.entry.conflicts ?? []) : []
        const mine = conflicts.find((c) => pkgMatch(c, grafted))
        const other = theirs.find((c) => pkgMatch(c, self))
        if (mine !== undefined || other !== undefined) {
          const why = mine !== undefined ? `${self} conflicts with ${mine}` : `the grafted ${grafted} conflicts with ${other}`
          throw new NipError('ERR_NIP_PACKAGE_CONFLICT', `${why}: ${grafted} is grafted.`, {
            hint: `Remove ${p.name} first (nip remove ${p.name}), or choose another package.`,
            data: { package: self, grafted, pattern: mine ?? other },
          })
        }
      }
    } finally {
      db.close()
    }
  }

  /** `nip update`: every repository's summary from the repository (conditionally); one that fails keeps its cached copy. */
  async update(ctx: AdapterContext): Promise<SourceUpdate> {
    const config = parsePkgsrcConfig(ctx.config, ctx.layout.root)
    this.index = null
    if (config.repositories.length === 0) return { source: ID, status: 'not-supported', detail: 'no repositories configured' }
    const force = { ...ctx, index: { maxAgeSeconds: ctx.index?.maxAgeSeconds ?? 86400, refresh: 'force' as const } }
    const parts = await Promise.all(
      config.repositories.map(async (r) => {
        try {
          const repo = await loadRepository(r, force, config.download)
          if (repo.stale) return { name: r.url, status: 'failed' as const, detail: `${repo.reason ?? 'unreachable'} (the cached ${repo.summary} stays in use)` }
          return { name: r.url, status: repo.state === 'downloaded' ? ('updated' as const) : ('unchanged' as const), detail: `${repo.entries.length} packages` }
        } catch (e) {
          return { name: r.url, status: 'failed' as const, detail: `${e instanceof NipError ? `${e.code}: ` : ''}${(e as Error).message.split('\n')[0]}` }
        }
      }),
    )
    const failed = parts.filter((p) => p.status === 'failed').length
    const status = failed === parts.length ? 'failed' : failed > 0 ? 'partial' : parts.some((p) => p.status === 'updated') ? 'updated' : 'unchanged'
    return { source: ID, status, detail: `${parts.length} repositories: ${parts.filter((p) => p.status === 'updated').length} updated, ${parts.filter((p) => p.status === 'unchanged').length} unchanged, ${failed} failed`, parts }
  }

  private indexOf(ctx: AdapterContext): Promise<Index> {
    const config = parsePkgsrcConfig(ctx.config, ctx.layout.root)
    const key = JSON.stringify(config)
    if (this.index?.key !== key) {
      const value = Promise.all(config.repositories.map((r) => loadRepository(r, ctx, config.download))).then((repos) => buildIndex(config, repos))
      value.catch(() => {
        if (this.index?.value === value) this.index = null
      })
      this.index = { key, value }
    }
    return this.index.value
  }

  private localMetadata(file: string, ctx: AdapterContext): Promise<PackageMetadata> {
    let meta = this.locals.get(file)
    if (meta === undefined) {
      meta = (async () => {
        const config = parsePkgsrcConfig(ctx.config, ctx.layout.root)
        const archive = path.basename(file)
        let data: Buffer
        try {
          data = await readFile(file)
        } catch (e) {
          throw fromSystemError(e, 'reading a pkgsrc package', file)
        }
        const inner = await this.checkSignature(data, { archive, config, ctx })
        return readPackageMetadata([inner], { limits: ctx.limits, archive })
      })()
      this.locals.set(file, meta)
      meta.catch(() => this.locals.delete(file))
    }
    return meta
  }

  /**
   * A local package is named by its file (`<pkgname>.tgz`), like pkg_add's argument; its
   * packing list is read by describe, which refuses a file whose @name differs, so that a
   * malformed package is reported as such rather than as "not found".
   */
  private async localRef(file: string, ctx: AdapterContext): Promise<PackageRef> {
    const abs = path.resolve(file)
    await statFile(abs)
    // The file name when it is <pkgname>.tgz (as pkg_add is usually given); otherwise, as pkg_add
    // does, the packing list's @name: core sends a file here by its content, whatever its name.
    let split = PACKAGE_SUFFIX.test(path.basename(abs)) ? splitPkgName(path.basename(abs).replace(PACKAGE_SUFFIX, '')) : null
    if (split === null) split = splitPkgName((await this.localMetadata(abs, ctx)).plist.name)
    if (split === null) throw badPackage(`${path.basename(abs)}: its packing list names no <pkgname>-<version>`, abs)
    return { source: ID, name: split.name, version: split.version, id: abs }
  }
}

export function createAdapter(): SourceAdapter {
  return new PkgsrcAdapter()
}

function buildIndex(config: PkgsrcConfig, repos: LoadedRepository[]): Index {
  const packages: Indexed[] = []
  for (const repo of repos) {
    for (const entry of repo.entries) {
      // pkgin compares MACHINE_ARCH by prefix; entries without one are kept.
      if (entry.machineArch !== undefined && !entry.machineArch.startsWith(config.machineArch) && !config.machineArch.startsWith(entry.machineArch)) continue
      packages.push({ entry, repo, url: `${repo.url}/${entry.fileName}` })
    }
  }
  return { config, packages, byUrl: new Map(packages.map((p) => [p.url, p])) }
}

function toRef(p: Indexed): PackageRef {
  return { source: ID, name: p.entry.name, version: p.entry.version, id: p.url, summary: p.entry.comment }
}

/** A DEPENDS/@pkgdep pattern as a DependencySpec; `{a,b}` alternatives become `anyOf`. */
export function toDependency(pattern: string): DependencySpec {
  const one = (p: string): DependencySpec => ({ name: patternName(p) ?? p, constraint: p, raw: p })
  const alternatives = expandAllAlternatives(pattern).map(one)
  if (alternatives.length === 1) return { ...alternatives[0], raw: pattern }
  return { ...alternatives[0], raw: pattern, anyOf: alternatives }
}

/** Configuration files from +INSTALL's CONF_FILES, as Settings entries sharing the example's blob. */
function addConfFiles(entries: TreeEntry[], metadata: PackageMetadata): TreeEntry[] {
  const install = metadata.members.get('+INSTALL')
  if (install === undefined) return entries
  const byPath = new Map(entries.map((e) => [e.path, e]))
  for (const conf of parseConfFiles(install, metadata.plist.prefix)) {
    const example = byPath.get(mapPackagePath(conf.example))
    const target = mapPackagePath(conf.path)
    if (example?.type !== 'file' || byPath.has(target)) continue
    byPath.set(target, { ...example, path: target, settings: true, ...(conf.mode !== undefined && (conf.mode & 0o111) === (example.mode & 0o111) ? { mode: conf.mode } : {}) })
    for (let dir = path.posix.dirname(target); dir !== '.' && !byPath.has(dir); dir = path.posix.dirname(dir)) {
      byPath.set(dir, { path: dir, type: 'dir', mode: 0o755, settings: true })
    }
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

function scriptletsOf(metadata: PackageMetadata): Scriptlet[] {
  const out: Scriptlet[] = metadata.plist.commands.map((c) => ({ name: c.name, body: c.body }))
  for (const m of ['+INSTALL', '+DEINSTALL'] as const) {
    const body = metadata.members.get(m)
    if (body !== undefined) out.push({ name: m, body })
  }
  return out
}

async function statFile(file: string): Promise<{ size: number }> {
  try {
    const st = await stat(file)
    if (!st.isFile()) throw new NipError('ERR_NIP_BAD_PACKAGE', `${file} is not a regular file.`, { hint: 'Name a package file.', data: { file } })
    return { size: st.size }
  } catch (e) {
    if (e instanceof NipError) throw e
    throw fromSystemError(e, 'reading a package', file)
  }
}


