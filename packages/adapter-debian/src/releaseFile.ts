/**
 * The Release file of a suite (`https://wiki.debian.org/DebianRepository/Format`): the signed
 * list of index files with their SHA256 and size, and the dates that bound its validity.
 *
 * Contract: `checkValidUntil` refuses a Release whose `Valid-Until` lies in the past (apt's
 * default, `Acquire::Check-Valid-Until`), with ERR_NIP_METADATA_EXPIRED.
 */
import { NipError } from '@nip/core'
import { parseStanzas } from './deb822.js'

export interface ReleaseEntry {
  sha256: string
  size: number
}

export interface Release {
  suite?: string
  codename?: string
  date?: Date
  validUntil?: Date
  architectures: string[]
  components: string[]
  acquireByHash: boolean
  /** SHA256 entries by path relative to the Release file. */
  files: Map<string, ReleaseEntry>
}

export function parseRelease(text: string, source: string): Release {
  const stanzas = parseStanzas(text, { source })
  if (stanzas.length === 0) throw bad(source, 'it is empty')
  const s = stanzas[0]
  const files = new Map<string, ReleaseEntry>()
  for (const line of (s.get('sha256') ?? '').split('\n')) {
    const t = line.trim()
    if (t === '') continue
    const m = /^([0-9a-fA-F]{64})\s+([0-9]+)\s+(\S+)$/.exec(t)
    if (m === null) throw bad(source, `a SHA256 line is malformed: ${JSON.stringify(t)}`)
    files.set(m[3], { sha256: m[1].toLowerCase(), size: Number(m[2]) })
  }
  const release: Release = {
    architectures: (s.get('architectures') ?? '').split(/\s+/).filter(Boolean),
    components: (s.get('components') ?? '').split(/\s+/).filter(Boolean),
    acquireByHash: (s.get('acquire-by-hash') ?? '').toLowerCase() === 'yes',
    files,
  }
  const suite = s.get('suite')
  if (suite !== undefined) release.suite = suite
  const codename = s.get('codename')
  if (codename !== undefined) release.codename = codename
  const date = s.get('date')
  if (date !== undefined) release.date = parseDate(date, 'Date', source)
  const validUntil = s.get('valid-until')
  if (validUntil !== undefined) release.validUntil = parseDate(validUntil, 'Valid-Until', source)
  return release
}

export function checkValidUntil(release: Release, source: string, now: Date = new Date()): void {
  if (release.validUntil !== undefined && release.validUntil.getTime() < now.getTime()) {
    throw new NipError('ERR_NIP_METADATA_EXPIRED', `${source} expired on ${release.validUntil.toISOString()} (Valid-Until)`, {
      hint: 'The mirror serves stale metadata (or the clock is wrong). Try another mirror; an attacker can replay old signed files.',
      data: { source, validUntil: release.validUntil.toISOString(), now: now.toISOString() },
    })
  }
}

/** RFC 2822 dates as Release files write them ("Sat, 11 Jul 2026 10:16:37 UTC"). */
function parseDate(value: string, field: string, source: string): Date {
  const t = Date.parse(value.replace(/\bUTC\b/, 'GMT'))
  if (Number.isNaN(t)) throw bad(source, `${field} is not a date: ${JSON.stringify(value)}`)
  return new Date(t)
}

function bad(source: string, why: string): NipError {
  return new NipError('ERR_NIP_BAD_PACKAGE', `${source}: ${why}`, { hint: 'The Release file is malformed.', data: { source } })
}
