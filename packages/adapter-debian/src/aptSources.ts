/**
 * apt's source lists (`man sources.list`): one-line `.list` files
 * (`deb [arch=amd64 signed-by=/k.gpg] URI SUITE COMPONENT...`) and deb822 `.sources` files
 * (Types, URIs, Suites, Components, Architectures, Signed-By, Enabled). Only `deb` entries are
 * kept (nip grafts binaries). Reading is the caller's business: these functions parse text.
 */
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { NipError } from '@nip/core'
import { parseStanzas } from './deb822.js'

export interface AptSource {
  uri: string
  suite: string
  /** Empty for a flat repository (suite ends with "/"). */
  components: string[]
  /** Architectures to index; empty means "the configured one". */
  architectures: string[]
  /** Keyring files, or an inline armored key block (starting with "-----BEGIN"). */
  signedBy: string[]
  /** Where the entry was read, for messages. */
  origin: string
  /** Other base URIs serving the same archive, tried in order after `uri` ([debian] sources only). */
  mirrors?: string[]
}

export function parseOneLineList(text: string, origin: string): AptSource[] {
  const out: AptSource[] = []
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim()
    if (line === '') return
    const m = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)((?:\s+\S+)*)$/.exec(line)
    if (m === null) throw bad(`${origin}:${i + 1}`, `cannot parse ${JSON.stringify(line)}`)
    if (m[1] !== 'deb') return
    const options = new Map<string, string>()
    for (const opt of (m[2] ?? '').trim().split(/\s+/).filter(Boolean)) {
      const eq = opt.indexOf('=')
      if (eq > 0) options.set(opt.slice(0, eq).toLowerCase(), opt.slice(eq + 1))
    }
    out.push({
      uri: m[3],
      suite: m[4],
      components: m[5].trim().split(/\s+/).filter(Boolean),
      architectures: (options.get('arch') ?? '').split(',').filter(Boolean),
      signedBy: (options.get('signed-by') ?? '').split(',').filter(Boolean),
      origin: `${origin}:${i + 1}`,
    })
  })
  return out
}

export function parseDeb822Sources(text: string, origin: string): AptSource[] {
  const out: AptSource[] = []
  for (const stanza of parseStanzas(text, { source: origin, comments: true })) {
    const words = (field: string) => (stanza.get(field) ?? '').split(/\s+/).filter(Boolean)
    if (!words('types').includes('deb')) continue
    if ((stanza.get('enabled') ?? 'yes').toLowerCase() === 'no') continue
    const signedBy = stanza.get('signed-by')
    const keys = signedBy === undefined ? [] : signedBy.includes('-----BEGIN') ? [signedBy.replace(/^\.$/gm, '')] : signedBy.split(/[\s,]+/).filter(Boolean)
    for (const uri of words('uris')) {
      for (const suite of words('suites')) {
        out.push({ uri, suite, components: words('components'), architectures: words('architectures'), signedBy: keys, origin })
      }
    }
  }
  return out
}

/** Every `deb` source of an apt configuration directory (`sources.list`, `sources.list.d/`). */
export async function readAptSources(aptDir: string): Promise<AptSource[]> {
  const out: AptSource[] = []
  const main = path.join(aptDir, 'sources.list')
  const text = await readOptional(main)
  if (text !== null) out.push(...parseOneLineList(text, main))
  let names: string[] = []
  try {
    names = (await readdir(path.join(aptDir, 'sources.list.d'))).sort()
  } catch {
    names = []
  }
  for (const name of names) {
    const file = path.join(aptDir, 'sources.list.d', name)
    if (name.endsWith('.list')) out.push(...parseOneLineList((await readOptional(file)) ?? '', file))
    else if (name.endsWith('.sources')) out.push(...parseDeb822Sources((await readOptional(file)) ?? '', file))
  }
  return out
}

async function readOptional(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8')
  } catch {
    return null
  }
}

function bad(origin: string, why: string): NipError {
  return new NipError('ERR_NIP_CONFIG', `${origin}: ${why}`, { hint: 'Fix the apt source entry, or give nip its own [debian] sources.', data: { origin } })
}
