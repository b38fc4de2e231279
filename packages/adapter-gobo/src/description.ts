/**
 * Resources/Description: tagged fields, each value running until the next `[Tag]`:
 *
 *   [Name] Hello
 *   [Summary] Prints a greeting.
 *   [Description] A longer text that may
 *   span lines.
 *   [License] MIT
 *   [Homepage] https://example.org/hello
 *
 * Tags are case-insensitive; values are trimmed and keep their inner line breaks. Text before the
 * first tag is ignored.
 */

export interface Description {
  name?: string
  summary?: string
  description?: string
  license?: string
  homepage?: string
  /** Every tag, lower-cased, including the ones above. */
  fields: Record<string, string>
}

const TAG = /^\s*\[([A-Za-z][A-Za-z0-9 _-]*)\]\s?/

export function parseDescription(text: string): Description {
  const fields: Record<string, string> = {}
  let current: string | null = null
  let lines: string[] = []
  const flush = () => {
    if (current !== null) fields[current] = lines.join('\n').trim()
  }
  for (const line of text.split(/\r?\n/)) {
    const m = TAG.exec(line)
    if (m) {
      flush()
      current = m[1].toLowerCase()
      lines = [line.slice(m[0].length)]
    } else if (current !== null) {
      lines.push(line)
    }
  }
  flush()
  const pick = (k: string) => (fields[k] ? { [k]: fields[k] } : {})
  return {
    ...pick('name'),
    ...pick('summary'),
    ...pick('description'),
    ...pick('license'),
    ...pick('homepage'),
    fields,
  }
}
