/**
 * The NAR writer (SourceAccessor::dumpPath, src/libutil/archive.cc): directory entries sorted by
 * raw bytes, `executable` only for files with the user-execute bit, nothing else recorded. Output
 * is a stream of chunks; file contents are streamed, never read whole.
 */
import { createReadStream } from 'node:fs'
import { lstat, readdir, readlink } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import path from 'node:path'
import { NipError, fromSystemError } from '@nip/core'
import { NAR_MAGIC } from './narReader.js'

/** An in-memory description of a NAR object (used for small trees and tests). */
export type NarNode =
  | { type: 'regular'; executable?: boolean; contents: Buffer }
  | { type: 'symlink'; target: string }
  | { type: 'directory'; entries: Record<string, NarNode> }

export interface DumpOptions {
  /** Leave this entry out. */
  skip?: (relPath: string) => boolean
  /** Write this node instead of what is on disk. */
  override?: (relPath: string) => { type: 'symlink'; target: string } | undefined
  /** Rewrites each file's contents (a stream transform that keeps the length). */
  transformContents?: (relPath: string, contents: AsyncIterable<Buffer>) => AsyncIterable<Buffer>
  /** Rewrites each symlink target. */
  transformTarget?: (relPath: string, target: string) => string
}

export function narString(s: string | Buffer): Buffer {
  const data = typeof s === 'string' ? Buffer.from(s) : s
  const pad = (8 - (data.length % 8)) % 8
  const out = Buffer.alloc(8 + data.length + pad)
  out.writeBigUInt64LE(BigInt(data.length), 0)
  data.copy(out, 8)
  return out
}

function lengthField(n: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(BigInt(n), 0)
  return b
}

function pad(n: number): Buffer {
  return Buffer.alloc((8 - (n % 8)) % 8)
}

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b))

/** Serialise an in-memory tree. */
export function* writeNarNode(node: NarNode, top = true): Generator<Buffer> {
  if (top) yield narString(NAR_MAGIC)
  yield narString('(')
  yield narString('type')
  if (node.type === 'regular') {
    yield narString('regular')
    if (node.executable) {
      yield narString('executable')
      yield narString('')
    }
    yield narString('contents')
    yield narString(node.contents)
  } else if (node.type === 'symlink') {
    yield narString('symlink')
    yield narString('target')
    yield narString(node.target)
  } else {
    yield narString('directory')
    for (const name of Object.keys(node.entries).sort(byBytes)) {
      yield narString('entry')
      yield narString('(')
      yield narString('name')
      yield narString(name)
      yield narString('node')
      yield* writeNarNode(node.entries[name], false)
      yield narString(')')
    }
  }
  yield narString(')')
}

/** Serialise the file, symlink or directory at `fsPath` (nix-store --dump). */
export async function* dumpPath(fsPath: string, opts: DumpOptions = {}): AsyncGenerator<Buffer> {
  yield narString(NAR_MAGIC)
  yield* dumpNode(fsPath, '', opts)
}

async function* dumpNode(fsPath: string, rel: string, opts: DumpOptions): AsyncGenerator<Buffer> {
  const replacement = opts.override?.(rel)
  if (replacement !== undefined) {
    yield* writeNarNode(replacement, false)
    return
  }
  let st
  try {
    st = await lstat(fsPath)
  } catch (e) {
    throw fromSystemError(e, 'reading a file for its NAR', fsPath)
  }
  yield narString('(')
  yield narString('type')
  if (st.isFile()) {
    yield narString('regular')
    if ((st.mode & 0o100) !== 0) {
      yield narString('executable')
      yield narString('')
    }
    yield narString('contents')
    yield lengthField(st.size)
    const raw = createReadStream(fsPath) as AsyncIterable<Buffer>
    const contents = opts.transformContents ? opts.transformContents(rel, raw) : raw
    let n = 0
    for await (const chunk of contents) {
      n += chunk.length
      yield chunk
    }
    if (n !== st.size) throw new NipError('ERR_NIP_IO', `${fsPath} changed size while it was read`, { data: { path: fsPath } })
    yield pad(st.size)
  } else if (st.isSymbolicLink()) {
    const target = await readlink(fsPath)
    yield narString('symlink')
    yield narString('target')
    yield narString(opts.transformTarget ? opts.transformTarget(rel, target) : target)
  } else if (st.isDirectory()) {
    yield narString('directory')
    const names = (await readdir(fsPath)).filter((n) => !opts.skip?.(rel === '' ? n : `${rel}/${n}`)).sort(byBytes)
    for (const name of names) {
      yield narString('entry')
      yield narString('(')
      yield narString('name')
      yield narString(name)
      yield narString('node')
      yield* dumpNode(path.join(fsPath, name), rel === '' ? name : `${rel}/${name}`, opts)
      yield narString(')')
    }
  } else {
    throw new NipError('ERR_NIP_BAD_PACKAGE', `${fsPath} is neither a file, a symlink nor a directory; a NAR cannot hold it`, { data: { path: fsPath } })
  }
  yield narString(')')
}

/** The sha256 and size of a NAR stream. */
export async function hashNar(chunks: AsyncIterable<Buffer> | Iterable<Buffer>, algorithm = 'sha256'): Promise<{ digest: Buffer; size: number }> {
  const h = createHash(algorithm)
  let size = 0
  for await (const c of chunks) {
    h.update(c)
    size += c.length
  }
  return { digest: h.digest(), size }
}
