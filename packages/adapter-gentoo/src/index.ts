/**
 * The gentoo source adapter: ebuild repository metadata and profiles (PMS semantics: versions,
 * atoms, USE-conditional dependencies, REQUIRED_USE), USE flags as nip variants, and binhost
 * grafts (GPKG and XPAK). See docs/gentoo.md.
 */
import type { SourceAdapter } from '@nip/core'
import { GentooAdapter } from './gentooAdapter.js'

export function createAdapter(): SourceAdapter {
  return new GentooAdapter()
}

export { GentooAdapter }
export { compareVersions, parseVersion, isValidVersion } from './version.js'
export { parseCpv } from './cpv.js'
export { parseAtom, isValidAtom } from './atom.js'
export type { Atom, UseDep } from './atom.js'
export { atomMatches, matchFromList } from './atomMatch.js'
export { reduceDependencies } from './dependencies.js'
export type { ReducedDependencies } from './dependencies.js'
export { useReduce, parenReduce, DepStringError } from './depString.js'
export { checkRequiredUse, suggestRequiredUseFix } from './requiredUse.js'
export { parseBinhostIndex } from './binhostIndex.js'
export { buildXpakPackage, parseXpakSegment } from './xpak.js'
export { manifestLine } from './gpkg.js'
export { readGpkg } from './gpkg.js'
export type { GpkgContent } from './gpkg.js'
export { computeEffectiveUse } from './effectiveUse.js'
export type { EffectiveUse, UseLayers } from './effectiveUse.js'
export { toMetadata, parseIuse, parseCacheEntry } from './metadataCache.js'
export type { EbuildMetadata } from './metadataCache.js'
export { loadProfile, ProfileError } from './profile.js'
export type { Profile } from './profile.js'
export { parsePf } from './cpv.js'
