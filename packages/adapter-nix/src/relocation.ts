/**
 * Relocation of Nix store references into the GoboLinux tree, by same-length rewriting.
 *
 * A store path `/nix/store/<hash>-<name>` of the closure becomes
 * `<run-root>/Programs///…/<Name>/<Version>`: the program's version directory as seen from where
 * the tree will run, padded with extra "/" (which POSIX path resolution ignores) to exactly the
 * length of the store path. Equal lengths keep ELF string tables, offsets, shebang lengths and
 * any length-prefixed data valid, so ELF interpreters, RUNPATHs, shebangs and embedded strings
 * are all relocated by one byte-level substitution. A target longer than the store path cannot
 * be written this way and is refused (ERR_NIP_ROOT).
 *
 * Symlinks are classified (classifyTarget); narToCas keeps links inside the store path as
 * relative links and replaces links into other closure members by the content they point at.
 * The content rewrite is reversible (reverseContents), so the NarHash of a grafted program can be
 * recomputed. Only exact store paths of the closure are rewritten; references hidden in
 * compressed or encoded data are not (see docs/nix.md).
 */
import path from 'node:path'
import { NipError } from '@nip/core'
import { programNameOf } from './programName.js'
import { parseStorePathBase, storePathBase, type StorePath } from './storePath.js'

export interface RelocationOptions {
  storeDir: string
  /** Absolute Programs directory as seen where the tree runs (e.g. "/Programs"). */
  programsDir: string
}

export type LinkTarget =
  | { kind: 'inside'; target: string; sub: string }
  | { kind: 'closure'; storePath: StorePath; sub: string }
  | { kind: 'outside' }

interface Pair {
  from: Buffer
  to: Buffer
}

export class Relocation {
  private readonly forward = new Map<string, Pair>()
  private readonly byTarget = new Map<string, Pair>()

  constructor(
    readonly opts: RelocationOptions,
    closure: StorePath[],
  ) {
    for (const p of closure) this.add(p)
  }

  /** The unpadded version directory of a store path. */
  versionDir(p: StorePath): string {
    const { name, version } = programNameOf(p)
    return `${this.opts.programsDir}/${name}/${version}`
  }

  private add(p: StorePath): void {
    const base = storePathBase(p)
    if (this.forward.has(p.hashPart)) return
    const from = `${this.opts.storeDir}/${base}`
    const dir = this.versionDir(p)
    const extra = Buffer.byteLength(from) - Buffer.byteLength(dir)
    if (extra < 0) {
      throw new NipError('ERR_NIP_ROOT', `Cannot relocate ${from}: ${dir} is longer than the store path`, {
        hint: 'Nix programs are relocated by same-length rewriting; use a shorter root (or set [nix] run-root to where the tree will run).',
        data: { storePath: from, target: dir },
      })
    }
    const { name, version } = programNameOf(p)
    const to = `${this.opts.programsDir}${'/'.repeat(extra + 1)}${name}/${version}`
    const pair = { from: Buffer.from(from), to: Buffer.from(to) }
    this.forward.set(p.hashPart, pair)
    this.byTarget.set(to, pair)
  }

  /** Rewrite store paths of the closure in a stream of file contents (same length out as in). */
  relocateContents(src: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
    const prefix = Buffer.from(`${this.opts.storeDir}/`)
    const hashAt = prefix.length
    const lookup = (buf: Buffer, i: number): Pair | undefined => {
      const pair = this.forward.get(buf.toString('latin1', i + hashAt, i + hashAt + 32))
      return pair
    }
    return substitute(src, { prefix, maxLength: this.maxLength('from'), lookup: (buf, i) => lookup(buf, i), side: 'from' })
  }

  relocateBuffer(buf: Buffer): Buffer {
    return substituteBuffer(buf, Buffer.from(`${this.opts.storeDir}/`), (b, i) => this.forward.get(b.toString('latin1', i + this.opts.storeDir.length + 1, i + this.opts.storeDir.length + 33)), 'from')
  }

  /** Undo relocateContents. */
  reverseContents(src: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
    const prefix = Buffer.from(`${this.opts.programsDir}/`)
    return substitute(src, { prefix, maxLength: this.maxLength('to'), lookup: (buf, i) => this.matchTarget(buf, i), side: 'to' })
  }

  private matchTarget(buf: Buffer, i: number): Pair | undefined {
    for (const pair of this.byTarget.values()) {
      if (i + pair.to.length <= buf.length && buf.compare(pair.to, 0, pair.to.length, i, i + pair.to.length) === 0) return pair
    }
    return undefined
  }

  private maxLength(side: 'from' | 'to'): number {
    let max = 0
    for (const p of this.forward.values()) max = Math.max(max, p[side].length)
    return max
  }

  /**
   * Where a symlink of store path `self` at `linkPath` (relative to the store path's root)
   * points: `inside` the same store path (a relative target from the link, normalised), into
   * another store path of the `closure`, or `outside` both (the host, or nothing).
   */
  classifyTarget(self: StorePath, linkPath: string, target: string): LinkTarget {
    const prefix = `${this.opts.storeDir}/`
    let inStore: string
    if (target.startsWith('/')) inStore = path.posix.normalize(target)
    else inStore = path.posix.join(`${this.opts.storeDir}/${storePathBase(self)}`, path.posix.dirname(linkPath), target)
    if (!inStore.startsWith(prefix)) return { kind: 'outside' }
    const rest = inStore.slice(prefix.length)
    const slash = rest.indexOf('/')
    const base = slash < 0 ? rest : rest.slice(0, slash)
    const sub = slash < 0 ? '' : rest.slice(slash + 1).replace(/\/+$/, '')
    const p = parseStorePathBase(base)
    if (p === null || !this.forward.has(p.hashPart)) return { kind: 'outside' }
    if (p.hashPart === self.hashPart) {
      const rel = path.posix.relative(path.posix.dirname(`/${linkPath}`), `/${sub}`) || '.'
      return { kind: 'inside', target: target.startsWith('/') ? rel : target, sub }
    }
    return { kind: 'closure', storePath: p, sub }
  }
}

interface SubstituteOptions {
  prefix: Buffer
  maxLength: number
  lookup: (buf: Buffer, at: number) => Pair | undefined
  side: 'from' | 'to'
}

/** Replace matches in place in `buf`; returns the offset up to which the buffer is decided. */
function replaceIn(buf: Buffer, opts: SubstituteOptions, final: boolean): number {
  let from = 0
  for (;;) {
    const i = buf.indexOf(opts.prefix, from)
    if (i < 0) return final ? buf.length : Math.max(from, buf.length - (opts.prefix.length - 1))
    if (!final && i + opts.maxLength > buf.length) return i
    const pair = opts.lookup(buf, i)
    const want = pair?.[opts.side]
    if (pair && want && i + want.length <= buf.length && buf.compare(want, 0, want.length, i, i + want.length) === 0) {
      const other = opts.side === 'from' ? pair.to : pair.from
      other.copy(buf, i)
      from = i + other.length
    } else {
      from = i + 1
    }
  }
}

async function* substitute(src: AsyncIterable<Buffer>, opts: SubstituteOptions): AsyncGenerator<Buffer> {
  let carry: Buffer = Buffer.alloc(0)
  for await (const chunk of src) {
    const buf = carry.length === 0 ? Buffer.from(chunk) : Buffer.concat([carry, chunk])
    const decided = replaceIn(buf, opts, false)
    if (decided > 0) yield buf.subarray(0, decided)
    carry = buf.subarray(decided)
  }
  if (carry.length > 0) {
    replaceIn(carry, opts, true)
    yield carry
  }
}

function substituteBuffer(buf: Buffer, prefix: Buffer, lookup: (buf: Buffer, at: number) => Pair | undefined, side: 'from' | 'to'): Buffer {
  const out = Buffer.from(buf)
  replaceIn(out, { prefix, maxLength: 0, lookup, side }, true)
  return out
}
