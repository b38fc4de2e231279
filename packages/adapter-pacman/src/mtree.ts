/**
 * `.MTREE`: the gzip-compressed libarchive mtree file makepkg writes with
 * `--options='!all,use-set,type,uid,gid,mode,time,size,sha256,link'`. Names use libarchive's
 * octal escapes (`\040` for a space); `/set` and `/unset` carry defaults. Dot-files at the top
 * (the metadata members) are not part of the payload and are skipped, as libalpm does.
 */
import { gunzipSync } from 'node:zlib'
import { NipError } from '@nip/core'

export interface MtreeEntry {
  /** Archive path without the leading "./". */
  path: string
  type: 'file' | 'dir' | 'link'
  mode?: number
  size?: number
  sha256?: string
  link?: string
}

function unescape(s: string): string {
  // Most names have no escape at all.
  if (!s.includes('\\')) return s
  const bytes: number[] = []
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && /^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) {
      bytes.push(parseInt(s.slice(i + 1, i + 4), 8))
      i += 3
    } else {
      for (const b of Buffer.from(s[i], 'utf8')) bytes.push(b)
    }
  }
  return Buffer.from(bytes).toString('utf8')
}

/** Parse a (gzip-compressed or plain) `.MTREE`. */
export function parseMtree(data: Buffer, file: string): MtreeEntry[] {
  let text: string
  try {
    text = (data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data).toString('utf8')
  } catch (e) {
    throw new NipError('ERR_NIP_BAD_PACKAGE', `${file}: .MTREE is not valid gzip data`, {
      hint: 'The package is damaged; download it again.',
      data: { file },
      cause: e,
    })
  }
  const defaults = new Map<string, string>()
  // One line's own keys, over the defaults (cleared per line, not copied from them).
  const own = new Map<string, string>()
  const get = (key: string): string | undefined => own.get(key) ?? defaults.get(key)
  const out: MtreeEntry[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const words = line.split(/[ \t]+/)
    const first = words[0]
    if (first === '/set') {
      for (let i = 1; i < words.length; i++) {
        const w = words[i]
        const eq = w.indexOf('=')
        if (eq > 0) defaults.set(w.slice(0, eq), w.slice(eq + 1))
      }
      continue
    }
    if (first === '/unset') {
      for (let i = 1; i < words.length; i++) defaults.delete(words[i])
      continue
    }
    own.clear()
    for (let i = 1; i < words.length; i++) {
      const w = words[i]
      const eq = w.indexOf('=')
      if (eq > 0) own.set(w.slice(0, eq), w.slice(eq + 1))
    }
    const path = unescape(first).replace(/^\.\//, '')
    if (path === '.' || path === '' || path.startsWith('.')) continue
    const type = get('type') ?? 'file'
    if (type !== 'file' && type !== 'dir' && type !== 'link') {
      throw new NipError('ERR_NIP_BAD_PACKAGE', `${file}: .MTREE lists ${path} as a ${type}`, {
        hint: 'pacman packages hold only files, directories and symlinks.',
        data: { file, path, type },
      })
    }
    const entry: MtreeEntry = { path, type }
    const mode = get('mode')
    if (mode !== undefined) entry.mode = parseInt(mode, 8)
    const size = get('size')
    if (size !== undefined && type === 'file') entry.size = Number(size)
    const sha = get('sha256digest') ?? get('sha256')
    if (sha !== undefined && type === 'file') entry.sha256 = sha
    const link = get('link')
    if (link !== undefined && type === 'link') entry.link = unescape(link)
    out.push(entry)
  }
  return out
}
