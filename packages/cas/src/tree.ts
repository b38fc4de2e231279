/**
 * Tree digests: one BLAKE3 digest naming a whole indexed file map, used to tell whether two
 * fetched programs are byte-for-byte the same tree.
 */
import type { TreeItem } from './types.js'
import { CasError } from './casError.js'
import { isKey } from './blobKey.js'
import { blake3Hex } from './hash.js'

const TYPES = new Set(['file', 'dir', 'symlink'])

/**
 * BLAKE3 hex digest of a tree. Canonical serialisation, hashed as UTF-8:
 *   entries sorted by the bytes of their UTF-8 path (not by UTF-16 code units), each one line
 *     `<type>\0<path>\0<mode>\0<key-or-target>\n`
 *   where <type> is file|dir|symlink, <mode> is the permission bits (mode & 0o7777) in octal
 *   without leading zeros ("755", "0" for none), and the last field is the blob key for a file,
 *   the target for a symlink, and empty for a directory.
 * The input order does not matter. No field may contain NUL, so the encoding is unambiguous
 * (a "\n" inside a path or target is allowed: the type after it never contains one). A path
 * given twice, a file without a valid key, a symlink without a target, or a NUL anywhere is
 * ERR_NIP_CAS_CORRUPT.
 */
export function treeDigest(items: TreeItem[]): string {
  // Trees usually arrive sorted (unpacking sorts them): then no path is converted or compared as bytes.
  if (inByteOrder(items)) {
    let text = ''
    for (const item of items) text += lineOf(item)
    return blake3Hex(Buffer.from(text, 'utf8'))
  }
  const lines = items.map((item) => ({ path: Buffer.from(item.path, 'utf8'), line: lineOf(item) }))
  lines.sort((a, b) => Buffer.compare(a.path, b.path))
  for (let i = 1; i < lines.length; i++) {
    if (Buffer.compare(lines[i - 1].path, lines[i].path) === 0) {
      throw malformed(`path ${JSON.stringify(lines[i].path.toString('utf8'))} appears twice`, { path: lines[i].path.toString('utf8') })
    }
  }
  return blake3Hex(Buffer.from(lines.map((l) => l.line).join(''), 'utf8'))
}

/**
 * Whether the paths are strictly increasing in UTF-8 byte order, judged on the strings: UTF-16
 * code-unit order is code point order (and so UTF-8 byte order) unless a surrogate meets a code
 * unit from U+E000 up, so a path holding either is left to the byte comparison.
 */
function inByteOrder(items: TreeItem[]): boolean {
  let previous: string | undefined
  for (const item of items) {
    const p = item.path
    if (typeof p !== 'string' || HIGH_CODE_UNITS.test(p)) return false
    if (previous !== undefined && !(previous < p)) return false
    previous = p
  }
  return true
}
const HIGH_CODE_UNITS = /[\uD800-\uFFFF]/

function lineOf(item: TreeItem): string {
  if (!TYPES.has(item.type)) throw malformed(`unknown entry type ${JSON.stringify(item.type)}`, { item })
  if (typeof item.path !== 'string' || item.path === '' || item.path.includes('\0')) {
    throw malformed(`bad path ${JSON.stringify(item.path)}`, { item })
  }
  if (!Number.isInteger(item.mode) || item.mode < 0) throw malformed(`bad mode ${String(item.mode)} for ${item.path}`, { item })
  let last = ''
  if (item.type === 'file') {
    if (item.key === undefined || !isKey(item.key)) throw malformed(`file ${item.path} has no valid blob key`, { item })
    last = item.key
  } else if (item.type === 'symlink') {
    if (typeof item.target !== 'string' || item.target === '' || item.target.includes('\0')) {
      throw malformed(`symlink ${item.path} has no valid target`, { item })
    }
    last = item.target
  }
  return `${item.type}\0${item.path}\0${(item.mode & 0o7777).toString(8)}\0${last}\n`
}

function malformed(message: string, data: Record<string, unknown>): CasError {
  return new CasError('ERR_NIP_CAS_CORRUPT', `malformed tree entry: ${message}`, {
    hint: 'A tree lists each path once; files carry a blob key and symlinks a target, and no field contains NUL.',
    data,
  })
}
