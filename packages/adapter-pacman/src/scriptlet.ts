/**
 * `.INSTALL` scriptlets: shell functions pacman would run around a transaction. nip records and
 * reports them, never runs them.
 */
import type { Scriptlet } from '@nip/core'

const FUNCTIONS = ['pre_install', 'post_install', 'pre_upgrade', 'post_upgrade', 'pre_remove', 'post_remove'] as const

/** One Scriptlet per function the file defines, each carrying the whole file as its body. */
export function readScriptlets(text: string): Scriptlet[] {
  return FUNCTIONS.filter((f) => new RegExp(`^\\s*(?:function\\s+)?${f}\\s*\\(\\s*\\)`, 'm').test(text)).map((name) => ({ name, body: text }))
}
