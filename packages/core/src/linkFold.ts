/**
 * Folded link-farm directories (GoboLinux's LinkOrExpand).
 *
 * A directory of the farm that one program alone fills is realized as one symlink to that
 * program's directory, not one link per file; when a second program needs to put something
 * there, the fold is expanded into a real directory holding one link per entry (each
 * subdirectory folded again where it can be). A 50,000-file `share/<name>` costs one symlink.
 *
 * The DB keeps one link row per file either way: ownership, conflicts, generations and undo
 * never see folds. A fold is only how the rows under a directory are realized on disk, and it
 * is derived from the rows:
 * - Only directories strictly below Executables, Libraries, Headers, Shared and Manuals fold
 *   (never a farm root, never Settings).
 * - A directory D folds for program P when every row under D is P's, those rows are exactly the
 *   non-directory entries of P's tree under the matching directory S, and every row's target is
 *   the fold's followed by the row's rest. The fold is the relative symlink D → …/Programs/P/Current/S,
 *   so switching P's version changes what the fold shows with Current, as for per-file links.
 * - The shallowest foldable directory wins, and only where D is absent or already that fold: a
 *   real directory is never replaced (as in GoboLinux, what was expanded stays expanded).
 *
 * Invariant (doctor checks it): a symlink at a directory below a fold base is a fold exactly when
 * link rows lie under it; those rows are one program's, and its target is the one they imply.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { LinkRow } from './db/database.js'
import { LINK_DIRS, type Layout } from './layout.js'
import { NipError, fromSystemError } from './errors.js'
import { crashPoint } from './crash.js'

/** What folding reads from the DB. */
export interface LinkIndex {
  /** The first link row under `dir` (root-relative, no trailing slash), of a program other than `except` when given. */
  linkUnder(dir: string, except?: number): LinkRow | undefined
  /** Every link row under `dir`, in path order. */
  linksUnder(dir: string): LinkRow[]
}

/** A folded directory: root-relative path, relative target, and how many link rows it stands for. */
export interface Fold {
  path: string
  target: string
  rows: number
}

export interface FoldPlan {
  folds: Fold[]
  /** Rows under no fold: one symlink each. */
  singles: LinkRow[]
}

/** Suffix of a fold directory's temporary twin while it is expanded. */
export const EXPAND_SUFFIX = '.nip-expand'

/** Root-relative farm directories below which folding happens. */
export function foldBases(layout: Layout): string[] {
  return Object.keys(LINK_DIRS).map((d) => layout.rel(path.join(layout.linksDir, d)))
}

/** The fold base `p` lies strictly below, if any. */
export function foldBaseOf(bases: readonly string[], p: string): string | undefined {
  for (const b of bases) if (p.length > b.length + 1 && p.startsWith(b) && p.charCodeAt(b.length) === 47) return b
  return undefined
}

/** The fold at `dir` that a row under it implies (undefined when the row's target does not mirror its path). */
export function foldFor(dir: string, row: Pick<LinkRow, 'path' | 'target' | 'entry'>): { target: string; source: string } | undefined {
  const suffix = row.path.slice(dir.length)
  if (!suffix.startsWith('/') || path.posix.isAbsolute(row.target)) return undefined
  const resolved = path.posix.join(path.posix.dirname(row.path), row.target)
  if (!resolved.endsWith(suffix) || !row.entry.endsWith(suffix) || row.entry.length === suffix.length) return undefined
  const folded = resolved.slice(0, resolved.length - suffix.length)
  if (folded === '' || folded.startsWith('../') || folded === '..') return undefined
  return { target: path.posix.relative(path.posix.dirname(dir), folded), source: row.entry.slice(0, row.entry.length - suffix.length) }
}

/** Whether `row`'s target is the fold target `target` of `dir` followed by the row's rest. */
function mirrors(dir: string, target: string, source: string, row: Pick<LinkRow, 'path' | 'target' | 'entry'>): boolean {
  const suffix = row.path.slice(dir.length)
  if (row.entry !== source + suffix) return false
  let ups = 0
  for (let i = 0; i < suffix.length; i++) if (suffix.charCodeAt(i) === 47) ups++
  // The usual form (what desiredLinks writes); anything else is compared exactly.
  if (row.target === '../'.repeat(ups) + target + suffix) return true
  return foldFor(dir, row)?.target === target
}

/**
 * Which of one program's link rows fold (see the module contract). `files` is the program's
 * current tree; `rows` its link rows, sorted by path.
 */
export function planFolds(layout: Layout, program: { id: number; name: string }, rows: readonly LinkRow[], files: readonly { path: string; type: string }[], index: LinkIndex): FoldPlan {
  const bases = foldBases(layout)
  /** Non-directory entries below each directory of the tree. */
  const counts = new Map<string, number>()
  for (const f of files) {
    if (f.type === 'dir') continue
    for (let i = f.path.indexOf('/'); i > 0; i = f.path.indexOf('/', i + 1)) {
      const d = f.path.slice(0, i)
      counts.set(d, (counts.get(d) ?? 0) + 1)
    }
  }
  interface Candidate {
    dir: string
    depth: number
    target?: string
    source?: string
    rows: number
  }
  const candidates = new Map<string, Candidate>()
  for (const r of rows) {
    const base = foldBaseOf(bases, r.path)
    if (base === undefined) continue
    let depth = 0
    for (let i = r.path.indexOf('/', base.length + 1); i > 0; i = r.path.indexOf('/', i + 1)) {
      const dir = r.path.slice(0, i)
      let c = candidates.get(dir)
      if (c === undefined) {
        const f = foldFor(dir, r)
        c = { dir, depth, rows: 0, ...(f ? { target: f.target, source: f.source } : {}) }
        candidates.set(dir, c)
      } else if (c.target !== undefined && !mirrors(dir, c.target, c.source!, r)) {
        c.target = undefined
      }
      c.rows++
      depth++
    }
  }
  const chosen = new Map<string, Fold>()
  const underChosen = (p: string): boolean => {
    for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) if (chosen.has(p.slice(0, i))) return true
    return false
  }
  const ordered = [...candidates.values()].sort((a, b) => a.depth - b.depth || (a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0))
  for (const c of ordered) {
    if (c.target === undefined || c.rows !== counts.get(c.source!) || underChosen(c.dir)) continue
    if (index.linkUnder(c.dir, program.id) !== undefined) continue
    const abs = layout.abs(c.dir)
    const st = lstat(abs)
    if (st !== null && !(st.isSymbolicLink() && fs.readlinkSync(abs) === c.target)) continue
    chosen.set(c.dir, { path: c.dir, target: c.target, rows: c.rows })
  }
  const singles = chosen.size === 0 ? [...rows] : rows.filter((r) => !underChosen(r.path))
  return { folds: [...chosen.values()], singles }
}

/**
 * Makes the folds and the real directories links go into, expanding any fold in the way.
 * `onExpand(program)` runs before another program's fold is expanded (the caller journals it,
 * so recovery re-realizes that program).
 */
export class FoldRealizer {
  readonly #layout: Layout
  readonly #index: LinkIndex
  readonly #bases: string[]
  readonly #real = new Set<string>()
  readonly #onExpand: (program: string) => void

  constructor(layout: Layout, index: LinkIndex, onExpand: (program: string) => void = () => {}) {
    this.#layout = layout
    this.#index = index
    this.#bases = foldBases(layout)
    this.#onExpand = onExpand
  }

  /** Creates the plan's folds (returns how many link rows the folds made stand for; existing ones are kept). */
  makeFolds(folds: readonly Fold[], afterEach?: (made: number) => void): number {
    let made = 0
    for (const f of folds) {
      this.ensureRealDir(path.posix.dirname(f.path))
      const abs = this.#layout.abs(f.path)
      try {
        const st = lstat(abs)
        if (st?.isSymbolicLink() && fs.readlinkSync(abs) === f.target) continue
        if (st !== null) throw Object.assign(new Error('occupied'), { code: 'EEXIST' })
        this.#layout.cfs.rm(abs + EXPAND_SUFFIX, { recursive: true, force: true })
        this.#layout.cfs.symlink(f.target, abs, false)
        made += f.rows
      } catch (e) {
        throw fromSystemError(e, 'creating a folded link', abs)
      }
      afterEach?.(made)
    }
    return made
  }

  /**
   * Makes sure every directory from the fold base down to `dir` (root-relative) is a real
   * directory: absent ones are made, folds are expanded. Outside the fold bases nothing is done
   * (the link code's mkdir and confinement check handle those).
   */
  ensureRealDir(dir: string): void {
    if (this.#real.has(dir)) return
    const base = foldBaseOf(this.#bases, dir)
    if (base === undefined && this.#bases.includes(dir)) {
      const abs = this.#layout.abs(dir)
      try {
        this.#layout.cfs.mkdirp(abs)
      } catch (e) {
        throw fromSystemError(e, 'creating a link directory', abs)
      }
    } else if (base !== undefined) {
      this.ensureRealDir(path.posix.dirname(dir))
      const abs = this.#layout.abs(dir)
      const st = lstat(abs)
      if (st === null) {
        try {
          this.#layout.cfs.rm(abs + EXPAND_SUFFIX, { recursive: true, force: true })
          this.#layout.cfs.mkdirp(abs)
        } catch (e) {
          throw fromSystemError(e, 'creating a link directory', abs)
        }
      } else if (st.isSymbolicLink()) {
        this.#expand(dir)
      }
      // Anything else (a file) is left for the link's own creation to report.
    }
    this.#real.add(dir)
  }

  /** Replaces the fold at `dir` by a real directory with one link (or smaller fold) per entry. */
  #expand(dir: string): void {
    const abs = this.#layout.abs(dir)
    const target = fs.readlinkSync(abs)
    const all = this.#index.linksUnder(dir)
    // The fold's owner is the program whose rows imply its target; other programs' rows under it
    // are the ones about to be linked (by their own realization).
    let owner: LinkRow | undefined
    const checked = new Set<number>()
    for (const r of all) {
      if (checked.has(r.program_id)) continue
      checked.add(r.program_id)
      if (foldFor(dir, r)?.target === target) {
        owner = r
        break
      }
    }
    if (owner === undefined) {
      // A fold no row stands for any more (a removal interrupted before it unlinked it).
      if (!isOurFoldTarget(this.#layout, abs, target)) throw occupied(this.#layout, dir)
      try {
        this.#layout.cfs.unlink(abs)
        this.#layout.cfs.mkdirNew(abs)
      } catch (e) {
        throw fromSystemError(e, 'replacing a folded link directory', abs)
      }
      return
    }
    const rows = all.filter((r) => r.program_id === owner.program_id)
    this.#onExpand(owner.program)
    const children = new Map<string, string>()
    for (const r of rows) {
      const rest = r.path.slice(dir.length + 1)
      const slash = rest.indexOf('/')
      if (slash < 0) children.set(rest, r.target)
      else {
        const name = rest.slice(0, slash)
        if (!children.has(name)) children.set(name, `../${target}/${name}`)
      }
    }
    const tmp = abs + EXPAND_SUFFIX
    const { cfs } = this.#layout
    try {
      cfs.rm(tmp, { recursive: true, force: true })
      cfs.mkdirNew(tmp)
      for (const [name, t] of children) cfs.symlink(t, path.join(tmp, name), false)
      cfs.unlink(abs)
      crashPoint('reconcile:expanding')
      cfs.rename(tmp, abs)
    } catch (e) {
      throw fromSystemError(e, 'expanding a folded link directory', abs)
    }
  }
}

/** A symlink target (of the link at `abs`) that lands in a program's Current tree. */
export function isOurFoldTarget(layout: Layout, abs: string, target: string): boolean {
  const resolved = path.resolve(path.dirname(abs), target)
  const rel = path.relative(layout.programsDir, resolved)
  const parts = rel.split(path.sep)
  return !rel.startsWith('..') && !path.isAbsolute(rel) && parts.length >= 3 && parts[1] === 'Current'
}

/**
 * Stale rows (no longer in the DB) split by how they are realized: `direct` ones are symlinks of
 * their own (or nothing); the others lie under a fold (`folds`: how many under each fold's root-relative path).
 */
export function splitByFold(layout: Layout, rows: readonly { path: string; target: string }[]): { direct: { path: string; target: string }[]; folds: Map<string, number> } {
  const bases = foldBases(layout)
  const kind = new Map<string, boolean>() // dir → is a symlink
  const isLink = (dir: string): boolean => {
    let k = kind.get(dir)
    if (k === undefined) {
      k = lstat(layout.abs(dir))?.isSymbolicLink() === true
      kind.set(dir, k)
    }
    return k
  }
  const direct: { path: string; target: string }[] = []
  const folds = new Map<string, number>()
  for (const r of rows) {
    const base = foldBaseOf(bases, r.path)
    let fold: string | undefined
    if (base !== undefined) {
      for (let i = r.path.indexOf('/', base.length + 1); i > 0; i = r.path.indexOf('/', i + 1)) {
        const dir = r.path.slice(0, i)
        if (isLink(dir)) {
          fold = dir
          break
        }
      }
    }
    if (fold === undefined) direct.push(r)
    else folds.set(fold, (folds.get(fold) ?? 0) + 1)
  }
  return { direct, folds }
}

/**
 * After the rows under a fold changed: unlink it when it no longer stands for its rows (none are
 * left, or they imply another target). Returns the program whose remaining rows lie under it
 * (to be realized again), or undefined.
 */
export function retireFold(layout: Layout, index: LinkIndex, dir: string): string | undefined {
  const abs = layout.abs(dir)
  const st = lstat(abs)
  if (!st?.isSymbolicLink()) return undefined
  const target = fs.readlinkSync(abs)
  const rest = index.linkUnder(dir)
  if (rest !== undefined && foldFor(dir, rest)?.target === target) return rest.program
  if (isOurFoldTarget(layout, abs, target)) {
    try {
      layout.cfs.unlink(abs)
    } catch (e) {
      throw fromSystemError(e, 'removing a folded link', abs)
    }
  }
  return rest?.program
}

function occupied(layout: Layout, dir: string): NipError {
  return new NipError('ERR_NIP_LINK_OCCUPIED', `${dir} is a symlink nip did not make (or no longer stands for the links under it).`, {
    hint: 'Move it away, or run nip doctor --fix, then try again.',
    data: { path: dir, resolved: layout.abs(dir) },
  })
}

function lstat(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null
    throw e
  }
}
