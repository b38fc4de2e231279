/**
 * Package specs as users type them:
 *   name            the best version from the first source (in priority order) that has it
 *   name@version    that exact version
 *   source:name     only from that source (`nip graft pacman:htop`)
 *   ./file, /file   a local package file, claimed by the adapter that recognises it
 */
import fs from 'node:fs'
import path from 'node:path'
import type { AdapterId, PackageSpec } from './adapter.js'
import { NipError } from './errors.js'

export function parseSpec(raw: string, opts: { knownSources: readonly string[]; source?: AdapterId; cwd?: string }): PackageSpec {
  const text = raw.trim()
  if (text === '') throw new NipError('ERR_NIP_BAD_SPEC', 'An empty package spec was given.', { hint: 'Name a package, e.g. nip install hello.' })
  const cwd = opts.cwd ?? process.cwd()
  if (text.startsWith('./') || text.startsWith('../') || text.startsWith('/') || (text.includes('/') && !text.includes(':') && fs.existsSync(path.resolve(cwd, text)))) {
    const file = path.resolve(cwd, text)
    if (!fs.existsSync(file)) {
      throw new NipError('ERR_NIP_BAD_SPEC', `The package file ${text} does not exist.`, { hint: 'Check the path.', data: { spec: raw, file } })
    }
    return { raw, file, name: path.basename(file), ...(opts.source ? { source: opts.source } : {}) }
  }
  let source: AdapterId | undefined = opts.source
  let rest = text
  const m = /^([a-z][a-z0-9_-]*):(.+)$/.exec(text)
  if (m) {
    if (!opts.knownSources.includes(m[1])) {
      throw new NipError('ERR_NIP_UNKNOWN_SOURCE', `Unknown source "${m[1]}" in ${raw}.`, {
        hint: `Known sources: ${opts.knownSources.join(', ')}.`,
        data: { spec: raw, source: m[1], known: opts.knownSources },
      })
    }
    if (opts.source && opts.source !== m[1]) {
      throw new NipError('ERR_NIP_BAD_SPEC', `The spec ${raw} names source ${m[1]} but --source=${opts.source} was given.`, {
        hint: 'Give the source once.',
      })
    }
    source = m[1]
    rest = m[2]
  }
  let name = rest
  let version: string | undefined
  const at = rest.lastIndexOf('@')
  if (at > 0) {
    name = rest.slice(0, at)
    version = rest.slice(at + 1)
    if (version === '') throw new NipError('ERR_NIP_BAD_SPEC', `The spec ${raw} has an empty version after "@".`, { hint: 'Write name@version.' })
  }
  if (name === '' || name.includes('\0')) throw new NipError('ERR_NIP_BAD_SPEC', `The spec ${raw} has no package name.`, { hint: 'Write [source:]name[@version].' })
  return { raw, name, ...(version !== undefined ? { version } : {}), ...(source ? { source } : {}) }
}
