/**
 * What a Gentoo build needs to know about an ebuild before Portage runs: the ebuild chosen in the
 * repository (the highest version, or the one asked for), its metadata (EAPI, IUSE, REQUIRED_USE,
 * SRC_URI, SLOT, …), the profile, the Manifest's DIST records of its distfiles, and the USE it is
 * built with — computed and checked by the Gentoo adapter's USE semantics (unknown flag, masked or
 * forced flag, REQUIRED_USE violation: ERR_NIP_BAD_SPEC, naming the flag or clause).
 *
 * Metadata is read by sourcing the ebuild in bash with its global variables set (P, PN, PV, PR,
 * PVR, PF, CATEGORY) and `inherit` stubbed, inside bubblewrap (no network, nothing writable):
 * what an ebuild sets at global scope is read; what an inherited eclass would add is not (docs/gentoo.md).
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { NipError } from '@nip/core'
import { HOST_SYSTEM_DIRS, hostDirArgs } from '../bwrap.js'
import { atomMatches, compareVersions, computeEffectiveUse, parseAtom, parseCacheEntry, loadProfile, parsePf, toMetadata, useReduce, type EbuildMetadata, type EffectiveUse, type Profile } from '@nip/adapter-gentoo'
type Cpv = NonNullable<ReturnType<typeof parsePf>>

export interface DistRecord {
  name: string
  size: number
  blake2b?: string
  sha512?: string
}

export interface ResolvedEbuild {
  repo: string
  file: string
  text: string
  md: EbuildMetadata
  profile: Profile
  profileName: string
  use: EffectiveUse
  /** USE words passed to Portage: every IUSE flag on or off. */
  useWords: string[]
  /** Distfiles the ebuild needs with this USE, with their Manifest records. */
  distfiles: { name: string; uris: string[]; record: DistRecord }[]
  manifest: string
  /** Where the metadata was read: the md5-cache, Portage (eclasses applied), or the ebuild with inherit stubbed. */
  metadataFrom: MetadataSource
}

const ATOM = /^([A-Za-z0-9][A-Za-z0-9+_.-]*)\/([A-Za-z0-9][A-Za-z0-9+_-]*)$/

export function parseAtomName(text: string): { category: string; name: string } {
  const m = ATOM.exec(text)
  if (!m) throw new NipError('ERR_NIP_BAD_SPEC', `"${text}" is not a Gentoo package name (CATEGORY/NAME, e.g. app-misc/hello).`, { hint: 'Write nip build --source gentoo CATEGORY/NAME[@VERSION] [+flag…].', data: { atom: text } })
  return { category: m[1], name: m[2] }
}

/** The profile: `[build] gentoo-profile`, else the first amd64 line of profiles.desc. */
export function profileName(repo: string, configured?: string): string {
  if (configured) return configured
  try {
    for (const line of readFileSync(path.join(repo, 'profiles', 'profiles.desc'), 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/)
      if (f.length >= 2 && !f[0].startsWith('#') && f[0] === 'amd64') return f[1]
    }
  } catch {
    // below
  }
  throw new NipError('ERR_NIP_CONFIG', `The ebuild repository ${repo} names no amd64 profile in profiles/profiles.desc.`, { hint: 'Set [build] gentoo-profile (a directory under profiles/).', data: { repo } })
}

export const META_KEYS = ['EAPI', 'SLOT', 'IUSE', 'REQUIRED_USE', 'SRC_URI', 'KEYWORDS', 'DEPEND', 'RDEPEND', 'BDEPEND', 'PDEPEND', 'IDEPEND', 'LICENSE', 'DESCRIPTION', 'HOMEPAGE', 'RESTRICT', 'PROPERTIES']

export function readEbuildMetadata(file: string, category: string, pf: string, bwrap = 'bwrap'): Record<string, string> {
  const cpv = parsePf(category, pf)
  if (!cpv) throw new NipError('ERR_NIP_BAD_PACKAGE', `${file}: "${pf}" is not a package version.`, { data: { file } })
  const pr = /-(r\d+)$/.exec(cpv.version)?.[1] ?? 'r0'
  const env: Record<string, string> = { P: `${cpv.name}-${cpv.versionNoRevision}`, PN: cpv.name, PV: cpv.versionNoRevision, PR: pr, PVR: cpv.version, PF: pf, CATEGORY: category }
  const script = `inherit() { :; }; EXPORT_FUNCTIONS() { :; }; source /nip/ebuild || exit 3; for v in ${META_KEYS.join(' ')}; do printf '%s=%s\\0' "$v" "\${!v}"; done`
  const args = ['--unshare-all', '--die-with-parent', '--new-session', ...hostDirArgs(HOST_SYSTEM_DIRS), '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--ro-bind', file, '/nip/ebuild', '--chdir', '/tmp', '--clearenv', '--setenv', 'PATH', '/usr/bin:/bin']
  for (const [k, v] of Object.entries(env)) args.push('--setenv', k, v)
  let out: string
  try {
    out = execFileSync(bwrap, [...args, '--', '/bin/bash', '-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 })
  } catch (e) {
    throw new NipError('ERR_NIP_BAD_PACKAGE', `Cannot read the metadata of ${file}: ${((e as { stderr?: string }).stderr ?? (e as Error).message).trim().split('\n').slice(-3).join(' ')}`, { hint: 'The ebuild fails at global scope (or bubblewrap cannot run); nothing was built.', data: { file } })
  }
  const raw: Record<string, string> = {}
  for (const part of out.split('\0')) {
    const eq = part.indexOf('=')
    if (eq > 0) raw[part.slice(0, eq)] = part.slice(eq + 1).replace(/\s+/g, ' ').trim()
  }
  if (!raw.EAPI) raw.EAPI = '0'
  return raw
}

/**
 * The repository's metadata cache entry (`metadata/md5-cache/CATEGORY/PF`) when it is current:
 * its `_md5_` is the ebuild's MD5 and each `_eclasses_` MD5 is that of the repository's
 * `eclass/NAME.eclass` (Portage's own validity rule). null when there is none or it is stale.
 */
export function readCachedMetadata(repo: string, category: string, pf: string, file: string): Record<string, string> | null {
  let raw: Record<string, string>
  try {
    raw = parseCacheEntry(readFileSync(path.join(repo, 'metadata', 'md5-cache', category, pf), 'utf8'))
  } catch {
    return null
  }
  const md5 = (f: string) => createHash('md5').update(readFileSync(f)).digest('hex')
  try {
    if (raw._md5_ !== md5(file)) return null
    const ec = (raw._eclasses_ ?? '').split(/\s+/).filter(Boolean)
    for (let i = 0; i + 1 < ec.length; i += 2) if (md5(path.join(repo, 'eclass', `${ec[i]}.eclass`)) !== ec[i + 1]) return null
  } catch {
    return null
  }
  if (!raw.EAPI) raw.EAPI = '0'
  return raw
}

/** Whether the ebuild inherits eclasses (an `inherit` command at the start of a line). */
export function inheritsEclasses(text: string): boolean {
  return /^[ \t]*inherit[ \t]+\S/m.test(text)
}

export type MetadataSource = 'md5-cache' | 'portage' | 'ebuild'

export function parseManifest(text: string): Map<string, DistRecord> {
  const out = new Map<string, DistRecord>()
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/)
    if (f[0] !== 'DIST' || f.length < 3) continue
    const rec: DistRecord = { name: f[1], size: Number(f[2]) }
    for (let i = 3; i + 1 < f.length; i += 2) {
      if (f[i] === 'BLAKE2B') rec.blake2b = f[i + 1].toLowerCase()
      if (f[i] === 'SHA512') rec.sha512 = f[i + 1].toLowerCase()
    }
    out.set(rec.name, rec)
  }
  return out
}

/** SRC_URI with this USE as [file name, URLs]; `a -> b` renames. */
function distfilesOf(srcUri: string, use: string[], eapi: string): { name: string; uris: string[] }[] {
  const flat = (useReduce(srcUri, { use, isSrcUri: true, eapi, flat: true }) as string[]).filter((t) => typeof t === 'string' && t !== '||')
  const out = new Map<string, string[]>()
  for (let i = 0; i < flat.length; i++) {
    const t = flat[i]
    if (flat[i + 1] === '->') {
      const name = flat[i + 2]
      out.set(name, [...(out.get(name) ?? []), t])
      i += 2
      continue
    }
    const name = t.includes('://') ? decodeURIComponent(t.split('/').pop() ?? t) : t
    out.set(name, [...(out.get(name) ?? []), ...(t.includes('://') ? [t] : [])])
  }
  return [...out].map(([name, uris]) => ({ name, uris }))
}

/** The ebuilds of CATEGORY/NAME in the repository, highest version first. */
export function repoVersions(repo: string, category: string, name: string): { file: string; pf: string; cpv: Cpv }[] {
  const dir = path.join(repo, category, name)
  if (!existsSync(dir)) return []
  const out: { file: string; pf: string; cpv: Cpv }[] = []
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.ebuild') || !f.startsWith(`${name}-`)) continue
    const pf = f.slice(0, -'.ebuild'.length)
    const cpv = parsePf(category, pf)
    if (cpv) out.push({ file: path.join(dir, f), pf, cpv })
  }
  return out.sort((a, b) => compareVersions(b.cpv.version, a.cpv.version))
}

/** The CPV the repository would build for an atom (its highest matching version), or null. */
export function repoBuildable(repo: string, atomText: string): string | null {
  const atom = parseAtom(atomText, { allowRepo: true })
  if (!atom || atom.blocker || atom.wildcard) return null
  return repoVersions(repo, atom.category, atom.name).find((v) => atomMatches(atom, { cpv: v.cpv.cpv }))?.cpv.cpv ?? null
}

/**
 * `portage`: reads an ebuild's metadata through Portage itself (eclasses included), or answers
 * null when it cannot run here; used for an ebuild that inherits eclasses and has no current
 * md5-cache entry.
 */
export function resolveEbuild(opts: { repo: string; atom: string; version?: string; variants: string[]; profile?: string; bwrap?: string; portage?: (cpv: string) => Record<string, string> | null }): ResolvedEbuild {
  const { category, name } = parseAtomName(opts.atom)
  const dir = path.join(opts.repo, category, name)
  const versions = repoVersions(opts.repo, category, name)
  if (versions.length === 0) {
    throw new NipError('ERR_NIP_NOT_FOUND', `The ebuild repository has no ${category}/${name}.`, { hint: 'Check the name (CATEGORY/NAME); nip bootstrap info gentoo shows the repository in use.', data: { atom: opts.atom, repo: opts.repo } })
  }
  const chosen = opts.version ? versions.find((v) => v.cpv!.version === opts.version || v.cpv!.versionNoRevision === opts.version) : versions[0]
  if (!chosen) {
    throw new NipError('ERR_NIP_NOT_FOUND', `${category}/${name} has no version ${opts.version}.`, { hint: `Versions: ${versions.map((v) => v.cpv!.version).join(', ')}.`, data: { atom: opts.atom, version: opts.version } })
  }
  // Metadata: the repository's current md5-cache entry; else, for an ebuild inheriting eclasses,
  // Portage's own aux_get; else the ebuild sourced with inherit stubbed.
  let metadataFrom: MetadataSource = 'md5-cache'
  let raw = readCachedMetadata(opts.repo, category, chosen.pf, chosen.file)
  if (!raw && opts.portage && inheritsEclasses(readFileSync(chosen.file, 'utf8'))) {
    raw = opts.portage(chosen.cpv.cpv)
    metadataFrom = 'portage'
  }
  if (!raw) {
    raw = readEbuildMetadata(chosen.file, category, chosen.pf, opts.bwrap)
    metadataFrom = 'ebuild'
  }
  const md = toMetadata(chosen.cpv!, raw)
  const pname = profileName(opts.repo, opts.profile)
  const profile = loadProfile(path.join(opts.repo, 'profiles', pname))
  // Unknown, masked and forced flags and REQUIRED_USE violations are refused here (ERR_NIP_BAD_SPEC).
  let use: EffectiveUse
  try {
    use = computeEffectiveUse(md, profile, { variants: opts.variants })
  } catch (e) {
    // The adapter's hint points at `nip info`; a build names the ebuild's own flags.
    if (e instanceof NipError && /nip info/.test(e.hint ?? '')) throw new NipError(e.code, e.message, { hint: `${md.cpv.cpv} has the USE flags: ${md.iuse.map((f) => f.name).join(', ') || 'none'}.`, data: e.data ?? {}, cause: e })
    throw e
  }
  const useWords = [...use.iuse.map((f) => (use.enabled.includes(f) ? f : `-${f}`))]
  let manifest = ''
  try {
    manifest = readFileSync(path.join(dir, 'Manifest'), 'utf8')
  } catch {
    manifest = ''
  }
  const records = parseManifest(manifest)
  const distfiles = distfilesOf(md.srcUri, use.enabled, md.eapi).map((d) => {
    const record = records.get(d.name)
    if (!record) {
      throw new NipError('ERR_NIP_DISTFILE_MISMATCH', `${category}/${name}'s Manifest has no DIST record for ${d.name}.`, { hint: 'The ebuild repository is incomplete; nothing was built.', data: { distfile: d.name, ebuild: chosen.file } })
    }
    return { ...d, record }
  })
  return { repo: opts.repo, file: chosen.file, text: readFileSync(chosen.file, 'utf8'), md, profile, profileName: pname, use, useWords, distfiles, manifest, metadataFrom }
}
