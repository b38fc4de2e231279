/**
 * A source whose packages are tar archives held in memory (any compression nip reads), fetched
 * through core's safe unpacker exactly as a real adapter's would be. Used by the hostile-archive
 * tests to drive whole installs with crafted archives.
 */
import type { AdapterContext, AdapterStatus, DependencySpec, FetchResult, PackageManifest, PackageRef, PackageSpec, SearchHit, SourceAdapter } from '@nip/core'
import { NipError, compareVersionsNatural, unpackToCas } from '@nip/core'
import { parseDependency } from './memoryAdapter.js'

export interface TarPackage {
  name: string
  version: string
  archive: Buffer
  dependencies?: string[]
  /**
   * The size to tell the unpacker the archive has: from 8 MiB on, its blobs are written by
   * worker threads and, when the install offers a staging directory, created in place.
   */
  sourceSize?: number
}

export class TarAdapter implements SourceAdapter {
  readonly id: string
  constructor(readonly packages: TarPackage[], opts: { id?: string } = {}) {
    this.id = opts.id ?? 'tar'
  }
  async probe(): Promise<AdapterStatus> {
    return { id: this.id, configured: true, reachable: true, detail: `${this.packages.length} archives in memory` }
  }
  async *search(): AsyncIterable<SearchHit> {}
  async resolve(spec: PackageSpec): Promise<PackageRef[]> {
    return this.packages
      .filter((p) => p.name === spec.name && (spec.version === undefined || p.version === spec.version))
      .map((p) => ({ source: this.id, name: p.name, version: p.version, id: `${p.name}-${p.version}.tar` }))
  }
  async describe(ref: PackageRef): Promise<PackageManifest> {
    const p = this.find(ref)
    return { ref, dependencies: (p.dependencies ?? []).map(parseDependency), provides: [], conflicts: [], downloadSize: p.archive.length, installedSize: 0 }
  }
  async fetch(ref: PackageRef, ctx: AdapterContext): Promise<FetchResult> {
    const p = this.find(ref)
    const { entries } = await unpackToCas([p.archive], {
      cas: ctx.cas,
      limits: ctx.limits,
      archive: ref.id,
      ...(p.sourceSize !== undefined ? { sourceSize: p.sourceSize } : {}),
      ...(ctx.stage !== undefined ? { stage: ctx.stage } : {}),
      isSettings: (mapped) => mapped === 'Settings' || mapped.startsWith('Settings/'),
      onWarning: (w) => ctx.reporter.emit({ type: 'warning', code: w.code, message: w.message, data: { path: w.path } }),
    })
    return { ref, entries }
  }
  compareVersions(a: string, b: string): number {
    return compareVersionsNatural(a, b)
  }
  satisfies(_dep: DependencySpec, _version: string): boolean {
    return true
  }
  private find(ref: PackageRef): TarPackage {
    const p = this.packages.find((x) => x.name === ref.name && x.version === ref.version)
    if (!p) throw new NipError('ERR_NIP_NOT_FOUND', `tar: no ${ref.name} ${ref.version}`)
    return p
  }
}
