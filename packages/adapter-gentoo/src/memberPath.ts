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

export function isSettingsPath(mapped: string): boolean {
  return mapped === 'Settings' || mapped.startsWith('Settings/')
}
