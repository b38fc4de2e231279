/**
 * pacman's `SigLevel` (pacman.conf(5)): tokens `Never`, `Optional`, `Required`, `TrustedOnly`,
 * `TrustAll`, each optionally prefixed with `Package` or `Database` to apply to one side only.
 * A repository's SigLevel overrides only the sides it names; the rest comes from [options].
 * pacman's built-in default is `Optional TrustedOnly` for both packages and databases.
 *
 * Trust in nip: a key is trusted when it is in the configured keyring (the equivalent of a key
 * pacman-key has locally signed). TrustAll also accepts a valid signature whose key is in the
 * keyring but would otherwise not count as trusted (e.g. expired) — with a keyring-only model
 * the two differ only in that nip reports the trust level.
 */
import { NipError } from '@nip/core'

export type SigCheck = 'never' | 'optional' | 'required'
export type SigTrust = 'trustedOnly' | 'trustAll'

export interface SigPolicy {
  check: SigCheck
  trust: SigTrust
}

export interface SigLevel {
  package: SigPolicy
  database: SigPolicy
}

export const DEFAULT_SIGLEVEL: SigLevel = {
  package: { check: 'optional', trust: 'trustedOnly' },
  database: { check: 'optional', trust: 'trustedOnly' },
}

/** Apply the tokens of a SigLevel string on top of `base`. */
export function parseSigLevel(text: string, base: SigLevel = DEFAULT_SIGLEVEL): SigLevel {
  const out: SigLevel = { package: { ...base.package }, database: { ...base.database } }
  for (const token of text.trim().split(/\s+/).filter((t) => t !== '')) {
    let word = token
    let sides: ('package' | 'database')[] = ['package', 'database']
    if (word.startsWith('Package')) {
      sides = ['package']
      word = word.slice('Package'.length)
    } else if (word.startsWith('Database')) {
      sides = ['database']
      word = word.slice('Database'.length)
    }
    for (const side of sides) {
      switch (word) {
        case 'Never':
          out[side].check = 'never'
          break
        case 'Optional':
          out[side].check = 'optional'
          break
        case 'Required':
          out[side].check = 'required'
          break
        case 'TrustedOnly':
          out[side].trust = 'trustedOnly'
          break
        case 'TrustAll':
          out[side].trust = 'trustAll'
          break
        default:
          throw new NipError('ERR_NIP_CONFIG', `Unknown SigLevel token ${JSON.stringify(token)}`, {
            hint: 'SigLevel takes Never, Optional, Required, TrustedOnly, TrustAll, each optionally prefixed with Package or Database.',
            data: { siglevel: text, token },
          })
      }
    }
  }
  return out
}
