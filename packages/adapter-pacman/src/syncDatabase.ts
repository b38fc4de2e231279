/**
 * Sync databases (`<repo>.db`): a tar (gzip, zstd, xz, bzip2 or none) of `<name>-<ver>-<rel>/desc`
 * (and legacy `depends`) blocks, `%FIELD%` + one value per line + a blank line (repo-add's
 * format_entry, libalpm's sync_db_read).
 *
 * Contracts (as libalpm): the name and version come from the directory name, split at its last
 * two '-'; `%FILENAME%` must not contain '/' or start with '.' (the path-traversal guard for
 * download URLs and cache paths) — an entry that breaks either is refused with
 * ERR_NIP_BAD_PACKAGE; unknown fields are skipped.
 */
import { DEFAULT_LIMITS, NipError, decompressStream, readTar, type Limits } from '@nip/core'

export interface SyncPackage {
  repo: string
  name: string
  version: string
  filename: string
  base?: string
  description?: string
  groups: string[]
  /** Download size. */
  csize: number
  /** Installed size. */
  isize: number
  sha256?: string
  md5?: string
  /** Base64 of a binary detached signature. */
  pgpsig?: string
  url?: string
  licenses: string[]
  arch?: string
  builddate?: number
  packager?: string
  replaces: string[]
  conflicts: string[]
  provides: string[]
  depends: string[]
  optdepends: string[]
}

/** Split `name-pkgver-pkgrel` at its last two '-' (`_alpm_splitname`). */
export function splitName(dir: string): { name: string; version: string } | null {
  const rel = dir.lastIndexOf('-')
  if (rel <= 0) return null
  const ver = dir.lastIndexOf('-', rel - 1)
  if (ver <= 0) return null
  return { name: dir.slice(0, ver), version: dir.slice(ver + 1) }
}

/** `_alpm_validate_filename`. */
export function isValidFilename(name: string): boolean {
  return name.length > 0 && !name.startsWith('.') && !name.includes('/') && !name.includes('\0') && Buffer.byteLength(name) < 4096
}

/** Parse `%FIELD%` blocks into a map of field → values. */
export function parseBlocks(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const m = /^%([A-Z0-9]+)%$/.exec(lines[i])
    if (!m) continue
    const values: string[] = []
    for (i++; i < lines.length && lines[i] !== ''; i++) values.push(lines[i])
    out.set(m[1], [...(out.get(m[1]) ?? []), ...values])
  }
  return out
}

/** Read a whole sync database. */
export async function readSyncDatabase(data: Buffer, opts: { repo: string; source: string; limits?: Limits }): Promise<SyncPackage[]> {
  const texts = new Map<string, string[]>()
  const order: string[] = []
  for await (const entry of readTar(decompressStream([data], { archive: opts.source }), { limits: opts.limits ?? DEFAULT_LIMITS, archive: opts.source })) {
    if (entry.type !== 'file') continue
    const slash = entry.path.indexOf('/')
    const file = entry.path.slice(slash + 1)
    if (slash < 0 || (file !== 'desc' && file !== 'depends')) continue
    const chunks: Buffer[] = []
    for await (const c of entry.body!) chunks.push(c)
    const dir = entry.path.slice(0, slash)
    if (!texts.has(dir)) order.push(dir)
    texts.set(dir, [...(texts.get(dir) ?? []), Buffer.concat(chunks).toString('utf8')])
  }
  return order.map((dir) => toPackage(dir, parseBlocks(texts.get(dir)!.join('\n\n')), opts))
}

function toPackage(dir: string, f: Map<string, string[]>, opts: { repo: string; source: string }): SyncPackage {
  const bad = (why: string): NipError =>
    new NipError('ERR_NIP_BAD_PACKAGE', `The database ${opts.source} has a bad entry ${JSON.stringify(dir)}: ${why}`, {
      hint: 'The repository database is malformed or hostile; ask its maintainer to rebuild it with repo-add.',
      data: { database: opts.source, entry: dir },
    })
  const split = splitName(dir)
  if (split === null) throw bad('its directory name is not <name>-<pkgver>-<pkgrel>')
  const one = (k: string): string | undefined => f.get(k)?.[0]
  const many = (k: string): string[] => f.get(k) ?? []
  const filename = one('FILENAME')
  if (filename === undefined) throw bad('it has no %FILENAME%')
  if (!isValidFilename(filename)) throw bad(`its %FILENAME% ${JSON.stringify(filename)} is not a plain file name`)
  const pkg: SyncPackage = {
    repo: opts.repo,
    name: split.name,
    version: split.version,
    filename,
    groups: many('GROUPS'),
    csize: Number(one('CSIZE') ?? 0) || 0,
    isize: Number(one('ISIZE') ?? 0) || 0,
    licenses: many('LICENSE'),
    replaces: many('REPLACES'),
    conflicts: many('CONFLICTS'),
    provides: many('PROVIDES'),
    depends: many('DEPENDS'),
    optdepends: many('OPTDEPENDS'),
  }
  const set = <K extends keyof SyncPackage>(k: K, v: SyncPackage[K] | undefined): void => {
    if (v !== undefined) pkg[k] = v
  }
  set('base', one('BASE'))
  set('description', one('DESC'))
  const sha = one('SHA256SUM')
  if (sha !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(sha)) throw bad(`its %SHA256SUM% is not 64 hex digits`)
    pkg.sha256 = sha
  }
  set('md5', one('MD5SUM'))
  set('pgpsig', one('PGPSIG'))
  set('url', one('URL'))
  set('arch', one('ARCH'))
  set('packager', one('PACKAGER'))
  const date = one('BUILDDATE')
  if (date !== undefined && /^[0-9]+$/.test(date)) pkg.builddate = Number(date)
  return pkg
}
