/**
 * `nip build --source gentoo CATEGORY/NAME[@VERSION] [+flag…]`: the real `emerge --buildpkg` from
 * the Portage that `nip bootstrap install gentoo` grafted, in a bubblewrap namespace, and the GPKG
 * it writes read by the Gentoo adapter's GPKG reader into the CAS (DESIGN §8: no second unpacker).
 *
 * - resolve: the ebuild, its metadata and the USE it is built with, checked by the adapter's USE
 *   semantics before anything runs; the ref's version is PVR plus the enabled IUSE flags
 *   (`2.10-r1~nls`), so each USE set is its own version directory; the id carries the fingerprint.
 * - fetch: the stored output of the fingerprint when every blob is still in the CAS; else the
 *   distfiles (nip fetches them: `[build] distfile-mirrors`, then the Debian pool's `.orig`
 *   tarball of the same name and version, then the ebuild's own http(s) URLs), each checked
 *   against the Manifest's size, SHA512 and BLAKE2B (ERR_NIP_DISTFILE_MISMATCH), then emerge in
 *   the namespace (namespace.ts), then the new GPKG through readGpkg, then the record.
 * - dependencies (deps.ts): each atom is grafted, provided (`[build] gentoo-provided`), on the
 *   host (hostPackages.ts), to build first (planGentooDependencies, which the CLI walks), or unmet
 *   (ERR_NIP_UNSATISFIED_DEPENDENCY before anything runs); what is satisfied becomes the
 *   namespace's package.provided and emerge runs without --nodeps; the grafted programs are the
 *   built program's recorded dependencies and are seen by the build through a link view (the
 *   version directory each decision chose). A dependency to build is planned with the USE flags
 *   its dependents' atoms require; each build keeps its SLOT, USE and IUSE (from the GPKG) in
 *   its stored output record, which later plans match atoms against.
 * - prefix: Portage's EPREFIX is the version directory the program is grafted into
 *   (`/Programs/<name>/<version>`, namespace.ts), so the paths compiled in are the program's own;
 *   the image's `<EPREFIX>/usr/X` is grafted as `X` (readGpkg's `eprefix`) beside a `usr → .`
 *   link (and `etc → ../Settings` with configuration): withPrefixLinks.
 * The fingerprint covers the EPREFIX, the ebuild's bytes, the Manifest, the profile's files, the USE words,
 * the Portage and repository tree digest (the gentoo-tools program), and bubblewrap's version.
 * GPKGs are kept in `<cache>/build/gentoo/packages` (binpkg-multi-instance: one per USE set).
 */
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { blake3Hex } from '@nip/cas'
import { Database, NipError, download, type AdapterContext, type FetchResult, type Layout, type PackageManifest, type PackageRef, type PackageSpec, type TreeEntry } from '@nip/core'
import { parseCpv, readGpkg } from '@nip/adapter-gentoo'
import type { Executor } from '../executor.js'
import { buildPaths, storedOutput, type StoredOutput } from '../builder.js'
import { readBuildSettings, type BuildSettings } from '../settings.js'
import { debianMirrors, poolUrl } from '../mirror.js'
import { bootstrapRecipeDirs, graftedTool } from '../bootstrap/tools.js'
import { loadBootstrapRecipe } from '../bootstrap/recipe.js'
import { recordPath } from '../bootstrap/repository.js'
import { buildLogPath, tailLines } from '../buildLog.js'
import { appendLog, closeLog, makeWorkDir, mkdirp, openLog, removeTree, writeJsonAtomic } from '../buildFs.js'
import { META_KEYS, profileName, repoBuildable, resolveEbuild, type ResolvedEbuild } from './ebuild.js'
import { atomUseDeps, buildRecordOf, decideDependencies, ebuildDependencies, graftedCpv, graftedUse, knownSatisfies, packageProvided, type DependencyDecision, type GentooBuildRecord, type KnownPackage } from './deps.js'
import { hostProvided, readDpkgStatus } from './hostPackages.js'
import { eprefixOf, portageMetadata, runEmerge } from './namespace.js'

export const GENTOO_PREFIX = 'gentoo:'
const SCHEMA = 'nip-gentoo-build/2'

interface GentooTool {
  program: string
  version: string
  dir: string
  portage: string
  repo: string
  digest: string
  /** The repository's tree digest when it was installed from a configured location. */
  repoDigest: string
}

/** The gentoo tools nip grafted (Portage and the repository), or ERR_NIP_TOOL_MISSING. */
export function gentooTool(settings: BuildSettings, layout: Layout): GentooTool {
  const recipe = loadBootstrapRecipe(bootstrapRecipeDirs(settings, layout), 'gentoo', settings)
  const g = graftedTool(layout, recipe.program)
  const portage = g ? path.join(g.dir, 'libexec', 'portage') : ''
  const repo = g ? path.join(g.dir, 'libexec', 'repo') : ''
  if (!g || !existsSync(path.join(portage, 'bin', 'emerge')) || !existsSync(path.join(repo, 'profiles'))) {
    throw new NipError('ERR_NIP_TOOL_MISSING', `Building from Gentoo ebuilds needs Portage and an ebuild repository in this root (${recipe.program}), and they are not installed.`, {
      hint: 'Run nip bootstrap install gentoo (nip bootstrap info gentoo shows the ways to get it).',
      data: { tool: 'gentoo', program: recipe.program },
    })
  }
  let digest = ''
  let db: Database | null = null
  try {
    db = Database.openReader(layout.dbPath)
    digest = db?.programsNamed(recipe.program).find((p) => p.version === g.version)?.tree_digest ?? ''
  } finally {
    db?.close()
  }
  // The repository's own digest, recorded at install (a configured directory or snapshot): a
  // changed repository changes every build's fingerprint, whatever else the tree holds.
  let repoDigest = ''
  try {
    repoDigest = (JSON.parse(readFileSync(path.join(g.dir, recordPath('libexec/repo')), 'utf8')) as { digest?: string }).digest ?? ''
  } catch {
    repoDigest = ''
  }
  return { program: recipe.program, version: g.version, dir: g.dir, portage, repo, digest, repoDigest }
}

function bwrapVersion(): string {
  try {
    return execFileSync('bwrap', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return 'absent'
  }
}

export interface GentooPlan {
  tool: GentooTool
  ebuild: ResolvedEbuild
  name: string
  version: string
  /** Portage's EPREFIX for this build: the version directory it is grafted into (`/Programs/<name>/<version>`). */
  eprefix: string
  fingerprint: string
  /** How each dependency the ebuild declares (with this USE) is satisfied (deps.ts). */
  dependencies: DependencyDecision[]
  blockers: string[]
}

/**
 * What satisfies atoms without a build: the programs nip grafted in this root from the gentoo
 * source, `[build] gentoo-provided`, and (unless `gentoo-host-packages = false`) the host's
 * Debian packages through the shipped table. `dpkgStatus`: another status file (tests).
 */
export function knownPackages(settings: BuildSettings, layout: Layout, dpkgStatus?: string): (KnownPackage & { digest?: string })[] {
  const out: (KnownPackage & { digest?: string })[] = []
  let db: Database | null = null
  try {
    db = Database.openReader(layout.dbPath)
    for (const row of db?.activePrograms() ?? []) {
      const cpv = graftedCpv(row)
      if (!cpv) continue
      // A program nip built: its build record (SLOT, USE, IUSE from the GPKG) when it is kept.
      const rec = row.source === 'build' ? buildRecord(layout, row.package_id) : null
      const facts: Partial<KnownPackage> = rec && rec.cpv === cpv ? { slot: rec.slot, subSlot: rec.subSlot, use: rec.use, iuse: rec.iuse } : graftedUse(row)
      out.push({ cpv, how: 'grafted', ...facts, program: { name: row.name, version: row.version }, digest: row.tree_digest })
    }
  } finally {
    db?.close()
  }
  for (const cpv of settings.gentooProvided) out.push({ cpv, how: 'provided' })
  if (settings.gentooHostPackages) for (const h of hostProvided(readDpkgStatus(dpkgStatus))) out.push({ cpv: h.cpv, how: 'host', debian: h.debian })
  return out
}

/** The record a gentoo build keeps beside its stored output (`gentoo:<cpv>#<fingerprint>`), or null. */
export function buildRecord(layout: Layout, packageId: string): GentooBuildRecord | null {
  const m = /^gentoo:[^#\s]+#([0-9a-f]+)/.exec(packageId)
  if (!m) return null
  try {
    const rec = (JSON.parse(readFileSync(path.join(buildPaths(layout).outputs, `${m[1]}.json`), 'utf8')) as { gentoo?: GentooBuildRecord }).gentoo
    return rec && typeof rec.slot === 'string' && Array.isArray(rec.use) && Array.isArray(rec.iuse) ? rec : null
  } catch {
    return null
  }
}

/**
 * The directory name core grafts a program named `name` under: a program already grafted under
 * another case of the name keeps its directory (`Hello` for `hello`), as the transaction does.
 */
export function programDirName(layout: Pick<Layout, 'dbPath'>, name: string): string {
  let db: Database | null = null
  try {
    db = Database.openReader(layout.dbPath)
    return db?.programsNamed(name)[0]?.name ?? name
  } finally {
    db?.close()
  }
}

export function planGentoo(spec: { atom: string; version?: string; variants: string[] }, ctx: Pick<AdapterContext, 'config' | 'layout'>): GentooPlan {
  const settings = readBuildSettings(ctx.config)
  const tool = gentooTool(settings, ctx.layout)
  const portage = (cpv: string) => {
    if (process.getuid?.() !== 0) return null
    const work = makeWorkDir(buildPaths(ctx.layout).work, 'gentoo-metadata')
    try {
      return portageMetadata({ work, portage: tool.portage, repo: tool.repo, profileName: profileName(tool.repo, settings.gentooProfile), cpv, keys: META_KEYS })
    } finally {
      removeTree(work)
    }
  }
  const ebuild = resolveEbuild({ repo: tool.repo, atom: spec.atom, variants: spec.variants, portage, ...(spec.version ? { version: spec.version } : {}), ...(settings.gentooProfile ? { profile: settings.gentooProfile } : {}) })
  const own = ebuild.use.enabled.filter((f) => ebuild.use.iuse.includes(f))
  const version = `${ebuild.md.cpv.version}${own.length > 0 ? `~${own.join('~')}` : ''}`
  const profileFiles = ebuild.profile.dirs.flatMap((d) => (existsSync(d) ? readdirSync(d).sort().filter((f) => statSync(path.join(d, f)).isFile()).map((f) => [path.relative(tool.repo, path.join(d, f)), blake3Hex(readFileSync(path.join(d, f)))]) : []))
  const { dependencies: deps, blockers } = ebuildDependencies(ebuild.md, ebuild.use.enabled)
  const known = deps.length > 0 ? knownPackages(settings, ctx.layout) : []
  const dependencies = decideDependencies(deps, known, (atom) => repoBuildable(tool.repo, atom))
  // What the build sees of its dependencies is part of the fingerprint: the grafted programs'
  // tree digests and the versions the host or the configuration provide.
  const depDoc = dependencies.map((d) => [d.atom, d.how, d.cpv ?? '', d.program ? (known.find((k) => k.program?.name === d.program!.name && k.program.version === d.program!.version)?.digest ?? '') : ''])
  // The EPREFIX (the version directory) is compiled into the program: part of the fingerprint.
  const eprefix = eprefixOf(programDirName(ctx.layout, ebuild.md.cpv.name), version)
  const doc = JSON.stringify([SCHEMA, eprefix, ebuild.md.cpv.cpv, blake3Hex(Buffer.from(ebuild.text)), blake3Hex(Buffer.from(ebuild.manifest)), profileFiles, ebuild.useWords, [tool.program, tool.version, tool.digest, tool.repoDigest], bwrapVersion(), ...(depDoc.length > 0 ? [depDoc] : [])])
  return { tool, ebuild, name: ebuild.md.cpv.name, version, eprefix, fingerprint: blake3Hex(Buffer.from(doc)), dependencies, blockers }
}

function specOf(name: string, version?: string): { atom: string; version?: string } {
  return { atom: name.slice(GENTOO_PREFIX.length), ...(version ? { version } : {}) }
}

export async function resolve(spec: PackageSpec, ctx: AdapterContext, _executor: Executor): Promise<PackageRef[]> {
  const plan = planGentoo({ ...specOf(spec.name, spec.version), variants: spec.variants ?? [] }, ctx)
  return [refOf(plan, spec.variants)]
}

function refOf(plan: GentooPlan, variants: string[] | undefined): PackageRef {
  return {
    source: 'build',
    name: plan.name,
    version: plan.version,
    id: `${GENTOO_PREFIX}${plan.ebuild.md.cpv.cpv}#${plan.fingerprint}`,
    summary: plan.ebuild.md.description,
    ...(variants && variants.length > 0 ? { variants } : {}),
  }
}

function planOfRef(ref: PackageRef, ctx: AdapterContext): GentooPlan {
  const cpv = ref.id.slice(GENTOO_PREFIX.length).replace(/#.*$/, '')
  const m = /^([^/]+)\/(.+)$/.exec(cpv)!
  const pf = m[2]
  const atom = `${m[1]}/${ref.name}`
  const version = pf.slice(ref.name.length + 1)
  return planGentoo({ atom, version, variants: ref.variants ?? [] }, ctx)
}

export async function describe(ref: PackageRef, ctx: AdapterContext, _executor: Executor): Promise<PackageManifest> {
  const plan = planOfRef(ref, ctx)
  const cached = (await storedOutput(ctx.layout, ctx.cas, plan.fingerprint)) !== null
  return {
    ref,
    // The programs nip grafted that satisfy the ebuild's dependencies: recorded as the built
    // program's dependencies (nip why, list --deps, removal protection).
    dependencies: graftedDependencies(plan),
    provides: [],
    conflicts: [],
    downloadSize: plan.ebuild.distfiles.reduce((n, d) => n + d.record.size, 0),
    installedSize: 0,
    description: plan.ebuild.md.description,
    ...(plan.ebuild.md.license ? { license: plan.ebuild.md.license } : {}),
    ...(plan.ebuild.md.homepage ? { homepage: plan.ebuild.md.homepage } : {}),
    variants: plan.ebuild.useWords.map((w) => (w.startsWith('-') ? w : `+${w}`)),
    hashes: Object.fromEntries(plan.ebuild.distfiles.map((d) => [d.name, `sha512:${d.record.sha512 ?? ''}`])),
    extra: { ebuild: plan.ebuild.file, cpv: plan.ebuild.md.cpv.cpv, eapi: plan.ebuild.md.eapi, metadata: plan.ebuild.metadataFrom, profile: plan.ebuild.profileName, use: plan.ebuild.useWords, fingerprint: plan.fingerprint, cached, dependencies: plan.dependencies, ...(plan.blockers.length > 0 ? { blockers: plan.blockers } : {}) },
  }
}

function graftedDependencies(plan: GentooPlan): PackageManifest['dependencies'] {
  const out = new Map<string, PackageManifest['dependencies'][number]>()
  for (const d of plan.dependencies) if (d.how === 'grafted' && d.program && !out.has(d.program.name)) out.set(d.program.name, { name: d.program.name, constraint: '', raw: d.atom })
  return [...out.values()]
}

/** Refuses a plan with dependencies nip did not build first or that nothing satisfies. */
export function assertDependenciesMet(plan: GentooPlan): void {
  const open = plan.dependencies.filter((d) => d.how === 'build' || d.how === 'unmet')
  if (open.length === 0) return
  throw unmetError(open.map((d) => ({ atom: d.atom, requiredBy: plan.ebuild.md.cpv.cpv, how: d.how })))
}

export function unmetError(unmet: { atom: string; requiredBy: string; how: string }[]): NipError {
  const lines = unmet.map((u) => `  ${u.atom} (required by ${u.requiredBy})${u.how === 'build' ? ': not built yet' : ': neither grafted, provided nor in the ebuild repository'}`).join('\n')
  return new NipError('ERR_NIP_UNSATISFIED_DEPENDENCY', `Dependencies of the ebuild cannot be satisfied:\n${lines}`, {
    hint: unmet.some((u) => u.how === 'build')
      ? 'Build through nip build --source gentoo, which builds the dependencies the repository has first; nothing was built.'
      : 'List what the host provides in [build] gentoo-provided (e.g. "sys-libs/zlib-1.2.13"), or add the ebuild to the repository; nothing was built.',
    data: { unmet },
  })
}

export interface GentooDependencyStep {
  /** CATEGORY/NAME and the version to build (`build:gentoo:<atom>@<version>`). */
  atom: string
  version: string
  cpv: string
  requiredBy: string
  /** The USE words the dependents' atoms require (`+flag`, `-flag`), added to its default USE. */
  variants: string[]
}

export interface GentooDependencyPlan {
  target: string
  /** Each package of the graph (the target and those to build) with its decisions. */
  packages: { cpv: string; metadata: ResolvedEbuild['metadataFrom']; dependencies: DependencyDecision[]; blockers: string[] }[]
  /** What is built and grafted first, dependencies before dependents. */
  builds: GentooDependencyStep[]
}

/** A flag a dependent's atom requires of a package to build, and which atom requires it. */
interface UseRequirement {
  on: boolean
  atom: string
  requiredBy: string
}

function useConflict(message: string, hint: string, data: Record<string, unknown>): NipError {
  return new NipError('ERR_NIP_VARIANT_CONFLICT', message, { hint, data })
}

/**
 * The dependency graph of a gentoo build: every `build` decision is planned in turn, depth first,
 * so `builds` lists dependencies before dependents. A dependency is built with its default USE
 * plus the flags the atoms naming it require (`[a,-b]`; a flag outside its IUSE is met by a
 * `(+)`/`(-)` default or refused), checked by the same USE semantics as the command line
 * (unknown, masked, forced flags, REQUIRED_USE): a refusal names the requiring atom. Two atoms
 * requiring a flag on and off are ERR_NIP_VARIANT_CONFLICT naming both. A cycle is
 * ERR_NIP_DEPENDENCY_CYCLE; atoms nothing satisfies anywhere in the graph are one
 * ERR_NIP_UNSATISFIED_DEPENDENCY naming them all — all before anything is built.
 */
export function planGentooDependencies(spec: { atom: string; version?: string; variants: string[] }, ctx: Pick<AdapterContext, 'config' | 'layout'>): GentooDependencyPlan {
  const top = planGentoo(spec, ctx)
  // The flags required of each CPV to build, gathered over the whole graph: a requirement found
  // after its package was planned restarts the walk with it (each restart adds a flag, so it ends).
  const required = new Map<string, Map<string, UseRequirement>>()
  const plans = new Map<string, GentooPlan>()
  const require = (cpv: string, atom: string, requiredBy: string): boolean => {
    let flags = required.get(cpv)
    if (!flags) required.set(cpv, (flags = new Map()))
    let added = false
    for (const u of atomUseDeps(atom)) {
      const on = u.prefix !== '-'
      const had = flags.get(u.flag)
      if (had && had.on !== on) {
        throw useConflict(
          `Two dependencies require ${cpv} with USE flag ${u.flag} both on and off:\n  ${had.atom} (required by ${had.requiredBy})\n  ${atom} (required by ${requiredBy})`,
          'One package cannot be built with a flag on and off; build one of the dependents on its own, or list the package in [build] gentoo-provided; nothing was built.',
          { package: cpv, flag: u.flag, atoms: [{ atom: had.atom, requiredBy: had.requiredBy }, { atom, requiredBy }] },
        )
      }
      if (!had) {
        flags.set(u.flag, { on, atom, requiredBy })
        added = true
      }
    }
    return added
  }
  const planDependency = (cpv: string): GentooPlan => {
    const { category, name, version } = parseCpv(cpv)!
    const atom = `${category}/${name}`
    const flags = required.get(cpv) ?? new Map<string, UseRequirement>()
    const key = `${cpv} ${[...flags].map(([f, r]) => (r.on ? `+${f}` : `-${f}`)).sort().join(' ')}`
    const seen = plans.get(key)
    if (seen) return seen
    const base = planGentoo({ atom, version, variants: [] }, ctx)
    const iuse = new Set(base.ebuild.use.iuse)
    const variants: string[] = []
    for (const [flag, r] of flags) {
      if (iuse.has(flag)) {
        variants.push(r.on ? `+${flag}` : `-${flag}`)
        continue
      }
      // Outside IUSE: the atom's `(+)`/`(-)` default decides (Portage's semantics); none refuses.
      const dep = atomUseDeps(r.atom).find((u) => u.flag === flag)
      if (!dep || dep.fallback === '' || (dep.fallback === '(+)') !== r.on) {
        throw useConflict(`${r.atom} (required by ${r.requiredBy}) requires USE flag ${flag} ${r.on ? 'on' : 'off'}, which ${cpv} ${dep?.fallback ? `does not have; its default ${dep.fallback} says otherwise` : 'does not have'}.`, `${cpv} has the USE flags: ${[...iuse].join(', ') || 'none'}; nothing was built.`, { package: cpv, flag, atom: r.atom, requiredBy: r.requiredBy })
      }
    }
    variants.sort()
    let plan: GentooPlan
    try {
      plan = variants.length === 0 ? base : planGentoo({ atom, version, variants }, ctx)
    } catch (e) {
      if (!(e instanceof NipError) || e.code !== 'ERR_NIP_BAD_SPEC') throw e
      const by = [...flags.values()].filter((r, i, all) => all.findIndex((x) => x.atom === r.atom && x.requiredBy === r.requiredBy) === i)
      throw useConflict(`${cpv} cannot be built with the USE its dependents require (${variants.join(' ')}):\n${by.map((r) => `  ${r.atom} (required by ${r.requiredBy})`).join('\n')}\n${e.message}`, `${e.hint ?? ''} Nothing was built.`.trim(), { package: cpv, variants, atoms: by, cause: e.data ?? {} })
    }
    // What the profile forces or masks may still differ: the plan must meet every atom.
    const facts: KnownPackage = { cpv, how: 'grafted', slot: plan.ebuild.md.slot, subSlot: plan.ebuild.md.subSlot, use: plan.ebuild.use.enabled.filter((f) => plan.ebuild.use.iuse.includes(f)), iuse: plan.ebuild.use.iuse }
    for (const r of flags.values()) {
      if (!knownSatisfies(r.atom, facts)) throw useConflict(`${cpv} built with USE "${plan.ebuild.useWords.join(' ')}" does not meet ${r.atom} (required by ${r.requiredBy}).`, 'The profile forces or masks a flag the atom requires; nothing was built.', { package: cpv, atom: r.atom, requiredBy: r.requiredBy, use: plan.ebuild.useWords })
    }
    plans.set(key, plan)
    return plan
  }
  for (;;) {
    const packages: GentooDependencyPlan['packages'] = []
    const builds: GentooDependencyStep[] = []
    const unmet: { atom: string; requiredBy: string; how: string }[] = []
    const done = new Set<string>()
    let restart = false
    const visit = (plan: GentooPlan, stack: string[]) => {
      const cpv = plan.ebuild.md.cpv.cpv
      packages.push({ cpv, metadata: plan.ebuild.metadataFrom, dependencies: plan.dependencies, blockers: plan.blockers })
      for (const d of plan.dependencies) {
        if (restart) return
        if (d.how === 'unmet') unmet.push({ atom: d.atom, requiredBy: cpv, how: d.how })
        if (d.how !== 'build') continue
        const dep = d.cpv!
        if (stack.includes(dep) || dep === cpv) {
          const cycle = [...stack.slice(stack.indexOf(dep) < 0 ? stack.length : stack.indexOf(dep)), cpv, dep]
          throw new NipError('ERR_NIP_DEPENDENCY_CYCLE', `The ebuilds' dependencies form a cycle: ${cycle.join(' → ')}.`, {
            hint: 'Break it with [build] gentoo-provided (list one of them as provided), or graft one of them first; nothing was built.',
            data: { cycle },
          })
        }
        if (require(dep, d.chosen ?? d.atom, cpv) && done.has(dep)) {
          restart = true
          return
        }
        if (done.has(dep)) continue
        const sub = planDependency(dep)
        visit(sub, [...stack, cpv])
        if (restart) return
        done.add(dep)
        const { category, name, version } = parseCpv(dep)!
        const flags = required.get(dep) ?? new Map<string, UseRequirement>()
        const iuse = sub.ebuild.use.iuse
        const variants = [...flags].filter(([f]) => iuse.includes(f)).map(([f, r]) => (r.on ? `+${f}` : `-${f}`)).sort()
        builds.push({ atom: `${category}/${name}`, version, cpv: dep, requiredBy: cpv, variants })
      }
    }
    visit(top, [])
    if (restart) continue
    if (unmet.length > 0) throw unmetError(unmet)
    return { target: top.ebuild.md.cpv.cpv, packages, builds }
  }
}

function gentooPaths(layout: Layout) {
  const base = path.join(buildPaths(layout).base, 'gentoo')
  return { distfiles: path.join(base, 'distfiles'), packages: path.join(base, 'packages') }
}

/** Debian keeps many upstream tarballs as `<pn>_<pv>.orig.tar.<ext>`: the same bytes, checked against the Manifest all the same. */
function debianCandidates(name: string, pn: string, pv: string, mirrors: string[]): string[] {
  const m = new RegExp(`^${pn.replace(/[.+]/g, '\\$&')}-${pv.replace(/[.+]/g, '\\$&')}\\.tar\\.(gz|xz|bz2)$`).exec(name)
  if (!m) return []
  return mirrors.map((mirror) => poolUrl(mirror, `${pn}/${pn}_${pv}.orig.tar.${m[1]}`))
}

async function fetchDistfiles(plan: GentooPlan, ctx: AdapterContext, settings: BuildSettings): Promise<string> {
  const dir = gentooPaths(ctx.layout).distfiles
  mkdirp(dir)
  const mirrors = debianMirrors(ctx.sourceConfig?.('debian') ?? {})
  const cpv = plan.ebuild.md.cpv
  for (const d of plan.ebuild.distfiles) {
    const urls = [...settings.distfileMirrors.map((m) => `${m}/${d.name}`), ...debianCandidates(d.name, cpv.name, cpv.versionNoRevision, mirrors), ...d.uris.filter((u) => /^https?:\/\//.test(u))]
    const dest = path.join(dir, d.name)
    const mismatch = (why: string, data: Record<string, unknown> = {}) =>
      new NipError('ERR_NIP_DISTFILE_MISMATCH', `${d.name} does not match ${cpv.cp}'s Manifest: ${why}.`, { hint: 'A mirror serves other bytes than the ebuild repository names; nothing was built or grafted.', data: { distfile: d.name, manifest: d.record, ...data } })
    if (urls.length === 0) throw new NipError('ERR_NIP_FETCH_FAILED', `No URL to fetch ${d.name} from.`, { hint: 'Set [build] distfile-mirrors (URL/<file>); docs/gentoo.md.', data: { distfile: d.name } })
    try {
      await download({ urls, dest, ...(d.record.sha512 ? { expectHash: { algorithm: 'sha512', digest: d.record.sha512 } } : {}), retries: 1, reporter: ctx.reporter, label: d.name, ...(ctx.signal ? { signal: ctx.signal } : {}) })
    } catch (e) {
      const attempts = (e as NipError).data?.attempts as { reason: string; url: string }[] | undefined
      const wrong = attempts?.filter((a) => a.reason === 'hash-mismatch') ?? []
      if (e instanceof NipError && wrong.length > 0) throw mismatch(`SHA512 differs (from ${wrong.map((w) => w.url).join(', ')})`, { urls: wrong.map((w) => w.url) })
      throw e
    }
    const data = readFileSync(dest)
    if (data.length !== d.record.size) throw mismatch(`${data.length} bytes, the Manifest says ${d.record.size}`)
    if (d.record.blake2b && createHash('blake2b512').update(data).digest('hex') !== d.record.blake2b) throw mismatch('BLAKE2B differs')
  }
  return dir
}

/**
 * The program was built for `<EPREFIX>/usr` and is grafted with `usr/X` as `X`: a `usr → .`
 * symlink in the version directory makes the compiled-in `<EPREFIX>/usr/share/locale` (and every
 * other `<EPREFIX>/usr/…` path) resolve inside the tree. Configuration (`<EPREFIX>/etc/X`) is
 * grafted as `Settings/X`, in the program's `Settings` beside its versions: when there is any,
 * an `etc → ../Settings` symlink makes the compiled-in `<EPREFIX>/etc` resolve there. Both are
 * entries of the tree core grafts, so the database owns them and verify checks them.
 */
export function withPrefixLinks(entries: TreeEntry[]): TreeEntry[] {
  const links: TreeEntry[] = [{ path: 'usr', type: 'symlink', mode: 0o777, target: '.' }]
  if (entries.some((e) => e.settings === true)) links.push({ path: 'etc', type: 'symlink', mode: 0o777, target: '../Settings' })
  const taken = entries.find((e) => links.some((l) => e.path === l.path || e.path.startsWith(`${l.path}/`)))
  if (taken) {
    throw new NipError('ERR_NIP_BAD_PACKAGE', `The binary package holds ${taken.path} at the top of the program, where nip puts its ${taken.path.split('/')[0]} link.`, {
      hint: 'The ebuild installs into <EPREFIX>/usr/usr or <EPREFIX>/usr/etc; nothing was grafted.',
      data: { path: taken.path },
    })
  }
  return [...entries, ...links].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

function listGpkgs(dir: string): Set<string> {
  const out = new Set<string>()
  if (!existsSync(dir)) return out
  for (const n of readdirSync(dir)) if (n.endsWith('.gpkg.tar')) out.add(n)
  return out
}

export async function fetch(ref: PackageRef, ctx: AdapterContext, _executor: Executor): Promise<FetchResult> {
  const settings = readBuildSettings(ctx.config)
  const plan = planOfRef(ref, ctx)
  if (plan.version !== ref.version) throw new NipError('ERR_NIP_INTERNAL', `The gentoo build of ${ref.name} resolved to ${plan.version}, not the planned ${ref.version}.`, { data: { ref } })
  if (!settings.rebuild) {
    const stored = await storedOutput(ctx.layout, ctx.cas, plan.fingerprint)
    if (stored) {
      ctx.reporter.emit({ type: 'info', message: `${plan.ebuild.md.cpv.cpv} (USE ${plan.ebuild.useWords.join(' ')}): fingerprint ${plan.fingerprint.slice(0, 16)} is stored; not building.` })
      return { ref, entries: stored.entries, downloaded: 0 }
    }
  }
  assertDependenciesMet(plan)
  const started = process.hrtime.bigint()
  const distdir = await fetchDistfiles(plan, ctx, settings)
  const pkgdir = gentooPaths(ctx.layout).packages
  mkdirp(pkgdir)
  const cpv = plan.ebuild.md.cpv
  const gpkgDir = path.join(pkgdir, cpv.category, cpv.name)
  const before = listGpkgs(gpkgDir)
  const log = buildLogPath(ctx.layout.logDir, plan.name, plan.version, plan.fingerprint)
  const work = makeWorkDir(buildPaths(ctx.layout).work, `gentoo-${plan.name}-${plan.fingerprint.slice(0, 12)}`)
  const fd = openLog(log)
  let entries: TreeEntry[]
  let record: GentooBuildRecord
  try {
    appendLog(fd, `# nip build --source gentoo ${cpv.cpv}\n# USE ${plan.ebuild.useWords.join(' ')}\n# fingerprint ${plan.fingerprint}\n# portage ${plan.tool.program} ${plan.tool.version}\n`)
    ctx.reporter.emit({ type: 'info', message: `emerge --buildpkg =${cpv.cpv} (USE="${plan.ebuild.useWords.join(' ')}")` })
    const provided = packageProvided(plan.dependencies)
    // The very version directories the decisions chose (a build meeting `[extra]` need not be Current).
    const depPrograms = [...new Set(plan.dependencies.filter((d) => d.how === 'grafted' && d.program).map((d) => `${d.program!.name}/${d.program!.version}`))]
    if (provided) appendLog(fd, `# package.provided:\n${provided.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => `#   ${l}`).join('\n')}\n`)
    const outcome = await runEmerge({ plan, work, distdir, pkgdir, logFd: fd, jobs: settings.jobs, provided, programsDir: ctx.layout.programsDir, depPrograms, ...(ctx.signal ? { signal: ctx.signal } : {}) })
    if (outcome.exitCode !== 0) {
      const status = outcome.signal ? `was killed by ${outcome.signal}` : `exited with status ${outcome.exitCode}`
      appendLog(fd, `\n## emerge ${status}\n`)
      throw new NipError('ERR_NIP_BUILD_FAILED', `emerge of ${cpv.cpv} ${status}. Last lines of the log:\n${tailLines(log, 25).map((l) => `  ${l}`).join('\n')}\nFull log: ${log}`, {
        hint: `Read the log (nip logs --build ${plan.name}); nothing was grafted.`,
        data: { cpv: cpv.cpv, exitCode: outcome.exitCode, signal: outcome.signal, log, fingerprint: plan.fingerprint },
      })
    }
    const made = [...listGpkgs(gpkgDir)].filter((n) => !before.has(n)).sort()
    if (made.length !== 1) throw new NipError('ERR_NIP_BUILD_FAILED', `emerge of ${cpv.cpv} wrote ${made.length} new binary packages in ${gpkgDir}, not one.`, { hint: `Read the log: ${log}; nothing was grafted.`, data: { made, log } })
    const file = path.join(gpkgDir, made[0])
    const content = await readGpkg(file, { cas: ctx.cas, limits: ctx.limits, label: made[0], eprefix: plan.eprefix })
    const builtUse = (content.metadata.get('USE') ?? '').split(/\s+/).filter(Boolean)
    const wanted = plan.ebuild.use.enabled.filter((f) => plan.ebuild.use.iuse.includes(f))
    const wrong = plan.ebuild.use.iuse.filter((f) => wanted.includes(f) !== builtUse.includes(f))
    if (wrong.length > 0) throw new NipError('ERR_NIP_BUILD_FAILED', `${made[0]} was built with USE "${builtUse.join(' ')}", not the planned ${plan.ebuild.useWords.join(' ')}.`, { hint: `Read the log: ${log}; nothing was grafted.`, data: { wrong, log } })
    record = buildRecordOf(cpv.cpv, content.metadata)
    entries = withPrefixLinks(content.entries)
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    appendLog(fd, `\n## done in ${seconds.toFixed(1)} s: ${made[0]}, ${entries.length} entries\n`)
  } finally {
    closeLog(fd)
    if (!settings.keepWork) removeTree(work)
  }
  // The SLOT and USE of the build are kept with its output: later plans match `:slot` and USE
  // dependencies against the grafted program through them (knownPackages).
  const rec: StoredOutput & { gentoo: GentooBuildRecord } = { fingerprint: plan.fingerprint, name: plan.name, version: plan.version, digest: '', entries, builtAt: new Date().toISOString(), log, gentoo: record }
  writeJsonAtomic(path.join(buildPaths(ctx.layout).outputs, `${plan.fingerprint}.json`), rec)
  return { ref, entries }
}
