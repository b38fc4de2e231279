/**
 * An in-memory source for core's scenario tests: packages are plain objects, fetch puts their
 * files into the CAS exactly as a real adapter would (paths already in the Gobo layout).
 * Dependencies use a small constraint syntax: "name", "name >= 1.0", "name >= 1, < 2".
 */
import type { AdapterContext, AdapterStatus, DependencySpec, FetchResult, PackageManifest, PackageRef, PackageSpec, SearchHit, SourceAdapter, TreeEntry } from '@nip/core'
import { NipError, compareVersionsNatural } from '@nip/core'

export type MemoryFile = string | { content: string | Buffer; mode?: number; settings?: boolean } | { symlink: string } | { dir: true; mode: number }

export interface MemoryPackage {
  name: string
  version: string
  files: Record<string, MemoryFile>
  dependencies?: string[]
  summary?: string
}

export class MemoryAdapter implements SourceAdapter {
  readonly id: string
  /** Names of packages whose fetch fails (to test undo). */
  readonly failFetch = new Set<string>()
  fetched: string[] = []

  constructor(readonly packages: MemoryPackage[], opts: { id?: string } = {}) {
    this.id = opts.id ?? 'memory'
  }

  async probe(): Promise<AdapterStatus> {
    return { id: this.id, configured: true, reachable: true, detail: `${this.packages.length} packages in memory` }
  }

  async *search(query: string): AsyncIterable<SearchHit> {
    for (const p of this.packages) if (p.name.toLowerCase().includes(query.toLowerCase())) yield { ref: this.ref(p) }
  }

  async resolve(spec: PackageSpec): Promise<PackageRef[]> {
    return this.packages
      .filter((p) => p.name.toLowerCase() === spec.name.toLowerCase() && (spec.version === undefined || p.version === spec.version))
      .sort((a, b) => this.compareVersions(b.version, a.version))
      .map((p) => this.ref(p))
  }

  async describe(ref: PackageRef): Promise<PackageManifest> {
    const p = this.find(ref)
    const size = Object.values(p.files).reduce((s, f) => s + (typeof f === 'string' ? Buffer.byteLength(f) : 'content' in f ? Buffer.byteLength(f.content) : 0), 0)
    return { ref, dependencies: (p.dependencies ?? []).map(parseDependency), provides: [], conflicts: [], downloadSize: size, installedSize: size, ...(p.summary ? { description: p.summary } : {}) }
  }

  async fetch(ref: PackageRef, ctx: AdapterContext): Promise<FetchResult> {
    const p = this.find(ref)
    if (this.failFetch.has(p.name)) throw new NipError('ERR_NIP_FETCH_FAILED', `memory: fetch of ${p.name} fails (test)`)
    this.fetched.push(`${p.name}@${p.version}`)
    const entries: TreeEntry[] = []
    const dirs = new Set<string>()
    for (const [path, f] of Object.entries(p.files)) {
      const parts = path.split('/')
      for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'))
      if (typeof f !== 'string' && 'dir' in f) {
        entries.push({ path, type: 'dir', mode: f.mode, ...(path.startsWith('Settings/') ? { settings: true } : {}) })
        continue
      }
      if (typeof f !== 'string' && 'symlink' in f) {
        entries.push({ path, type: 'symlink', mode: 0o777, target: f.symlink, ...(path.startsWith('Settings/') ? { settings: true } : {}) })
        continue
      }
      const content = typeof f === 'string' ? Buffer.from(f) : Buffer.from(f.content)
      const mode = typeof f === 'string' ? (path.startsWith('bin/') ? 0o755 : 0o644) : (f.mode ?? 0o644)
      const blob = await ctx.cas.addBuffer(content, { executable: (mode & 0o111) !== 0 })
      entries.push({ path, type: 'file', mode, blob: blob.key, size: content.length, ...(typeof f !== 'string' && 'settings' in f && f.settings ? { settings: true } : {}) })
    }
    for (const d of dirs) if (!(d in p.files)) entries.push({ path: d, type: 'dir', mode: 0o755, ...(d === 'Settings' || d.startsWith('Settings/') ? { settings: true } : {}) })
    entries.sort((a, b) => (a.path < b.path ? -1 : 1))
    return { ref, entries }
  }

  compareVersions(a: string, b: string): number {
    return compareVersionsNatural(a, b)
  }

  satisfies(dep: DependencySpec, version: string): boolean {
    if (!dep.constraint) return true
    return dep.constraint.split(',').every((clause) => {
      const m = /^\s*(>=|<=|==|=|!=|>|<)\s*(\S+)\s*$/.exec(clause)
      if (!m) return false
      const c = this.compareVersions(version, m[2])
      switch (m[1]) {
        case '>=': return c >= 0
        case '<=': return c <= 0
        case '>': return c > 0
        case '<': return c < 0
        case '!=': return c !== 0
        default: return c === 0
      }
    })
  }

  private ref(p: MemoryPackage): PackageRef {
    return { source: this.id, name: p.name, version: p.version, id: `${p.name}-${p.version}`, ...(p.summary ? { summary: p.summary } : {}) }
  }

  private find(ref: PackageRef): MemoryPackage {
    const p = this.packages.find((x) => x.name === ref.name && x.version === ref.version)
    if (!p) throw new NipError('ERR_NIP_NOT_FOUND', `memory: no ${ref.name} ${ref.version}`)
    return p
  }
}

export function parseDependency(raw: string): DependencySpec {
  const m = /^\s*([^\s<>=!]+)\s*(.*)$/.exec(raw)
  const name = m?.[1] ?? raw
  const constraint = (m?.[2] ?? '').trim()
  return { name, raw, ...(constraint ? { constraint } : {}) }
}
