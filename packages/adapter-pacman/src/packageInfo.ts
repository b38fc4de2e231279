/**
 * `.PKGINFO` and `.BUILDINFO`: `key = value` lines (makepkg's write_pkginfo / write_buildinfo,
 * libalpm's parse_descfile). Blank lines and `#` comments are skipped; a line without " = " is
 * skipped as pacman does; repeated keys accumulate.
 */
import { NipError } from '@nip/core'

export type KeyValues = Map<string, string[]>

export function parseKeyValues(text: string): KeyValues {
  const out: KeyValues = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.indexOf(' = ')
    if (at < 0) continue
    const key = line.slice(0, at)
    const list = out.get(key)
    if (list) list.push(line.slice(at + 3))
    else out.set(key, [line.slice(at + 3)])
  }
  return out
}

export interface PackageInfo {
  name: string
  /** Full version `[epoch:]pkgver-pkgrel`. */
  version: string
  base?: string
  description?: string
  url?: string
  licenses: string[]
  groups: string[]
  arch?: string
  builddate?: number
  packager?: string
  /** Installed size in bytes. */
  size: number
  depends: string[]
  optdepends: string[]
  provides: string[]
  conflicts: string[]
  replaces: string[]
  backup: string[]
}

const NAME = /^[A-Za-z0-9+_.@-]+$/

/**
 * Read `.PKGINFO` and apply libalpm's sanity checks (`_alpm_pkg_check_meta`): a name of
 * `[[:alnum:]+_.@-]` not starting with `-` or `.`; a version with exactly one `-` and no `/`.
 */
export function parsePkginfo(text: string, file: string): PackageInfo {
  const kv = parseKeyValues(text)
  const one = (k: string): string | undefined => kv.get(k)?.[0]
  const many = (k: string): string[] => kv.get(k) ?? []
  const name = one('pkgname') ?? ''
  const version = one('pkgver') ?? ''
  checkNameVersion(name, version, `${file}: .PKGINFO`)
  const info: PackageInfo = {
    name,
    version,
    licenses: many('license'),
    groups: many('group'),
    size: Number(one('size') ?? 0) || 0,
    depends: many('depend'),
    optdepends: many('optdepend'),
    provides: many('provides'),
    conflicts: many('conflict'),
    replaces: many('replaces'),
    backup: many('backup'),
  }
  const set = <K extends keyof PackageInfo>(k: K, v: PackageInfo[K] | undefined): void => {
    if (v !== undefined) info[k] = v
  }
  set('base', one('pkgbase'))
  set('description', one('pkgdesc'))
  set('url', one('url'))
  set('arch', one('arch'))
  set('packager', one('packager'))
  const date = one('builddate')
  if (date !== undefined && /^[0-9]+$/.test(date)) info.builddate = Number(date)
  return info
}

/** Throws ERR_NIP_BAD_PACKAGE unless name and version pass libalpm's metadata checks. */
export function checkNameVersion(name: string, version: string, where: string): void {
  const bad = (why: string): NipError =>
    new NipError('ERR_NIP_BAD_PACKAGE', `${where}: ${why}`, {
      hint: 'The package metadata is malformed; rebuild the package or report it to its packager.',
      data: { name, version, where },
    })
  if (name === '' || !NAME.test(name) || name.startsWith('-') || name.startsWith('.')) throw bad(`invalid package name ${JSON.stringify(name)}`)
  const dashes = version.split('-').length - 1
  if (version === '' || dashes !== 1 || version.includes('/')) throw bad(`invalid package version ${JSON.stringify(version)} (want [epoch:]pkgver-pkgrel)`)
  if (Buffer.byteLength(name) + Buffer.byteLength(version) + 1 > 255) throw bad('name and version are longer than NAME_MAX')
}
