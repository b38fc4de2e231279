/**
 * The target root: --root (or NIP_ROOT); otherwise "/" for root, and a per-user root
 * ($XDG_DATA_HOME/nip/root, default ~/.local/share/nip/root) for everyone else, so that a plain
 * user can graft programs without touching the system.
 */
import os from 'node:os'
import path from 'node:path'

export interface RootChoice {
  root: string
  /** True when the per-user default was chosen (the CLI then tells the user about PATH). */
  perUserDefault: boolean
}

export function resolveRoot(opts: { flag?: string; env: Record<string, string | undefined>; uid: number }): RootChoice {
  if (opts.flag) return { root: path.resolve(opts.flag), perUserDefault: false }
  if (opts.uid === 0) return { root: '/', perUserDefault: false }
  const home = opts.env.HOME || os.homedir()
  const dataHome = opts.env.XDG_DATA_HOME && path.isAbsolute(opts.env.XDG_DATA_HOME) ? opts.env.XDG_DATA_HOME : path.join(home, '.local', 'share')
  return { root: path.join(dataHome, 'nip', 'root'), perUserDefault: true }
}

/** Whether `dir` is already one of the PATH entries. */
export function onPath(dir: string, envPath: string | undefined): boolean {
  return (envPath ?? '').split(path.delimiter).some((p) => p !== '' && path.resolve(p) === dir)
}
