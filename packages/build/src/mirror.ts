/**
 * The Debian mirror scheme: a recipe source with `debian = "<source package>/<file>"` is also
 * fetched from `<mirror>/pool/main/<prefix>/<source package>/<file>` of every configured Debian
 * mirror, where upstream release tarballs are kept byte for byte as `<name>_<version>.orig.tar.*`
 * (the recipe's SHA-256 decides whether the bytes are right, whichever mirror served them).
 *
 * The mirrors are nip's own Debian configuration (`[debian] sources = [{ uri, mirrors }]`) or,
 * when it has none and `host-sources` is not false, the host's apt sources (`apt-dir`, default
 * /etc/apt): the same rule the Debian adapter follows. No host name is built in.
 */
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import type { RecipeSource } from './recipe.js'

/** Pool directory prefix of a source package (Debian policy: `lib` packages by four letters). */
export function poolPrefix(pkg: string): string {
  return pkg.startsWith('lib') && pkg.length > 3 ? pkg.slice(0, 4) : pkg[0]
}

export function poolUrl(mirror: string, debianPath: string): string {
  const [pkg, file] = debianPath.split('/')
  return `${mirror.replace(/\/+$/, '')}/pool/main/${poolPrefix(pkg)}/${pkg}/${file}`
}

/** Debian archive roots from nip's `[debian]` table, else from the host's apt sources. */
export function debianMirrors(table: Record<string, unknown>): string[] {
  const out: string[] = []
  const add = (u: unknown) => {
    if (typeof u === 'string' && /^(https?|file):\/\//.test(u) && !out.includes(u.replace(/\/+$/, ''))) out.push(u.replace(/\/+$/, ''))
  }
  const sources = table.sources
  if (Array.isArray(sources) && sources.length > 0) {
    for (const s of sources) {
      if (typeof s !== 'object' || s === null) continue
      const rec = s as Record<string, unknown>
      add(rec.uri)
      if (Array.isArray(rec.mirrors)) rec.mirrors.forEach(add)
    }
    return out
  }
  if (table['host-sources'] === false) return out
  const aptDir = typeof table['apt-dir'] === 'string' ? (table['apt-dir'] as string) : '/etc/apt'
  for (const uri of aptSourceUris(aptDir)) add(uri)
  return out
}

/** URIs of the `deb` entries of an apt configuration directory, in apt's reading order. */
export function aptSourceUris(aptDir: string): string[] {
  const uris: string[] = []
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8')
    } catch {
      return ''
    }
  }
  const oneLine = (text: string) => {
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim()
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/.exec(line)
      if (m) uris.push(m[1])
    }
  }
  const deb822 = (text: string) => {
    for (const stanza of text.split(/\n\s*\n/)) {
      const fields = new Map<string, string>()
      let last = ''
      for (const raw of stanza.split('\n')) {
        if (raw.startsWith('#')) continue
        if (/^\s/.test(raw) && last) fields.set(last, `${fields.get(last)} ${raw.trim()}`)
        else {
          const i = raw.indexOf(':')
          if (i <= 0) continue
          last = raw.slice(0, i).trim().toLowerCase()
          fields.set(last, raw.slice(i + 1).trim())
        }
      }
      if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue
      if ((fields.get('enabled') ?? 'yes').toLowerCase() === 'no') continue
      uris.push(...(fields.get('uris') ?? '').split(/\s+/).filter(Boolean))
    }
  }
  oneLine(read(path.join(aptDir, 'sources.list')))
  let names: string[] = []
  try {
    names = readdirSync(path.join(aptDir, 'sources.list.d')).sort()
  } catch {
    names = []
  }
  for (const n of names) {
    const f = path.join(aptDir, 'sources.list.d', n)
    if (n.endsWith('.list')) oneLine(read(f))
    else if (n.endsWith('.sources')) deb822(read(f))
  }
  return uris
}

/** Every URL a source may be fetched from, in order: the Debian pool of each mirror, the recipe's mirrors, upstream. */
export function sourceUrls(src: RecipeSource, mirrors: readonly string[]): string[] {
  const urls = src.debian ? mirrors.map((m) => poolUrl(m, src.debian!)) : []
  for (const u of [...src.mirrors, ...(src.url ? [src.url] : [])]) if (!urls.includes(u)) urls.push(u)
  return urls
}
