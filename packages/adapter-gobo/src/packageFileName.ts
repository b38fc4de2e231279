/**
 * GoboLinux binary package file names (bin/CreatePackage, bin/InstallPackage):
 *
 *   <Name>--<Version>[-r<N>[p<M>]]--<arch>.tar.<bz2|gz|xz|zst>
 *
 * The revision is what Functions/String's String_Revision extracts (`-r[0-9]+(p[0-9]+)?$`, returned
 * without its dash). Old packages without an arch part are i686, as InstallPackage assumes. The
 * name and version become path components under /Programs, so anything that is not a safe
 * component (a slash, "..", a leading dot, NUL, ...) makes the name unparseable.
 */
import { isSafeComponent } from '@nip/core'

export type PackageCompression = 'bz2' | 'gz' | 'xz' | 'zst'

export interface PackageFileName {
  /** Program name, in the file's own case. */
  name: string
  /** Version without the revision: the directory the tar holds (`<Name>/<Version>/`). */
  version: string
  /** Revision as in Resources/Revision (`r1`, `r2p1`), or null when the file name has none. */
  revision: string | null
  arch: string
  compression: PackageCompression
}

const SUFFIXES: readonly [string, PackageCompression][] = [
  ['.tar.bz2', 'bz2'],
  ['.tar.gz', 'gz'],
  ['.tar.xz', 'xz'],
  ['.tar.zst', 'zst'],
]

const REVISION = /-(r[0-9]+(?:p[0-9]+)?)$/
const ARCH = /^[A-Za-z0-9_]+$/

/** Architecture InstallPackage assumes for packages named without one. */
export const LEGACY_ARCH = 'i686'

/** Parse a package file name (a base name, not a path); null when it is not a Gobo package name. */
export function parsePackageFileName(fileName: string): PackageFileName | null {
  const suffix = SUFFIXES.find(([s]) => fileName.endsWith(s))
  if (!suffix) return null
  const stem = fileName.slice(0, -suffix[0].length)
  const parts = stem.split('--')
  if (parts.length !== 2 && parts.length !== 3) return null
  const [name, versionAndRevision] = parts
  const arch = parts.length === 3 ? parts[2] : LEGACY_ARCH
  if (!ARCH.test(arch)) return null
  const m = REVISION.exec(versionAndRevision)
  const version = m ? versionAndRevision.slice(0, m.index) : versionAndRevision
  const revision = m ? m[1] : null
  if (!isSafeName(name) || !isSafeName(version)) return null
  return { name, version, revision, arch, compression: suffix[1] }
}

/** `<version>[-<revision>]`, the form GuessLatest and users compare. */
export function versionWithRevision(p: Pick<PackageFileName, 'version' | 'revision'>): string {
  return p.revision ? `${p.version}-${p.revision}` : p.version
}

function isSafeName(s: string): boolean {
  return isSafeComponent(s) && !/[\s\\]/.test(s)
}
