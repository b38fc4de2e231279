/**
 * The packages a set of `Packages` stanzas offers (one architecture plus `all`), indexed by name
 * and by what they provide, and the dpkg status database of the host read the same way.
 */
import { NipError } from '@nip/core'
import type { Stanza } from './deb822.js'
import { packageNameProblem, parseRelations, type RelationGroup } from './relation.js'
import { compareVersions, isValidVersion } from './versionCompare.js'

export interface DebianPackage {
  name: string
  version: string
  architecture: string
  /** URL of the .deb (repository packages) or absolute path (a local file). */
  url?: string
  /** The same .deb on the source's mirrors, tried in order after `url`. */
  mirrorUrls?: string[]
  size?: number
  sha256?: string
  installedSize?: number
  summary?: string
  description?: string
  homepage?: string
  section?: string
  depends: RelationGroup[]
  preDepends: RelationGroup[]
  conflicts: RelationGroup[]
  breaks: RelationGroup[]
  provides: RelationGroup[]
  /** Which source it came from (its position in the configured list) and the index URL. */
  origin: string
  priority: number
}

export function packageFromStanza(s: Stanza, opts: { base?: string; origin: string; priority: number }): DebianPackage | null {
  const name = s.get('package')
  const version = s.get('version')
  const architecture = s.get('architecture')
  if (!name || !version || !architecture) return null
  // An entry dpkg could not install (illegal name, invalid version) is not offered.
  if (packageNameProblem(name) !== null || !isValidVersion(version)) return null
  const src = `${opts.origin} (${name})`
  const description = s.get('description')
  const pkg: DebianPackage = {
    name,
    version,
    architecture,
    depends: parseRelations(s.get('depends'), `${src} Depends`),
    preDepends: parseRelations(s.get('pre-depends'), `${src} Pre-Depends`),
    conflicts: parseRelations(s.get('conflicts'), `${src} Conflicts`, 'conflicts'),
    breaks: parseRelations(s.get('breaks'), `${src} Breaks`, 'breaks'),
    provides: parseRelations(s.get('provides'), `${src} Provides`, 'provides'),
    origin: opts.origin,
    priority: opts.priority,
  }
  const filename = s.get('filename')
  if (filename !== undefined && opts.base !== undefined) pkg.url = archiveUrl(filename, opts.base, src)
  const size = s.get('size')
  if (size !== undefined && /^[0-9]+$/.test(size)) pkg.size = Number(size)
  const sha256 = s.get('sha256')
  if (sha256 !== undefined) pkg.sha256 = sha256.toLowerCase()
  const installed = s.get('installed-size')
  if (installed !== undefined && /^[0-9]+$/.test(installed)) pkg.installedSize = Number(installed) * 1024
  if (description !== undefined) {
    const [first, ...rest] = description.split('\n')
    pkg.summary = first
    if (rest.length > 0) pkg.description = rest.map((l) => (l === '.' ? '' : l)).join('\n')
  }
  const homepage = s.get('homepage')
  if (homepage !== undefined) pkg.homepage = homepage
  const section = s.get('section')
  if (section !== undefined) pkg.section = section
  return pkg
}

/**
 * The URL of a `Filename`: a path relative to the archive root (apt appends it to the source's
 * URI). One that is not — an absolute URL, a scheme-relative `//host/…`, a rooted path, a
 * backslash, a control character, or text the URL parser refuses — is ERR_NIP_BAD_PACKAGE:
 * an index may not send the download to another host.
 */
function archiveUrl(filename: string, base: string, src: string): string {
  const bad = (): NipError =>
    new NipError('ERR_NIP_BAD_PACKAGE', `${src}: Filename ${JSON.stringify(filename)} is not a path relative to the archive`, {
      hint: 'The Packages index is malformed or hostile; nothing from it was used.',
      data: { source: src, filename },
    })
  if (filename === '' || /^(?:[a-z][a-z0-9+.-]*:|[\\/])/i.test(filename) || filename.includes('\\') || /[\x00-\x1f\x7f]/.test(filename)) throw bad()
  try {
    return new URL(filename, base).toString()
  } catch {
    throw bad()
  }
}

/** What dependency choice asks of an index: a source's (in memory or the local index database) or the host's. */
export interface PackageLookup {
  /** Every version of a real package, best first (highest version, then the earlier source). */
  versionsOf(name: string): DebianPackage[]
  /** The packages that provide `name`, with the version a versioned Provides gives it. */
  providersOf(name: string): { pkg: DebianPackage; version?: string }[]
}

/** Packages by name and by provided name. */
export class PackageIndex implements PackageLookup {
  readonly byName = new Map<string, DebianPackage[]>()
  readonly providers = new Map<string, { pkg: DebianPackage; version?: string }[]>()

  constructor(readonly architecture: string) {}

  add(pkg: DebianPackage): void {
    if (pkg.architecture !== this.architecture && pkg.architecture !== 'all') return
    const list = this.byName.get(pkg.name)
    if (list === undefined) this.byName.set(pkg.name, [pkg])
    else list.push(pkg)
    for (const group of pkg.provides) {
      for (const p of group) {
        const entry = { pkg, ...(p.op === '=' && p.version !== undefined ? { version: p.version } : {}) }
        const l = this.providers.get(p.name)
        if (l === undefined) this.providers.set(p.name, [entry])
        else l.push(entry)
      }
    }
  }

  /** Every version of a real package, best first (highest version, then the earlier source). */
  versionsOf(name: string): DebianPackage[] {
    return [...(this.byName.get(name) ?? [])].sort((a, b) => compareVersions(b.version, a.version) || a.priority - b.priority)
  }

  providersOf(name: string): { pkg: DebianPackage; version?: string }[] {
    return this.providers.get(name) ?? []
  }

  get size(): number {
    let n = 0
    for (const l of this.byName.values()) n += l.length
    return n
  }
}
