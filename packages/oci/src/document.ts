/**
 * The program document: the config blob of a program artifact, and what its signature covers.
 * It names the program (name, version, source and the source's package id, variants, build
 * fingerprint, dependencies), the tree (its digest, and every entry with the BLAKE3 of every
 * file) and where each file's bytes lie (layer index and offset; the layers by sha256 and size).
 */
import { NipError, type DependencySpec, type TreeEntry } from '@nip/core'

/** A relative POSIX path without empty, "." or ".." components (core's archive rule). */
function isNormalRelative(p: string): boolean {
  return p !== '' && !p.startsWith('/') && !p.endsWith('/') && !p.includes('//') && !/(^|\/)\.\.?(\/|$)/.test(p)
}

export const DOCUMENT_SCHEMA = 1

export interface DocumentEntry {
  path: string
  type: 'file' | 'dir' | 'symlink'
  mode: number
  /** CAS key: BLAKE3 hex of the content, `-x` when executable. */
  blob?: string
  size?: number
  target?: string
  settings?: boolean
  layer?: number
  offset?: number
}

export interface ProgramDocument {
  schema: number
  name: string
  version: string
  source: string
  packageId: string
  variants: string[]
  fingerprint: string
  summary?: string
  dependencies: DependencySpec[]
  treeDigest: string
  /** Bytes of file content. */
  size: number
  layers: { digest: string; size: number }[]
  entries: DocumentEntry[]
}

const bad = (what: string, data: Record<string, unknown> = {}) =>
  new NipError('ERR_NIP_BAD_PACKAGE', `The program document is malformed: ${what}.`, { hint: 'The artifact was not written by nip, or is damaged; nothing was grafted.', data })

/** Parses and checks the shape of a document (paths, types, layer references); throws ERR_NIP_BAD_PACKAGE. */
export function parseDocument(body: Buffer): ProgramDocument {
  let doc: ProgramDocument
  try {
    doc = JSON.parse(body.toString('utf8')) as ProgramDocument
  } catch {
    throw bad('not JSON')
  }
  if (doc?.schema !== DOCUMENT_SCHEMA) throw bad(`schema ${JSON.stringify(doc?.schema)} (nip reads ${DOCUMENT_SCHEMA})`)
  for (const k of ['name', 'version', 'source', 'packageId', 'fingerprint', 'treeDigest'] as const) if (typeof doc[k] !== 'string' || doc[k] === '') throw bad(`${k} is missing`)
  if (!/^[A-Za-z0-9+_.@-][A-Za-z0-9+_.@~:-]*$/.test(doc.name) || !/^[A-Za-z0-9+_.~:-]+$/.test(doc.version)) throw bad(`unsafe name or version ${JSON.stringify(doc.name)} ${JSON.stringify(doc.version)}`)
  if (!Array.isArray(doc.layers) || !Array.isArray(doc.entries) || !Array.isArray(doc.dependencies)) throw bad('layers, entries or dependencies are not lists')
  for (const l of doc.layers) if (typeof l?.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(l.digest) || !Number.isSafeInteger(l.size) || l.size < 0) throw bad('a layer descriptor is malformed', { layer: l })
  const seen = new Set<string>()
  for (const e of doc.entries) {
    if (typeof e?.path !== 'string' || !isNormalRelative(e.path) || e.path.includes('\0')) throw bad(`unsafe path ${JSON.stringify(e?.path)}`, { path: e?.path })
    if (seen.has(e.path)) throw bad(`path ${e.path} appears twice`, { path: e.path })
    seen.add(e.path)
    if (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o7777) throw bad(`mode of ${e.path}`, { path: e.path })
    if (e.type === 'file') {
      if (typeof e.blob !== 'string' || !/^[0-9a-f]{64}(-x)?$/.test(e.blob)) throw bad(`blob of ${e.path}`, { path: e.path })
      const layer = doc.layers[e.layer ?? -1]
      if (!layer || !Number.isSafeInteger(e.offset) || !Number.isSafeInteger(e.size) || e.offset! < 0 || e.size! < 0 || e.offset! + e.size! > layer.size) throw bad(`where the bytes of ${e.path} lie`, { path: e.path })
    } else if (e.type === 'symlink') {
      if (typeof e.target !== 'string' || e.target === '' || e.target.startsWith('/') || e.target.includes('\0')) throw bad(`symlink target of ${e.path}`, { path: e.path, target: e.target })
    } else if (e.type !== 'dir') {
      throw bad(`type of ${e.path}`, { path: e.path })
    }
  }
  return doc
}

export function toTreeEntries(doc: ProgramDocument): TreeEntry[] {
  return doc.entries.map((e) => ({
    path: e.path,
    type: e.type,
    mode: e.mode,
    ...(e.type === 'file' ? { blob: e.blob, size: e.size } : {}),
    ...(e.type === 'symlink' ? { target: e.target } : {}),
    ...(e.settings ? { settings: true } : {}),
  }))
}
