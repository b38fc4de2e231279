/**
 * Variant resolution (Spack's `+foo~bar key=value`, Portage's USE): the recipe's defaults, then the
 * configuration's words, then the command line's, each layer overriding the one before word by
 * word. A word names a recipe variant first, then a profile (`+lto`). Within one layer, two words
 * that set the same name differently contradict each other (ERR_NIP_VARIANT_CONFLICT); an
 * unknown name is ERR_NIP_VARIANT_UNKNOWN with the nearest known ones; once everything is chosen,
 * every `requires` and `conflicts` clause of a variant that is on must hold
 * (ERR_NIP_VARIANT_REQUIRES / ERR_NIP_VARIANT_CONFLICT naming the clause and the recipe file).
 *
 * Words: `+name` on, `-name` or `~name` off, `name=value` for a valued variant. `cflags=...` and
 * `ldflags=...` are not variants: they append compiler/linker flags (the command line's layer
 * of the flag precedence, see flags.ts).
 */
import { NipError } from '@nip/core'
import type { Profile } from './profile.js'
import type { Recipe } from './recipe.js'
import { nearest } from './schema.js'

export interface VariantLayer {
  /** "configuration" or "command line": named in errors. */
  origin: string
  words: string[]
}

export interface ResolvedVariants {
  /** Every recipe variant's value, by name. */
  values: Record<string, boolean | string>
  /** Active profiles, sorted. */
  profiles: string[]
  /** Extra compiler/linker flags given as words (`cflags=-O3`), in order. */
  cflags: string[]
  ldflags: string[]
  /** Canonical words for what differs from the recipe's defaults, sorted (Spack order: `+a~b k=v`). */
  words: string[]
}

interface Word {
  raw: string
  name: string
  on?: boolean
  value?: string
}

const FLAG_KEYS = new Set(['cflags', 'ldflags'])

function parseWord(raw: string, origin: string): Word {
  const m = /^([+~-])([A-Za-z0-9][A-Za-z0-9_-]*)$/.exec(raw)
  if (m) return { raw, name: m[2], on: m[1] === '+' }
  const kv = /^([A-Za-z][A-Za-z0-9_-]*)=(.*)$/.exec(raw)
  if (kv) return { raw, name: kv[1], value: kv[2] }
  throw new NipError('ERR_NIP_BAD_SPEC', `"${raw}" (${origin}) is not a variant word.`, {
    hint: 'Write variants as +name, -name (or ~name), or name=value.',
    data: { word: raw, origin },
  })
}

export function resolveVariants(recipe: Recipe, profiles: Map<string, Profile>, layers: { defaultProfiles: string[]; layers: VariantLayer[] }): ResolvedVariants {
  const values: Record<string, boolean | string> = {}
  for (const v of recipe.variants.values()) values[v.name] = v.default
  const active = new Set<string>()
  for (const p of layers.defaultProfiles) {
    if (!profiles.has(p)) throw unknown(recipe, profiles, { raw: p, name: p }, 'configuration (build.profiles)')
    active.add(p)
  }
  const cflags: string[] = []
  const ldflags: string[] = []
  for (const layer of layers.layers) {
    const seen = new Map<string, Word>()
    for (const raw of layer.words) {
      const w = parseWord(raw, layer.origin)
      if (w.value !== undefined && FLAG_KEYS.has(w.name)) {
        const flags = w.value.split(/\s+/).filter(Boolean)
        ;(w.name === 'cflags' ? cflags : ldflags).push(...flags)
        continue
      }
      const before = seen.get(w.name)
      if (before && (before.on !== w.on || before.value !== w.value)) {
        throw new NipError('ERR_NIP_VARIANT_CONFLICT', `${before.raw} and ${w.raw} contradict each other (${layer.origin}).`, {
          hint: `Give ${w.name} once.`,
          data: { recipe: recipe.name, words: [before.raw, w.raw], origin: layer.origin },
        })
      }
      seen.set(w.name, w)
      const def = recipe.variants.get(w.name)
      if (def) {
        if (def.kind === 'bool') {
          if (w.on === undefined) throw new NipError('ERR_NIP_BAD_SPEC', `${w.name} is an on/off variant of ${recipe.name}: write +${w.name} or -${w.name}, not ${w.raw}.`, { hint: `nip build --list-variants ${recipe.name}`, data: { recipe: recipe.name, word: w.raw } })
          values[w.name] = w.on
        } else {
          if (w.value === undefined) throw new NipError('ERR_NIP_BAD_SPEC', `${w.name} is a valued variant of ${recipe.name}: write ${w.name}=<${def.values.join('|')}>, not ${w.raw}.`, { hint: `nip build --list-variants ${recipe.name}`, data: { recipe: recipe.name, word: w.raw } })
          if (!def.values.includes(w.value)) {
            const near = nearest(w.value, def.values)
            throw new NipError('ERR_NIP_VARIANT_UNKNOWN', `${w.value} is not a value of ${recipe.name}'s variant ${w.name} (${def.values.join(', ')}).`, {
              hint: near.length ? `Did you mean ${w.name}=${near[0]}?` : `Values: ${def.values.join(', ')}.`,
              data: { recipe: recipe.name, word: w.raw, values: def.values, ...(near.length ? { suggestions: near.map((n) => `${w.name}=${n}`) } : {}) },
            })
          }
          values[w.name] = w.value
        }
        continue
      }
      if (profiles.has(w.name)) {
        if (w.on === undefined) throw new NipError('ERR_NIP_BAD_SPEC', `${w.name} is a profile: write +${w.name} or -${w.name}, not ${w.raw}.`, { hint: 'Profiles are switched on and off, they take no value.', data: { profile: w.name, word: w.raw } })
        if (w.on) active.add(w.name)
        else active.delete(w.name)
        continue
      }
      throw unknown(recipe, profiles, w, layer.origin)
    }
  }
  // Clauses of the variants that are on.
  const state = (name: string): boolean | string | undefined => (name in values ? values[name] : profiles.has(name) ? active.has(name) : undefined)
  const holds = (clause: string): boolean => {
    const w = parseWord(clause, recipe.file)
    const s = state(w.name)
    if (w.value !== undefined) return s === w.value
    return (s === true) === w.on
  }
  for (const v of recipe.variants.values()) {
    if (v.kind !== 'bool' || values[v.name] !== true) continue
    for (const c of v.requires) {
      if (state(parseWord(c, recipe.file).name) === undefined) throw unknownClause(recipe, v.name, 'requires', c)
      if (!holds(c)) {
        throw new NipError('ERR_NIP_VARIANT_REQUIRES', `+${v.name} requires ${c} (variants.${v.name}.requires in ${recipe.file}).`, {
          hint: `Add ${c} to the command line, or drop +${v.name}.`,
          data: { recipe: recipe.name, variant: v.name, clause: c, file: recipe.file },
        })
      }
    }
    for (const c of v.conflicts) {
      if (state(parseWord(c, recipe.file).name) === undefined) throw unknownClause(recipe, v.name, 'conflicts', c)
      if (holds(c)) {
        throw new NipError('ERR_NIP_VARIANT_CONFLICT', `+${v.name} conflicts with ${c} (variants.${v.name}.conflicts in ${recipe.file}).`, {
          hint: `Drop one of +${v.name} and ${c}.`,
          data: { recipe: recipe.name, variant: v.name, clause: c, file: recipe.file },
        })
      }
    }
  }
  for (const p of active) {
    for (const c of profiles.get(p)!.conflicts) {
      if (active.has(c)) {
        throw new NipError('ERR_NIP_VARIANT_CONFLICT', `The profiles ${p} and ${c} cannot be combined (conflicts in ${profiles.get(p)!.file}).`, { hint: `Drop +${p} or +${c}.`, data: { profiles: [p, c] } })
      }
    }
  }
  const words: string[] = []
  for (const v of recipe.variants.values()) {
    const val = values[v.name]
    if (val === v.default) continue
    words.push(typeof val === 'boolean' ? `${val ? '+' : '~'}${v.name}` : `${v.name}=${val}`)
  }
  for (const p of active) words.push(`+${p}`)
  words.sort(wordOrder)
  return { values, profiles: [...active].sort(), cflags, ldflags, words }
}

/** `+a` before `~b` before `k=v`, each group by name. */
function wordOrder(a: string, b: string): number {
  const rank = (w: string) => (w.startsWith('+') ? 0 : w.startsWith('~') ? 1 : 2)
  const name = (w: string) => w.replace(/^[+~]/, '')
  return rank(a) - rank(b) || (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0)
}

/** The version directory name of a build: the recipe version plus its non-default words (`2.10~nls`, `5.1.9+lto+vaapi`). */
export function variantVersion(version: string, resolved: ResolvedVariants): string {
  const suffix = resolved.words.map((w) => (w.includes('=') ? `_${w}` : w)).join('')
  return `${version}${suffix}`
}

function unknown(recipe: Recipe, profiles: Map<string, Profile>, w: Word, origin: string): NipError {
  const known = [...recipe.variants.keys(), ...profiles.keys()]
  const near = nearest(w.name, known)
  const variantNames = [...recipe.variants.keys()]
  return new NipError('ERR_NIP_VARIANT_UNKNOWN', `${w.raw} (${origin}) names neither a variant of ${recipe.name} nor a profile.`, {
    hint: near.length
      ? `Did you mean ${near.map((n) => (w.raw.startsWith('-') || w.raw.startsWith('~') ? `-${n}` : `+${n}`)).join(' or ')}?`
      : `${recipe.name}'s variants: ${variantNames.join(', ') || '(none)'}; profiles: ${[...profiles.keys()].join(', ') || '(none)'}.`,
    data: { recipe: recipe.name, word: w.raw, origin, suggestions: near, variants: variantNames, profiles: [...profiles.keys()] },
  })
}

function unknownClause(recipe: Recipe, variant: string, key: string, clause: string): NipError {
  return new NipError('ERR_NIP_RECIPE_INVALID', `${recipe.file}: variants.${variant}.${key}: "${clause}" names neither a variant nor a profile.`, {
    hint: 'Fix the clause in the recipe.',
    data: { file: recipe.file, key: `variants.${variant}.${key}`, clause },
  })
}
