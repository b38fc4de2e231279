/**
 * Loading one apt source: InRelease (split strictly, OpenPGP-verified against the source's
 * keyring, Valid-Until checked), then each component's `Packages` index for the architecture
 * (and `all` where the archive keeps it apart), verified against the SHA256 and size of the
 * signed Release before a byte of it is parsed.
 *
 * Contract: writes only into `cacheDir` (downloaded files, keyed by their SHA256). Nothing that
 * is not covered by a verified signature is ever used.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { NipError, combineKeyrings, decompressStream, type PublicKeyring, type Reporter } from '@nip/core'
import type { AptSource } from './aptSources.js'
import { parseStanzas } from './deb822.js'
import { stanzaFields, type SuiteRecord, type SuiteView } from './localIndexDb.js'
import { packageFromStanza, type DebianPackage } from './packageIndex.js'
import { checkValidUntil, parseRelease, type Release } from './releaseFile.js'
import type { DownloadSettings } from './debianConfig.js'
import { readKeyring, verifyInRelease } from './releaseSignature.js'
import { splitClearSigned } from './clearsigned.js'
import { promoteInRelease, readGoodIndexes, readVerifiedMark, readWarned, writeGoodIndexes, writeVerifiedMark, writeWarned } from './indexState.js'
import { downloadVerified, holds } from './verifiedDownload.js'

export interface LoadSourceOptions {
  source: AptSource
  /** Position of the source in the configured list (earlier wins ties). */
  priority: number
  architecture: string
  /** Keyrings for sources without Signed-By: files or directories of .gpg/.asc files. */
  defaultKeyrings: string[]
  checkValidUntil: boolean
  cacheDir: string
  now?: Date
  signal?: AbortSignal
  download?: DownloadSettings
  reporter?: Reporter
  /** Read the suite from the local index only (InRelease and indexes in the cache), never the network. */
  offline?: boolean
  /** Whether the local index database already holds the packages of exactly these files (then they are not parsed). */
  known?: (suite: SuiteRecord) => boolean
}

export interface LoadedSource {
  source: AptSource
  release: Release
  fingerprint: string
  /** The packages parsed from the index files, or null when the local index database already holds them (`known`). */
  records: { pkg: DebianPackage; fields: string }[] | null
  /** The suite and the digest of the index files in use. */
  suite: SuiteRecord
  /** How the database's rows of this suite become packages. */
  view: SuiteView
  /** Component/architecture pairs the Release does not list. */
  missing: string[]
  /** Indexes the Release lists that no mirror delivered intact (the suite's others are used). */
  stale: StaleIndex[]
  /** Whether the InRelease differs from the one the cache held before. */
  changed: boolean
  /** Read from the local index without the network. */
  fromCache: boolean
  /** Set by the adapter when the network failed and the local index was used: why, and its age in seconds. */
  offline?: { reason: string; ageSeconds: number }
}

export interface StaleIndex {
  /** "bookworm-security main/binary-all" */
  index: string
  /** The file's name in the Release. */
  path: string
  code: string
  reason: string
  /** Set when the last good copy is used instead: the date of the Release that covered it. */
  keptFrom?: string
}

const INRELEASE_MAX = 64 * 1024 * 1024

function distUrlOf(source: AptSource): { base: string; flat: boolean; distUrl: string } {
  const base = source.uri.endsWith('/') ? source.uri : `${source.uri}/`
  const flat = source.suite.endsWith('/')
  const distUrl = flat ? new URL(source.suite === './' ? '' : source.suite, base).toString() : new URL(`dists/${source.suite}/`, base).toString()
  return { base, flat, distUrl }
}

/** The suite's directory in the cache: its InRelease, when it was refreshed, its last good indexes. */
export function listDirOf(source: AptSource, cacheDir: string): string {
  return path.join(cacheDir, 'lists', distUrlOf(source).distUrl.replace(/^[a-z]+:\/+/, '').replace(/[^A-Za-z0-9._-]+/g, '_'))
}

export async function loadSource(opts: LoadSourceOptions): Promise<LoadedSource> {
  const { source } = opts
  const { base, flat, distUrl } = distUrlOf(source)
  const listDir = listDirOf(source, opts.cacheDir)
  const inReleaseUrl = new URL('InRelease', distUrl).toString()
  // The same archive on the source's mirrors: any URL under `base` has its twin under each.
  const mirrorBases = (source.mirrors ?? []).map((m) => (m.endsWith('/') ? m : `${m}/`))
  const onMirrors = (url: string): string[] => (url.startsWith(base) ? [url, ...mirrorBases.map((m) => m + url.slice(base.length))] : [url])
  const settings = opts.download ?? {}
  const ctx = { ...(opts.reporter ? { reporter: opts.reporter } : {}), ...(opts.signal ? { signal: opts.signal } : {}) }
  const previous = await readFile(path.join(listDir, 'InRelease'), 'utf8').catch(() => null)
  let text: string
  let fetchedPath: string | null = null
  if (opts.offline) {
    if (previous === null) {
      throw new NipError('ERR_NIP_SOURCE_UNAVAILABLE', `${source.uri} ${source.suite} has no local index yet`, {
        hint: 'Run nip update while the mirror is reachable.',
        data: { source: source.origin },
      })
    }
    text = previous
  } else {
    const fetched = await downloadVerified({ urls: onMirrors(inReleaseUrl), dest: path.join(listDir, 'InRelease.new'), maxSize: INRELEASE_MAX, settings, label: 'InRelease', ...ctx })
    fetchedPath = fetched.path
    text = await readFile(fetched.path, 'utf8')
  }
  // The local InRelease verified before with the same keyring (same bytes, recorded beside it in
  // the cache, like the parsed index) is not verified again: that is most of a query's time.
  const keyDigest = await keyMaterialDigest(source, opts.defaultKeyrings)
  const textDigest = createHash('sha256').update(text).digest('hex')
  const mark = opts.offline ? await readVerifiedMark(listDir) : null
  let verified: { text: string; fingerprint: string }
  const split = mark !== null && mark.inRelease === textDigest && mark.keyring === keyDigest ? splitClearSigned(text, inReleaseUrl) : null
  if (split !== null && split.signed) verified = { text: split.text, fingerprint: mark!.fingerprint }
  else {
    verified = await verifyInRelease(text, await keyringOf(source, opts.defaultKeyrings), inReleaseUrl)
    await writeVerifiedMark(listDir, { inRelease: textDigest, keyring: keyDigest, fingerprint: verified.fingerprint }).catch(() => undefined)
  }
  const release = parseRelease(verified.text, inReleaseUrl)
  if (opts.checkValidUntil) checkValidUntil(release, inReleaseUrl, opts.now)
  // Verified: the new InRelease replaces the last good one (never before).
  if (fetchedPath !== null) await promoteInRelease(listDir, fetchedPath, opts.now ?? new Date())
  const changed = previous !== text

  const archs = source.architectures.length > 0 ? source.architectures.filter((a) => a === opts.architecture) : [opts.architecture]
  const used: { file: string; name: string; sha256: string; size: number; origin: string; content?: Buffer }[] = []
  const missing: string[] = []
  const stale: StaleIndex[] = []
  const good = await readGoodIndexes(listDir)
  let goodChanged = false
  const warned = await readWarned(listDir)
  let warnedChanged = false
  const components = flat ? [''] : source.components
  for (const component of components) {
    for (const arch of [...archs, 'all']) {
      const dir = flat ? '' : `${component}/binary-${arch}/`
      const index = pickIndex(release, dir)
      if (index === null) {
        if (arch !== 'all') missing.push(`${component}/${arch}`)
        continue
      }
      const canonical = new URL(index.path, distUrl).toString()
      // apt's order: on each mirror the by-hash name first, then the canonical one (a by-hash
      // 404 is a mirror that does not keep by-hash files, or has not synced them yet).
      const byHash = release.acquireByHash && !flat ? new URL(`${dir}by-hash/SHA256/${index.sha256}`, distUrl).toString() : null
      const urls = byHash === null ? onMirrors(canonical) : onMirrors(byHash).flatMap((u, i) => [u, onMirrors(canonical)[i]!])
      const name = flat ? source.suite : `${source.suite} ${dir.slice(0, -1)}`
      const origin = `${distUrl}${dir}Packages`
      try {
        const dest = path.join(opts.cacheDir, 'indices', `${index.sha256}${path.extname(index.path)}`)
        // From the local index only the size is checked here; the content is hashed before it is
        // parsed (below), which it is only when the database does not hold it yet.
        if (opts.offline && (await stat(dest).catch(() => null))?.size !== index.size) {
          throw new NipError('ERR_NIP_SOURCE_UNAVAILABLE', `no mirror delivered ${index.path} intact when the suite was last refreshed`, { hint: 'nip update tries again.', data: { index: index.path } })
        }
        const file = opts.offline ? { path: dest } : await downloadVerified({ urls, dest, size: index.size, sha256: index.sha256, settings, label: index.path, ...ctx })
        // A file read from the local index was checked this way when it was downloaded.
        const content = opts.offline ? undefined : await decompressFile(file.path, index.path)
        const plain = release.files.get(`${dir}Packages`)
        if (content !== undefined && plain !== undefined && index.path !== `${dir}Packages`) checkPlain(content, plain, canonical)
        used.push({ file: file.path, name: index.path, sha256: index.sha256, size: index.size, origin, ...(content !== undefined ? { content } : {}) })
        const before = good[dir]
        if (before?.sha256 !== index.sha256 || before.file !== file.path) {
          good[dir] = { file: file.path, name: index.path, sha256: index.sha256, size: index.size, ...(release.date ? { releaseDate: release.date.toISOString() } : {}), recordedAt: (opts.now ?? new Date()).toISOString() }
          goodChanged = true
        }
      } catch (e) {
        if (opts.signal?.aborted) throw e
        const error = e instanceof NipError ? e : new NipError('ERR_NIP_INTERNAL', String((e as Error)?.message ?? e), { cause: e })
        // Losing one index never drops the suite's others: the last good copy is used (its
        // updates are not), or the packages it lists are not offered at all.
        const last = good[dir]
        const kept = last !== undefined && last.sha256 !== index.sha256 && (await holds(last.file, last.sha256, last.size)) ? last : undefined
        const entry: StaleIndex = { index: name, path: index.path, code: error.code, reason: error.message, ...(kept ? { keptFrom: kept.releaseDate ?? kept.recordedAt } : {}) }
        stale.push(entry)
        // Once per index and refresh state: an offline query repeats no warning it gave before.
        const state = `${textDigest} ${entry.keptFrom ?? 'lost'}`
        const repeat = opts.offline === true && warned[index.path] === state
        if (warned[index.path] !== state) {
          warned[index.path] = state
          warnedChanged = true
        }
        if (!repeat) opts.reporter?.emit({
          type: 'warning',
          code: kept ? 'debian-index-stale' : 'debian-index-missing',
          message: kept
            ? `${name}: updates for these packages are not in use (the index of ${entry.keptFrom} is used instead; ${firstLine(error.message)})`
            : `${name}: these packages are not in use (${firstLine(error.message)})`,
          data: { source: source.origin, index: index.path, code: error.code, ...(kept ? { keptFrom: entry.keptFrom } : {}) },
        })
        if (kept) used.push({ file: kept.file, name: kept.name, sha256: kept.sha256, size: kept.size, origin })
      }
    }
  }
  if (goodChanged) await writeGoodIndexes(listDir, good).catch(() => undefined)
  if (warnedChanged) await writeWarned(listDir, warned).catch(() => undefined)
  const key = path.basename(listDir)
  const digest = createHash('sha256').update(JSON.stringify([opts.architecture, used.map((u) => [u.origin, u.sha256])])).digest('hex')
  // Parsed only when the local index database does not hold exactly these files already.
  let records: LoadedSource['records'] = null
  if (opts.known?.({ key, digest }) !== true) {
    records = []
    for (const u of used) {
      if (u.content === undefined && !(await holds(u.file, u.sha256, u.size))) {
        throw new NipError('ERR_NIP_HASH_MISMATCH', `${u.file} no longer matches the SHA256 its Release gave (${u.sha256})`, {
          hint: 'The cached index is damaged; nip update fetches it again.',
          data: { file: u.file, expected: u.sha256 },
        })
      }
      const content = u.content ?? (await decompressFile(u.file, u.name))
      for (const stanza of parseStanzas(content.toString('utf8'), { source: u.origin })) {
        const pkg = packageFromStanza(stanza, { base: flat ? distUrl : base, origin: u.origin, priority: opts.priority })
        if (pkg !== null) records.push({ pkg, fields: stanzaFields(stanza) })
      }
    }
  }
  const view: SuiteView = { key, base: flat ? distUrl : base, priority: opts.priority, mirrorsOf: (url) => (mirrorBases.length > 0 ? onMirrors(url).slice(1) : []) }
  return { source, release, fingerprint: verified.fingerprint, records, suite: { key, digest }, view, missing, stale, changed, fromCache: opts.offline === true }
}

function firstLine(s: string): string {
  const lines = s.split('\n').map((l) => l.trim()).filter(Boolean)
  return lines.length <= 1 ? (lines[0] ?? s) : `${lines[0]} ${lines.slice(1).join('; ')}`
}

/** The best-compressed Packages file the Release lists under `dir`. */
function pickIndex(release: Release, dir: string): { path: string; sha256: string; size: number } | null {
  for (const ext of ['.xz', '.gz', '']) {
    const p = `${dir}Packages${ext}`
    const entry = release.files.get(p)
    if (entry !== undefined) return { path: p, ...entry }
  }
  return null
}

async function decompressFile(file: string, name: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of decompressStream(createReadStream(file), { archive: name })) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

function checkPlain(content: Buffer, expected: { sha256: string; size: number }, url: string): void {
  const digest = createHash('sha256').update(content).digest('hex')
  if (content.length !== expected.size || digest !== expected.sha256) {
    throw new NipError('ERR_NIP_HASH_MISMATCH', `${url} decompresses to content the Release file does not list (SHA256 ${digest}, ${content.length} bytes)`, {
      hint: 'The mirror serves a damaged or altered index; nothing from it was used.',
      data: { url, expected: expected.sha256, actual: digest },
    })
  }
}

async function keyringOf(source: AptSource, defaults: string[]): Promise<PublicKeyring> {
  const keys: PublicKeyring[] = []
  const named = source.signedBy.length > 0 ? source.signedBy : defaults
  for (const entry of named) {
    if (entry.includes('-----BEGIN')) {
      keys.push(await readKeyring(Buffer.from(entry), `${source.origin} Signed-By`))
      continue
    }
    for (const file of await keyFiles(entry)) keys.push(await readKeyring(await readFile(file), file))
  }
  if (keys.length === 0) {
    throw new NipError('ERR_NIP_SOURCE_UNAVAILABLE', `No keyring for ${source.uri} ${source.suite}: ${named.join(', ') || 'none configured'}`, {
      hint: 'Give the source a Signed-By keyring (or set [debian] keyrings); nip never uses unverified repositories.',
      data: { source: source.origin, keyrings: named },
    })
  }
  return combineKeyrings(...keys)
}

/** A digest of the key material a source's signatures are checked with (inline keys, key files' paths and bytes). */
async function keyMaterialDigest(source: AptSource, defaults: string[]): Promise<string> {
  const h = createHash('sha256')
  for (const entry of source.signedBy.length > 0 ? source.signedBy : defaults) {
    if (entry.includes('-----BEGIN')) {
      h.update(`inline\0${entry}\0`)
      continue
    }
    for (const file of await keyFiles(entry)) h.update(`file\0${file}\0`).update(await readFile(file)).update('\0')
  }
  return h.digest('hex')
}

/** A keyring file, or the .gpg/.asc files of a directory; nothing when the path is absent. */
async function keyFiles(p: string): Promise<string[]> {
  try {
    const st = await stat(p)
    if (!st.isDirectory()) return [p]
    return (await readdir(p)).filter((n) => n.endsWith('.gpg') || n.endsWith('.asc')).sort().map((n) => path.join(p, n))
  } catch {
    return []
  }
}
