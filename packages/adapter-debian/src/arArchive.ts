/**
 * A small reader for the `ar` archives that wrap .deb packages (`man/deb.pod`, `ar(5)`): the
 * global magic `!<arch>\n`, then members with a 60-byte header — name[16] (optional trailing
 * `/`), mtime[12], uid[6], gid[6], mode[8] (octal), size[10] (decimal), "`\n" — and data padded
 * to an even length.
 *
 * Contract: only headers are read (positional reads); member data is located by offset so callers
 * can stream it. A malformed or truncated header is ERR_NIP_BAD_PACKAGE naming the offset.
 */
import type { FileHandle } from 'node:fs/promises'
import { NipError } from '@nip/core'

export const AR_MAGIC = '!<arch>\n'
const HEADER_SIZE = 60

export interface ArMember {
  name: string
  /** Offset of the member's data in the file. */
  offset: number
  size: number
  mode: number
}

/** Members in archive order. `fileSize` bounds every member. */
export async function listArMembers(fh: FileHandle, fileSize: number, file: string): Promise<ArMember[]> {
  const magic = Buffer.alloc(AR_MAGIC.length)
  await fh.read(magic, 0, magic.length, 0)
  if (magic.toString('latin1') !== AR_MAGIC) throw malformed(file, 0, 'it is not an ar archive (no !<arch> magic)')
  const members: ArMember[] = []
  let at = AR_MAGIC.length
  const header = Buffer.alloc(HEADER_SIZE)
  while (at < fileSize) {
    const { bytesRead } = await fh.read(header, 0, HEADER_SIZE, at)
    if (bytesRead < HEADER_SIZE) throw malformed(file, at, 'a member header is truncated')
    members.push(parseHeader(header, at, fileSize, file))
    const m = members[members.length - 1]
    at = m.offset + m.size + (m.size & 1)
  }
  return members
}

/** Parse one member header found at `at`. */
export function parseHeader(header: Buffer, at: number, fileSize: number, file: string): ArMember {
  if (header.toString('latin1', 58, 60) !== '`\n') throw malformed(file, at, 'a member header has a bad terminator')
  let name = header.toString('latin1', 0, 16).replace(/ +$/, '')
  if (name.endsWith('/')) name = name.slice(0, -1)
  const sizeText = header.toString('latin1', 48, 58).trim()
  const modeText = header.toString('latin1', 40, 48).trim()
  if (!/^[0-9]+$/.test(sizeText)) throw malformed(file, at, `member ${JSON.stringify(name)} has a bad size field`)
  if (modeText !== '' && !/^[0-7]+$/.test(modeText)) throw malformed(file, at, `member ${JSON.stringify(name)} has a bad mode field`)
  const size = Number(sizeText)
  const offset = at + HEADER_SIZE
  if (offset + size > fileSize) throw malformed(file, at, `member ${JSON.stringify(name)} runs past the end of the file`)
  if (name === '' || name.includes('\0')) throw malformed(file, at, 'a member has an empty name')
  return { name, offset, size, mode: modeText === '' ? 0 : parseInt(modeText, 8) }
}

function malformed(file: string, offset: number, why: string): NipError {
  return new NipError('ERR_NIP_BAD_PACKAGE', `${file}: ${why} (at byte ${offset})`, {
    hint: 'The .deb is damaged or not a Debian package.',
    data: { file, offset },
  })
}
