/**
 * Where a path of a .deb's data tarball goes in the Gobo program tree (one small, tested function):
 *
 *   usr/X                    -> X           (usr/bin -> bin, usr/share -> share, ...)
 *   bin, sbin, lib, lib32, lib64, libx32 (unmerged /usr) -> the same as under usr/
 *   [usr/]lib/<triplet>/X    -> lib/X       (multiarch directories collapse, so libraries land
 *                                            directly in System/Links/Libraries)
 *   etc/X                    -> Settings/X  (configuration: copied, never linked)
 *   anything else (var, opt) -> kept as it is
 *
 * The roots themselves (`.`, `usr`, `etc`, a triplet directory) map to null or to the tree root
 * and carry nothing.
 */
import { treeLinkTarget } from '@nip/core'

const TRIPLET = /^[a-z0-9_]+-linux-(?:gnu|gnux32|gnueabi|gnueabihf|gnuabi64|gnuspe|musl)$/
const UNMERGED = new Set(['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'])

/** The tree path of a normalised archive path ("" = the tree root), or null for "etc" itself. */
export function mapDebPath(archivePath: string): string | null {
  const parts = archivePath.split('/').filter((p) => p !== '' && p !== '.')
  if (parts.length === 0) return ''
  if (parts[0] === 'usr') parts.shift()
  else if (parts[0] === 'etc') {
    if (parts.length === 1) return null
    return ['Settings', ...parts.slice(1)].join('/')
  } else if (!UNMERGED.has(parts[0])) return parts.join('/')
  if (parts[0] === 'lib' && parts.length >= 2 && TRIPLET.test(parts[1])) parts.splice(1, 1)
  return parts.join('/')
}

/**
 * Where a symlink must point after mapping: the target is resolved against the link's archive
 * directory the way the kernel would inside the package root (an absolute target starts at the
 * root, `..` stops at the root), mapped like any path, and written relative to the link's mapped
 * directory. Returns null when the target has no place in the tree (it maps nowhere).
 */
export function mapSymlinkTarget(linkArchivePath: string, target: string, linkMappedPath: string): string | null {
  const base = target.startsWith('/') ? [] : linkArchivePath.split('/').slice(0, -1)
  const resolved: string[] = [...base]
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') resolved.pop()
    else resolved.push(part)
  }
  const mappedTarget = mapDebPath(resolved.join('/'))
  if (mappedTarget === null) return null
  // A link into /etc climbs out of its version directory to the program's Settings (treeTarget.ts).
  return treeLinkTarget(linkMappedPath.split('/').slice(0, -1), mappedTarget === '' ? [] : mappedTarget.split('/'))
}
