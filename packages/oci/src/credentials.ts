/**
 * Where registry credentials come from, first match wins:
 * 1. nip's configuration: `[oci] credentials = { "HOST[:PORT]" = { username = "...", password = "..." } }`;
 * 2. the containers tools' auth file: `$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`,
 *    else `$XDG_CONFIG_HOME/containers/auth.json` (`~/.config/containers/auth.json`), as podman,
 *    skopeo and buildah write it on `login`;
 * 3. Docker's: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
 * Both files use `{"auths": {"HOST": {"auth": base64("user:password")}}}`; keys may carry a
 * scheme or path (`https://HOST/v1/`), which are ignored when matching. Credential helpers
 * (`credHelpers`, `credsStore`) are not run.
 * Nothing here writes anything; a file that cannot be read or parsed is skipped.
 */
import { readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export interface Credentials {
  username: string
  password: string
  /** Where they were found, for error messages (never the secret). */
  from: string
}

export type Env = Record<string, string | undefined>

export function authFiles(env: Env = process.env): string[] {
  const home = env.HOME || os.homedir()
  const files: string[] = []
  if (env.REGISTRY_AUTH_FILE) files.push(env.REGISTRY_AUTH_FILE)
  if (env.XDG_RUNTIME_DIR) files.push(path.join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'))
  files.push(path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'containers', 'auth.json'))
  files.push(path.join(env.DOCKER_CONFIG || path.join(home, '.docker'), 'config.json'))
  return files
}

function hostOf(key: string): string {
  return key.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '')
}

export function findCredentials(host: string, configured: Record<string, unknown>, env: Env = process.env): Credentials | undefined {
  const mine = configured[host]
  if (mine && typeof mine === 'object') {
    const { username, password } = mine as Record<string, unknown>
    if (typeof username === 'string' && typeof password === 'string') return { username, password, from: 'nip configuration ([oci] credentials)' }
  }
  for (const file of authFiles(env)) {
    let doc: unknown
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'))
    } catch {
      continue
    }
    const auths = (doc as { auths?: Record<string, Record<string, unknown>> })?.auths
    if (!auths || typeof auths !== 'object') continue
    for (const [key, entry] of Object.entries(auths)) {
      if (hostOf(key) !== host || !entry || typeof entry !== 'object') continue
      if (typeof entry.auth === 'string' && entry.auth) {
        const text = Buffer.from(entry.auth, 'base64').toString('utf8')
        const i = text.indexOf(':')
        if (i > 0) return { username: text.slice(0, i), password: text.slice(i + 1), from: file }
      }
      if (typeof entry.username === 'string' && typeof entry.password === 'string') return { username: entry.username, password: entry.password, from: file }
    }
  }
  return undefined
}

/** `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` → scheme and parameters. */
export function parseChallenge(header: string | null): { scheme: string; params: Record<string, string> } | undefined {
  if (!header) return undefined
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(header)
  if (!m) return undefined
  const params: Record<string, string> = {}
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g
  let p: RegExpExecArray | null
  while ((p = re.exec(m[2])) !== null) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]
  return { scheme: m[1].toLowerCase(), params }
}
