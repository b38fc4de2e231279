/**
 * pacman dependency strings and their satisfaction (lib/libalpm/deps.c):
 * - `alpm_dep_from_string`: an optional description after the first ": "; the operator is found
 *   by searching for '<', then '>', then '='; a following '=' makes '<='/'>='.
 * - `_alpm_depcmp`: a package satisfies a dependency by its own name and version, or by a
 *   `provides` entry of the same name. A versioned dependency is satisfied by a provision only
 *   when the provision carries `=version`; a bare provision satisfies unversioned dependencies
 *   only (pacman's provision020 test).
 */
import { vercmp } from './vercmp.js'

export type DepOperator = '' | '=' | '<' | '<=' | '>' | '>='

export interface PacmanDep {
  name: string
  op: DepOperator
  /** Empty when op is ''. */
  version: string
  description?: string
  /** The string as written. */
  raw: string
}

export function parseDep(raw: string): PacmanDep {
  let text = raw
  let description: string | undefined
  const colon = text.indexOf(': ')
  if (colon >= 0) {
    description = text.slice(colon + 2)
    text = text.slice(0, colon)
  }
  let at = text.indexOf('<')
  let op: DepOperator = ''
  let len = 1
  if (at >= 0) op = text[at + 1] === '=' ? '<=' : '<'
  else if ((at = text.indexOf('>')) >= 0) op = text[at + 1] === '=' ? '>=' : '>'
  else if ((at = text.indexOf('=')) >= 0) op = '='
  if (op === '<=' || op === '>=') len = 2
  const dep: PacmanDep =
    at < 0 ? { name: text, op: '', version: '', raw } : { name: text.slice(0, at), op, version: text.slice(at + len), raw }
  if (description !== undefined) dep.description = description
  return dep
}

/** Whether `version` meets `op dep.version` under vercmp. */
export function versionMatches(version: string, op: DepOperator, wanted: string): boolean {
  if (op === '') return true
  const c = vercmp(version, wanted)
  switch (op) {
    case '=':
      return c === 0
    case '<':
      return c < 0
    case '<=':
      return c <= 0
    case '>':
      return c > 0
    case '>=':
      return c >= 0
  }
}

/** `_alpm_depcmp`: does a package (name, version, provides) satisfy `dep`? */
export function packageSatisfies(pkg: { name: string; version: string; provides: string[] }, dep: PacmanDep): boolean {
  if (pkg.name === dep.name && versionMatches(pkg.version, dep.op, dep.version)) return true
  return pkg.provides.some((p) => provisionSatisfies(parseDep(p), dep))
}

/** One provision against a dependency (`_alpm_depcmp_provides`). */
export function provisionSatisfies(provision: PacmanDep, dep: PacmanDep): boolean {
  if (provision.name !== dep.name) return false
  if (dep.op === '') return true
  // A bare provision satisfies only unversioned dependencies.
  if (provision.op !== '=') return false
  return versionMatches(provision.version, dep.op, dep.version)
}
