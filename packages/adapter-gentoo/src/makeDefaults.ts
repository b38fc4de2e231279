/**
 * `make.defaults` (PMS "Profile variables"): shell-like `KEY="value"` assignments, `#` comments,
 * single or double quotes, backslash-newline continuations, and `${VAR}`/`$VAR` expansion from
 * the variables defined so far (by this file and the profiles stacked below it). Nothing is
 * executed; anything else on a line is refused as malformed.
 */
export class MakeDefaultsError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MakeDefaultsError'
  }
}

const ASSIGN_RE = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=/

/** Parse one file; `env` supplies earlier values for expansion and is not modified. */
export function parseMakeDefaults(text: string, env: ReadonlyMap<string, string> = new Map()): Map<string, string> {
  const out = new Map<string, string>()
  const lookup = (name: string): string => out.get(name) ?? env.get(name) ?? ''
  let i = 0
  const n = text.length
  let line = 1
  while (i < n) {
    // skip blanks and comments
    const c = text[i]
    if (c === '\n') {
      line++
      i++
      continue
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++
      continue
    }
    if (c === '#') {
      while (i < n && text[i] !== '\n') i++
      continue
    }
    const m = ASSIGN_RE.exec(text.slice(i, i + 256))
    if (m === null) throw new MakeDefaultsError(`line ${line}: expected KEY=value`)
    const key = m[1]
    i += m[0].length
    let value = ''
    while (i < n && text[i] !== '\n' && text[i] !== ' ' && text[i] !== '\t' && text[i] !== '#') {
      const q = text[i]
      if (q === '"' || q === "'") {
        i++
        let raw = ''
        while (i < n && text[i] !== q) {
          if (q === '"' && text[i] === '\\' && i + 1 < n) {
            if (text[i + 1] === '\n') {
              line++
              i += 2
              continue
            }
            raw += text[i + 1] === '"' || text[i + 1] === '\\' || text[i + 1] === '$' ? `\\${text[i + 1]}` : `\\${text[i + 1]}`
            i += 2
            continue
          }
          if (text[i] === '\n') line++
          raw += text[i]
          i++
        }
        if (i >= n) throw new MakeDefaultsError(`line ${line}: unterminated quote in ${key}`)
        i++
        value += q === '"' ? expand(raw, lookup) : raw
      } else if (q === '\\' && text[i + 1] === '\n') {
        line++
        i += 2
      } else {
        let raw = ''
        while (i < n && !' \t\n#"\''.includes(text[i])) raw += text[i++]
        value += expand(raw, lookup)
      }
    }
    out.set(key, value)
  }
  return out
}

function expand(raw: string, lookup: (name: string) => string): string {
  let s = ''
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]
    if (c === '\\' && i + 1 < raw.length) {
      s += raw[i + 1] === '\n' ? '' : raw[i + 1]
      i++
    } else if (c === '$') {
      const braced = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(raw.slice(i))
      const bare = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(raw.slice(i))
      const m = braced ?? bare
      if (m === null) s += c
      else {
        s += lookup(m[1])
        i += m[0].length - 1
      }
    } else s += c
  }
  return s
}
