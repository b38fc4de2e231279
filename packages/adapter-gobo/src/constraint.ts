/**
 * Version constraints of Resources/Dependencies: comma-separated `op version` clauses that must
 * all hold, e.g. `>= 3.0.0, < 4.0.0, != 3.1.0`. A clause without an operator means `>=`
 * (the Resources documentation and bin/CheckDependencies). Versions compare with GuessLatest's order.
 */
import type { DependencySpec } from '@nip/core'
import { compareVersions } from './versionOrder.js'

export type ConstraintOperator = '>=' | '<=' | '>' | '<' | '=' | '==' | '!='

export interface ConstraintClause {
  op: ConstraintOperator
  version: string
}

const CLAUSE = /^(>=|<=|==|!=|=|>|<)?\s*([^\s<>=!,]+)$/

/** Parse a constraint; null when a clause is malformed. An empty constraint has no clauses. */
export function parseConstraint(text: string): ConstraintClause[] | null {
  const trimmed = text.trim()
  if (trimmed === '') return []
  const clauses: ConstraintClause[] = []
  for (const part of trimmed.split(',')) {
    const m = CLAUSE.exec(part.trim())
    if (!m) return null
    clauses.push({ op: (m[1] ?? '>=') as ConstraintOperator, version: m[2] })
  }
  return clauses
}

/** The canonical spelling of clauses: `>= 3.0.0, < 4.0.0`. */
export function formatConstraint(clauses: readonly ConstraintClause[]): string {
  return clauses.map((c) => `${c.op} ${c.version}`).join(', ')
}

function holds(clause: ConstraintClause, version: string): boolean {
  const c = compareVersions(version, clause.version)
  switch (clause.op) {
    case '>=':
      return c >= 0
    case '<=':
      return c <= 0
    case '>':
      return c > 0
    case '<':
      return c < 0
    case '=':
    case '==':
      return c === 0
    case '!=':
      return c !== 0
  }
}

/**
 * Whether `version` satisfies the dependency's own constraint (every clause holds). Alternatives
 * (`anyOf`) name other programs, so they are the caller's to try one by one. A malformed
 * constraint is satisfied by nothing.
 */
export function satisfies(dep: DependencySpec, version: string): boolean {
  const clauses = parseConstraint(dep.constraint ?? '')
  if (clauses === null) return false
  return clauses.every((clause) => holds(clause, version))
}
