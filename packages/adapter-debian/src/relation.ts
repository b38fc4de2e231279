/**
 * Debian relationship fields (`Depends`, `Pre-Depends`, `Conflicts`, `Breaks`, `Provides`;
 * `man/deb-control.pod`, dpkg `scripts/t/Dpkg_Deps.t`): a comma-separated AND of `|`-separated
 * alternatives, each `name[:archqual] [(op version)] [[arch list]] [<profiles>]`.
 *
 * Relations are `<<`, `<=`, `=`, `>=`, `>>`; the obsolete `<` and `>` mean `<=` and `>=` as in
 * dpkg. Architecture restriction lists and build profiles only appear in build dependencies; they
 * are parsed and kept but binary packages never carry them.
 */
import { NipError } from '@nip/core'
import { compareVersions } from './versionCompare.js'

export type RelationOp = '<<' | '<=' | '=' | '>=' | '>>'

export interface Relation {
  name: string
  /** `any`, `native`, an architecture, or undefined. */
  archQualifier?: string
  op?: RelationOp
  version?: string
  /** The item as written, whitespace normalised. */
  raw: string
}

/** One AND term: its alternatives in order (a single element when there is no `|`). */
export type RelationGroup = Relation[]

const ITEM = /^([a-z0-9][a-z0-9+.-]*)(?::([a-z0-9-]+))?\s*(?:\(\s*(<<|<=|>=|>>|=|<|>)\s*([^\s)]+)\s*\))?\s*(?:\[([^\]]*)\])?\s*((?:<[^>]*>\s*)*)$/i

export function parseRelations(field: string | undefined, source = 'a relationship field'): RelationGroup[] {
  if (field === undefined) return []
  const text = field.replace(/\s+/g, ' ').trim()
  if (text === '') return []
  return text.split(',').map((group) => {
    const alternatives = group.split('|').map((item) => parseItem(item.trim(), source))
    return alternatives
  })
}

function parseItem(item: string, source: string): Relation {
  const m = ITEM.exec(item)
  if (m === null) {
    throw new NipError('ERR_NIP_BAD_PACKAGE', `${source}: cannot parse the relation ${JSON.stringify(item)}`, {
      hint: 'Relations look like "name (>= 1.0)", "name:any" or "a | b".',
      data: { relation: item },
    })
  }
  const [, name, archQualifier, rawOp, version] = m
  const op = rawOp === undefined ? undefined : rawOp === '<' ? '<=' : rawOp === '>' ? '>=' : (rawOp as RelationOp)
  const rel: Relation = { name: name.toLowerCase(), raw: item }
  if (archQualifier !== undefined) rel.archQualifier = archQualifier.toLowerCase()
  if (op !== undefined) {
    rel.op = op
    rel.version = version
  }
  return rel
}

/** Whether `version` satisfies `op required` in dpkg's sense. No operator: any version does. */
export function versionSatisfies(version: string, op: RelationOp | undefined, required: string | undefined): boolean {
  if (op === undefined || required === undefined) return true
  const c = compareVersions(version, required)
  switch (op) {
    case '<<':
      return c < 0
    case '<=':
      return c <= 0
    case '=':
      return c === 0
    case '>=':
      return c >= 0
    case '>>':
      return c > 0
  }
}

/** `op version` as the constraint string of a DependencySpec ("" when unversioned). */
export function constraintOf(rel: Relation): string {
  return rel.op === undefined ? '' : `${rel.op} ${rel.version}`
}

/** Parse a DependencySpec constraint ("" or "op version") back into its parts. */
export function parseConstraint(constraint: string | undefined): { op?: RelationOp; version?: string } {
  const c = (constraint ?? '').trim()
  if (c === '') return {}
  const m = /^(<<|<=|>=|>>|=|<|>)\s*(\S+)$/.exec(c)
  if (m === null) {
    throw new NipError('ERR_NIP_BAD_SPEC', `${JSON.stringify(constraint)} is not a Debian version constraint`, {
      hint: 'Use one of << <= = >= >> followed by a version, e.g. ">= 1.2-1".',
      data: { constraint },
    })
  }
  const op = m[1] === '<' ? '<=' : m[1] === '>' ? '>=' : (m[1] as RelationOp)
  return { op, version: m[2] }
}
