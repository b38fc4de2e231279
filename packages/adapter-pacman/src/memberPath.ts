/**
 * Where a pacman package member goes in a Gobo program tree:
 * - top-level dot-files (`.PKGINFO`, `.BUILDINFO`, `.MTREE`, `.INSTALL`, `.CHANGELOG`) are
 *   metadata, never part of the tree (libalpm never extracts them either);
 * - `usr/X` → `X` (`usr/bin` → `bin`, `usr/lib` → `lib`, `usr/share` → `share`, …);
 * - `etc/X` → `Settings/X` (configuration: copied into /Programs/<Name>/Settings);
 * - anything else (`opt/`, `var/`, a top-level `bin/`) keeps its path.
 * The directories `usr` and `etc` themselves map to the tree root and to `Settings`.
 */

/** The mapped path, or null for metadata members (and for `usr` itself, which is the root). */
export function mapMemberPath(path: string): string | null {
  if (path.startsWith('.')) return null
  if (path === 'usr') return null
  if (path.startsWith('usr/')) return path.slice(4)
  if (path === 'etc') return 'Settings'
  if (path.startsWith('etc/')) return `Settings/${path.slice(4)}`
  return path
}

/** Whether a mapped path is a configuration file (under Settings/). */
export function isSettingsPath(mapped: string): boolean {
  return mapped === 'Settings' || mapped.startsWith('Settings/')
}

export const METADATA_MEMBERS = ['.PKGINFO', '.BUILDINFO', '.MTREE', '.INSTALL'] as const
