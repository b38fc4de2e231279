/**
 * deb822 control-file syntax (`man/deb822.pod`): stanzas separated by blank lines (lines of only
 * spaces and tabs count as blank), `Field: value` with case-insensitive field names, continuation
 * lines starting with a space or tab. A repeated field in a stanza is refused.
 *
 * Values keep their continuation lines joined with "\n" and the leading space of each continuation
 * line removed; callers that want a folded field collapse whitespace themselves.
 */
import { NipError } from '@nip/core'

/** One stanza: field names lower-cased. */
export type Stanza = Map<string, string>

export interface ParseOptions {
  /** Name of the file, for messages. */
  source: string
  /** Whether `#` comment lines are allowed (debian/control, sources files), default false. */
  comments?: boolean
}

export function parseStanzas(text: string, opts: ParseOptions): Stanza[] {
  const stanzas: Stanza[] = []
  let current: Stanza | null = null
  let last: string | null = null
  const lines = text.split('\n')
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n]
    if (line.endsWith('\r')) line = line.slice(0, -1)
    if (/^[ \t]*$/.test(line)) {
      if (current !== null) stanzas.push(current)
      current = null
      last = null
      continue
    }
    if (opts.comments === true && line.startsWith('#')) continue
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (current === null || last === null) throw syntax(opts.source, n + 1, 'a continuation line has no field to continue')
      const prev = current.get(last)!
      current.set(last, `${prev}\n${line.slice(1)}`)
      continue
    }
    const colon = line.indexOf(':')
    if (colon <= 0) throw syntax(opts.source, n + 1, 'a line is neither a field nor a continuation')
    const name = line.slice(0, colon)
    if (/[\s]/.test(name) || name.startsWith('-')) throw syntax(opts.source, n + 1, `bad field name ${JSON.stringify(name)}`)
    const key = name.toLowerCase()
    if (current === null) current = new Map()
    if (current.has(key)) throw syntax(opts.source, n + 1, `the field ${name} is repeated`)
    current.set(key, line.slice(colon + 1).replace(/^[ \t]+/, '').replace(/[ \t]+$/, ''))
    last = key
  }
  if (current !== null) stanzas.push(current)
  return stanzas
}

function syntax(source: string, line: number, why: string): NipError {
  return new NipError('ERR_NIP_BAD_PACKAGE', `${source}, line ${line}: ${why}`, {
    hint: 'The file is not valid deb822 control syntax; it may be damaged.',
    data: { source, line },
  })
}
