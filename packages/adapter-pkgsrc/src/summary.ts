/**
 * pkg_summary(5): one block of `VARIABLE=VALUE` lines per package, blocks separated by an empty
 * line. DESCRIPTION repeats for each line of text (`DESCRIPTION=` is an empty line; leading
 * tabs are kept); DEPENDS, CONFLICTS, PROVIDES, REQUIRES and SUPERSEDES repeat once per value.
 * Field order within a block is free.
 *
 * Contract: parsing is total or fails with ERR_NIP_BAD_PACKAGE naming the line — a line without
 * `=`, a block without a valid PKGNAME, a non-numeric size, a FILE_NAME that is absolute or
 * climbs out of the repository, or a FILE_CKSUM that is not `<algorithm> <hex>`. Unknown
 * variables are kept in `fields`.
 */
import { NipError } from '@nip/core'
import { splitPkgName } from './pkgName.js'

export interface FileChecksum {
  /** Lower-case algorithm name as written (`sha256`, `sha512`, …). */
  algorithm: string
  digest: string
}

export interface SummaryEntry {
  pkgname: string
  name: string
  version: string
  comment: string
  description: string
  depends: string[]
  conflicts: string[]
  provides: string[]
  requires: string[]
  supersedes: string[]
  /** Installed size in bytes (SIZE_PKG; 0 when absent). */
  sizePkg: number
  /** Relative path of the binary package in the repository (default `PKGNAME.tgz`). */
  fileName: string
  fileSize?: number
  fileCksum?: FileChecksum
  machineArch?: string
  opsys?: string
  osVersion?: string
  pkgpath?: string
  categories?: string
  homepage?: string
  license?: string
  buildDate?: string
  pkgOptions?: string
  /** Every single-valued variable exactly as written (the last occurrence wins). */
  fields: Record<string, string>
}

const REPEATED = new Set(['DEPENDS', 'CONFLICTS', 'PROVIDES', 'REQUIRES', 'SUPERSEDES', 'DESCRIPTION'])

/** Parse a whole pkg_summary text. `source` names it in errors. */
export function parseSummary(text: string, source = 'pkg_summary'): SummaryEntry[] {
  const entries: SummaryEntry[] = []
  let block: { line: number; single: Map<string, string>; multi: Map<string, string[]> } | null = null
  const lines = text.split('\n')
  const flush = () => {
    if (block !== null) entries.push(toEntry(block, source))
    block = null
  }
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i]
    if (line === '') {
      flush()
      continue
    }
    const eq = line.indexOf('=')
    if (eq <= 0) throw bad(`line ${i + 1} is not VARIABLE=VALUE: ${JSON.stringify(line.slice(0, 80))}`, source, i + 1)
    const key = line.slice(0, eq)
    const value = line.slice(eq + 1)
    block ??= { line: i + 1, single: new Map(), multi: new Map() }
    if (REPEATED.has(key)) block.multi.set(key, [...(block.multi.get(key) ?? []), value])
    else block.single.set(key, value)
  }
  flush()
  return entries
}

function toEntry(block: { line: number; single: Map<string, string>; multi: Map<string, string[]> }, source: string): SummaryEntry {
  const get = (k: string) => block.single.get(k)
  const pkgname = get('PKGNAME')
  const split = pkgname === undefined ? null : splitPkgName(pkgname)
  if (pkgname === undefined || split === null) {
    throw bad(`the entry at line ${block.line} has ${pkgname === undefined ? 'no PKGNAME' : `a PKGNAME without a version (${pkgname})`}`, source, block.line)
  }
  const size = (k: string): number | undefined => {
    const v = get(k)
    if (v === undefined) return undefined
    if (!/^[0-9]+$/.test(v)) throw bad(`${pkgname}: ${k}=${v} is not a byte count`, source, block.line)
    return Number(v)
  }
  const fileName = get('FILE_NAME') ?? `${pkgname}.tgz`
  checkFileName(fileName, pkgname, source, block.line)
  const entry: SummaryEntry = {
    pkgname,
    name: split.name,
    version: split.version,
    comment: get('COMMENT') ?? '',
    description: (block.multi.get('DESCRIPTION') ?? []).join('\n'),
    depends: block.multi.get('DEPENDS') ?? [],
    conflicts: block.multi.get('CONFLICTS') ?? [],
    provides: block.multi.get('PROVIDES') ?? [],
    requires: block.multi.get('REQUIRES') ?? [],
    supersedes: block.multi.get('SUPERSEDES') ?? [],
    sizePkg: size('SIZE_PKG') ?? 0,
    fileName,
    fields: Object.fromEntries(block.single),
  }
  const fileSize = size('FILE_SIZE')
  if (fileSize !== undefined) entry.fileSize = fileSize
  const cksum = get('FILE_CKSUM')
  if (cksum !== undefined) {
    const m = /^([A-Za-z0-9_-]+)\s+([0-9a-fA-F]+)$/.exec(cksum.trim())
    if (!m) throw bad(`${pkgname}: FILE_CKSUM=${cksum} is not "<algorithm> <hex digest>"`, source, block.line)
    entry.fileCksum = { algorithm: m[1].toLowerCase(), digest: m[2].toLowerCase() }
  }
  const optional: Array<[keyof SummaryEntry, string]> = [
    ['machineArch', 'MACHINE_ARCH'],
    ['opsys', 'OPSYS'],
    ['osVersion', 'OS_VERSION'],
    ['pkgpath', 'PKGPATH'],
    ['categories', 'CATEGORIES'],
    ['homepage', 'HOMEPAGE'],
    ['license', 'LICENSE'],
    ['buildDate', 'BUILD_DATE'],
    ['pkgOptions', 'PKG_OPTIONS'],
  ]
  for (const [field, key] of optional) {
    const v = get(key)
    if (v !== undefined) (entry as unknown as Record<string, unknown>)[field] = v
  }
  return entry
}

/** FILE_NAME is a relative URL into the repository: no absolute path, scheme or "..". */
function checkFileName(fileName: string, pkgname: string, source: string, line: number): void {
  const parts = fileName.split('/')
  if (fileName === '' || fileName.startsWith('/') || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(fileName) || fileName.includes('\\') || parts.some((p) => p === '..' || p === '.' || p === '')) {
    throw bad(`${pkgname}: FILE_NAME=${fileName} does not stay inside the repository`, source, line)
  }
}

function bad(message: string, source: string, line: number): NipError {
  return new NipError('ERR_NIP_BAD_PACKAGE', `${source}: ${message}.`, {
    hint: 'The repository index is malformed; ask its maintainer, or remove the repository from [pkgsrc].',
    data: { source, line },
  })
}
