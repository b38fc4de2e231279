/**
 * nip's variant syntax for Gentoo USE flags:
 *   `+flag`  enable            `-flag`  disable
 *   `~flag`  back to the package/profile default (drops earlier config settings of the flag)
 *   `key=v1,v2`  a USE_EXPAND variable (`video_cards=intel` → `video_cards_intel`), replacing
 *                every other value of that variable; `key=` clears it.
 * A bare `flag` (as written in a config file's `use` list) means `+flag`.
 */
export type Variant =
  | { kind: 'enable' | 'disable' | 'reset'; flag: string; raw: string }
  | { kind: 'expand'; variable: string; values: string[]; raw: string }

export class VariantSyntaxError extends Error {
  constructor(readonly raw: string) {
    super(`${JSON.stringify(raw)} is not a variant (+flag, -flag, ~flag or key=value)`)
    this.name = 'VariantSyntaxError'
  }
}

const FLAG = /^[A-Za-z0-9][A-Za-z0-9+_@-]*$/
const KEY = /^[A-Za-z][A-Za-z0-9_]*$/

export function parseVariant(raw: string): Variant {
  const eq = raw.indexOf('=')
  if (eq > 0) {
    const variable = raw.slice(0, eq)
    const values = raw.slice(eq + 1).split(',').filter(Boolean)
    if (!KEY.test(variable) || !values.every((v) => FLAG.test(v))) throw new VariantSyntaxError(raw)
    return { kind: 'expand', variable: variable.toUpperCase(), values, raw }
  }
  const sigil = raw[0]
  const kind = sigil === '+' ? 'enable' : sigil === '-' ? 'disable' : sigil === '~' ? 'reset' : 'enable'
  const flag = '+-~'.includes(sigil) ? raw.slice(1) : raw
  if (!FLAG.test(flag)) throw new VariantSyntaxError(raw)
  return { kind, flag, raw }
}

/** Whether a command-line word is a variant rather than a package name. */
export function looksLikeVariant(word: string): boolean {
  return /^[+~-]./.test(word) || /^[A-Za-z][A-Za-z0-9_]*=/.test(word)
}

/** Split `+vaapi+lto` (several variants run together after a first sigil) into words. */
export function splitVariantWords(word: string): string[] {
  if (!/^[+~-]/.test(word)) return [word]
  return word.split(/(?=[+~])/).filter(Boolean)
}
