/**
 * Which package format a local file is, judged by its content (never by its name), so that
 * `nip install ./file` reaches the source that can read it:
 *
 *   an `ar` archive whose first member is `debian-binary`           → debian (a .deb)
 *   an `ar` archive whose first member is `+PKG_HASH`                → pkgsrc (a signed package)
 *   a file ending in an XPAK segment (`XPAKSTOP`, length, `STOP`)    → gentoo (a .tbz2/.xpak)
 *   a plain tar whose first member is `gpkg-1` or `<name>/gpkg-1`     → gentoo (a GPKG)
 *   a tar (plain, gzip, xz, zstd or bzip2) holding `.PKGINFO`        → pacman
 *   a tar holding `+CONTENTS`                                        → pkgsrc
 *   a tar whose members all lie under `<Name>/<Version>/` with a
 *   `<Name>/<Version>/Resources/` among them                         → gobo
 *
 * pacman's and pkgsrc's metadata members come first in their archives (makepkg and pkg_create
 * write them first), so they are looked for among the first FIRST_MEMBERS members only; a Gobo
 * package's Resources/ can be anywhere in it, so a tar shaped like one is walked (headers only,
 * the content is decompressed and dropped) until Resources/ appears, the shape breaks, or the
 * archive ends. The walk is bounded by the archive limits (entries, expanded bytes).
 *
 * Reads only: nothing is written anywhere.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { AdapterId } from './adapter.js'
import { decompressChunks, detectCompression, looksLikeTar, type Compression } from './archive/decompress.js'
import { DEFAULT_LIMITS, type Limits } from './archive/limits.js'
import { TarScanner } from './archive/tarScanner.js'
import { NipError } from './errors.js'

export type PackageFormat = 'debian' | 'pkgsrc-signed' | 'gentoo-xpak' | 'gentoo-gpkg' | 'pacman' | 'pkgsrc' | 'gobo'

export interface SniffedFormat {
  format: PackageFormat
  /** The source that installs this format. */
  source: AdapterId
  /** For messages: "a Debian binary package (ar archive with debian-binary)". */
  description: string
}

export interface UnrecognisedFile {
  format: null
  /** What the file turned out to be, for the message: "a gzip-compressed tar whose first members are …". */
  found: string
}

/** What the sniffer looks for, in the words of ERR_NIP_BAD_PACKAGE's message. */
export const LOOKED_FOR = [
  '.PKGINFO in a tar (pacman)',
  '+CONTENTS in a tar, or an ar archive starting with +PKG_HASH (pkgsrc)',
  'an ar archive starting with debian-binary (Debian)',
  'a tar starting with gpkg-1, or a trailing XPAK segment (Gentoo)',
  'a tar of <Name>/<Version>/ with Resources/ (GoboLinux)',
] as const

/** pacman's and pkgsrc's metadata members are looked for among this many first members. */
export const FIRST_MEMBERS = 32

const DESCRIPTIONS: Record<PackageFormat, { source: AdapterId; what: string }> = {
  debian: { source: 'debian', what: 'a Debian binary package (an ar archive starting with debian-binary)' },
  'pkgsrc-signed': { source: 'pkgsrc', what: 'a signed pkgsrc package (an ar archive starting with +PKG_HASH)' },
  'gentoo-xpak': { source: 'gentoo', what: 'a Gentoo XPAK binary package (a tarball with a trailing XPAK segment)' },
  'gentoo-gpkg': { source: 'gentoo', what: 'a Gentoo GPKG binary package (a tar starting with gpkg-1)' },
  pacman: { source: 'pacman', what: 'a pacman package (a tar holding .PKGINFO)' },
  pkgsrc: { source: 'pkgsrc', what: 'a pkgsrc binary package (a tar holding +CONTENTS)' },
  gobo: { source: 'gobo', what: 'a GoboLinux package (a tar of <Name>/<Version>/ with Resources/)' },
}

function found(format: PackageFormat, detail = ''): SniffedFormat {
  const d = DESCRIPTIONS[format]
  return { format, source: d.source, description: detail ? `${d.what}, ${detail}` : d.what }
}

const AR_MAGIC = '!<arch>\n'
const READ_CHUNK = 64 * 1024

/** The format of the package file at `file`, or what it was found to be instead. */
export async function sniffPackageFile(file: string, limits: Limits = DEFAULT_LIMITS): Promise<SniffedFormat | UnrecognisedFile> {
  let fh: fs.promises.FileHandle
  try {
    fh = await fs.promises.open(file, 'r')
  } catch (e) {
    throw new NipError('ERR_NIP_BAD_PACKAGE', `Cannot read the package file ${file}: ${(e as Error).message}`, {
      hint: 'Name an existing, readable package file.',
      data: { file, errno: (e as NodeJS.ErrnoException).code },
      cause: e,
    })
  }
  try {
    const st = await fh.stat()
    if (!st.isFile()) return { format: null, found: 'not a regular file' }
    const head = Buffer.alloc(Math.min(st.size, 512))
    await fh.read(head, 0, head.length, 0)
    if (st.size === 0) return { format: null, found: 'an empty file' }

    if (head.length >= 68 && head.subarray(0, 8).toString('latin1') === AR_MAGIC) {
      // The first member's name: 16 bytes, space-padded, GNU ar ends it with "/".
      const name = head.subarray(8, 24).toString('latin1').replace(/ +$/, '').replace(/\/$/, '')
      if (name === 'debian-binary') return found('debian')
      if (name === '+PKG_HASH') return found('pkgsrc-signed')
      return { format: null, found: `an ar archive whose first member is ${JSON.stringify(name)}` }
    }

    if (st.size >= 24) {
      const tail = Buffer.alloc(16)
      await fh.read(tail, 0, 16, st.size - 16)
      if (tail.subarray(0, 8).toString('latin1') === 'XPAKSTOP' && tail.subarray(12, 16).toString('latin1') === 'STOP') return found('gentoo-xpak')
    }

    const compression = detectCompression(head)
    if (compression === 'none' && !looksLikeTar(head)) return { format: null, found: 'neither an ar archive nor a tar (compressed or not)' }
    return await walkTar(fh, compression, limits, file)
  } finally {
    await fh.close()
  }
}

/** Names as tar tools write them: "./x" and "x" are the same member. */
function memberName(raw: string): string {
  return raw.replace(/^(\.\/)+/, '').replace(/\/+$/, '')
}

async function walkTar(fh: fs.promises.FileHandle, compression: Compression, limits: Limits, file: string): Promise<SniffedFormat | UnrecognisedFile> {
  const packed = compression === 'none' ? 'a tar' : `a ${compression}-compressed tar`
  async function* chunks(): AsyncGenerator<Buffer> {
    let pos = 0
    for (;;) {
      const buf = Buffer.alloc(READ_CHUNK)
      const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, pos)
      if (bytesRead === 0) return
      pos += bytesRead
      yield buf.subarray(0, bytesRead)
    }
  }
  const scanner = new TarScanner(0)
  const first: string[] = []
  let members = 0
  let expanded = 0
  /** While every member lies under one <Name>/<Version>/: those two components. */
  let gobo: { name: string; version?: string } | null | undefined
  const judge = (raw: string): SniffedFormat | undefined => {
    const name = memberName(raw)
    members++
    if (first.length < 8) first.push(name || '.')
    if (members <= FIRST_MEMBERS) {
      if (name === '.PKGINFO') return found('pacman', packed === 'a tar' ? 'uncompressed' : `${compression}-compressed`)
      if (name === '+CONTENTS') return found('pkgsrc', packed === 'a tar' ? 'uncompressed' : `${compression}-compressed`)
      if (members === 1 && compression === 'none' && /^(?:[^/]+\/)?gpkg-1$/.test(name)) return found('gentoo-gpkg')
    }
    if (name === '') return undefined
    const parts = name.split('/')
    if (gobo === undefined) gobo = { name: parts[0] }
    if (gobo === null) return undefined
    if (parts[0] !== gobo.name) gobo = null
    else if (parts.length > 1) {
      if (gobo.version === undefined) gobo.version = parts[1]
      else if (parts[1] !== gobo.version) gobo = null
      if (gobo !== null && parts[2] === 'Resources') return found('gobo', `${packed === 'a tar' ? 'uncompressed' : `${compression}-compressed`}`)
    }
    return undefined
  }
  const unrecognised = (): UnrecognisedFile => ({
    format: null,
    found: members === 0 ? `${packed} with no members` : `${packed} whose first members are ${first.join(', ')}${members > first.length ? ', …' : ''}`,
  })
  try {
    for await (const chunk of decompressChunks(chunks(), { compression, archive: file })) {
      expanded += chunk.length
      scanner.push(chunk)
      for (const ev of scanner.take()) {
        if (ev.kind !== 'entry' && ev.kind !== 'begin') continue
        const hit = judge(ev.header.name)
        if (hit) return hit
        // Past the first members nothing but a Gobo-shaped tar is worth walking on.
        if (members >= FIRST_MEMBERS && gobo === null) return unrecognised()
        if (members > limits.maxEntries) return unrecognised()
      }
      if (expanded > limits.maxTotalSize) return unrecognised()
    }
  } catch (e) {
    return { format: null, found: `${packed} that cannot be read (${(e as Error).message.split('\n')[0]})` }
  }
  return unrecognised()
}

/** ERR_NIP_BAD_PACKAGE for a file no source recognises, naming what was looked for. */
export function unrecognisedPackage(file: string, u: UnrecognisedFile): NipError {
  return new NipError('ERR_NIP_BAD_PACKAGE', `${path.basename(file)} is not a package file nip recognises: it is ${u.found}. Looked for: ${LOOKED_FOR.join('; ')}.`, {
    hint: 'Give a pacman, pkgsrc, Debian, Gentoo or GoboLinux binary package file.',
    data: { file, found: u.found, lookedFor: [...LOOKED_FOR] },
  })
}
