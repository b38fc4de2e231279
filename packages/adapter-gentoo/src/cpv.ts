/**
 * Category/package/version names (PMS "Names": a category, package or slot name starts with a
 * letter, digit or underscore, never with `+`, `-` or `.`), split the way Portage's `catpkgsplit` does: the
 * package name is the shortest prefix that leaves a valid `-version[-rN]` suffix, and a package
 * name may not itself end in `-<valid version>` (`foo/bar-123-1` is refused, not split).
 */
import { parseVersion, type Version } from './version.js'

/** Version with optional revision, without capture groups (for embedding in other patterns). */
export const VR = String.raw`\d+(?:\.\d+)*[a-z]?(?:_(?:pre|p|beta|alpha|rc)\d*)*(?:-r\d+)?`
export const CATEGORY = String.raw`[\w][\w+.-]*`
export const PACKAGE = String.raw`[\w][\w+-]*?`

const CPV_RE = new RegExp(`^(${CATEGORY})/(${PACKAGE})(-${VR})?-(${VR})$`)
const PV_RE = new RegExp(`^(${PACKAGE})(-${VR})?-(${VR})$`)
const CP_RE = new RegExp(`^(${CATEGORY})/(${PACKAGE})(-${VR})?$`)
const USE_FLAG_RE = /^[A-Za-z0-9][A-Za-z0-9+_@-]*$/

export interface Cpv {
  category: string
  /** The package name (PN). */
  name: string
  /** `category/name` */
  cp: string
  /** The full version as written, revision included (PVR). */
  version: string
  /** The version without its revision (PV). */
  versionNoRevision: string
  parsed: Version
  /** `category/name-version` as written. */
  cpv: string
}

/** Parse `category/name-version[-rN]`; null when it is not one. */
export function parseCpv(cpv: string): Cpv | null {
  const m = CPV_RE.exec(cpv)
  if (m === null || m[3] !== undefined) return null
  return makeCpv(m[1], m[2], m[4])
}

/** Parse `name-version[-rN]` (a PF, as in binary package file names); null when it is not one. */
export function parsePf(category: string, pf: string): Cpv | null {
  const m = PV_RE.exec(pf)
  if (m === null || m[2] !== undefined) return null
  return makeCpv(category, m[1], m[3])
}

function makeCpv(category: string, name: string, version: string): Cpv {
  const parsed = parseVersion(version)!
  const r = version.lastIndexOf('-r')
  const versionNoRevision = parsed.revision === '' ? version : version.slice(0, r)
  return { category, name, cp: `${category}/${name}`, version, versionNoRevision, parsed, cpv: `${category}/${name}-${version}` }
}

/** `category/name` with no version; false for `foo/bar-123` (a package name ending in a version). */
export function isValidCp(cp: string): boolean {
  const m = CP_RE.exec(cp)
  return m !== null && m[3] === undefined
}

export function isValidUseFlag(flag: string): boolean {
  return USE_FLAG_RE.test(flag)
}
