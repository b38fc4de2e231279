/**
 * The Gentoo source: an ebuild repository's metadata cache and profiles (for search, info, USE
 * and dependency semantics) and binhosts (binary packages nip grafts).
 *
 * resolve: the packages named (`ffmpeg`, `media-video/ffmpeg`), best version first. With a
 *   binhost, the candidates are its builds whose USE matches the request (command-line variants
 *   and the config's per-package USE); when builds exist but none matches, the error names the
 *   flags in which the nearest builds differ. Without a binhost, the repository's ebuilds are
 *   offered for info (fetching them needs a build, which this adapter does not do yet).
 *   A requested flag that no build (nor the ebuild) knows is refused as a typo, with the closest
 *   known flags. The variants are part of the ref's id (`binpkg:PATH@@URL +vaapi -gpl`), which
 *   is what nip records for the grafted program.
 * describe: effective USE (profile → config → command line) and the dependencies reduced for it.
 * fetch: check again that the build has the requested USE (a ref may come from elsewhere than
 *   resolve: refused the same way as resolve refuses), then download through core's downloader (size and MD5 checked by it, SHA1 here), verify a
 *   GPKG's Manifest or split an XPAK, stream the image into the CAS. Nothing is written outside
 *   the CAS and the adapter's cache directory.
 *
 * Local files (`nip install ./x.gpkg.tar`, `.tbz2`, `.xpak`; core routes them here by content):
 *   resolve reads the file's metadata (localPackage.ts) into the BinaryPackage an index would
 *   list, id `local:<path>`; fetch reads it like a binhost download (Manifest, keyring, identity).
 *
 * Several binhosts (`binhosts`, in priority order): every index is loaded; one that cannot be
 *   fetched or parsed is left out with a warning (as Portage does), and only when none loads is
 *   that an error, naming each URL. The same build (CPV, BUILD_ID, SIZE and checksums equal) listed
 *   by several binhosts is one candidate, taken from the first of them; its download falls over to
 *   the others in order (core's downloader: retries, resume, failover). A file that fails a check
 *   is never kept in the cache.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  cacheMkdir,
  cacheRm,
  cacheRename,
  cacheWrite,
  describeAge,
  NipError,
  download,
  readKeyring,
  combineKeyrings,
  unpackToCas,
  type PublicKeyring,
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
import { parseAtom } from './atom.js'
import { atomMatches } from './atomMatch.js'
import { chooseBuild, mismatches, type BuildMismatch, type UseRequest } from './binaryChoice.js'
import { closest } from './editDistance.js'
import { parseBinhostIndex, BinhostIndexError, type BinaryPackage, type BinhostIndex } from './binhostIndex.js'
import { parseCpv, type Cpv } from './cpv.js'
import { reduceDependencies } from './dependencies.js'
import { DepStringError, encloseParens, useReduce, type DepNode } from './depString.js'
import { computeEffectiveUse, type EffectiveUse } from './effectiveUse.js'
import { parseGentooConfig, type GentooConfig } from './gentooConfig.js'
import { readGpkg } from './gpkg.js'
import { isSettingsPath, mapImagePath } from './memberPath.js'
import { readLocalBinary, type LocalBinary } from './localPackage.js'
import { RepositoryIndex, type EbuildMetadata } from './metadataCache.js'
import { loadProfile, ProfileError, type Profile } from './profile.js'
import { parseVariant } from './variants.js'
import { compareVersions, isValidVersion } from './version.js'
import { parseXpakTrailer, XpakError } from './xpak.js'

interface Binhost {
  url: string
  index: BinhostIndex
  /** Fresh from the binhost, unchanged there (304), or the local copy (fresh enough, a file:// binhost, or the refresh failed). */
  state?: 'downloaded' | 'not-modified' | 'local'
  /** Why the refresh failed, when the cached copy is used. */
  stale?: string
}

interface State {
  config: GentooConfig
  repository?: RepositoryIndex
  profile?: Profile
  binhosts?: Binhost[]
  keyring?: PublicKeyring
}

export class GentooAdapter implements SourceAdapter {
  readonly id = 'gentoo'
  readonly acceptsVariants = true
  private state?: { key: string; value: State }
  /** Local package files read by resolve, by absolute path. */
  private readonly locals = new Map<string, LocalBinary>()

  async configured(ctx: AdapterContext): Promise<boolean> {
    const config = parseGentooConfig(ctx.config, ctx.layout.root)
    return config.repository !== undefined || config.binhosts.length > 0
  }

  async probe(ctx: AdapterContext): Promise<AdapterStatus> {
    const config = parseGentooConfig(ctx.config, ctx.layout.root)
    if (config.repository === undefined && config.binhosts.length === 0) {
      return { id: this.id, configured: false, reachable: null, detail: 'set [gentoo] repository and/or binhosts in nip.conf' }
    }
    try {
      const s = await this.load(ctx)
      const parts: string[] = []
      if (s.repository) parts.push(`${s.repository.packages().length} packages in the repository`)
      if (s.profile) parts.push(`profile ${path.relative(path.join(config.repository ?? '', 'profiles'), config.profile!)}`)
      for (const b of s.binhosts ?? []) parts.push(`${b.index.packages.length} binary packages at ${b.url}`)
      return { id: this.id, configured: true, reachable: true, detail: parts.join(', ') }
    } catch (e) {
      return { id: this.id, configured: true, reachable: false, detail: (e as Error).message }
    }
  }

  async *search(query: string, ctx: AdapterContext): AsyncIterable<SearchHit> {
    const s = await this.load(ctx)
    const q = query.toLowerCase()
    const seen = new Set<string>()
    for (const cp of s.repository?.packages() ?? []) {
      if (!cp.toLowerCase().includes(q)) continue
      const best = newest(s.repository!.find(cp))
      seen.add(cp)
      yield { ref: { source: this.id, name: best.name, version: best.version, id: `ebuild:${best.cpv}`, summary: s.repository!.metadata(best).description }, score: cp.endsWith(`/${q}`) ? 2 : 1 }
    }
    for (const b of s.binhosts ?? []) {
      for (const p of b.index.packages) {
        if (seen.has(p.cpv.cp) || !p.cpv.cp.toLowerCase().includes(q)) continue
        seen.add(p.cpv.cp)
        yield { ref: binaryRef(b, p, []), score: p.cpv.name === q ? 2 : 1 }
      }
    }
  }

  /** The package names (PN, as typed on the command line) of the repository and the binhosts. */
  async *names(ctx: AdapterContext): AsyncIterable<string> {
    const s = await this.load(ctx)
    for (const cp of s.repository?.packages() ?? []) yield cp.slice(cp.indexOf('/') + 1)
    for (const b of s.binhosts ?? []) for (const p of b.index.packages) yield p.cpv.name
  }

  async resolve(spec: PackageSpec, ctx: AdapterContext): Promise<PackageRef[]> {
    if (spec.file !== undefined) {
      // A local GPKG/XPAK: the build it is, whatever the command line's USE asks (checked in fetch).
      const local = await this.localBinary(spec.file, ctx)
      return [{ source: this.id, name: local.pkg.cpv.name, version: local.pkg.cpv.version, id: [`local:${encodeURIComponent(local.file)}`, ...(spec.variants ?? [])].join(' '), ...(local.pkg.raw.DESC ? { summary: local.pkg.raw.DESC } : {}) }]
    }
    const s = await this.load(ctx)
    const variants = spec.variants ?? []
    const wantsVersion = (c: Cpv): boolean => spec.version === undefined || c.version === spec.version || c.versionNoRevision === spec.version
    const named = (cp: string): boolean => cp === spec.name || cp.slice(cp.indexOf('/') + 1) === spec.name
    if (s.binhosts !== undefined && s.binhosts.length > 0) {
      const builds: { host: Binhost; pkg: BinaryPackage }[] = []
      for (const host of s.binhosts) for (const pkg of host.index.packages) if (named(pkg.cpv.cp) && wantsVersion(pkg.cpv)) builds.push({ host, pkg })
      if (builds.length > 0) {
        const request = this.useRequest(s, builds[0].pkg.cpv, variants)
        const wanted = this.wantedUse(s, builds[0].pkg.cpv, variants)
        if (wanted === undefined) refuseUnknownFlags(builds.map((b) => b.pkg), request)
        const { chosen, nearest } = chooseBuild(builds.map((b) => b.pkg), { ...request, wanted })
        if (chosen === undefined) throw noMatchingBuild(builds[0].pkg.cpv.cp, variants, request, nearest)
        const host = builds.find((b) => b.pkg === chosen)!.host
        const others = builds
          .filter((b) => b.pkg !== chosen && b.pkg.cpv.cpv !== chosen.cpv.cpv && chooseBuild([b.pkg], request).chosen !== undefined)
          .sort((a, b) => compareVersions(b.pkg.cpv.parsed, a.pkg.cpv.parsed))
        return [binaryRef(host, chosen, variants), ...others.map((o) => binaryRef(o.host, o.pkg, variants))]
      }
    }
    if (s.repository === undefined) return []
    const cpvs = s.repository.find(spec.name).filter(wantsVersion)
    // The most visible versions first (see visibility()), newest first among equals; the others
    // stay available to an explicit name@version.
    const visible = new Map(cpvs.map((c) => [c.cpv, this.visibility(s, s.repository!.metadata(c))]))
    cpvs.sort((a, b) => Number(visible.get(b.cpv)) - Number(visible.get(a.cpv)) || compareVersions(b.parsed, a.parsed))
    // Validate the variants against the best candidate now, so a typo is reported by resolve.
    if (cpvs.length > 0 && variants.length > 0) this.effective(s, s.repository.metadata(cpvs[0]), variants)
    return cpvs.map((c) => {
      const md = s.repository!.metadata(c)
      return { source: this.id, name: c.name, version: c.version, id: ebuildId(c, variants), summary: md.description }
    })
  }

  async describe(ref: PackageRef, ctx: AdapterContext): Promise<PackageManifest> {
    const s = await this.load(ctx)
    const parsed = parseRefId(ref.id)
    if (parsed.kind === 'ebuild') {
      const cpv = parseCpv(parsed.cpv)
      if (cpv === null || s.repository === undefined) throw notFound(ref)
      const md = s.repository.metadata(cpv)
      const use = this.effective(s, md, parsed.variants)
      const rdep = this.reduce(md, md.rdepend, use.enabled)
      const pdep = this.reduce(md, md.pdepend, use.enabled)
      return {
        ref,
        dependencies: [...rdep.dependencies, ...pdep.dependencies],
        provides: [md.cpv.cp],
        conflicts: [...rdep.conflicts, ...pdep.conflicts],
        downloadSize: 0,
        installedSize: 0,
        description: md.description,
        license: encloseParens(reduceLicense(md, use.enabled)),
        homepage: md.homepage,
        variants: [...use.enabled.filter((f) => use.iuse.includes(f)).map((f) => `+${f}`), ...use.disabled.map((f) => `-${f}`)],
        extra: {
          cpv: md.cpv.cpv,
          eapi: md.eapi,
          slot: md.subSlot === md.slot ? md.slot : `${md.slot}/${md.subSlot}`,
          keywords: md.keywords,
          use: use.enabled,
          forced: use.forced,
          masked: use.masked,
          requiredUse: md.requiredUse,
          depend: this.reduce(md, md.depend, use.enabled).dependencies.map((d) => d.raw),
          bdepend: this.reduce(md, md.bdepend, use.enabled).dependencies.map((d) => d.raw),
          idepend: this.reduce(md, md.idepend, use.enabled).dependencies.map((d) => d.raw),
          binary: false,
        },
      }
    }
    const pkg = parsed.kind === 'local' ? (await this.localBinary(parsed.file, ctx)).pkg : this.findBinary(s, parsed.host, parsed.path, ref).pkg
    const use = [...pkg.use].sort()
    const rdep = reduceOrBad(pkg.raw.RDEPEND ?? '', use, pkg.eapi, pkg.cpv.cpv)
    const pdep = reduceOrBad(pkg.raw.PDEPEND ?? '', use, pkg.eapi, pkg.cpv.cpv)
    return {
      ref,
      dependencies: [...rdep.dependencies, ...pdep.dependencies],
      provides: [pkg.cpv.cp],
      conflicts: [...rdep.conflicts, ...pdep.conflicts],
      downloadSize: pkg.size ?? 0,
      installedSize: 0,
      description: pkg.raw.DESC,
      license: pkg.raw.LICENSE,
      variants: [...pkg.iuse].sort().map((f) => (pkg.use.has(f) ? `+${f}` : `-${f}`)),
      hashes: { ...(pkg.md5 ? { md5: pkg.md5 } : {}), ...(pkg.sha1 ? { sha1: pkg.sha1 } : {}) },
      extra: { cpv: pkg.cpv.cpv, buildId: pkg.buildId, slot: pkg.slot, use, path: pkg.path, binary: true },
    }
  }

  async fetch(ref: PackageRef, ctx: AdapterContext): Promise<FetchResult> {
    const s = await this.load(ctx)
    const parsed = parseRefId(ref.id)
    if (parsed.kind === 'ebuild') {
      throw new NipError('ERR_NIP_NOT_IMPLEMENTED', `${parsed.cpv} is only available as an ebuild; building from source is not implemented yet`, {
        hint: 'Configure a [gentoo] binhost that has a build of it.',
        data: { cpv: parsed.cpv },
      })
    }
    if (parsed.kind === 'local') {
      const local = await this.localBinary(parsed.file, ctx)
      const variants = ref.variants ?? parsed.variants
      if (variants.length > 0) {
        const request = this.useRequest(s, local.pkg.cpv, variants)
        const differs = mismatches(local.pkg, request)
        if (differs.length > 0) throw noMatchingBuild(local.pkg.cpv.cp, variants, request, [{ build: local.pkg, differs }])
      }
      const entries = local.kind === 'gpkg' ? await this.fetchGpkg(local.file, local.pkg, local.file, ctx) : await this.fetchXpak(local.file, local.pkg, local.file, ctx)
      return { ref, entries, downloaded: 0 }
    }
    const { host, pkg } = this.findBinary(s, parsed.host, parsed.path, ref)
    const variants = ref.variants ?? parsed.variants
    if (variants.length > 0) {
      const request = this.useRequest(s, pkg.cpv, variants)
      const differs = mismatches(pkg, request)
      if (differs.length > 0) throw noMatchingBuild(pkg.cpv.cp, variants, request, [{ build: pkg, differs }])
    }
    const relative = safeRelativePath(pkg.path)
    const label = `${host.url}/${relative}`
    let file: string
    let downloaded = 0
    if (host.url.startsWith('file://')) {
      file = path.join(fileURLToPath(host.url), relative)
      await verifyLocal(file, pkg, label)
    } else {
      const dest = path.join(ctx.cacheDir, 'binpkgs', hostKey(host.url), relative)
      cacheMkdir(path.dirname(dest))
      const urls = [host, ...(s.binhosts ?? []).filter((b) => b !== host && !b.url.startsWith('file://'))].flatMap((b) => {
        const same = b === host ? pkg : b.index.packages.find((q) => sameBuild(q, pkg))
        return same === undefined ? [] : [`${b.url}/${safeRelativePath(same.path).split('/').map(encodeURIComponent).join('/')}`]
      })
      const result = await downloadBinpkg(urls, dest, pkg, s.config, ctx)
      file = result.path
      downloaded = result.notModified ? 0 : result.size
    }
    const entries = relative.endsWith('.gpkg.tar') ? await this.fetchGpkg(file, pkg, label, ctx) : await this.fetchXpak(file, pkg, label, ctx)
    return { ref, entries, downloaded }
  }

  compareVersions(a: string, b: string): number {
    if (isValidVersion(a) && isValidVersion(b)) return compareVersions(a, b)
    return a < b ? -1 : a > b ? 1 : 0
  }

  satisfies(dep: DependencySpec, version: string): boolean {
    const atom = parseAtom(dep.constraint || dep.name, { allowBlockers: true, allowRepo: true })
    if (atom === null || !isValidVersion(version)) return false
    return atomMatches(atom, { cpv: `${atom.cp}-${version}` })
  }

  claimsFile(file: string): boolean {
    return /\.(gpkg\.tar|tbz2|xpak)$/.test(file)
  }

  private async localBinary(file: string, ctx: AdapterContext): Promise<LocalBinary> {
    const abs = path.resolve(file)
    let local = this.locals.get(abs)
    if (local === undefined) {
      local = await readLocalBinary(abs, ctx.limits)
      this.locals.set(abs, local)
    }
    return local
  }

  private async fetchGpkg(file: string, pkg: BinaryPackage, label: string, ctx: AdapterContext) {
    const content = await readGpkg(file, { cas: ctx.cas, limits: ctx.limits, label, ...(ctx.stage !== undefined ? { stage: ctx.stage } : {}), ...(this.state?.value.keyring ? { keyring: this.state.value.keyring } : {}) })
    checkIdentity(pkg, content.metadata.get('CATEGORY'), content.metadata.get('PF'), label)
    return content.entries
  }

  private async fetchXpak(file: string, pkg: BinaryPackage, label: string, ctx: AdapterContext) {
    const size = (await fs.promises.stat(file)).size
    const fh = await fs.promises.open(file, 'r')
    let split
    try {
      const tailLen = Math.min(size, 8)
      const last = Buffer.alloc(tailLen)
      await fh.read(last, 0, tailLen, size - tailLen)
      const xpakLen = tailLen === 8 ? last.readUInt32BE(0) : 0
      const want = Math.min(size, xpakLen + 8)
      const tail = Buffer.alloc(want)
      await fh.read(tail, 0, want, size - want)
      split = parseXpakTrailer(tail, size)
    } catch (e) {
      if (e instanceof XpakError) throw new NipError('ERR_NIP_BAD_PACKAGE', `${label}: ${e.message}`, { hint: 'The binary package is not a valid xpak/tbz2 file.', data: { file: label } })
      throw e
    } finally {
      await fh.close()
    }
    const text = (k: string): string | undefined => split.metadata.get(k)?.toString('utf8').trim()
    checkIdentity(pkg, text('CATEGORY'), text('PF'), label)
    if (split.tarballLength <= 0) throw new NipError('ERR_NIP_BAD_PACKAGE', `${label}: no tarball before the xpak segment`, { data: { file: label } })
    const result = await unpackToCas(fs.createReadStream(file, { start: 0, end: split.tarballLength - 1 }), {
      cas: ctx.cas,
      limits: ctx.limits,
      sourceSize: split.tarballLength,
      ...(ctx.stage !== undefined ? { stage: ctx.stage } : {}),
      archive: label,
      absoluteSymlinks: 'rebase',
      mapPath: mapImagePath,
      isSettings: isSettingsPath,
    })
    return result.entries
  }

  /**
   * The build a package id names: on the binhost it was found on, or — when that binhost is no
   * longer configured or no longer lists it (a repair or reinstall long after the install) — on
   * the first other binhost that lists the same PATH with the same CPV, as mirrors of one binhost
   * do. The download is then checked against that binhost's own index entry.
   */
  private findBinary(s: State, hostUrl: string, p: string, ref: PackageRef): { host: Binhost; pkg: BinaryPackage } {
    const recorded = s.binhosts?.find((b) => b.url === hostUrl)
    const pkg = recorded?.index.packages.find((x) => x.path === p)
    if (recorded !== undefined && pkg !== undefined) return { host: recorded, pkg }
    for (const host of s.binhosts ?? []) {
      if (host === recorded) continue
      const same = host.index.packages.find((x) => x.path === p && x.cpv.name === ref.name && x.cpv.version === ref.version)
      if (same !== undefined) return { host, pkg: same }
    }
    throw notFound(ref)
  }

  /**
   * How readily Portage would pick this version: 3 keyworded for ACCEPT_KEYWORDS (the profile's,
   * plus `[gentoo] accept-keywords`), 2 only in testing (`~arch`) for an accepted arch, 1 other
   * keywords, 0 none (live ebuilds) or package.mask'ed.
   */
  private visibility(s: State, md: EbuildMetadata): number {
    if (s.profile?.packageMask.some((a) => atomMatches(a, { cpv: md.cpv.cpv, slot: md.slot, subSlot: md.subSlot }))) return 0
    if (md.keywords.length === 0) return 0
    const accepted = new Set((s.profile?.vars.get('ACCEPT_KEYWORDS') ?? '').split(/\s+/).filter(Boolean))
    for (const k of s.config.acceptKeywords) accepted.add(k)
    if (accepted.has('**') || md.keywords.some((k) => accepted.has(k) || (accepted.has('*') && !/^[~-]/.test(k)))) return 3
    if (md.keywords.some((k) => k.startsWith('~') && accepted.has(k.slice(1)))) return 2
    return 1
  }

  private packageUse(s: State, cpv: Cpv, slot?: string): string[] {
    return s.config.packageUse.filter((e) => atomMatches(e.atom, { cpv: cpv.cpv, slot })).flatMap((e) => e.flags)
  }

  private effective(s: State, md: EbuildMetadata, variants: string[]): EffectiveUse {
    return computeEffectiveUse(md, s.profile, { global: s.config.use, perPackage: this.packageUse(s, md.cpv, md.slot), variants })
  }

  /** The flags a binary must have as asked: per-package config, then the command line. */
  private useRequest(s: State, cpv: Cpv, variants: string[]): UseRequest {
    const on = new Set<string>()
    const off = new Set<string>()
    for (const raw of [...this.packageUse(s, cpv), ...variants]) {
      const v = parseVariantOrThrow(raw)
      if (v.kind === 'expand') {
        for (const x of v.values) {
          on.add(`${v.variable.toLowerCase()}_${x}`)
          off.delete(`${v.variable.toLowerCase()}_${x}`)
        }
      } else if (v.kind === 'enable') {
        on.add(v.flag)
        off.delete(v.flag)
      } else if (v.kind === 'disable') {
        off.add(v.flag)
        on.delete(v.flag)
      } else {
        on.delete(v.flag)
        off.delete(v.flag)
      }
    }
    return { enable: [...on].sort(), disable: [...off].sort() }
  }

  /** The USE the repository's ebuild of the same version would get, when it is known. */
  private wantedUse(s: State, cpv: Cpv, variants: string[]): string[] | undefined {
    const same = s.repository?.find(cpv.cp).find((c) => c.version === cpv.version)
    return same === undefined ? undefined : this.effective(s, s.repository!.metadata(same), variants).enabled
  }

  private reduce(md: EbuildMetadata, depstr: string, use: string[]) {
    return reduceOrBad(depstr, use, md.eapi, md.cpv.cpv)
  }

  /** `nip update`: every binhost's Packages index (conditionally); one that fails keeps its cached copy. */
  async update(ctx: AdapterContext): Promise<SourceUpdate> {
    const config = parseGentooConfig(ctx.config, ctx.layout.root)
    delete this.state
    const remote = config.binhosts.filter((u) => !u.startsWith('file://'))
    if (remote.length === 0) return { source: 'gentoo', status: 'not-supported', detail: config.binhosts.length > 0 ? 'local binhosts only: read on each use' : 'no binhosts configured' }
    const force = { ...ctx, index: { maxAgeSeconds: ctx.index?.maxAgeSeconds ?? 86400, refresh: 'force' as const } }
    const parts = await Promise.all(
      remote.map(async (url) => {
        const name = `${url}/Packages`
        try {
          const b = await loadBinhost(url, config, force)
          if (b.stale !== undefined) return { name, status: 'failed' as const, detail: `${b.stale} (the cached copy stays in use)` }
          return { name, status: b.state === 'downloaded' ? ('updated' as const) : ('unchanged' as const), detail: `${b.index.packages.length} builds` }
        } catch (e) {
          return { name, status: 'failed' as const, detail: `${e instanceof NipError ? `${e.code}: ` : ''}${firstLine((e as Error).message)}` }
        }
      }),
    )
    const failed = parts.filter((p) => p.status === 'failed').length
    const status = failed === parts.length ? 'failed' : failed > 0 ? 'partial' : parts.some((p) => p.status === 'updated') ? 'updated' : 'unchanged'
    return { source: 'gentoo', status, detail: `${parts.length} binhost(s): ${parts.filter((p) => p.status === 'updated').length} updated, ${parts.filter((p) => p.status === 'unchanged').length} unchanged, ${failed} failed`, parts }
  }

  private async load(ctx: AdapterContext): Promise<State> {
    const key = JSON.stringify(ctx.config)
    if (this.state?.key === key) return this.state.value
    const config = parseGentooConfig(ctx.config, ctx.layout.root)
    const value: State = { config }
    if (config.repository !== undefined) {
      const cache = path.join(config.repository, 'metadata', 'md5-cache')
      if (!fs.existsSync(cache)) {
        throw new NipError('ERR_NIP_SOURCE_UNAVAILABLE', `${config.repository} has no metadata/md5-cache`, {
          hint: 'Point [gentoo] repository at a synced ebuild repository (it ships metadata/md5-cache).',
          data: { repository: config.repository },
        })
      }
      value.repository = new RepositoryIndex(cache)
    }
    if (config.profile !== undefined) {
      try {
        value.profile = loadProfile(config.profile)
      } catch (e) {
        if (e instanceof ProfileError) throw new NipError('ERR_NIP_CONFIG', `gentoo profile: ${e.message}`, { hint: 'Check [gentoo] profile.', data: { file: e.file } })
        throw e
      }
    }
    if (config.keyring.length > 0) {
      const rings = await Promise.all(
        config.keyring.map(async (f) => {
          let data: Buffer
          try {
            data = await fs.promises.readFile(f)
          } catch (e) {
            throw new NipError('ERR_NIP_CONFIG', `gentoo.keyring: cannot read ${f}: ${(e as Error).message}`, { hint: 'Point [gentoo] keyring at an OpenPGP public key file.', data: { file: f } })
          }
          return readKeyring(data)
        }),
      )
      value.keyring = rings.length === 1 ? rings[0] : combineKeyrings(...rings)
    }
    if (config.binhosts.length > 0) value.binhosts = await loadBinhosts(config, ctx)
    this.state = { key, value }
    return value
  }
}

/**
 * Every binhost's index, in priority order. One that fails is left out with a warning while
 * another loads; when none loads, the error names each URL and how it failed.
 */
async function loadBinhosts(config: GentooConfig, ctx: AdapterContext): Promise<Binhost[]> {
  const settled = await Promise.allSettled(config.binhosts.map((url) => loadBinhost(url, config, ctx)))
  const loaded: Binhost[] = []
  const failed: { url: string; error: unknown }[] = []
  settled.forEach((r, i) => (r.status === 'fulfilled' ? loaded.push(r.value) : failed.push({ url: `${config.binhosts[i]}/Packages`, error: r.reason })))
  const passOver = (e: unknown): boolean => e instanceof NipError && e.code !== 'ERR_NIP_NO_SPACE'
  if (failed.length === 0) return loaded
  if (failed.length === 1 && loaded.length === 0) throw failed[0].error
  const fatal = failed.find((f) => !passOver(f.error))
  if (fatal) throw fatal.error
  if (loaded.length > 0) {
    for (const f of failed) {
      ctx.reporter.emit({
        type: 'warning',
        code: 'gentoo-binhost-unavailable',
        message: `binhost index ${f.url} left out: ${indentedLines(f.url, f.error as NipError).map((l) => l.trim().replace(`${f.url}: `, '')).join('; ')}`,
        data: { url: f.url, code: (f.error as NipError).code },
      })
    }
    return loaded
  }
  const errors = failed.map((f) => f.error as NipError)
  const codes = new Set(errors.map((e) => e.code))
  const lines = failed.flatMap((f) => indentedLines(f.url, f.error as NipError))
  throw new NipError(codes.size === 1 ? errors[0].code : 'ERR_NIP_FETCH_FAILED', `No binhost index could be loaded:\n${lines.join('\n')}`, {
    hint: 'Check the network and [gentoo] binhosts.',
    data: { urls: failed.map((f) => f.url), attempts: errors.flatMap((e, i) => (Array.isArray(e.data.attempts) ? (e.data.attempts as unknown[]) : [{ url: failed[i].url, error: firstLine(e.message), code: e.code }])) },
  })
}

/**
 * A binhost's Packages index, the source's local index: read from the cache while it was refreshed
 * less than index-max-age ago (no network), else revalidated (conditionally); when that fails and
 * a cached copy exists, the cached copy is used with a warning giving its age.
 */
async function loadBinhost(url: string, config: GentooConfig, ctx: AdapterContext): Promise<Binhost> {
  let text: string
  let cached: string | undefined
  let state: Binhost['state'] = 'local'
  let stale: string | undefined
  if (url.startsWith('file://')) {
    text = await fs.promises.readFile(path.join(fileURLToPath(url), 'Packages'), 'utf8')
  } else {
    cached = path.join(ctx.cacheDir, 'binhosts', hostKey(url), 'Packages')
    cacheMkdir(path.dirname(cached))
    const marker = `${cached}.updated-at`
    const at = Date.parse((await fs.promises.readFile(marker, 'utf8').catch(() => '')).trim())
    const age = Number.isNaN(at) ? null : Math.max(0, (Date.now() - at) / 1000)
    const have = fs.existsSync(cached)
    if (!have || age === null || age >= (ctx.index?.maxAgeSeconds ?? 86400) || ctx.index?.refresh === 'force') {
      try {
        const r = await download({ urls: [`${url}/Packages`], dest: cached, conditional: true, reporter: ctx.reporter, label: `${url}/Packages`, signal: ctx.signal, ...config.download })
        state = r.notModified ? 'not-modified' : 'downloaded'
        cacheWrite(`${marker}.tmp`, `${new Date().toISOString()}\n`)
        cacheRename(`${marker}.tmp`, marker)
      } catch (e) {
        if (!have || !(e instanceof NipError) || e.code !== 'ERR_NIP_FETCH_FAILED') throw e
        stale = firstLine(e.message)
        const when = age === null ? '' : ` from ${describeAge(age)} ago`
        ctx.reporter.emit({ type: 'warning', code: 'gentoo-binhost-stale', message: `binhost index ${url}/Packages could not be refreshed (${stale}); using the cached copy${when}`, data: { url, ageSeconds: age === null ? null : Math.round(age) } })
      }
    }
    text = await fs.promises.readFile(cached, 'utf8')
  }
  try {
    return { url, index: parseBinhostIndex(text), state, ...(stale !== undefined ? { stale } : {}) }
  } catch (e) {
    if (e instanceof BinhostIndexError) {
      // Not kept: a 304 for its validators would otherwise keep the bad copy for good.
      if (cached !== undefined) await removeDownload(cached)
      throw new NipError('ERR_NIP_BAD_PACKAGE', `${url}/Packages: ${e.message}`, { hint: 'The binhost index is malformed.', data: { url } })
    }
    throw e
  }
}

/** Whether two index entries (on different binhosts) describe the same build. */
function sameBuild(a: BinaryPackage, b: BinaryPackage): boolean {
  if (a.cpv.cpv !== b.cpv.cpv || a.buildId !== b.buildId || a.size !== b.size || a.md5 !== b.md5 || a.sha1 !== b.sha1) return false
  // Without any checksum the bytes cannot be told apart: only the same PATH counts.
  return a.md5 !== undefined || a.sha1 !== undefined || a.path === b.path
}

/**
 * Downloads a binary package from `urls` in order, checking SIZE and MD5 (in the downloader) and
 * SHA1 (here, as the downloader does not compute it). A file that fails SHA1 is deleted; without
 * MD5 the next URL is then tried, and when every URL failed the error names each of them.
 */
async function downloadBinpkg(urls: string[], dest: string, pkg: BinaryPackage, config: GentooConfig, ctx: AdapterContext) {
  const once = (list: string[]) =>
    download({
      urls: list,
      dest,
      expectSize: pkg.size,
      expectHash: pkg.md5 ? { algorithm: 'md5', digest: pkg.md5 } : undefined,
      reporter: ctx.reporter,
      label: pkg.cpv.cpv,
      signal: ctx.signal,
      ...config.download,
    })
  if (pkg.sha1 === undefined) return once(urls)
  if (pkg.md5 !== undefined) {
    const r = await once(urls)
    await checkSha1(r.path, pkg.sha1, r.url).catch(async (e) => {
      await removeDownload(r.path)
      throw e
    })
    return r
  }
  const failures: { url: string; error: NipError }[] = []
  for (const url of urls) {
    try {
      const r = await once([url])
      await checkSha1(r.path, pkg.sha1, url).catch(async (e) => {
        await removeDownload(r.path)
        throw e
      })
      return r
    } catch (e) {
      if (!(e instanceof NipError) || e.code === 'ERR_NIP_NO_SPACE') throw e
      failures.push({ url, error: e })
    }
  }
  if (failures.length === 1) throw failures[0].error
  const codes = new Set(failures.map((f) => f.error.code))
  throw new NipError(codes.size === 1 ? failures[0].error.code : 'ERR_NIP_FETCH_FAILED', `Could not download ${pkg.cpv.cpv} from any binhost:\n${failures.flatMap((f) => indentedLines(f.url, f.error)).join('\n')}`, {
    hint: 'The binhosts disagree with their index, or cannot be reached; nothing was grafted.',
    data: { file: pkg.cpv.cpv, urls, attempts: failures.flatMap((f) => (Array.isArray(f.error.data.attempts) ? (f.error.data.attempts as unknown[]) : [{ url: f.url, error: firstLine(f.error.message), code: f.error.code }])) },
  })
}

/** The per-URL lines of a downloader error ("  URL: how"), or one such line for another error. */
function indentedLines(url: string, e: NipError): string[] {
  const own = e.message.split('\n').filter((l) => l.startsWith('  '))
  return own.length > 0 ? own : [`  ${url}: ${firstLine(e.message)}`]
}

function firstLine(text: string): string {
  return text.split('\n')[0]
}

async function removeDownload(file: string): Promise<void> {
  cacheRm(file)
  cacheRm(`${file}.meta.json`)
}

function reduceOrBad(depstr: string, use: string[], eapi: string, cpv: string) {
  try {
    return reduceDependencies(depstr, use, eapi)
  } catch (e) {
    if (e instanceof DepStringError) {
      throw new NipError('ERR_NIP_BAD_PACKAGE', `malformed dependencies of ${cpv}: ${e.message}`, { data: { cpv } })
    }
    throw e
  }
}

function reduceLicense(md: EbuildMetadata, use: string[]): DepNode[] {
  try {
    return useReduce(md.license, { use, eapi: md.eapi })
  } catch {
    return [md.license]
  }
}

/** No build has the requested USE: name the nearest builds and the flags they differ in. */
function noMatchingBuild(cp: string, variants: string[], request: UseRequest, nearest: BuildMismatch[]): NipError {
  const lines = nearest.map((n) => `${n.build.path} differs in ${n.differs.join(' ')}`)
  return new NipError('ERR_NIP_NOT_FOUND', `No binary build of ${cp} has the requested USE (${variants.join(' ')}); ${lines.join('; ')}`, {
    hint: 'Change the requested flags to match one of these builds, or build from source.',
    data: {
      package: cp,
      requested: { enable: request.enable, disable: request.disable },
      nearest: nearest.map((n) => ({ path: n.build.path, differs: n.differs })),
    },
  })
}

/**
 * Without the ebuild to check against, the builds' IUSE (or USE, where an index omits IUSE) are
 * the flags the package has; a requested flag outside them is a typo, not a missing build.
 */
function refuseUnknownFlags(builds: BinaryPackage[], request: UseRequest): void {
  const known = new Set<string>()
  for (const b of builds) for (const f of [...b.iuse, ...b.use]) known.add(f)
  if (known.size === 0) return
  const unknown = [...request.enable, ...request.disable].filter((f) => !known.has(f))
  if (unknown.length === 0) return
  const f = unknown[0]
  const near = closest(f, known)
  throw new NipError('ERR_NIP_BAD_SPEC', `${builds[0].cpv.cp} has no USE flag ${f}${near.length > 0 ? ` (did you mean ${near.join(', ')}?)` : ''}`, {
    hint: `The builds on the binhost know: ${[...known].sort().join(' ')}.`,
    data: { package: builds[0].cpv.cp, flag: f, closest: near },
  })
}

function parseVariantOrThrow(raw: string) {
  try {
    return parseVariant(raw)
  } catch (e) {
    throw new NipError('ERR_NIP_BAD_SPEC', (e as Error).message, { hint: 'Write +flag, -flag, ~flag or key=value.', data: { variant: raw } })
  }
}

function newest(cpvs: Cpv[]): Cpv {
  return [...cpvs].sort((a, b) => compareVersions(b.parsed, a.parsed))[0]
}

function ebuildId(c: Cpv, variants: string[]): string {
  return ['ebuild:' + c.cpv, ...variants].join(' ')
}

function binaryRef(host: Binhost, p: BinaryPackage, variants: string[]): PackageRef {
  return { source: 'gentoo', name: p.cpv.name, version: p.cpv.version, id: [`binpkg:${p.path}@@${host.url}`, ...variants].join(' '), summary: p.raw.DESC }
}

type RefId =
  | { kind: 'ebuild'; cpv: string; variants: string[] }
  | { kind: 'binpkg'; host: string; path: string; variants: string[] }
  | { kind: 'local'; file: string; variants: string[] }

function parseRefId(id: string): RefId {
  const [head, ...variants] = id.split(' ')
  if (head.startsWith('ebuild:')) return { kind: 'ebuild', cpv: head.slice(7), variants }
  // `local:<absolute path, URI-encoded>`: a package file given on the command line.
  if (head.startsWith('local:')) return { kind: 'local', file: decodeURIComponent(head.slice(6)), variants }
  if (head.startsWith('binpkg:')) {
    // `binpkg:<PATH>@@<binhost URL>`: neither a PATH nor a URL contains "@@" or a space.
    const at = head.indexOf('@@')
    if (at > 7) return { kind: 'binpkg', path: head.slice(7, at), host: head.slice(at + 2), variants }
  }
  throw new NipError('ERR_NIP_BAD_SPEC', `not a gentoo package id: ${id}`, { data: { id } })
}

function notFound(ref: PackageRef): NipError {
  return new NipError('ERR_NIP_NOT_FOUND', `gentoo no longer offers ${ref.id}`, { hint: 'Run the command again; the index may have changed.', data: { id: ref.id } })
}

/** PATH from a Packages index, normalised: relative, no `..`, no empty components. */
function safeRelativePath(p: string): string {
  const parts = p.split('/')
  if (p.startsWith('/') || parts.some((x) => x === '' || x === '.' || x === '..' || x.includes('\0'))) {
    throw new NipError('ERR_NIP_BAD_PACKAGE', `the binhost index names an unsafe PATH ${JSON.stringify(p)}`, { hint: 'The binhost index is corrupt or hostile.', data: { path: p } })
  }
  return p
}


function hostKey(url: string): string {
  return crypto.createHash('sha256').update(url).digest('hex').slice(0, 16)
}

async function checkSha1(file: string, want: string, label: string): Promise<void> {
  const h = crypto.createHash('sha1')
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer)
  const got = h.digest('hex')
  if (got !== want) {
    throw new NipError('ERR_NIP_HASH_MISMATCH', `${label}: SHA1 ${got} does not match the index (${want})`, {
      hint: 'The binary package is corrupt or was tampered with; nothing was grafted.',
      data: { file: label, algorithm: 'sha1', expected: want, actual: got },
    })
  }
}

async function verifyLocal(file: string, pkg: BinaryPackage, label: string): Promise<void> {
  const st = await fs.promises.stat(file)
  if (pkg.size !== undefined && st.size !== pkg.size) {
    throw new NipError('ERR_NIP_SIZE_MISMATCH', `${label} is ${st.size} bytes, the index says ${pkg.size}`, { data: { file: label, expected: pkg.size, actual: st.size } })
  }
  for (const [algo, want] of [['md5', pkg.md5], ['sha1', pkg.sha1]] as const) {
    if (want === undefined) continue
    const h = crypto.createHash(algo)
    for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer)
    const got = h.digest('hex')
    if (got !== want) {
      throw new NipError('ERR_NIP_HASH_MISMATCH', `${label}: ${algo.toUpperCase()} ${got} does not match the index (${want})`, {
        hint: 'The binary package is corrupt or was tampered with; nothing was grafted.',
        data: { file: label, algorithm: algo, expected: want, actual: got },
      })
    }
  }
}

function checkIdentity(pkg: BinaryPackage, category: string | undefined, pf: string | undefined, label: string): void {
  const c = category?.trim()
  const f = pf?.trim()
  if (c !== pkg.cpv.category || f !== `${pkg.cpv.name}-${pkg.cpv.version}`) {
    throw new NipError('ERR_NIP_BAD_PACKAGE', `${label} contains ${c ?? '?'}/${f ?? '?'}, the index says ${pkg.cpv.cpv}`, {
      hint: 'The binhost index and the package disagree; nothing was grafted.',
      data: { file: label, expected: pkg.cpv.cpv, actual: `${c}/${f}` },
    })
  }
}
