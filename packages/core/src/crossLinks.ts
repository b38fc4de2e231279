/**
 * Links a package ships into another package's directory.
 *
 * Distributions install every package into one `/usr`, so a package may ship a relative symlink
 * to a file another package owns: Debian's `usr/share/doc/libgtk-3-0/NEWS.gz ->
 * ../libgtk-3-common/NEWS.gz`, or a licence link into `usr/share/common-licenses`. Grafted, each
 * package has its own tree, and such a link would resolve inside its own version directory, where
 * nothing is. The place all packages' files meet again is the link farm, so at graft time a
 * relative link whose target is not in its own tree, and whose target lies in a directory the farm
 * collects (`share/` → `System/Links/Shared`, `lib/` → `Libraries`, …), is re-targeted through the
 * farm (`…/System/Links/Shared/doc/libgtk-3-common/NEWS.gz`), relative from its own directory so
 * the root can still be moved. It resolves when the program that ships the target is grafted and
 * dangles otherwise: then it is that program's own dangling link, which `nip doctor` reports as
 * such (check `program-links`), never as a broken farm link.
 *
 * Contract: pure (no filesystem access); entries that already resolve in their tree, absolute
 * targets, Settings entries and links whose target path passes through a symlink of the same
 * tree are left exactly as they are.
 */
import path from 'node:path'
import type { TreeEntry } from './adapter.js'
import type { Layout } from './layout.js'
import { linkSlots } from './linkFarm.js'

/** Where `target` of a link at `entryPath` lands inside the tree (normal relative path), or null when it climbs out. */
export function resolveInTree(entryPath: string, target: string): string | null {
  if (target.startsWith('/')) return null
  const stack = entryPath.split('/').slice(0, -1)
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') {
      if (stack.length === 0) return null
      stack.pop()
    } else stack.push(part)
  }
  return stack.length ? stack.join('/') : null
}

/** The farm path (absolute) where the tree path `p` of any program is linked, if the farm collects it. */
export function farmPathOf(layout: Layout, p: string): string | null {
  const slot = linkSlots(p).find((s) => s.base !== 'Settings')
  return slot ? path.join(layout.linksDir, slot.base, slot.rest) : null
}

/**
 * Re-targets (in place) the symlink entries of a program's tree that point at a path their own
 * tree does not hold but the link farm collects. Returns the entries it changed.
 */
export function linkThroughFarm(entries: TreeEntry[], layout: Layout, name: string, version: string): TreeEntry[] {
  const types = new Map<string, TreeEntry['type']>()
  for (const e of entries) if (!e.settings) types.set(e.path, e.type)
  const changed: TreeEntry[] = []
  const vdir = layout.versionDir(name, version)
  for (const e of entries) {
    if (e.type !== 'symlink' || e.settings || e.target === undefined || e.target.startsWith('/')) continue
    const at = resolveInTree(e.path, e.target)
    if (at === null || at.startsWith('Settings/') || at === 'Settings') continue
    if (types.has(at) || throughTreeLink(at, types)) continue
    const farm = farmPathOf(layout, at)
    if (farm === null) continue
    e.target = path.relative(path.dirname(path.join(vdir, e.path)), farm)
    changed.push(e)
  }
  return changed
}

/** True when a proper prefix of `p` is a symlink or a file of the tree (what it reaches is not the tree's to judge). */
function throughTreeLink(p: string, types: Map<string, TreeEntry['type']>): boolean {
  for (let i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) {
    const t = types.get(p.slice(0, i))
    if (t !== undefined && t !== 'dir') return true
  }
  return false
}
