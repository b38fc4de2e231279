/**
 * Tar fixtures in the real format (ustar, with pax headers where a name needs one), optionally
 * compressed. Names are written exactly as given — "/etc/x", "../x" and device nodes included —
 * so hostile archives can be built as easily as ordinary ones. Output is deterministic: mtime
 * defaults to the epoch, uid/gid to 0.
 */
import { spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import { compress as lzmaCompress } from 'lzma-native'
import { compress as zstdCompress } from 'zstd-napi'
import { pack as createPack, type Header } from 'tar-stream'

export type FixtureCompression = 'none' | 'gzip' | 'xz' | 'zstd' | 'bzip2'

export interface FixtureEntry {
  /** Written verbatim as the member name. */
  path: string
  /** Default 'file'. */
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo'
  content?: string | Buffer
  /** Full mode bits including setuid/setgid/sticky (default 0644, 0755 for directories, 0777 for symlinks). */
  mode?: number
  /** Symlink target or hardlink target, verbatim. */
  target?: string
  uid?: number
  gid?: number
  mtime?: Date
  /** Extra pax records; a pax header is also forced when the name holds a NUL byte. */
  pax?: Record<string, string>
}

export interface BuildTarOptions {
  compression?: FixtureCompression
}

const TYPES: Record<NonNullable<FixtureEntry['type']>, Header['type']> = {
  file: 'file',
  dir: 'directory',
  symlink: 'symlink',
  hardlink: 'link',
  char: 'character-device',
  block: 'block-device',
  fifo: 'fifo',
}

const DEFAULT_MODES: Record<NonNullable<FixtureEntry['type']>, number> = {
  file: 0o644,
  dir: 0o755,
  symlink: 0o777,
  hardlink: 0o644,
  char: 0o600,
  block: 0o600,
  fifo: 0o600,
}

/** A tar archive of `entries`, in order, compressed as asked (default none). */
export async function buildTar(entries: FixtureEntry[], opts: BuildTarOptions = {}): Promise<Buffer> {
  const tar = await packTar(entries)
  return compressBuffer(tar, opts.compression ?? 'none')
}

async function packTar(entries: FixtureEntry[]): Promise<Buffer> {
  const pack = createPack()
  const chunks: Buffer[] = []
  const collected = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer))
    pack.on('end', () => resolve(Buffer.concat(chunks)))
    pack.on('error', reject)
  })
  for (const e of entries) {
    const type = e.type ?? 'file'
    const header: Partial<Header> & { name: string } = {
      name: e.path,
      type: TYPES[type],
      mode: e.mode ?? DEFAULT_MODES[type],
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? new Date(0),
    }
    if (e.target !== undefined) header.linkname = e.target
    if (type === 'char' || type === 'block') {
      header.devmajor = 1
      header.devminor = 3
    }
    if (e.pax !== undefined || e.path.includes('\0') || (e.target ?? '').includes('\0')) header.pax = { ...(e.pax ?? {}) }
    const content = type === 'file' ? Buffer.from(e.content ?? '') : Buffer.alloc(0)
    await new Promise<void>((resolve, reject) => {
      pack.entry(header, content, (err) => (err ? reject(err) : resolve()))
    })
  }
  pack.finalize()
  return collected
}

/** Compress `data` as `compression` (bzip2 needs the system `bzip2` program). */
export async function compressBuffer(data: Buffer, compression: FixtureCompression): Promise<Buffer> {
  switch (compression) {
    case 'none':
      return data
    case 'gzip':
      return promisify(gzip)(data)
    case 'xz':
      return new Promise<Buffer>((resolve, reject) => {
        lzmaCompress(data, { preset: 6 }, (result: Buffer, error?: Error) => (error ? reject(error) : resolve(result)))
      })
    case 'zstd':
      return zstdCompress(data)
    case 'bzip2':
      return bzip2WithSystemTool(data)
  }
}

function bzip2WithSystemTool(data: Buffer): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const child = spawn('bzip2', ['-c', '-9'], { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    child.stdout.on('data', (c: Buffer) => out.push(c))
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'ENOENT'
          ? new Error('buildTar: bzip2 compression needs the `bzip2` program on PATH (no JavaScript encoder is installed)')
          : e,
      )
    })
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`bzip2 exited with ${code}`))))
    child.stdin.on('error', () => {})
    child.stdin.end(data)
  })
}

export interface HostileArchive {
  entries: FixtureEntry[]
  /** The NipError code the unpacker must refuse it with. */
  code: string
}

/**
 * One archive per unpacking refusal, each with the code it must be refused with (under the
 * default limits and absoluteSymlinks: 'refuse'). Every archive begins with an ordinary file,
 * so a refusal cannot be mistaken for an empty-archive error.
 */
export function buildHostileArchives(): Record<string, HostileArchive> {
  const ok: FixtureEntry = { path: 'bin/ok', content: 'ok\n', mode: 0o755 }
  const tree = (...rest: FixtureEntry[]): FixtureEntry[] => [ok, ...rest]
  return {
    'absolute-path': { entries: tree({ path: '/etc/passwd', content: 'root::0:0::/:/bin/sh\n' }), code: 'ERR_NIP_UNSAFE_ABSOLUTE_PATH' },
    'parent-path': { entries: tree({ path: '../../etc/passwd', content: 'x\n' }), code: 'ERR_NIP_UNSAFE_PARENT_PATH' },
    'parent-path-inner': { entries: tree({ path: 'share/../../x', content: 'x\n' }), code: 'ERR_NIP_UNSAFE_PARENT_PATH' },
    'empty-name': { entries: tree({ path: '', content: 'x\n' }), code: 'ERR_NIP_UNSAFE_NAME' },
    'nul-in-name': { entries: tree({ path: 'bin/a\0b', content: 'x\n' }), code: 'ERR_NIP_UNSAFE_NAME' },
    'name-too-long': { entries: tree({ path: `share/${'n'.repeat(5000)}`, content: 'x\n' }), code: 'ERR_NIP_UNSAFE_NAME' },
    'name-too-deep': { entries: tree({ path: `${'d/'.repeat(300)}f`, content: 'x\n' }), code: 'ERR_NIP_UNSAFE_NAME' },
    'through-symlink': {
      entries: tree({ path: 'lib', type: 'symlink', target: '.' }, { path: 'lib/evil', content: 'x\n' }),
      code: 'ERR_NIP_UNSAFE_THROUGH_SYMLINK',
    },
    'symlink-then-file': {
      entries: tree({ path: 'share', type: 'symlink', target: 'bin' }, { path: 'share/ok', content: 'overwrite\n' }),
      code: 'ERR_NIP_UNSAFE_THROUGH_SYMLINK',
    },
    'symlink-absolute': { entries: tree({ path: 'bin/sh', type: 'symlink', target: '/bin/bash' }), code: 'ERR_NIP_UNSAFE_SYMLINK' },
    'symlink-escape': { entries: tree({ path: 'lib/up', type: 'symlink', target: '../../etc' }), code: 'ERR_NIP_UNSAFE_SYMLINK' },
    'symlink-chain-escape': {
      entries: tree({ path: 'a/root', type: 'symlink', target: '..' }, { path: 'b', type: 'symlink', target: 'a/root/..' }),
      code: 'ERR_NIP_UNSAFE_SYMLINK',
    },
    'hardlink-absolute': { entries: tree({ path: 'bin/pw', type: 'hardlink', target: '/etc/passwd' }), code: 'ERR_NIP_UNSAFE_HARDLINK' },
    'hardlink-parent': { entries: tree({ path: 'bin/pw', type: 'hardlink', target: '../etc/passwd' }), code: 'ERR_NIP_UNSAFE_HARDLINK' },
    'hardlink-missing': { entries: tree({ path: 'bin/pw', type: 'hardlink', target: 'bin/later' }), code: 'ERR_NIP_UNSAFE_HARDLINK' },
    'hardlink-to-symlink': {
      entries: tree({ path: 'bin/s', type: 'symlink', target: 'ok' }, { path: 'bin/h', type: 'hardlink', target: 'bin/s' }),
      code: 'ERR_NIP_UNSAFE_HARDLINK',
    },
    'char-device': { entries: tree({ path: 'dev/null', type: 'char' }), code: 'ERR_NIP_UNSAFE_DEVICE' },
    'block-device': { entries: tree({ path: 'dev/sda', type: 'block' }), code: 'ERR_NIP_UNSAFE_DEVICE' },
    fifo: { entries: tree({ path: 'run/pipe', type: 'fifo' }), code: 'ERR_NIP_UNSAFE_DEVICE' },
    'duplicate-file-to-dir': {
      entries: tree({ path: 'share/x', content: 'x\n' }, { path: 'share/x', type: 'dir' }),
      code: 'ERR_NIP_UNSAFE_DUPLICATE',
    },
    'duplicate-dir-to-symlink': {
      entries: tree({ path: 'share', type: 'dir' }, { path: 'share', type: 'symlink', target: 'bin' }),
      code: 'ERR_NIP_UNSAFE_DUPLICATE',
    },
    'duplicate-file-to-symlink': {
      entries: tree({ path: 'bin/ok', type: 'symlink', target: 'ok2' }),
      code: 'ERR_NIP_UNSAFE_DUPLICATE',
    },
  }
}
