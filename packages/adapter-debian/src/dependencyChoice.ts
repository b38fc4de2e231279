/**
 * Turning a package's Pre-Depends and Depends into what nip's planner needs: dependencies on
 * real package names it can resolve, with what the host already has left out.
 *
 * For each AND group (`a | b (>= 2) | virtual`):
 * - if dpkg on the host has any alternative installed at a satisfying version (a real package,
 *   or one providing it — with a versioned `Provides: x (= v)` for versioned relations), the group
 *   is satisfied on the host and dropped (when host packages are used);
 * - otherwise every alternative becomes one or more concrete alternatives, in order: the real
 *   package (with its constraint) if the index has it, then each provider of a virtual name (pinned
 *   to the provider version that satisfies). Candidates that the package Conflicts with or Breaks,
 *   or that conflict with it, are left out.
 * - a group with no candidate at all keeps its first alternative, so the planner reports it.
 */
import type { DependencySpec } from '@nip/core'
import type { DebianPackage, PackageLookup } from './packageIndex.js'
import { constraintOf, versionSatisfies, type Relation, type RelationGroup } from './relation.js'

export interface ChosenDependencies {
  dependencies: DependencySpec[]
  /** Groups the host's dpkg already satisfies, as written. */
  onHost: string[]
}

export function chooseDependencies(pkg: DebianPackage, index: PackageLookup, host: PackageLookup | null): ChosenDependencies {
  const dependencies: DependencySpec[] = []
  const onHost: string[] = []
  for (const group of [...pkg.preDepends, ...pkg.depends]) {
    const raw = group.map((r) => r.raw).join(' | ')
    if (host !== null && group.some((rel) => indexSatisfies(host, rel))) {
      onHost.push(raw)
      continue
    }
    const alternatives: DependencySpec[] = []
    for (const rel of group) {
      const real = index.versionsOf(rel.name).filter((p) => versionSatisfies(p.version, rel.op, rel.version) && !conflicting(pkg, p))
      if (real.length > 0) alternatives.push({ name: rel.name, constraint: constraintOf(rel), raw: rel.raw })
      for (const provider of providersOf(index, rel)) {
        if (conflicting(pkg, provider.pkg) || alternatives.some((a) => a.name === provider.pkg.name)) continue
        alternatives.push({ name: provider.pkg.name, constraint: `= ${provider.pkg.version}`, raw: `${provider.pkg.name} (= ${provider.pkg.version}) [provides ${rel.raw}]` })
      }
    }
    if (alternatives.length === 0) {
      const first = group[0]
      dependencies.push({ name: first.name, constraint: constraintOf(first), raw })
    } else if (alternatives.length === 1) {
      dependencies.push({ ...alternatives[0], raw })
    } else {
      dependencies.push({ ...alternatives[0], raw, anyOf: alternatives })
    }
  }
  return { dependencies, onHost }
}

/** Whether an index (the host's, or a source's) has something satisfying the relation. */
export function indexSatisfies(index: PackageLookup, rel: Relation): boolean {
  if (index.versionsOf(rel.name).some((p) => versionSatisfies(p.version, rel.op, rel.version))) return true
  return providersOf(index, rel).length > 0
}

/** Providers of a virtual name that satisfy the relation (versioned relations need `Provides: x (= v)`). */
export function providersOf(index: PackageLookup, rel: Relation): { pkg: DebianPackage; version?: string }[] {
  return index.providersOf(rel.name).filter((p) => (rel.op === undefined ? true : p.version !== undefined && versionSatisfies(p.version, rel.op, rel.version)))
}

/** Whether a and b cannot be installed together (Conflicts or Breaks, either way round). */
export function conflicting(a: DebianPackage, b: DebianPackage): boolean {
  if (a.name === b.name) return false
  return hits(a, b) || hits(b, a)
}

function hits(a: DebianPackage, b: DebianPackage): boolean {
  const provided = new Set(b.provides.flat().map((p) => p.name))
  for (const group of [...a.conflicts, ...a.breaks] as RelationGroup[]) {
    for (const rel of group) {
      if (rel.name === b.name && versionSatisfies(b.version, rel.op, rel.version)) return true
      if (rel.op === undefined && provided.has(rel.name)) return true
    }
  }
  return false
}
