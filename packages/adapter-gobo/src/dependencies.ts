/**
 * Resources/Dependencies: one dependency per line,
 *
 *   Name [op version][, op version]* [| alternative]* [[useflag]]
 *
 * e.g. `GCC >= 3.0.0, < 4.0.0, != 3.1.0`, `Qt >= 3.3.8, < 4.0 [qt]`, `Mesa | Nvidia >= 100`.
 * `#` starts a comment. `|` separates alternatives, tried left to right.
 *
 * `[useflag]` makes a line conditional on a build-time flag of Compile; a binary package was
 * already built, so nip keeps the flag in `raw` and otherwise ignores it (the dependency counts).
 * Names with a prefix (`CPAN:XML::Parser`, `Python:lxml`) name modules of another language's
 * package manager, not programs: they become warnings, never dependencies.
 */
import { NipError, type DependencySpec } from '@nip/core'
import { formatConstraint, parseConstraint } from './constraint.js'

export interface ParsedDependencies {
  dependencies: DependencySpec[]
  /** One message per skipped prefixed dependency. */
  warnings: string[]
}

const NAME = /^[A-Za-z0-9_+][A-Za-z0-9_+.\-]*$/
const PREFIXED = /^[A-Za-z0-9_+.\-]+:\S*$/

/** Parse a Dependencies file. Malformed lines throw ERR_NIP_BAD_PACKAGE naming the line. */
export function parseDependencies(text: string, origin = 'Resources/Dependencies'): ParsedDependencies {
  const dependencies: DependencySpec[] = []
  const warnings: string[] = []
  text.split(/\r?\n/).forEach((line, index) => {
    const raw = line.replace(/#.*$/, '').trim()
    if (raw === '') return
    const body = raw.replace(/\[[^\]]*\]/g, ' ').trim()
    const alternatives: DependencySpec[] = []
    for (const alt of body.split('|')) {
      const spec = parseAlternative(alt.trim())
      if (spec === 'prefixed') {
        warnings.push(`${origin}:${index + 1}: "${alt.trim()}" is not a program (a module of another package manager); skipped`)
        continue
      }
      if (spec === null) {
        throw new NipError('ERR_NIP_BAD_PACKAGE', `${origin} line ${index + 1} cannot be parsed: "${line.trim()}"`, {
          hint: 'Each line reads "Name [op version][, op version]* [| alternative]*"; the package is malformed.',
          data: { file: origin, line: index + 1, text: line },
        })
      }
      alternatives.push(spec)
    }
    if (alternatives.length === 0) return
    const [first] = alternatives
    dependencies.push({
      name: first.name,
      ...(first.constraint !== undefined ? { constraint: first.constraint } : {}),
      raw,
      ...(alternatives.length > 1 ? { anyOf: alternatives } : {}),
    })
  })
  return { dependencies, warnings }
}

function parseAlternative(text: string): DependencySpec | 'prefixed' | null {
  const m = /^(\S+)\s*(.*)$/.exec(text)
  if (!m) return null
  const [, name, rest] = m
  if (PREFIXED.test(name)) return 'prefixed'
  if (!NAME.test(name)) return null
  const clauses = parseConstraint(rest)
  if (clauses === null) return null
  return { name, ...(clauses.length > 0 ? { constraint: formatConstraint(clauses) } : {}), raw: text }
}
