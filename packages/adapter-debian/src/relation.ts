/**
 * Debian relationship fields of binary packages (`Depends`, `Pre-Depends`, `Recommends`,
 * `Suggests`, `Enhances`, `Conflicts`, `Breaks`, `Replaces`, `Provides`), read exactly as dpkg's
 * own parser (`lib/dpkg/fields.c`, `f_dependency`) reads a status or available file: a
 * comma-separated AND of `|`-separated alternatives, each `name[:arch] [(op version)]`.
 *
 * - Names: an ASCII letter or digit, then letters, digits and `-+._` (so `foo_bar` is accepted);
 *   folded to lower case as dpkg's package database does. The architecture qualifier keeps its
 *   case (`x:ANY` is not `x:any` to dpkg) and must be a letter or digit followed by letters,
 *   digits and `-`.
 * - Relations `<<`, `<=`, `=`, `>=`, `>>`; the obsolete `<` and `>` mean `<=` and `>=`, and a
 *   version without an operator (`f ( 1.0)`) means `=` (dpkg warns about all three). `<>` and `><`
 *   are refused.
 * - The version inside the parentheses must be one dpkg parses: an empty version (`f (<< )`), a
 *   negative epoch (`f (>> -1)`) or embedded blanks are refused; a version dpkg only warns about
 *   (`f (>= a1)`) is kept, as dpkg does for status and available files.
 * - Architecture restrictions (`[amd64]`) and build profiles (`<!nocheck>`) belong to source
 *   packages' build dependencies only; in these fields they are a syntax error, as in dpkg.
 * - Alternatives are refused in `Conflicts`, `Breaks`, `Replaces` and `Provides`.
 * - Whitespace is C `isspace` (space, tab, newline, `\v`, `\f`, `\r`); any other character, such
 *   as U+00A0, is not whitespace.
 */
import { NipError } from '@nip/core'
import { compareVersions, parseDpkgVersion } from './versionCompare.js'

export type RelationOp = '<<' | '<=' | '=' | '>=' | '>>'

export interface Relation {
  name: string
  /** `any`, `native`, an architecture, or undefined; case kept as written. */
  archQualifier?: string
  op?: RelationOp
  version?: string
  /** The item in dpkg's canonical form: `name[:arch] (op version)`. */
  raw: string
}

/** One AND term: its alternatives in order (a single element when there is no `|`). */
export type RelationGroup = Relation[]

/** Fields where dpkg refuses `|` alternatives. */
export type RelationFieldKind = 'depends' | 'conflicts' | 'breaks' | 'replaces' | 'provides'

const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r'
const isAlnum = (c: string | undefined) => c !== undefined && /^[A-Za-z0-9]$/.test(c)

/** dpkg's `pkg_name_is_illegal`: null when the name is legal, else why not. */
export function packageNameProblem(name: string): string | null {
  if (name === '') return 'it is empty'
  if (!isAlnum(name[0])) return 'it must start with a letter or digit'
  for (const c of name) if (!isAlnum(c) && !'-+._'.includes(c)) return `the character ${JSON.stringify(c)} is not allowed`
  return null
}

/** dpkg's `dpkg_arch_name_is_illegal`. */
function archNameProblem(arch: string): string | null {
  if (arch === '') return 'it is empty'
  if (!isAlnum(arch[0])) return 'it must start with a letter or digit'
  for (const c of arch) if (!isAlnum(c) && c !== '-') return `the character ${JSON.stringify(c)} is not allowed`
  return null
}

/**
 * Parse a relationship field as dpkg does. `kind` selects the field's rules (`depends` for
 * Depends, Pre-Depends, Recommends, Suggests and Enhances). Throws ERR_NIP_BAD_PACKAGE where dpkg
 * reports a parse error.
 */
export function parseRelations(field: string | undefined, source = 'a relationship field', kind: RelationFieldKind = 'depends'): RelationGroup[] {
  if (field === undefined) return []
  // The field value as a control-file parser hands it over: surrounding whitespace removed.
  let a = 0
  let b = field.length
  while (a < b && isSpace(field[a])) a++
  while (b > a && isSpace(field[b - 1])) b--
  const v = field.slice(a, b)
  if (v === '') return []
  const fail = (why: string, item?: string): never => {
    throw new NipError('ERR_NIP_BAD_PACKAGE', `${source}: ${why}`, {
      hint: 'Relations look like "name (>= 1.0)", "name:any" or "a | b"; dpkg would refuse this field too.',
      data: { field, ...(item === undefined ? {} : { relation: item }) },
    })
  }
  const groups: RelationGroup[] = []
  let p = 0
  for (;;) {
    const group: RelationGroup = []
    for (;;) {
      const nameStart = p
      while (p < v.length && !isSpace(v[p]) && v[p] !== ':' && v[p] !== '(' && v[p] !== ',' && v[p] !== '|') p++
      if (p === nameStart) fail('missing package name, or garbage where a package name is expected')
      const written = v.slice(nameStart, p)
      const nameProblem = packageNameProblem(written)
      if (nameProblem !== null) fail(`invalid package name ${JSON.stringify(written)}: ${nameProblem}`, written)
      const rel: Relation = { name: written.toLowerCase(), raw: '' }
      if (v[p] === ':') {
        const archStart = ++p
        while (p < v.length && !isSpace(v[p]) && v[p] !== '(' && v[p] !== ',' && v[p] !== '|') p++
        const arch = v.slice(archStart, p)
        const archProblem = archNameProblem(arch)
        if (archProblem !== null) fail(`reference to ${rel.name}: invalid architecture name ${JSON.stringify(arch)}: ${archProblem}`, written)
        rel.archQualifier = arch
      }
      while (isSpace(v[p])) p++
      if (v[p] === '(') {
        p++
        while (isSpace(v[p])) p++
        const c1 = v[p]
        let op: RelationOp
        if (c1 === '<' || c1 === '>') {
          const c2 = v[++p]
          if (c2 === '=') {
            op = c1 === '<' ? '<=' : '>='
            p++
          } else if (c2 === c1) {
            op = c1 === '<' ? '<<' : '>>'
            p++
          } else if (c2 === '<' || c2 === '>') {
            return fail(`reference to ${rel.name}: bad version relationship ${c1}${c2}`, written)
          } else {
            op = c1 === '<' ? '<=' : '>='
          }
        } else if (c1 === '=') {
          op = '='
          p++
        } else {
          op = '='
        }
        while (isSpace(v[p])) p++
        const versionStart = p
        while (p < v.length && v[p] !== ')' && v[p] !== '(' && !isSpace(v[p])) p++
        const version = v.slice(versionStart, p)
        while (isSpace(v[p])) p++
        if (v[p] === '(') fail(`reference to ${rel.name}: version contains '('`, written)
        if (v[p] !== ')') fail(`reference to ${rel.name}: version contains ' ' or is unterminated`, written)
        const parsed = parseDpkgVersion(version)
        if (parsed.version === undefined) fail(`reference to ${rel.name}: version ${JSON.stringify(version)}: ${parsed.problem}`, written)
        p++
        while (isSpace(v[p])) p++
        rel.op = op
        rel.version = version
      }
      rel.raw = `${rel.name}${rel.archQualifier === undefined ? '' : `:${rel.archQualifier}`}${rel.op === undefined ? '' : ` (${rel.op} ${rel.version})`}`
      group.push(rel)
      if (p >= v.length || v[p] === ',') break
      if (v[p] !== '|') fail(`syntax error after reference to package ${rel.name}`, written)
      if (kind !== 'depends') fail(`alternatives ('|') are not allowed in this field`, written)
      p++
      while (isSpace(v[p])) p++
    }
    groups.push(group)
    if (p >= v.length) break
    p++
    while (isSpace(v[p])) p++
  }
  return groups
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
