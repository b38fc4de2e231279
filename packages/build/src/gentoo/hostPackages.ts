/**
 * What the host provides to a gentoo build, read from dpkg's status file through a small table
 * of Gentoo atoms and the Debian packages that provide them (toolchain and system libraries an
 * ebuild commonly depends on). docs/gentoo.md, "Dependencies", explains how to extend it: add a
 * line `['CATEGORY/NAME', ['debian-package', …]]` to HOST_PACKAGES; the first installed Debian
 * package of the list gives the version (Debian's version converted by gentooVersionOfDebian).
 * A package is taken only when dpkg says `install ok installed`; a development library needs its
 * `-dev` package (headers, the unversioned `.so`, the `.pc` file), so those are named.
 */
import { readFileSync } from 'node:fs'
import { isValidVersion } from '@nip/adapter-gentoo'

export const DPKG_STATUS = '/var/lib/dpkg/status'

/** Gentoo CATEGORY/NAME → the Debian packages that provide it (any one installed suffices). */
export const HOST_PACKAGES: readonly (readonly [string, readonly string[]])[] = [
  ['sys-libs/glibc', ['libc6-dev']],
  ['sys-libs/zlib', ['zlib1g-dev']],
  ['sys-libs/ncurses', ['libncurses-dev', 'libncurses5-dev']],
  ['sys-libs/readline', ['libreadline-dev']],
  ['sys-devel/gcc', ['gcc']],
  ['sys-devel/binutils', ['binutils']],
  ['sys-devel/make', ['make']],
  ['dev-build/make', ['make']],
  ['sys-devel/gettext', ['gettext']],
  ['sys-devel/autoconf', ['autoconf']],
  ['dev-build/autoconf', ['autoconf']],
  ['sys-devel/automake', ['automake']],
  ['dev-build/automake', ['automake']],
  ['sys-devel/libtool', ['libtool']],
  ['dev-build/libtool', ['libtool']],
  ['sys-devel/bison', ['bison']],
  ['sys-devel/flex', ['flex']],
  ['sys-devel/m4', ['m4']],
  ['dev-build/cmake', ['cmake']],
  ['dev-build/meson', ['meson']],
  ['dev-build/ninja', ['ninja-build']],
  ['dev-util/ninja', ['ninja-build']],
  ['dev-util/pkgconf', ['pkgconf', 'pkg-config']],
  ['virtual/pkgconfig', ['pkgconf', 'pkg-config']],
  ['dev-lang/perl', ['perl']],
  ['dev-lang/python', ['python3']],
  ['app-arch/xz-utils', ['xz-utils']],
  ['app-arch/bzip2', ['bzip2']],
  ['app-arch/gzip', ['gzip']],
  ['app-arch/tar', ['tar']],
  ['app-arch/zstd', ['zstd']],
  ['sys-apps/sed', ['sed']],
  ['sys-apps/grep', ['grep']],
  ['sys-apps/gawk', ['gawk']],
  ['sys-apps/coreutils', ['coreutils']],
  ['sys-apps/findutils', ['findutils']],
  ['sys-apps/diffutils', ['diffutils']],
  ['sys-apps/texinfo', ['texinfo']],
  ['dev-libs/openssl', ['libssl-dev']],
  ['dev-libs/expat', ['libexpat1-dev']],
  ['dev-libs/libffi', ['libffi-dev']],
  ['net-misc/curl', ['libcurl4-openssl-dev', 'curl']],
]

export interface DpkgPackage {
  name: string
  version: string
}

/** Installed packages (`Status: install ok installed`) of a dpkg status file; empty when it cannot be read. */
export function readDpkgStatus(file = DPKG_STATUS): Map<string, DpkgPackage> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return new Map()
  }
  return parseDpkgStatus(text)
}

export function parseDpkgStatus(text: string): Map<string, DpkgPackage> {
  const out = new Map<string, DpkgPackage>()
  for (const para of text.split(/\n\s*\n/)) {
    const field = (k: string) => new RegExp(`^${k}:[ \\t]*(.*)$`, 'm').exec(para)?.[1].trim()
    const name = field('Package')
    const version = field('Version')
    if (!name || !version || field('Status') !== 'install ok installed') continue
    out.set(name, { name, version })
  }
  return out
}

/**
 * A Debian version as a Gentoo version to compare atoms against: the epoch and the Debian
 * revision are dropped, then the leading `1.2.3[a]` of the upstream version is kept with a
 * pre-release suffix written `~rc1`/`~beta2`/`~alpha`/`~pre3` (Debian sorts `~` first, as Gentoo
 * sorts `_rc` before the release). `1:1.2.13.dfsg-1` → `1.2.13`; `2.40-2` → `2.40`;
 * `0.21-12` → `0.21`; `3.0~rc1-1` → `3.0_rc1`. null when no version can be read.
 */
export function gentooVersionOfDebian(debian: string): string | null {
  let v = debian.trim().replace(/^\d+:/, '')
  const dash = v.lastIndexOf('-')
  if (dash > 0) v = v.slice(0, dash)
  const m = /^(\d+(?:\.\d+)*)([a-z](?![a-z]))?(?:[~.+-]?(alpha|beta|pre|rc)(\d*))?/.exec(v)
  if (!m) return null
  const out = `${m[1]}${m[2] ?? ''}${m[3] ? `_${m[3]}${m[4] ?? ''}` : ''}`
  return isValidVersion(out) ? out : null
}

/** CPVs the host provides, through HOST_PACKAGES and the installed Debian packages. */
export function hostProvided(installed: ReadonlyMap<string, DpkgPackage>, table: readonly (readonly [string, readonly string[]])[] = HOST_PACKAGES): { cpv: string; debian: string }[] {
  const out: { cpv: string; debian: string }[] = []
  for (const [cp, debs] of table) {
    for (const d of debs) {
      const pkg = installed.get(d)
      const version = pkg ? gentooVersionOfDebian(pkg.version) : null
      if (pkg && version) {
        out.push({ cpv: `${cp}-${version}`, debian: `${pkg.name} ${pkg.version}` })
        break
      }
    }
  }
  return out
}
