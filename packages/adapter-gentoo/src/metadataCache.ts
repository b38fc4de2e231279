/**
 * An ebuild repository's metadata cache (`metadata/md5-cache/<category>/<PF>`, PMS
 * "metadata-cache"): one `KEY=VALUE` per line, split at the first `=`. The repository index lists
 * entries by file name without reading them and parses an entry when it is first asked for.
 */
import fs from 'node:fs'
import path from 'node:path'
import { parsePf, type Cpv } from './cpv.js'

export interface IuseFlag {
  name: string
  /** '+' default on, '-' default off, '' no default. */
  default: '' | '+' | '-'
}

export interface EbuildMetadata {
  cpv: Cpv
  eapi: string
  slot: string
  subSlot: string
  iuse: IuseFlag[]
  requiredUse: string
  depend: string
  rdepend: string
  bdepend: string
  pdepend: string
  idepend: string
  keywords: string[]
  properties: string
  restrict: string
  license: string
  description: string
  homepage: string
  srcUri: string
  /** Every key as read. */
  raw: Record<string, string>
}

export class MetadataError extends Error {
  constructor(message: string, readonly file?: string) {
    super(message)
    this.name = 'MetadataError'
  }
}

export function parseCacheEntry(text: string): Record<string, string> {
  const raw: Record<string, string> = {}
  for (const line of text.split('\n')) {
    if (line === '') continue
    const eq = line.indexOf('=')
    if (eq <= 0) throw new MetadataError(`malformed metadata line ${JSON.stringify(line.slice(0, 60))}`)
    raw[line.slice(0, eq)] = line.slice(eq + 1)
  }
  return raw
}

export function toMetadata(cpv: Cpv, raw: Record<string, string>): EbuildMetadata {
  const [slot, subSlot] = (raw.SLOT ?? '0').split('/')
  return {
    cpv,
    eapi: raw.EAPI ?? '0',
    slot: slot || '0',
    subSlot: subSlot ?? (slot || '0'),
    iuse: parseIuse(raw.IUSE ?? ''),
    requiredUse: raw.REQUIRED_USE ?? '',
    depend: raw.DEPEND ?? '',
    rdepend: raw.RDEPEND ?? '',
    bdepend: raw.BDEPEND ?? '',
    pdepend: raw.PDEPEND ?? '',
    idepend: raw.IDEPEND ?? '',
    keywords: (raw.KEYWORDS ?? '').split(/\s+/).filter(Boolean),
    properties: raw.PROPERTIES ?? '',
    restrict: raw.RESTRICT ?? '',
    license: raw.LICENSE ?? '',
    description: raw.DESCRIPTION ?? '',
    homepage: raw.HOMEPAGE ?? '',
    srcUri: raw.SRC_URI ?? '',
    raw,
  }
}

export function parseIuse(text: string): IuseFlag[] {
  return text.split(/\s+/).filter(Boolean).map((t) => (t[0] === '+' || t[0] === '-' ? { name: t.slice(1), default: t[0] } : { name: t, default: '' }))
}

/** The md5-cache of one repository. */
export class RepositoryIndex {
  private readonly entries = new Map<string, Cpv[]>()
  private readonly parsed = new Map<string, EbuildMetadata>()

  /** `cacheDir` is the `metadata/md5-cache` directory. */
  constructor(readonly cacheDir: string) {
    for (const category of safeReaddir(cacheDir)) {
      const catDir = path.join(cacheDir, category)
      if (!fs.statSync(catDir).isDirectory()) continue
      for (const pf of safeReaddir(catDir)) {
        const cpv = parsePf(category, pf)
        if (cpv === null) continue
        const list = this.entries.get(cpv.cp) ?? []
        list.push(cpv)
        this.entries.set(cpv.cp, list)
      }
    }
  }

  /** Every `category/name`. */
  packages(): string[] {
    return [...this.entries.keys()].sort()
  }

  /** The versions of `category/name`, or of every package called `name` in any category. */
  find(name: string): Cpv[] {
    if (name.includes('/')) return [...(this.entries.get(name) ?? [])]
    const out: Cpv[] = []
    for (const [cp, list] of this.entries) if (cp.slice(cp.indexOf('/') + 1) === name) out.push(...list)
    return out
  }

  metadata(cpv: Cpv): EbuildMetadata {
    const cached = this.parsed.get(cpv.cpv)
    if (cached !== undefined) return cached
    const file = path.join(this.cacheDir, cpv.category, `${cpv.name}-${cpv.version}`)
    let raw: Record<string, string>
    try {
      raw = parseCacheEntry(fs.readFileSync(file, 'utf8'))
    } catch (e) {
      throw new MetadataError(`cannot read metadata for ${cpv.cpv}: ${(e as Error).message}`, file)
    }
    const md = toMetadata(cpv, raw)
    this.parsed.set(cpv.cpv, md)
    return md
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter((f) => !f.startsWith('.')).sort()
  } catch {
    return []
  }
}
