/**
 * A Portage profile stack (PMS "Profiles"): each directory's `parent` file names the profiles it
 * inherits (relative paths, depth first, parents before the child); `make.defaults` values are
 * stacked with `USE` and the other incremental variables combined token by token (`-flag`
 * removes, `-*` clears) and every other variable (USE_EXPAND values such as VIDEO_CARDS included)
 * replaced by the later profile; `use.mask`/`use.force` and the `package.*` files are stacked the
 * same incremental way. Any of the `package.*` and `use.*` files may be a directory of files.
 *
 * Reading is confined to the profile directories named by the stack; a `parent` cycle, a missing
 * parent or a malformed line is a ProfileError naming the file.
 */
import fs from 'node:fs'
import path from 'node:path'
import { parseAtom, type Atom } from './atom.js'
import { MakeDefaultsError, parseMakeDefaults } from './makeDefaults.js'

export class ProfileError extends Error {
  constructor(message: string, readonly file: string) {
    super(message)
    this.name = 'ProfileError'
  }
}

/** Variables whose make.defaults values combine across the stack (Portage's INCREMENTALS). */
const INCREMENTALS = new Set([
  'USE', 'USE_EXPAND', 'USE_EXPAND_HIDDEN', 'USE_EXPAND_IMPLICIT', 'USE_EXPAND_UNPREFIXED', 'IUSE_IMPLICIT',
  'ACCEPT_KEYWORDS', 'CONFIG_PROTECT', 'CONFIG_PROTECT_MASK', 'FEATURES', 'PROFILE_ONLY_VARIABLES', 'ENV_UNSET',
])

export interface PackageFlags {
  atom: Atom
  /** Tokens as written (`flag`, `-flag`). */
  flags: string[]
}

export interface Profile {
  /** The stacked directories, parents first. */
  dirs: string[]
  /** Stacked make.defaults variables (incrementals already combined, space-separated). */
  vars: Map<string, string>
  useMask: Set<string>
  useForce: Set<string>
  packageUse: PackageFlags[]
  packageUseMask: PackageFlags[]
  packageUseForce: PackageFlags[]
  /** Masked atoms (after `-atom` removals). */
  packageMask: Atom[]
}

export function loadProfile(dir: string): Profile {
  const dirs: string[] = []
  collect(path.resolve(dir), [], dirs)
  const vars = new Map<string, string>()
  const incremental = new Map<string, string[]>()
  const useMask = new Set<string>()
  const useForce = new Set<string>()
  const profile: Profile = { dirs, vars, useMask, useForce, packageUse: [], packageUseMask: [], packageUseForce: [], packageMask: [] }
  let masked: Atom[] = []
  for (const d of dirs) {
    const file = path.join(d, 'make.defaults')
    if (fs.existsSync(file)) {
      let values: Map<string, string>
      try {
        values = parseMakeDefaults(fs.readFileSync(file, 'utf8'), vars)
      } catch (e) {
        if (e instanceof MakeDefaultsError) throw new ProfileError(e.message, file)
        throw e
      }
      for (const [k, v] of values) {
        if (INCREMENTALS.has(k)) {
          const next = applyIncremental(incremental.get(k) ?? [], v.split(/\s+/).filter(Boolean))
          incremental.set(k, next)
          vars.set(k, next.join(' '))
        } else vars.set(k, v)
      }
    }
    for (const [name, set] of [['use.mask', useMask], ['use.force', useForce]] as const) {
      for (const { text } of readLines(path.join(d, name))) {
        if (text.startsWith('-')) set.delete(text.slice(1))
        else set.add(text)
      }
    }
    for (const [name, list] of [
      ['package.use', profile.packageUse],
      ['package.use.mask', profile.packageUseMask],
      ['package.use.force', profile.packageUseForce],
    ] as const) {
      for (const { text, file, line } of readLines(path.join(d, name))) {
        const [atomText, ...flags] = text.split(/\s+/)
        list.push({ atom: atom(atomText, file, line), flags })
      }
    }
    for (const { text, file, line } of readLines(path.join(d, 'package.mask'))) {
      if (text.startsWith('-')) {
        const removed = text.slice(1)
        masked = masked.filter((a) => a.raw !== removed)
      } else masked.push(atom(text, file, line))
    }
  }
  profile.packageMask = masked
  return profile
}

/** Apply `-*`, `-x` and `x` tokens to a list, keeping first-seen order. */
export function applyIncremental(current: string[], tokens: string[]): string[] {
  let out = [...current]
  for (const t of tokens) {
    if (t === '-*') out = []
    else if (t.startsWith('-')) out = out.filter((x) => x !== t.slice(1))
    else if (!out.includes(t)) out.push(t)
  }
  return out
}

function atom(text: string, file: string, line: number): Atom {
  const a = parseAtom(text, { allowWildcard: true, allowRepo: true })
  if (a === null) throw new ProfileError(`${file}:${line}: invalid atom ${JSON.stringify(text)}`, file)
  return a
}

function collect(dir: string, chain: string[], out: string[]): void {
  if (chain.includes(dir)) throw new ProfileError(`profile parent cycle: ${[...chain, dir].join(' -> ')}`, dir)
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new ProfileError(`profile directory ${dir} does not exist`, dir)
  }
  for (const { text } of readLines(path.join(dir, 'parent'))) {
    collect(path.resolve(dir, text), [...chain, dir], out)
  }
  if (!out.includes(dir)) out.push(dir)
}

/** Non-empty, non-comment lines of a file, or of every file in a directory (sorted). */
function readLines(p: string): { text: string; file: string; line: number }[] {
  let st: fs.Stats
  try {
    st = fs.statSync(p)
  } catch {
    return []
  }
  const files = st.isDirectory()
    ? fs.readdirSync(p).filter((f) => !f.startsWith('.') && !f.endsWith('~')).sort().map((f) => path.join(p, f))
    : [p]
  const out: { text: string; file: string; line: number }[] = []
  for (const file of files) {
    fs.readFileSync(file, 'utf8').split('\n').forEach((raw, i) => {
      const text = raw.replace(/#.*$/, '').trim()
      if (text !== '') out.push({ text, file, line: i + 1 })
    })
  }
  return out
}
