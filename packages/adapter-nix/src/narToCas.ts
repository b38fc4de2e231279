/**
 * Unpack one NAR stream into the CAS as a program tree, relocating store references on the way
 * (relocation.ts). Writes nothing but blobs. The stream is hashed as it is read; the caller gets
 * the digest and size of everything the stream held (the NAR plus any trailing bytes) to check
 * against NarHash and NarSize.
 *
 * Mapping (store path root → version directory "."): a root directory's entries become the
 * tree; a store path that is a single file becomes `bin/<name>` when executable and
 * `share/nix/<name>` otherwise; a root symlink becomes `share/nix/<name>` too.
 *
 * Symlinks (a version directory may hold no link that leaves it):
 * - into the same store path: kept, as a relative link;
 * - into another store path of the closure: returned in `pending`, for the caller to replace by
 *   the content it points at (materialisation);
 * - anywhere else (the host, or a path outside the closure): dropped, and returned in `dropped`.
 * Every link whose recorded target differs from the NAR's is listed in `record`, so the NAR can
 * be reproduced (verifyProgram.ts).
 *
 * With `select`, only the subtree at `select.sub` of the store path is kept, re-rooted at
 * `select.at` (used to materialise a link into another closure member).
 */
import { createHash } from 'node:crypto'
import path from 'node:path'
import type { Cas } from '@nip/cas'
import type { TreeEntry } from '@nip/core'
import { readNar } from './narReader.js'
import type { Relocation } from './relocation.js'
import type { StorePath } from './storePath.js'

/** Files up to this size are buffered and stored with one synchronous CAS call. */
const SMALL_FILE = 1 << 20

export interface NarToCasOptions {
  cas: Cas
  self: StorePath
  relocation: Relocation
  hashAlgorithm?: string
  archive?: string
  maxTotalSize?: number
  maxEntries?: number
  select?: { sub: string; at: string }
}

export interface PendingLink {
  /** Tree path of the link. */
  path: string
  storePath: StorePath
  /** Path inside `storePath` ('' for its root). */
  sub: string
  /** The target as the NAR holds it. */
  original: string
}

export interface NarToCasResult {
  entries: TreeEntry[]
  digest: Buffer
  size: number
  pending: PendingLink[]
  dropped: { path: string; original: string }[]
  /** Tree path → original NAR target, for every link whose target was changed. */
  record: Record<string, string>
  /** Whether `select.sub` was found in the NAR. */
  selected: boolean
}

export async function narToCas(src: AsyncIterable<Uint8Array>, opts: NarToCasOptions): Promise<NarToCasResult> {
  const hash = createHash(opts.hashAlgorithm ?? 'sha256')
  let size = 0
  const iterator = src[Symbol.asyncIterator]()
  async function* hashed(): AsyncGenerator<Buffer> {
    for (;;) {
      const r = await iterator.next()
      if (r.done) return
      const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value)
      hash.update(b)
      size += b.length
      yield b
    }
  }
  const stream = hashed()
  const entries: TreeEntry[] = []
  const pending: PendingLink[] = []
  const dropped: { path: string; original: string }[] = []
  const record: Record<string, string> = {}
  let rootKind: 'directory' | 'file' | 'symlink' | undefined
  let selected = false
  const sel = opts.select
  const within = (p: string, sub: string) => sub === '' || p === sub || p.startsWith(sub + '/')
  /** The tree path of NAR path `p`, or null to skip it. */
  const at = (p: string, kind: 'directory' | 'file' | 'symlink', executable = false): string | null => {
    if (sel) {
      if (!within(p, sel.sub)) return null
      if (p === sel.sub) selected = true
      if (p === sel.sub) return sel.at
      return sel.at + (sel.sub === '' ? `/${p}` : p.slice(sel.sub.length))
    }
    if (p !== '') return p
    rootKind = kind
    if (kind === 'directory') return null
    return kind === 'file' && executable ? `bin/${opts.self.name}` : `share/nix/${opts.self.name}`
  }
  await opts.cas.init()
  await readNar(
    { [Symbol.asyncIterator]: () => stream },
    {
      directory: (p) => {
        const tp = at(p, 'directory')
        if (tp !== null && tp !== '') entries.push({ path: tp, type: 'dir', mode: 0o755 })
      },
      file: async (p, { executable, size: fileSize, contents }) => {
        const tp = at(p, 'file', executable)
        if (tp === null) {
          for await (const _ of contents) void _
          return
        }
        const relocated = opts.relocation.relocateContents(contents)
        let info
        if (fileSize <= SMALL_FILE) {
          const parts: Buffer[] = []
          for await (const c of relocated) parts.push(c)
          info = opts.cas.addBufferSync(Buffer.concat(parts), { executable, expectSize: fileSize })
        } else {
          info = await opts.cas.addStream(relocated, { executable, expectSize: fileSize })
        }
        entries.push({ path: tp, type: 'file', mode: executable ? 0o755 : 0o644, blob: info.key, size: fileSize })
      },
      symlink: (p, target) => {
        const tp = at(p, 'symlink')
        if (tp === null) return
        const where = opts.relocation.classifyTarget(opts.self, p, target)
        if (where.kind === 'inside' && (!sel || within(where.sub, sel.sub)) && !(sel === undefined && p === '')) {
          if (where.target !== target) record[tp] = target
          entries.push({ path: tp, type: 'symlink', mode: 0o777, target: where.target })
        } else if (where.kind === 'inside') {
          pending.push({ path: tp, storePath: opts.self, sub: where.sub, original: target })
        } else if (where.kind === 'closure') {
          pending.push({ path: tp, storePath: where.storePath, sub: where.sub, original: target })
        } else {
          dropped.push({ path: tp, original: target })
        }
      },
    },
    { ...(opts.archive ? { archive: opts.archive } : {}), ...(opts.maxTotalSize ? { maxTotalSize: opts.maxTotalSize } : {}), ...(opts.maxEntries ? { maxEntries: opts.maxEntries } : {}) },
  )
  // Drain what follows the NAR so the hash and size cover the whole stream.
  for await (const _ of stream) void _
  if (!sel && rootKind !== undefined && rootKind !== 'directory') {
    const first = entries[0]?.path ?? pending[0]?.path ?? dropped[0]?.path ?? ''
    for (let d = path.posix.dirname(first); d !== '.'; d = path.posix.dirname(d)) entries.push({ path: d, type: 'dir', mode: 0o755 })
  }
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  return { entries, digest: hash.digest(), size, pending, dropped, record, selected }
}
