import { NipError } from '@nip/core'

/**
 * Where a file of a Gentoo binary package's image goes in a Gobo program tree (the image is the
 * installed tree, rooted at `/`):
 * - `usr/X` → `X` (`usr/bin` → `bin`, `usr/lib64` → `lib64`, `usr/share` → `share`, …);
 * - `etc/X` → `Settings/X` (configuration: copied into /Programs/<Name>/Settings);
 * - anything else (`bin/`, `lib64/`, `opt/`, `var/`) keeps its path.
 * `usr` itself is the tree root (null: nothing to record).
 */
export function mapImagePath(path: string): string | null {
  if (path === 'usr') return null
  if (path.startsWith('usr/')) return path.slice(4)
  if (path === 'etc') return 'Settings'
  if (path.startsWith('etc/')) return `Settings/${path.slice(4)}`
  return path
}

/**
 * The same for the image of a Gentoo Prefix build (`nip build --source gentoo`), whose EPREFIX is
 * the program's version directory (`/Programs/hello/2.10-r1~nls`): `<EPREFIX>/X` is mapped as
 * `X` above (`<EPREFIX>/usr/bin` → `bin`, `<EPREFIX>/etc/X` → `Settings/X`), the directories
 * leading to the EPREFIX are the tree root (null), and anything else lies outside the prefix:
 * ERR_NIP_BAD_PACKAGE (the build installed files outside its program).
 */
export function mapPrefixedImagePath(path: string, eprefix: string, type: string): string | null {
  const prefix = eprefix.replace(/^\/+|\/+$/g, '')
  if (prefix === '') return mapImagePath(path)
  if (path === prefix) return null
  if (path.startsWith(`${prefix}/`)) return mapImagePath(path.slice(prefix.length + 1))
  if (type === 'dir' && `${prefix}/`.startsWith(`${path}/`)) return null
  throw new NipError('ERR_NIP_BAD_PACKAGE', `The binary package installs /${path}, outside its prefix ${eprefix}.`, {
    hint: 'The ebuild installs outside ${ED} (its EPREFIX); nothing was grafted.',
    data: { path: `/${path}`, eprefix },
  })
}

export function isSettingsPath(mapped: string): boolean {
  return mapped === 'Settings' || mapped.startsWith('Settings/')
}
