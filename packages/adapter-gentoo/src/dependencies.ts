/**
 * Dependency strings reduced for a USE setting and turned into nip's DependencySpec list:
 * conditionals are evaluated (use_reduce), USE dependencies `[foo?]`/`[foo=]` are resolved against
 * the package's own USE, `|| ( … )` becomes `anyOf` (first choice first), and blockers
 * (`!atom`, `!!atom`) are returned separately as conflicts.
 */
import type { DependencySpec } from '@nip/core'
import { parseAtom } from './atom.js'
import { useReduce, type DepNode } from './depString.js'

export interface ReducedDependencies {
  dependencies: DependencySpec[]
  /** Blocker atoms as written after evaluation (`!<sys-libs/foo-2`). */
  conflicts: string[]
}

export function reduceDependencies(depstr: string, use: Iterable<string>, eapi: string): ReducedDependencies {
  const tree = useReduce(depstr, { use, eapi, tokenClass: 'atom' })
  const out: ReducedDependencies = { dependencies: [], conflicts: [] }
  walk(tree, out)
  return out
}

function walk(nodes: DepNode[], out: ReducedDependencies): void {
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]
    if (Array.isArray(n)) walk(n, out)
    else if (n === '||') {
      const choices = anyOfChoices(nodes[++i] as DepNode[])
      if (choices.length === 1) out.dependencies.push(choices[0])
      else if (choices.length > 1) out.dependencies.push({ ...choices[0], raw: `|| ( ${choices.map((c) => c.raw).join(' ')} )`, anyOf: choices })
    } else if (n.startsWith('!')) out.conflicts.push(n)
    else out.dependencies.push(toSpec(n))
  }
}

/** Choices of an any-of group: nested all-of groups are represented by their first atom. */
function anyOfChoices(group: DepNode[]): DependencySpec[] {
  const out: DependencySpec[] = []
  for (let i = 0; i < group.length; i++) {
    const n = group[i]
    if (n === '||') continue
    if (Array.isArray(n)) {
      const first = firstAtom(n)
      if (first !== undefined) out.push(toSpec(first))
    } else if (!n.startsWith('!')) out.push(toSpec(n))
  }
  return out
}

function firstAtom(nodes: DepNode[]): string | undefined {
  for (const n of nodes) {
    if (Array.isArray(n)) {
      const f = firstAtom(n)
      if (f !== undefined) return f
    } else if (n !== '||' && !n.startsWith('!')) return n
  }
  return undefined
}

export function toSpec(atomText: string): DependencySpec {
  const atom = parseAtom(atomText, { allowBlockers: true, allowRepo: true })
  return { name: atom?.cp ?? atomText, constraint: atomText, raw: atomText }
}
