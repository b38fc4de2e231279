/**
 * The Pacman source: packages from pacman sync repositories (configured in `[pacman]` or read
 * from pacman.conf), and local package files (`nip install ./x.pkg.tar.zst`, as `pacman -U`).
 *
 * Contracts:
 * - resolve/search/describe read the sync databases (downloaded once per adapter instance and
 *   configuration into the adapter's cache, refreshed with conditional requests, signatures
 *   checked under each repository's Database SigLevel) — they write nothing else.
 * - Name resolution is pacman's: the first repository (in configured order) that has a package
 *   of that name wins; with no package of that name, a package that provides it is offered to a
 *   user's request (as `pacman -S` does).
 * - Dependencies keep pacman's meaning: each becomes alternatives — the package named, then each
 *   repository package whose `provides` satisfies it (versioned dependencies only through
 *   `name=version` provisions).
 * - fetch downloads into `<cacheDir>/pkg/` (mirrors in order, resume, size and SHA-256 from the
 *   database), checks the package signature under the Package SigLevel, then unpacks into the
 *   CAS, checking `.PKGINFO` against the database and every member against `.MTREE`.
 */
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import {
  NipError,
  createDigest,
  download,
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
import { packageSatisfies, parseDep, versionMatches, type DepOperator } from './depString.js'
import { parsePackageFileName, readPackageInfo } from './packageFile.js'
import type { PackageInfo } from './packageInfo.js'
import { unpackPackage } from './packagePayload.js'
import { parsePacmanConfig, type PacmanConfig } from './pacmanConfig.js'
import { joinUrl, loadRepository, type Repository } from './repositoryIndex.js'
import { checkSignature, loadKeyring, MAX_SIGNATURE_SIZE, type Keyring, type SignatureOutcome } from './signature.js'
import type { SyncPackage } from './syncDatabase.js'
import { downloadOptional } from './optionalFile.js'
import { vercmp } from './vercmp.js'

const ID = 'pacman'
const LOCAL_PREFIX = 'file:'

interface Index {
  config: PacmanConfig
  keyring: Keyring
  repositories: Repository[]
}

export class PacmanAdapter implements SourceAdapter {
  readonly id = ID
  private index: { key: string; value: Promise<Index> } | null = null
  private readonly locals = new Map<string, PackageInfo>()

  async configured(ctx: AdapterContext): Promise<boolean> {
    return parsePacmanConfig(ctx.config, ctx.layout.root).repositories.length > 0
  }

  async probe(ctx: AdapterContext): Promise<AdapterStatus> {
    const config = parsePacmanConfig(ctx.config, ctx.layout.root)
    if (config.repositories.length === 0) {
      return { id: ID, configured: false, reachable: null, detail: 'no repositories configured ([pacman] repositories = [{ name, servers }]); local package files still install' }
    }
    try {
      const { repositories } = await this.indexOf(ctx)
      const n = repositories.reduce((s, r) => s + r.packages.length, 0)
      return { id: ID, configured: true, reachable: true, detail: `${repositories.length} ${repositories.length === 1 ? 'repository' : 'repositories'}, ${n} ${n === 1 ? 'package' : 'packages'}` }
    } catch (e) {
      return { id: ID, configured: true, reachable: false, detail: (e as Error).message }
    }
  }

  async *search(query: string, ctx: AdapterContext): AsyncIterable<SearchHit> {
    const q = query.toLowerCase()
    const seen = new Set<string>()
    for (const pkg of await this.packages(ctx)) {
      if (seen.has(pkg.name)) continue
      const byName = pkg.name.toLowerCase().includes(q)
      if (byName || (pkg.description ?? '').toLowerCase().includes(q)) {
        seen.add(pkg.name)
        yield { ref: toRef(pkg), score: byName ? (pkg.name.toLowerCase() === q ? 1 : 0.5) : 0.25 }
      }
    }
  }

  async *names(ctx: AdapterContext): AsyncIterable<string> {
    for (const pkg of await this.packages(ctx)) yield pkg.name
  }

  async resolve(spec: PackageSpec, ctx: AdapterContext): Promise<PackageRef[]> {
    if (spec.file) {
      const info = await this.localInfo(spec.file, ctx)
      return [{ source: ID, name: info.name, version: info.version, id: `${LOCAL_PREFIX}${path.resolve(spec.file)}`, ...(info.description ? { summary: info.description } : {}) }]
    }
    const all = await this.packages(ctx)
    const matchesVersion = (p: SyncPackage): boolean =>
      spec.version === undefined || p.version === spec.version || p.version.replace(/-[^-]*$/, '') === spec.version
    let candidates = all.filter((p) => p.name === spec.name)
    // A user's request for a name no package has: offer its providers (pacman -S does).
    if (candidates.length === 0 && spec.source === undefined) {
      const dep = parseDep(spec.name)
      candidates = all.filter((p) => p.provides.some((pr) => parseDep(pr).name === dep.name))
    }
    return candidates.filter(matchesVersion).map(toRef)
  }

  async describe(ref: PackageRef, ctx: AdapterContext): Promise<PackageManifest> {
    if (ref.id.startsWith(LOCAL_PREFIX)) {
      const file = ref.id.slice(LOCAL_PREFIX.length)
      const info = await this.localInfo(file, ctx)
      const size = (await stat(file)).size
      return this.manifestOf(ref, { ...info, csize: size, isize: info.size, repo: '(local file)', filename: path.basename(file) }, ctx)
    }
    const pkg = await this.syncPackage(ref, ctx)
    return this.manifestOf(ref, { ...pkg, size: pkg.isize, backup: [] }, ctx)
  }

  async fetch(ref: PackageRef, ctx: AdapterContext): Promise<FetchResult> {
    const index = await this.indexOf(ctx)
    let file: string
    let downloaded = 0
    let expected: { name: string; version: string } | null = null
    let signature: SignatureOutcome
    if (ref.id.startsWith(LOCAL_PREFIX)) {
      file = ref.id.slice(LOCAL_PREFIX.length)
      const sig = await readFile(`${file}.sig`).catch(() => null)
      signature = await this.checkPackageSignature({ file, origin: file, sig, policy: index.config.localFileSigLevel.package, keyring: index.keyring })
    } else {
      const pkg = await this.syncPackage(ref, ctx)
      const repo = index.repositories.find((r) => r.config.name === pkg.repo)!
      file = path.join(ctx.cacheDir, 'pkg', pkg.filename)
      // A package already in the cache with the database's size and SHA-256 is used as it is
      // (pacman's package cache): installing it again needs no network.
      const cached = pkg.sha256 ? await cachedCopy(file, pkg.csize, pkg.sha256) : false
      const got = cached ? { size: 0, url: file } : await download({
        urls: repo.config.servers.map((s) => joinUrl(s, pkg.filename)),
        dest: file,
        ...(pkg.csize > 0 ? { expectSize: pkg.csize } : {}),
        ...(pkg.sha256 ? { expectHash: { algorithm: 'sha256' as const, digest: pkg.sha256 } } : {}),
        ...index.config.download,
        reporter: ctx.reporter,
        label: `${pkg.name} ${pkg.version}`,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      })
      downloaded = got.size
      const policy = repo.config.siglevel.package
      let sig: Buffer | null = pkg.pgpsig ? Buffer.from(pkg.pgpsig, 'base64') : null
      if (sig === null && policy.check !== 'never') {
        const sigUrls = repo.config.servers.map((s) => joinUrl(s, `${pkg.filename}.sig`))
        sig = (await downloadOptional({ urls: sigUrls, maxSize: MAX_SIGNATURE_SIZE, label: `${pkg.filename}.sig`, settings: index.config.download, ctx }))?.data ?? null
      }
      signature = await this.checkPackageSignature({ file, origin: got.url, sig, policy, keyring: index.keyring })
      expected = { name: pkg.name, version: pkg.version }
    }
    const unpacked = await unpackPackage(file, ctx)
    if (expected && (unpacked.info.name !== expected.name || unpacked.info.version !== expected.version)) {
      throw new NipError('ERR_NIP_BAD_PACKAGE', `${path.basename(file)} holds ${unpacked.info.name} ${unpacked.info.version}, but the database lists ${expected.name} ${expected.version}.`, {
        hint: 'The repository is inconsistent; ask its maintainer to rebuild the database.',
        data: { file, expected, actual: { name: unpacked.info.name, version: unpacked.info.version } },
      })
    }
    if (!unpacked.mtreeChecked) {
      ctx.reporter.emit({ type: 'warning', code: 'pacman-no-mtree', message: `${path.basename(file)} has no .MTREE; its files were not checked against it.`, data: { file } })
    }
    for (const b of unpacked.info.backup) {
      if (!b.startsWith('etc/')) {
        ctx.reporter.emit({ type: 'warning', code: 'pacman-backup-outside-etc', message: `${unpacked.info.name}: backup file ${b} is not under etc/ and is grafted as an ordinary file.`, data: { path: b } })
      }
    }
    // Install scriptlets are reported once, by core, for the program grafted (scriptlet-not-run).
    if (signature.status === 'verified') {
      ctx.reporter.emit({ type: 'info', message: `${path.basename(file)}: signature by ${signature.userIds?.[0] ?? signature.fingerprint} verified` })
    }
    return { ref, entries: unpacked.entries, scriptlets: unpacked.scriptlets, downloaded }
  }

  compareVersions(a: string, b: string): number {
    return vercmp(a, b)
  }

  satisfies(dep: DependencySpec, version: string): boolean {
    const c = parseConstraint(dep.constraint ?? '')
    return versionMatches(version, c.op, c.version)
  }

  claimsFile(file: string): boolean {
    return parsePackageFileName(path.basename(file)) !== null
  }

  private async checkPackageSignature(o: { file: string; origin: string; sig: Buffer | null; policy: PacmanConfig['localFileSigLevel']['package']; keyring: Keyring }): Promise<SignatureOutcome> {
    if (o.policy.check === 'never' || (o.sig === null && o.policy.check === 'optional')) {
      return checkSignature({ what: path.basename(o.file), origin: o.origin, data: Buffer.alloc(0), signature: null, keyring: o.keyring, policy: o.policy })
    }
    const data = o.sig === null ? Buffer.alloc(0) : await readFile(o.file)
    return checkSignature({ what: path.basename(o.file), origin: o.origin, data, signature: o.sig, keyring: o.keyring, policy: o.policy })
  }

  private async manifestOf(ref: PackageRef, pkg: Omit<SyncPackage, 'md5' | 'sha256' | 'pgpsig' | 'isize'> & { size: number; isize: number; backup: string[]; sha256?: string }, ctx: AdapterContext): Promise<PackageManifest> {
    const all = ref.id.startsWith(LOCAL_PREFIX) && (await this.configOf(ctx)).repositories.length === 0 ? [] : await this.packages(ctx)
    return {
      ref: { ...ref, ...(pkg.description ? { summary: pkg.description } : {}) },
      dependencies: pkg.depends.map((d) => dependencyOf(d, all, pkg.depends.map((x) => parseDep(x).name))),
      provides: pkg.provides,
      conflicts: pkg.conflicts,
      downloadSize: pkg.csize,
      installedSize: pkg.isize,
      ...(pkg.description ? { description: pkg.description } : {}),
      ...(pkg.licenses.length ? { license: pkg.licenses.join(' ') } : {}),
      ...(pkg.url ? { homepage: pkg.url } : {}),
      ...(pkg.sha256 ? { hashes: { sha256: pkg.sha256 } } : {}),
      extra: {
        repository: pkg.repo,
        filename: pkg.filename,
        ...(pkg.packager ? { packager: pkg.packager } : {}),
        ...(pkg.builddate !== undefined ? { builddate: new Date(pkg.builddate * 1000).toISOString() } : {}),
        ...(pkg.arch ? { arch: pkg.arch } : {}),
        groups: pkg.groups,
        replaces: pkg.replaces,
        optdepends: pkg.optdepends,
        ...(pkg.backup.length ? { backup: pkg.backup } : {}),
      },
    }
  }

  private async localInfo(file: string, ctx: AdapterContext): Promise<PackageInfo> {
    const abs = path.resolve(file)
    let info = this.locals.get(abs)
    if (info === undefined) {
      const st = await stat(abs).catch(() => null)
      if (st === null || !st.isFile()) {
        throw new NipError('ERR_NIP_BAD_PACKAGE', `${abs} is not a package file.`, { hint: 'Name an existing .pkg.tar.* file.', data: { file: abs } })
      }
      info = await readPackageInfo(abs, ctx.limits)
      const arch = (await this.configOf(ctx)).architecture
      if (info.arch !== undefined && info.arch !== 'any' && info.arch !== arch) {
        throw new NipError('ERR_NIP_BAD_PACKAGE', `${path.basename(abs)} is built for ${info.arch}, not for ${arch}.`, {
          hint: `Use the ${arch} or "any" package.`,
          data: { file: abs, arch: info.arch, machine: arch },
        })
      }
      this.locals.set(abs, info)
    }
    return info
  }

  /** `nip update`: every repository's database from its mirrors (conditional); one that fails keeps its cached copy. */
  async update(ctx: AdapterContext): Promise<SourceUpdate> {
    const config = parsePacmanConfig(ctx.config, ctx.layout.root)
    this.index = null
    if (config.repositories.length === 0) return { source: ID, status: 'not-supported', detail: 'no repositories configured' }
    const keyring = await loadKeyring(config.keyring)
    const force = { ...ctx, index: { maxAgeSeconds: ctx.index?.maxAgeSeconds ?? 86400, refresh: 'force' as const } }
    const parts = await Promise.all(
      config.repositories.map(async (r) => {
        try {
          const repo = await loadRepository(r, { config, keyring, ctx: force })
          if (repo.stale !== undefined) return { name: r.name, status: 'failed' as const, detail: `${repo.stale.reason.split('\n')[0]} (the cached database stays in use)` }
          return { name: r.name, status: repo.state === 'downloaded' ? ('updated' as const) : ('unchanged' as const), detail: `${repo.packages.length} packages` }
        } catch (e) {
          return { name: r.name, status: 'failed' as const, detail: `${e instanceof NipError ? `${e.code}: ` : ''}${(e as Error).message.split('\n')[0]}` }
        }
      }),
    )
    const failed = parts.filter((p) => p.status === 'failed').length
    const status = failed === parts.length ? 'failed' : failed > 0 ? 'partial' : parts.some((p) => p.status === 'updated') ? 'updated' : 'unchanged'
    return { source: ID, status, detail: `${parts.length} repositories: ${parts.filter((p) => p.status === 'updated').length} updated, ${parts.filter((p) => p.status === 'unchanged').length} unchanged, ${failed} failed`, parts }
  }

  private async configOf(ctx: AdapterContext): Promise<PacmanConfig> {
    return parsePacmanConfig(ctx.config, ctx.layout.root)
  }

  private indexOf(ctx: AdapterContext): Promise<Index> {
    const config = parsePacmanConfig(ctx.config, ctx.layout.root)
    const key = JSON.stringify(config)
    if (this.index?.key !== key) {
      const value = (async (): Promise<Index> => {
        const keyring = await loadKeyring(config.keyring)
        const repositories = await Promise.all(config.repositories.map((r) => loadRepository(r, { config, keyring, ctx })))
        return { config, keyring, repositories }
      })()
      value.catch(() => {
        if (this.index?.value === value) this.index = null
      })
      this.index = { key, value }
    }
    return this.index.value
  }

  /** Every package of every repository, in repository order. */
  private async packages(ctx: AdapterContext): Promise<SyncPackage[]> {
    return (await this.indexOf(ctx)).repositories.flatMap((r) => r.packages)
  }

  private async syncPackage(ref: PackageRef, ctx: AdapterContext): Promise<SyncPackage> {
    const pkg = (await this.packages(ctx)).find((p) => refId(p) === ref.id)
    if (pkg === undefined) {
      throw new NipError('ERR_NIP_NOT_FOUND', `The pacman repositories no longer offer ${ref.id}.`, {
        hint: 'The databases changed since the package was resolved; run the command again.',
        data: { id: ref.id },
      })
    }
    return pkg
  }
}

/** Whether `file` holds exactly `size` bytes (when known) with this SHA-256. */
async function cachedCopy(file: string, size: number, sha256: string): Promise<boolean> {
  try {
    const st = await stat(file)
    if (size > 0 && st.size !== size) return false
    const digest = createDigest('sha256')
    for await (const chunk of createReadStream(file)) digest.update(chunk as Buffer)
    return digest.digestHex() === sha256.toLowerCase()
  } catch {
    return false
  }
}

export function createAdapter(): SourceAdapter {
  return new PacmanAdapter()
}

function refId(p: SyncPackage): string {
  return `${p.repo}/${p.name}-${p.version}`
}

function toRef(p: SyncPackage): PackageRef {
  return { source: ID, name: p.name, version: p.version, id: refId(p), ...(p.description ? { summary: p.description } : {}) }
}

/** `>=1.2` → { op: '>=', version: '1.2' }; '' → any. */
function parseConstraint(c: string): { op: DepOperator; version: string } {
  const m = /^(<=|>=|<|>|=)(.*)$/.exec(c.trim())
  return m ? { op: m[1] as DepOperator, version: m[2].trim() } : { op: '', version: '' }
}

/**
 * A pacman dependency as core's DependencySpec: the package named first, then each repository
 * package (other than one of that name) that provides it, as pacman's resolver would accept it.
 * `siblings` are the names of the depending package's other dependencies.
 */
export function dependencyOf(raw: string, all: SyncPackage[], siblings: string[] = []): DependencySpec {
  const dep = parseDep(raw)
  const literal: DependencySpec = { name: dep.name, constraint: dep.op === '' ? '' : `${dep.op}${dep.version}`, raw }
  const providers: DependencySpec[] = []
  const named = new Set<string>([dep.name])
  for (const p of all) {
    if (named.has(p.name)) continue
    if (p.provides.length === 0 || !packageSatisfies({ name: '', version: p.version, provides: p.provides }, dep)) continue
    named.add(p.name)
    // The provider's own version that was found to satisfy: any installed version of it is
    // accepted only for unversioned dependencies.
    providers.push({ name: p.name, constraint: dep.op === '' ? '' : `=${p.version}`, raw: `${p.name} (provides ${raw})` })
  }
  // pacman prefers a provider already in the transaction: one the package also depends on by
  // name comes first (the planner tries alternatives in order); otherwise repository order.
  const preferred = providers.filter((p) => siblings.includes(p.name))
  const ordered = [...preferred, ...providers.filter((p) => !siblings.includes(p.name))]
  return ordered.length === 0 ? literal : { ...literal, anyOf: [literal, ...ordered] }
}
