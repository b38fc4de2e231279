/**
 * pkgsrc binary packages (`.tgz`, `.tbz`, `.txz`, `.tzst`: a tar archive in any compression
 * core's decompressor detects), read as pkg_add reads them (`add/perform.c`):
 *
 * - The archive starts with the metadata members, each at most once, in pkg_create's order
 *   (META_ORDER); +CONTENTS, +COMMENT and +DESC are required. The first member that is not a
 *   metadata name starts the payload.
 * - The payload lists exactly the files of +CONTENTS, in its order, with the same names
 *   ("PLIST entry and package don't match"); nothing more, nothing less, no directories.
 * - Every file with `@comment MD5:` is hashed while it streams into the CAS, and a mismatch
 *   refuses the package (ERR_NIP_HASH_MISMATCH) before anything is returned; a symlink must point
 *   where its `@comment Symlink:` says.
 * - Paths are mapped from the package prefix (the first `@cwd`) to the Gobo layout
 *   (packageLayout.ts); files under another `@cwd` outside the prefix are refused.
 *
 * Nothing but CAS blobs is written.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import path from 'node:path'
import {
  NipError,
  decompressStream,
  readTar,
  unpackToCas,
  type ArchiveWarning,
  type Limits,
  type TarEntry,
  type TreeEntry,
} from '@nip/core'
import type { Cas } from '@nip/cas'
import type { StageTarget } from '@nip/core'
import { mapPackagePath, prefixRelative } from './packageLayout.js'
import { parsePlist, type Plist, type PlistFile } from './plist.js'

/** pkg_create's member order (`pkg_meta` in add/perform.c). */
export const META_ORDER = [
  '+CONTENTS', '+COMMENT', '+DESC', '+INSTALL', '+DEINSTALL', '+DISPLAY', '+MTREE_DIRS', '+BUILD_VERSION', '+BUILD_INFO',
  '+SIZE_PKG', '+SIZE_ALL', '+PRESERVE', '+VIEWS', '+REQUIRED_BY', '+INSTALLED_INFO',
] as const
const REQUIRED_META = ['+CONTENTS', '+COMMENT', '+DESC']
const META_INDEX = new Map<string, number>(META_ORDER.map((m, i) => [m, i]))

export interface PackageMetadata {
  /** Metadata members by name, as text. */
  members: Map<string, string>
  plist: Plist
  comment: string
  description: string
  buildInfo: Record<string, string>
  /** +SIZE_PKG (bytes installed), when present. */
  sizePkg?: number
}

export interface ReadOptions {
  limits: Limits
  /** Name of the package file, for messages. */
  archive: string
}

/** Tracks the metadata section: order and uniqueness, as pkg_add's read_meta_data. */
class MetaSection {
  private last = -1
  readonly seen = new Set<string>()
  ended = false

  constructor(private readonly archive: string) {}

  /** Whether `member` is a metadata member (false once the payload started). */
  accept(member: string): boolean {
    if (this.ended) return false
    const i = META_INDEX.get(member)
    if (i === undefined) {
      this.ended = true
      this.checkRequired()
      return false
    }
    if (this.seen.has(member)) throw badPackage(`${this.archive}: duplicate entry ${member}, package corrupt`, this.archive)
    if (i < this.last) throw badPackage(`${this.archive}: misordered package (${member} after ${META_ORDER[this.last]})`, this.archive)
    this.last = i
    this.seen.add(member)
    return true
  }

  checkRequired(): void {
    if (this.seen.size === 0 || !this.seen.has('+CONTENTS') || this.last === -1) {
      throw badPackage(`${this.archive}: invalid binary package, it does not start with +CONTENTS`, this.archive)
    }
    for (const m of REQUIRED_META) if (!this.seen.has(m)) throw badPackage(`${this.archive}: no ${m} in package file`, this.archive)
  }
}

/** Read only the metadata section (stops at the first payload member). */
export async function readPackageMetadata(src: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | NodeJS.ReadableStream, opts: ReadOptions): Promise<PackageMetadata> {
  const section = new MetaSection(opts.archive)
  const members = new Map<string, string>()
  const tar = readTar(decompressStream(src, { archive: opts.archive }), { limits: opts.limits, archive: opts.archive })
  for await (const entry of tar) {
    if (!section.accept(entry.path)) break
    if (entry.type !== 'file') throw badPackage(`${opts.archive}: metadata member ${entry.path} is not a regular file`, opts.archive)
    if (entry.size > 1024 * 1024) throw badPackage(`${opts.archive}: metadata member ${entry.path} is implausibly large`, opts.archive)
    const chunks: Buffer[] = []
    for await (const c of entry.body!) chunks.push(c)
    members.set(entry.path, Buffer.concat(chunks).toString('utf8'))
  }
  if (!section.ended) section.checkRequired()
  return metadataOf(members, opts.archive)
}

export function metadataOf(members: Map<string, string>, archive: string): PackageMetadata {
  const plist = parsePlist(members.get('+CONTENTS')!, `${archive}: +CONTENTS`)
  const buildInfo: Record<string, string> = {}
  for (const line of (members.get('+BUILD_INFO') ?? '').split('\n')) {
    const eq = line.indexOf('=')
    if (eq > 0) buildInfo[line.slice(0, eq)] = line.slice(eq + 1)
  }
  const size = members.get('+SIZE_PKG')?.trim()
  return {
    members,
    plist,
    comment: (members.get('+COMMENT') ?? '').trim(),
    description: (members.get('+DESC') ?? '').replace(/\n+$/, ''),
    buildInfo,
    ...(size !== undefined && /^[0-9]+$/.test(size) ? { sizePkg: Number(size) } : {}),
  }
}

export interface UnpackPackageOptions extends ReadOptions {
  cas: Cas
  /** Create the files in the staging directory while unpacking (AdapterContext.stage). */
  stage?: StageTarget
  metadata: PackageMetadata
  onWarning?: (w: ArchiveWarning) => void
}

export interface UnpackedPackage {
  entries: TreeEntry[]
  /** Files whose MD5 was checked (the rest had no checksum comment). */
  verified: number
}

/** Unpack the payload into the CAS, enforcing the packing list (see the module contract). */
export async function unpackPackage(src: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | NodeJS.ReadableStream, opts: UnpackPackageOptions): Promise<UnpackedPackage> {
  const { plist } = opts.metadata
  const { archive } = opts
  const payload = plist.files
  const section = new MetaSection(archive)
  const byMember = new Map<string, PlistFile>()
  const pendingMd5 = new Map<string, PlistFile>()
  let next = 0
  let verified = 0
  const result = await unpackToCas(src, {
    cas: opts.cas,
    limits: opts.limits,
    ...(opts.stage !== undefined ? { stage: opts.stage } : {}),
    archive,
    captureMetadata: (member) => !section.ended && META_INDEX.has(member),
    mapPath: (member, entry) => {
      if (section.accept(member)) return null
      const expected = payload[next]
      if (expected === undefined || expected.path !== member) {
        throw badPackage(
          expected === undefined
            ? `${archive}: the package contains ${member}, which is not in its packing list`
            : `${archive}: PLIST entry and package don't match (expected ${expected.path}, found ${member})`,
          archive,
        )
      }
      next++
      byMember.set(member, expected)
      checkEntry(expected, entry, archive)
      if (entry.type === 'file' && expected.md5 !== undefined) {
        entry.body = md5Checked(entry.body!, expected, archive, () => verified++)
      } else if (entry.type === 'hardlink' && expected.md5 !== undefined) {
        pendingMd5.set(member, expected)
      }
      return mapPackagePath(prefixRelative(expected, plist.prefix, archive))
    },
    isSettings: (mapped) => mapped.startsWith('Settings/'),
    ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
  })
  if (!section.ended) section.checkRequired()
  if (next < payload.length) {
    throw badPackage(`${archive}: the package lacks ${payload.length - next} file(s) of its packing list, starting with ${payload[next].path}`, archive)
  }
  // Hardlinked members share the blob of the file they name: check them from the store.
  const mapped = new Map(result.entries.map((e) => [e.path, e]))
  for (const [member, file] of pendingMd5) {
    const entry = mapped.get(mapPackagePath(prefixRelative(file, plist.prefix, archive)))
    const digest = await md5OfFile(opts.cas.pathOf(entry!.blob!))
    if (digest !== file.md5) throw md5Mismatch(member, file.md5!, digest, archive)
    verified++
  }
  const entries = result.entries.map((e) => (e.path === 'Settings' || e.path.startsWith('Settings/') ? { ...e, settings: true } : e))
  return { entries: applyModes(entries, byMember, plist.prefix, archive, opts.onWarning), verified }
}

function checkEntry(expected: PlistFile, entry: TarEntry, archive: string): void {
  if (entry.type === 'dir') throw badPackage(`${archive}: ${entry.path} is a directory, but the packing list names files only`, archive)
  if (entry.type === 'symlink' && expected.symlink !== undefined && expected.symlink !== entry.target) {
    throw badPackage(`${archive}: the symlink ${entry.path} points to ${entry.target}, its packing list says ${expected.symlink}`, archive)
  }
  if (entry.type !== 'symlink' && expected.symlink !== undefined) {
    throw badPackage(`${archive}: ${entry.path} should be a symlink to ${expected.symlink}`, archive)
  }
}

/** Pass the body through, comparing its MD5 with the packing list's at the end. */
async function* md5Checked(body: AsyncIterable<Buffer>, file: PlistFile, archive: string, onVerified: () => void): AsyncGenerator<Buffer> {
  const hash = createHash('md5')
  for await (const chunk of body) {
    hash.update(chunk)
    yield chunk
  }
  const digest = hash.digest('hex')
  if (digest !== file.md5) throw md5Mismatch(file.path, file.md5!, digest, archive)
  onVerified()
}

function md5Mismatch(member: string, expected: string, actual: string, archive: string): NipError {
  return new NipError('ERR_NIP_HASH_MISMATCH', `${archive}: ${member} does not match the MD5 in its packing list (expected ${expected}, got ${actual}).`, {
    hint: 'The package is corrupt or was tampered with; nothing was grafted. Fetch it again or ask the repository maintainer.',
    data: { archive, entry: member, algorithm: 'md5', expected, actual },
  })
}

async function md5OfFile(file: string): Promise<string> {
  const hash = createHash('md5')
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/**
 * `@mode` overrides the archive's permission bits, as pkg_add does; setuid/setgid stay cleared,
 * and a mode that would change a file's executable bit is not applied (the bit is part of the
 * blob's address) but reported.
 */
function applyModes(entries: TreeEntry[], byMember: Map<string, PlistFile>, prefix: string, archive: string, onWarning?: (w: ArchiveWarning) => void): TreeEntry[] {
  const modes = new Map<string, number>()
  for (const file of byMember.values()) {
    if (file.mode === undefined || !/^[0-7]{3,4}$/.test(file.mode)) continue
    modes.set(mapPackagePath(prefixRelative(file, prefix, archive)), parseInt(file.mode, 8) & 0o777)
  }
  return entries.map((e) => {
    const mode = modes.get(e.path)
    if (mode === undefined || e.type !== 'file') return e
    if ((mode & 0o111) !== 0 !== ((e.mode & 0o111) !== 0)) {
      onWarning?.({ code: 'pkgsrc-mode-ignored', message: `@mode ${mode.toString(8)} for ${e.path} would change its executable bit; the archive's mode is kept`, path: e.path })
      return e
    }
    return { ...e, mode }
  })
}

export function badPackage(message: string, archive: string): NipError {
  return new NipError('ERR_NIP_BAD_PACKAGE', `${message}.`, {
    hint: 'The package is malformed or was not made by pkg_create; nothing was grafted.',
    data: { archive: path.basename(archive) },
  })
}
