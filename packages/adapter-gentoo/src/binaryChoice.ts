/**
 * Choosing among a binhost's builds of a package by USE. A request lists flags that must be on
 * and flags that must be off (the user's explicit variants); every other flag may differ from the
 * profile's defaults. A build matches when it has every flag of the request in IUSE (or in USE,
 * for indexes that omit IUSE) set as asked. Among matches, the one closest to the wanted USE
 * (fewest differing flags) wins, then the highest version, then the newest build
 * (BUILD_ID, then BUILD_TIME). When nothing matches, the nearest builds are reported with the
 * flags in which they differ.
 */
import type { BinaryPackage } from './binhostIndex.js'
import { compareVersions } from './version.js'

export interface UseRequest {
  enable: string[]
  disable: string[]
  /** The full wanted USE (profile and defaults included); ties are broken by closeness to it. */
  wanted?: string[]
}

export interface BuildMismatch {
  build: BinaryPackage
  /** `+flag` the build lacks, `-flag` the build has but must not. */
  differs: string[]
}

export function mismatches(build: BinaryPackage, request: UseRequest): string[] {
  const out: string[] = []
  for (const f of request.enable) if (!build.use.has(f)) out.push(`+${f}`)
  for (const f of request.disable) if (build.use.has(f)) out.push(`-${f}`)
  return out
}

function distance(build: BinaryPackage, wanted: string[] | undefined): number {
  if (wanted === undefined) return 0
  const w = new Set(wanted)
  let d = 0
  for (const f of build.iuse) if (w.has(f) !== build.use.has(f)) d++
  return d
}

export function chooseBuild(builds: BinaryPackage[], request: UseRequest): { chosen?: BinaryPackage; nearest: BuildMismatch[] } {
  const scored = builds.map((build) => ({ build, differs: mismatches(build, request), distance: distance(build, request.wanted) }))
  const matching = scored.filter((s) => s.differs.length === 0)
  matching.sort(
    (a, b) =>
      a.distance - b.distance ||
      compareVersions(b.build.cpv.parsed, a.build.cpv.parsed) ||
      b.build.buildId - a.build.buildId ||
      b.build.buildTime - a.build.buildTime,
  )
  if (matching.length > 0) return { chosen: matching[0].build, nearest: [] }
  const nearest = scored
    .sort((a, b) => a.differs.length - b.differs.length || compareVersions(b.build.cpv.parsed, a.build.cpv.parsed) || b.build.buildId - a.build.buildId)
    .slice(0, 3)
    .map(({ build, differs }) => ({ build, differs }))
  return { nearest }
}
