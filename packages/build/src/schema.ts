/**
 * Schema checking for recipe and profile files (TOML): typed readers that name the file, the line
 * and the dotted key of every problem (ERR_NIP_RECIPE_INVALID). smol-toml gives values without
 * positions, so the line of a key is found again in the text (`lineOf`): the first line that
 * assigns the key inside the table (or array-of-tables element) that holds it.
 */
import { parse as parseToml, TomlError } from 'smol-toml'
import { NipError } from '@nip/core'

export type Table = Record<string, unknown>

export class TomlFile {
  readonly doc: Table
  private readonly lines: string[]

  constructor(
    readonly file: string,
    readonly text: string,
  ) {
    this.lines = text.split('\n')
    try {
      this.doc = parseToml(text) as Table
    } catch (e) {
      if (e instanceof TomlError) {
        const reason = e.message.split('\n')[0].replace(/^Invalid TOML document:\s*/i, '')
        throw new NipError('ERR_NIP_RECIPE_INVALID', `${file}:${e.line}: ${reason}`, {
          hint: 'Fix the TOML syntax at that line (docs/recipes.md describes the format).',
          data: { file, line: e.line, column: e.column },
          cause: e,
        })
      }
      throw e
    }
  }

  /**
   * The 1-based line where `key` (a dotted path such as `variants.nls.default` or
   * `source[1].sha256`) is assigned; the line of its table header when the key itself is absent;
   * 1 when neither is found.
   */
  lineOf(key: string): number {
    const parts = key.split('.')
    const last = parts.pop() ?? ''
    const lastName = last.replace(/\[\d+\]$/, '')
    const table = parts.join('.')
    const wantTable = table.replace(/\[(\d+)\]/g, '')
    const wantIndex = /\[(\d+)\]$/.exec(table)?.[1]
    let current = ''
    let inTableLine = -1
    const seen = new Map<string, number>()
    let headerLine = -1
    for (let i = 0; i < this.lines.length; i++) {
      const line = this.lines[i].trim()
      const header = /^\[\[?\s*([^\]]+?)\s*\]\]?/.exec(line)
      if (header) {
        current = header[1].replace(/\s+/g, '').replace(/"/g, '')
        const n = seen.get(current) ?? 0
        seen.set(current, n + 1)
        const matches = current === wantTable && (wantIndex === undefined || Number(wantIndex) === n)
        inTableLine = matches ? i : -1
        if (matches && headerLine < 0) headerLine = i + 1
        continue
      }
      const assign = /^("?)([A-Za-z0-9_.-]+)\1\s*=/.exec(line)
      if (!assign) continue
      const k = assign[2]
      if (inTableLine >= 0 && k === lastName) return i + 1
      // Dotted keys at a higher level (`nls.default = true` under [variants]).
      const full = current ? `${current}.${k}` : k
      if (wantIndex === undefined && full === `${wantTable ? `${wantTable}.` : ''}${lastName}`) return i + 1
      if (wantIndex === undefined && full === wantTable && headerLine < 0) headerLine = i + 1
    }
    return headerLine > 0 ? headerLine : 1
  }

  error(key: string, why: string, hint?: string): NipError {
    const line = this.lineOf(key)
    return new NipError('ERR_NIP_RECIPE_INVALID', `${this.file}:${line}: ${key}: ${why}`, {
      hint: hint ?? 'docs/recipes.md describes every key of recipes and profiles.',
      data: { file: this.file, line, key },
    })
  }
}

/** Reads typed values out of one table, naming the dotted key of each problem. */
export class Reader {
  private readonly known = new Set<string>()

  constructor(
    readonly toml: TomlFile,
    readonly table: Table,
    readonly prefix: string,
  ) {}

  key(k: string): string {
    return this.prefix ? `${this.prefix}.${k}` : k
  }

  has(k: string): boolean {
    this.known.add(k)
    return this.table[k] !== undefined
  }

  string(k: string, opts: { required?: boolean; pattern?: RegExp; what?: string } = {}): string | undefined {
    this.known.add(k)
    const v = this.table[k]
    if (v === undefined) {
      if (opts.required) throw this.toml.error(this.key(k), 'is required (a string)')
      return undefined
    }
    if (typeof v !== 'string') throw this.toml.error(this.key(k), `must be a string, not ${describe(v)}`)
    if (opts.pattern && !opts.pattern.test(v)) throw this.toml.error(this.key(k), `"${v}" is not ${opts.what ?? `of the form ${opts.pattern}`}`)
    return v
  }

  requiredString(k: string, opts: { pattern?: RegExp; what?: string } = {}): string {
    return this.string(k, { ...opts, required: true }) as string
  }

  boolean(k: string): boolean | undefined {
    this.known.add(k)
    const v = this.table[k]
    if (v === undefined) return undefined
    if (typeof v !== 'boolean') throw this.toml.error(this.key(k), `must be true or false, not ${describe(v)}`)
    return v
  }

  integer(k: string, opts: { min?: number } = {}): number | undefined {
    this.known.add(k)
    const v = this.table[k]
    if (v === undefined) return undefined
    const n = typeof v === 'bigint' ? Number(v) : v
    if (typeof n !== 'number' || !Number.isInteger(n)) throw this.toml.error(this.key(k), `must be a whole number, not ${describe(v)}`)
    if (opts.min !== undefined && n < opts.min) throw this.toml.error(this.key(k), `must be at least ${opts.min}`)
    return n
  }

  strings(k: string): string[] {
    this.known.add(k)
    const v = this.table[k]
    if (v === undefined) return []
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw this.toml.error(this.key(k), `must be an array of strings, not ${describe(v)}`)
    return v as string[]
  }

  table_(k: string): Reader | undefined {
    this.known.add(k)
    const v = this.table[k]
    if (v === undefined) return undefined
    if (!isTable(v)) throw this.toml.error(this.key(k), `must be a table, not ${describe(v)}`)
    return new Reader(this.toml, v, this.key(k))
  }

  tables(k: string): Reader[] {
    this.known.add(k)
    const v = this.table[k]
    if (v === undefined) return []
    if (!Array.isArray(v) || v.some((x) => !isTable(x))) throw this.toml.error(this.key(k), `must be an array of tables ([[${this.key(k)}]]), not ${describe(v)}`)
    return (v as Table[]).map((t, i) => new Reader(this.toml, t, `${this.key(k)}[${i}]`))
  }

  /** Refuses keys nobody asked for, naming the nearest known one. */
  done(): void {
    for (const k of Object.keys(this.table)) {
      if (this.known.has(k)) continue
      const near = nearest(k, [...this.known])
      throw this.toml.error(this.key(k), `is not a known key${near.length ? ` (did you mean "${near[0]}"?)` : ''}`, `Known keys here: ${[...this.known].sort().join(', ')}.`)
    }
  }
}

export function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date)
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array'
  if (isTable(v)) return 'a table'
  return `${typeof v} ${JSON.stringify(typeof v === 'bigint' ? String(v) : v)}`
}

export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = cur
  }
  return prev[b.length]
}

/** The known words nearest to `word` (edit distance, at most a third of its length, min 2), best first. */
export function nearest(word: string, known: readonly string[], max = 3): string[] {
  const limit = Math.max(2, Math.floor(word.length / 3))
  return known
    .map((k) => ({ k, d: k.startsWith(word) || word.startsWith(k) ? Math.min(editDistance(word, k), limit) : editDistance(word.toLowerCase(), k.toLowerCase()) }))
    .filter((x) => x.d <= limit)
    .sort((a, b) => a.d - b.d || a.k.localeCompare(b.k))
    .slice(0, max)
    .map((x) => x.k)
}
