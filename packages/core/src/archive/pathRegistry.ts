/**
 * The set of paths an archive has created so far, with their kinds. It enforces the rules that
 * depend on earlier entries:
 * - no entry may be created below a symlink (ERR_NIP_UNSAFE_THROUGH_SYMLINK),
 * - a path keeps its kind: a later regular file may replace a regular file, a symlink a
 *   symlink, a directory may repeat, but file ↔ directory ↔ symlink is ERR_NIP_UNSAFE_DUPLICATE
 *   (a parent that is a file counts as a change to directory),
 * - once every entry is known, no symlink may resolve — following the archive's own symlinks
 *   on the way, as the kernel would — to a place above the tree root (ERR_NIP_UNSAFE_SYMLINK).
 */
import { parentPath, splitPath } from './entryPath.js'
import { refuse, type RefusalContext } from './refusal.js'

export type PathKind = 'file' | 'dir' | 'symlink'

/** Symlink hops followed before a chain counts as a loop (the kernel's limit). */
const MAX_SYMLINK_HOPS = 40

interface Recorded {
  readonly kind: PathKind
  /** A directory only implied by a deeper path, not an entry of its own. */
  readonly implied: boolean
}

/** The records there are (shared: one object per kind, not one per path). */
const RECORDED: Record<PathKind, Recorded> = {
  file: Object.freeze({ kind: 'file', implied: false }),
  dir: Object.freeze({ kind: 'dir', implied: false }),
  symlink: Object.freeze({ kind: 'symlink', implied: false }),
}
const IMPLIED_DIR: Recorded = Object.freeze({ kind: 'dir', implied: true })

export class PathRegistry {
  private readonly paths = new Map<string, Recorded>()
  private readonly symlinks = new Map<string, { target: string; ctx: RefusalContext }>()

  /** The kind recorded at `path`, if any. */
  kindOf(path: string): PathKind | undefined {
    return this.paths.get(path)?.kind
  }

  /** Whether `path` was an entry of its own (not only an implied parent). */
  isExplicit(path: string): boolean {
    const r = this.paths.get(path)
    return r !== undefined && !r.implied
  }

  /**
   * Record `path` as `kind`. Returns true when it replaces an earlier entry of the same kind
   * (file or symlink), so the caller can warn.
   */
  record(path: string, kind: PathKind, ctx: RefusalContext, target?: string): boolean {
    // A parent already recorded as a directory had its own parents checked when it was recorded,
    // and a directory never changes kind: only the first entry of a directory walks the prefixes.
    const last = path.lastIndexOf('/')
    const parentKnown = last > 0 && this.paths.get(path.slice(0, last))?.kind === 'dir'
    for (let at = parentKnown ? -1 : path.indexOf('/'); at !== -1; at = path.indexOf('/', at + 1)) {
      const prefix = path.slice(0, at)
      const seen = this.paths.get(prefix)
      if (seen?.kind === 'symlink') {
        throw refuse(
          'ERR_NIP_UNSAFE_THROUGH_SYMLINK',
          `An archive entry would be written through the symlink ${JSON.stringify(prefix)}`,
          'The archive plants a symlink and then writes through it (a path-traversal trick). Do not install it.',
          ctx,
        )
      }
      if (seen?.kind === 'file') {
        throw refuse(
          'ERR_NIP_UNSAFE_DUPLICATE',
          `An archive entry needs ${JSON.stringify(prefix)} to be a directory, but it is a file`,
          'The archive is inconsistent; do not install it.',
          ctx,
        )
      }
      if (seen === undefined) this.paths.set(prefix, IMPLIED_DIR)
    }
    const seen = this.paths.get(path)
    let replaced = false
    if (seen !== undefined) {
      if (seen.kind !== kind || (seen.implied && kind !== 'dir')) {
        throw refuse(
          'ERR_NIP_UNSAFE_DUPLICATE',
          `An archive entry changes ${JSON.stringify(path)} from ${seen.implied ? 'a directory with contents' : `a ${seen.kind}`} to a ${kind}`,
          'The archive holds the same path twice with different types; do not install it.',
          ctx,
        )
      }
      replaced = kind !== 'dir'
    }
    this.paths.set(path, RECORDED[kind])
    // The context is kept for a later refusal: a copy (the caller may reuse its object).
    if (kind === 'symlink') this.symlinks.set(path, { target: target ?? '', ctx: ctx.archive === undefined ? { entry: ctx.entry } : { entry: ctx.entry, archive: ctx.archive } })
    else this.symlinks.delete(path)
    return replaced
  }

  /** Refuse the first symlink that, followed through the tree's own symlinks, leaves the tree. */
  verifySymlinks(): void {
    for (const [path, { target, ctx }] of this.symlinks) {
      if (!this.resolvesInside(path, target)) {
        throw refuse(
          'ERR_NIP_UNSAFE_SYMLINK',
          `An archive symlink target ${JSON.stringify(target)} leaves the tree once other symlinks of the archive are followed`,
          'The archive chains symlinks to point outside its tree; do not install it.',
          ctx,
        )
      }
    }
  }

  private resolvesInside(linkPath: string, target: string): boolean {
    let hops = 0
    const walk = (start: string[], components: string[]): string[] | null | 'loop' => {
      let stack = [...start]
      for (const c of components) {
        if (c === '..') {
          if (stack.length === 0) return null
          stack.pop()
          continue
        }
        stack.push(c)
        const link = this.symlinks.get(stack.join('/'))
        if (link === undefined) continue
        if (++hops > MAX_SYMLINK_HOPS) return 'loop'
        stack.pop()
        const next = walk(stack, splitPath(link.target))
        if (next === null || next === 'loop') return next
        stack = next
      }
      return stack
    }
    // A loop cannot reach anything (the kernel answers ELOOP), so it is not an escape.
    return walk(splitPath(parentPath(linkPath)), splitPath(target)) !== null
  }
}
