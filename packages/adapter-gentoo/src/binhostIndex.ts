/**
 * A binhost's `Packages` index (Portage `PackageIndex`, lib/portage/getbinpkg.py): a header block,
 * then one block per binary package, blocks separated by blank lines, lines `KEY: value` split at
 * the first `:` (one leading space dropped). `CHOST` and `REPO` are inherited from the header when
 * a block lacks them; absent `EAPI` and `SLOT` mean `0`. A header `VERSION` above the one nip
 * supports is refused, as Portage refuses it.
 */
import { parseCpv, type Cpv } from './cpv.js'

export const SUPPORTED_INDEX_VERSION = 0

export class BinhostIndexError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'BinhostIndexError'
  }
}

export interface BinaryPackage {
  cpv: Cpv
  buildId: number
  buildTime: number
  slot: string
  subSlot: string
  eapi: string
  /** Enabled USE flags the package was built with. */
  use: Set<string>
  iuse: Set<string>
  /** Relative path of the archive on the binhost (normalised and checked by the fetcher). */
  path: string
  size?: number
  md5?: string
  sha1?: string
  repo?: string
  /** Every key of the block, header inheritance applied. */
  raw: Record<string, string>
}

export interface BinhostIndex {
  header: Record<string, string>
  packages: BinaryPackage[]
}

export function parseBinhostIndex(text: string): BinhostIndex {
  const blocks = text.split(/\n[ \t]*\n/).map((b) => b.trim()).filter((b) => b !== '')
  if (blocks.length === 0) throw new BinhostIndexError('the Packages index is empty')
  const header = parseBlock(blocks[0])
  const version = Number(header.VERSION ?? '0')
  if (!Number.isInteger(version) || version > SUPPORTED_INDEX_VERSION) {
    throw new BinhostIndexError(`Packages index VERSION ${header.VERSION} is newer than nip supports (${SUPPORTED_INDEX_VERSION})`)
  }
  const packages: BinaryPackage[] = []
  for (const block of blocks.slice(1)) {
    const raw = parseBlock(block)
    for (const k of ['CHOST', 'REPO']) if (raw[k] === undefined && header[k] !== undefined) raw[k] = header[k]
    const cpv = raw.CPV === undefined ? null : parseCpv(raw.CPV)
    if (cpv === null) throw new BinhostIndexError(`a Packages entry has a missing or invalid CPV (${JSON.stringify(raw.CPV ?? '')})`)
    const [slot, subSlot] = (raw.SLOT ?? '0').split('/')
    const buildId = raw.BUILD_ID === undefined ? 0 : Number(raw.BUILD_ID)
    const size = raw.SIZE === undefined ? undefined : Number(raw.SIZE)
    if (!Number.isSafeInteger(buildId) || (size !== undefined && !Number.isSafeInteger(size))) {
      throw new BinhostIndexError(`the Packages entry for ${raw.CPV} has a malformed BUILD_ID or SIZE`)
    }
    packages.push({
      cpv,
      buildId,
      buildTime: Number(raw.BUILD_TIME ?? '0') || 0,
      slot: slot || '0',
      subSlot: subSlot ?? (slot || '0'),
      eapi: raw.EAPI ?? '0',
      use: new Set(words(raw.USE)),
      iuse: new Set(words(raw.IUSE).map((f) => f.replace(/^[+-]/, ''))),
      path: raw.PATH ?? defaultPath(cpv, buildId),
      size,
      md5: raw.MD5?.toLowerCase(),
      sha1: raw.SHA1?.toLowerCase(),
      repo: raw.REPO,
      raw,
    })
  }
  return { header, packages }
}

/** Without PATH, Portage's legacy layout: `<category>/<PF>.tbz2`. */
function defaultPath(cpv: Cpv, buildId: number): string {
  return buildId > 0 ? `${cpv.cp}/${cpv.name}-${cpv.version}-${buildId}.xpak` : `${cpv.category}/${cpv.name}-${cpv.version}.tbz2`
}

function parseBlock(block: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of block.split('\n')) {
    if (line.trim() === '') continue
    const colon = line.indexOf(':')
    if (colon <= 0) throw new BinhostIndexError(`malformed Packages line ${JSON.stringify(line.slice(0, 60))}`)
    const value = line.slice(colon + 1)
    out[line.slice(0, colon)] = value.startsWith(' ') ? value.slice(1) : value
  }
  return out
}

function words(s: string | undefined): string[] {
  return (s ?? '').split(/\s+/).filter(Boolean)
}
