/**
 * The USE a package is built (or must have been built) with, layered as Portage layers it:
 *   IUSE defaults (`+flag`) → profile make.defaults USE, USE_EXPAND values and ARCH →
 *   profile package.use → nip's global `[gentoo] use` → per-package `[gentoo.package-use]` →
 *   the command line's variants;
 * then use.force/package.use.force turn flags on and use.mask/package.use.mask turn them off
 * (a mask wins over a force), and the result is limited to the package's IUSE plus the
 * profile's implicit IUSE (ARCH, IUSE_IMPLICIT, USE_EXPAND_IMPLICIT values).
 *
 * Refusals (NipError ERR_NIP_BAD_SPEC): a variant naming a flag the package does not have (with
 * the closest known flags), enabling a masked or disabling a forced flag, and a REQUIRED_USE
 * violation (naming the failing clause and a change that satisfies it).
 */
import { NipError } from '@nip/core'
import { atomMatches } from './atomMatch.js'
import type { EbuildMetadata } from './metadataCache.js'
import type { PackageFlags, Profile } from './profile.js'
import { checkRequiredUse, suggestRequiredUseFix, RequiredUseError } from './requiredUse.js'
import { closest } from './editDistance.js'
import { parseVariant, VariantSyntaxError, type Variant } from './variants.js'

export interface UseLayers {
  /** nip's global `[gentoo] use` list (`flag`, `-flag`, `key=value`). */
  global?: string[]
  /** Per-package config entries whose atom matches this package, in config order. */
  perPackage?: string[]
  /** Command-line variants. */
  variants?: string[]
}

export interface EffectiveUse {
  /** Enabled flags within IUSE (implicit IUSE included), sorted. */
  enabled: string[]
  /** IUSE flags (the package's own) that are off, sorted. */
  disabled: string[]
  /** The package's own IUSE names. */
  iuse: string[]
  /** Flags the profile forces or masks for this package (cannot change). */
  forced: string[]
  masked: string[]
  /** Flags the user set (config or command line). */
  explicit: string[]
}

export function computeEffectiveUse(md: EbuildMetadata, profile: Profile | undefined, layers: UseLayers = {}): EffectiveUse {
  const iuse = new Set(md.iuse.map((f) => f.name))
  const implicit = profile === undefined ? new Set<string>() : implicitIuse(profile)
  const useExpand = new Set(words(profile?.vars.get('USE_EXPAND')))
  const pkg = { cpv: md.cpv.cpv, slot: md.slot, subSlot: md.subSlot }

  const use = new Set<string>()
  apply(use, md.iuse.map((f) => (f.default === '+' ? f.name : f.default === '-' ? `-${f.name}` : '')).filter(Boolean))
  if (profile !== undefined) {
    apply(use, words(profile.vars.get('USE')))
    for (const variable of useExpand) {
      for (const v of words(profile.vars.get(variable))) use.add(`${variable.toLowerCase()}_${v}`)
    }
    const arch = profile.vars.get('ARCH')
    if (arch) use.add(arch)
    for (const entry of matching(profile.packageUse, pkg)) apply(use, entry.flags)
  }
  const defaults = new Set(use)

  const forced = new Set<string>()
  const masked = new Set<string>()
  if (profile !== undefined) {
    for (const f of profile.useForce) forced.add(f)
    for (const f of profile.useMask) masked.add(f)
    for (const e of matching(profile.packageUseForce, pkg)) apply(forced, e.flags)
    for (const e of matching(profile.packageUseMask, pkg)) apply(masked, e.flags)
  }

  const explicit = new Set<string>()
  const known = new Set([...iuse])
  const layered: { source: string; variants: Variant[] }[] = [
    { source: 'config use', variants: (layers.global ?? []).map(parse) },
    { source: 'config package-use', variants: (layers.perPackage ?? []).map(parse) },
    { source: 'command line', variants: (layers.variants ?? []).map(parse) },
  ]
  for (const { source, variants } of layered) {
    const strict = source === 'command line'
    for (const v of variants) {
      if (v.kind === 'expand') {
        const prefix = `${v.variable.toLowerCase()}_`
        const flags = v.values.map((x) => prefix + x)
        const unknown = flags.filter((f) => !known.has(f))
        if (!useExpand.has(v.variable) && ![...known].some((f) => f.startsWith(prefix))) {
          if (!strict) continue
          throw unknownFlag(md, v.raw, v.variable.toLowerCase(), [...useExpand].map((x) => x.toLowerCase()))
        }
        if (unknown.length > 0) {
          if (!strict) continue
          throw unknownFlag(md, v.raw, unknown[0], [...known].filter((f) => f.startsWith(prefix)))
        }
        for (const f of [...use]) if (f.startsWith(prefix)) use.delete(f)
        for (const f of flags) use.add(f)
        for (const f of known) if (f.startsWith(prefix)) explicit.add(f)
        continue
      }
      if (!known.has(v.flag)) {
        // Global config lists flags for every package; only the command line must name real ones.
        if (!strict) continue
        throw unknownFlag(md, v.raw, v.flag, known)
      }
      if (v.kind === 'reset') {
        if (defaults.has(v.flag)) use.add(v.flag)
        else use.delete(v.flag)
        explicit.delete(v.flag)
        continue
      }
      if (strict && v.kind === 'enable' && masked.has(v.flag)) {
        throw new NipError('ERR_NIP_BAD_SPEC', `USE flag ${v.flag} of ${md.cpv.cpv} is masked by the profile`, {
          hint: `Drop +${v.flag}; the profile (use.mask/package.use.mask) does not allow it for this package.`,
          data: { package: md.cpv.cpv, flag: v.flag, reason: 'masked' },
        })
      }
      if (strict && v.kind === 'disable' && forced.has(v.flag)) {
        throw new NipError('ERR_NIP_BAD_SPEC', `USE flag ${v.flag} of ${md.cpv.cpv} is forced on by the profile`, {
          hint: `Drop -${v.flag}; the profile (use.force/package.use.force) requires it for this package.`,
          data: { package: md.cpv.cpv, flag: v.flag, reason: 'forced' },
        })
      }
      if (v.kind === 'enable') use.add(v.flag)
      else use.delete(v.flag)
      explicit.add(v.flag)
    }
  }
  for (const f of forced) use.add(f)
  for (const f of masked) use.delete(f)

  const inIuse = (f: string): boolean => iuse.has(f) || implicit.has(f)
  const enabled = [...use].filter(inIuse).sort()
  const result: EffectiveUse = {
    enabled,
    disabled: [...iuse].filter((f) => !use.has(f)).sort(),
    iuse: [...iuse].sort(),
    forced: [...forced].filter((f) => iuse.has(f)).sort(),
    masked: [...masked].filter((f) => iuse.has(f)).sort(),
    explicit: [...explicit].sort(),
  }
  checkOrExplain(md, result, inIuse)
  return result

  function parse(raw: string): Variant {
    try {
      return parseVariant(raw)
    } catch (e) {
      if (e instanceof VariantSyntaxError) {
        throw new NipError('ERR_NIP_BAD_SPEC', e.message, { hint: 'Write +flag, -flag, ~flag or key=value (e.g. video_cards=intel).', data: { variant: raw } })
      }
      throw e
    }
  }
}

function checkOrExplain(md: EbuildMetadata, result: EffectiveUse, inIuse: (f: string) => boolean): void {
  if (md.requiredUse.trim() === '') return
  const use = new Set(result.enabled)
  let check
  try {
    check = checkRequiredUse(md.requiredUse, use, inIuse, md.eapi)
  } catch (e) {
    if (e instanceof RequiredUseError) {
      throw new NipError('ERR_NIP_BAD_PACKAGE', `REQUIRED_USE of ${md.cpv.cpv} is malformed: ${e.message}`, {
        data: { package: md.cpv.cpv, requiredUse: md.requiredUse },
      })
    }
    throw e
  }
  if (check.satisfied) return
  const fix = suggestRequiredUseFix({
    requiredUse: md.requiredUse,
    use,
    inIuse,
    eapi: md.eapi,
    pinned: new Set(result.explicit),
    fixed: new Set([...result.forced, ...result.masked]),
  })
  const change = fix === null ? undefined : [...fix.enable.map((f) => `+${f}`), ...fix.disable.map((f) => `-${f}`)]
  throw new NipError('ERR_NIP_BAD_SPEC', `USE flags of ${md.cpv.cpv} violate REQUIRED_USE: ${check.unsatisfied}`, {
    hint: change === undefined ? 'Change the USE flags named in the clause.' : `Add ${change.join(' ')} to satisfy it.`,
    data: { package: md.cpv.cpv, reason: 'required-use', clause: check.unsatisfied, fix: change ?? null, use: result.enabled },
  })
}

function unknownFlag(md: EbuildMetadata, raw: string, flag: string, known: Iterable<string>): NipError {
  const near = closest(flag, known)
  const mean = near.length > 0 ? `; did you mean ${near.join(', ')}?` : ''
  return new NipError('ERR_NIP_BAD_SPEC', `${md.cpv.cpv} has no USE flag ${flag} (${raw})${mean}`, {
    hint: near.length > 0 ? `Did you mean ${near.join(', ')}?` : `Its flags are listed by nip info --source=gentoo ${md.cpv.cp}.`,
    data: { package: md.cpv.cpv, flag, reason: 'unknown-flag', suggestions: near },
  })
}

/** The profile's implicit IUSE: ARCH, IUSE_IMPLICIT and the USE_EXPAND_IMPLICIT values. */
export function implicitIuse(profile: Profile): Set<string> {
  const out = new Set(words(profile.vars.get('IUSE_IMPLICIT')))
  const arch = profile.vars.get('ARCH')
  if (arch) out.add(arch)
  const unprefixed = new Set(words(profile.vars.get('USE_EXPAND_UNPREFIXED')))
  for (const variable of words(profile.vars.get('USE_EXPAND_IMPLICIT'))) {
    for (const v of words(profile.vars.get(`USE_EXPAND_VALUES_${variable}`))) {
      out.add(unprefixed.has(variable) ? v : `${variable.toLowerCase()}_${v}`)
    }
  }
  return out
}

function matching(entries: PackageFlags[], pkg: { cpv: string; slot: string; subSlot: string }): PackageFlags[] {
  return entries.filter((e) => atomMatches(e.atom, pkg))
}

function apply(set: Set<string>, tokens: string[]): void {
  for (const t of tokens) {
    if (t === '-*') set.clear()
    else if (t.startsWith('-')) set.delete(t.slice(1))
    else set.add(t.startsWith('+') ? t.slice(1) : t)
  }
}

function words(s: string | undefined): string[] {
  return (s ?? '').split(/\s+/).filter(Boolean)
}
