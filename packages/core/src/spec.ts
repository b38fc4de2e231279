/**
 * Package specs as users type them:
 *   name            the best version from the first source (in priority order) that has it
 *   name@version    that exact version (a range such as name>=1.5 is refused: ERR_NIP_BAD_SPEC)
 *   source:name     only from that source (`nip graft pacman:htop`)
 *   ./file, /file   a local package file, claimed by the adapter that recognises it; a bare
 *                   word with a package file's suffix (`x.deb`, `x.pkg.tar.zst`) is a file too
 * each optionally followed, after whitespace, by variant words that the source interprets
 * (Gentoo: USE flags): `+flag` on, `-flag` off, `~flag` back to the default, `key=value[,value]`
 * (`"ffmpeg +vaapi -gpl video_cards=intel"`). Package names and versions never contain
 * whitespace, so a spec string carries its variants unambiguously (the CLI joins a spec with the
 * variant words that follow it; the API takes the same strings). A local file whose path
 * contains whitespace is recognised as a whole before any splitting.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { AdapterId, PackageSpec } from './adapter.js'
import { NipError } from './errors.js'

/** A variant word: `+flag`, `-flag`, `~flag` (flag names as Gentoo's USE allows), or `key=v1,v2`. */
const VARIANT = /^(?:[+~-][A-Za-z0-9][A-Za-z0-9+_@.-]*|[A-Za-z][A-Za-z0-9_]*=[A-Za-z0-9+_@.,-]*)$/

export function isVariantWord(word: string): boolean {
  return VARIANT.test(word)
}

export function parseSpec(raw: string, opts: { knownSources: readonly string[]; source?: AdapterId; cwd?: string }): PackageSpec {
  const whole = raw.trim()
  if (whole === '') throw new NipError('ERR_NIP_BAD_SPEC', 'An empty package spec was given.', { hint: 'Name a package, e.g. nip install hello.' })
  const cwd = opts.cwd ?? process.cwd()
  const pathLike = /^(\.\.?\/|\/)/.test(whole)
  if (pathLike && /\s/.test(whole) && fs.existsSync(path.resolve(cwd, whole))) {
    return { raw, file: path.resolve(cwd, whole), name: path.basename(whole), ...(opts.source ? { source: opts.source } : {}) }
  }
  const [text, ...words] = whole.split(/\s+/)
  const variants = parseVariantWords(words, raw)
  const spec = parseBareSpec(raw, text, { ...opts, cwd })
  return variants.length > 0 ? { ...spec, variants } : spec
}

/** `+a+b` (several flags run together after a first sigil) counts as `+a +b`. */
function parseVariantWords(words: string[], raw: string): string[] {
  const out = words.flatMap((w) => (/^[+~-]/.test(w) ? w.split(/(?=[+~][A-Za-z0-9])/) : [w]))
  const bad = out.find((w) => !isVariantWord(w))
  if (bad !== undefined) {
    throw new NipError('ERR_NIP_BAD_SPEC', `"${bad}" in "${raw.trim()}" is not a variant.`, {
      hint: 'After a package name write variants as +flag, -flag, ~flag or key=value (e.g. ffmpeg +vaapi -gpl video_cards=intel).',
      data: { spec: raw, word: bad },
    })
  }
  return out
}

/** File names of binary packages (.deb, .pkg.tar.zst, .gpkg.tar, .tbz, .tgz, Gobo's .tar.gz): such a word is a file, never a package name. */
const PACKAGE_FILE = /\.(deb|udeb|tgz|tbz|txz|tar|tar\.(gz|bz2|xz|zst|lz4)|xpak)$/

function parseBareSpec(raw: string, text: string, opts: { knownSources: readonly string[]; source?: AdapterId; cwd: string }): PackageSpec {
  const cwd = opts.cwd
  const fileName = !text.includes(':') && !text.includes('@') && PACKAGE_FILE.test(text)
  if (text.startsWith('./') || text.startsWith('../') || text.startsWith('/') || fileName || (text.includes('/') && !text.includes(':') && fs.existsSync(path.resolve(cwd, text)))) {
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
  // Version ranges (`jq>=1.5`, pip's and Portage's operators) are not a name: say so.
  const range = /^(.*?)(>=|<=|==|!=|~=|>|<|=)(.*)$/.exec(rest)
  if (range && /[<>=!]/.test(rest)) {
    const [, rname, op, rversion] = range
    throw new NipError('ERR_NIP_BAD_SPEC', `The spec ${raw.trim()} is a version range (${op}); nip takes a package name, optionally with one exact version.`, {
      hint: rname ? `Write ${rname}@${rversion || 'VERSION'} for that version, or ${rname} for the best one (nip info ${rname} lists the versions).` : 'Write name@version, e.g. jq@1.6.',
      data: { spec: raw, name: rname, operator: op, version: rversion },
    })
  }
  if (rest.startsWith('@')) {
    throw new NipError('ERR_NIP_BAD_SPEC', `The spec ${raw.trim()} has no package name before "@".`, { hint: 'Write name@version, e.g. jq@1.6.', data: { spec: raw } })
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
