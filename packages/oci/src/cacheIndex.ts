/**
 * The cache's index: one artifact per repository (tag `nip-index`) listing every program the
 * cache holds, so that search and resolve read one blob instead of paging through tags and
 * manifests. It is a hint, not a trust anchor: every program is verified on its own when pulled
 * (signature and digests). Its one layer is JSON: `{ schema: 1, programs: IndexEntry[] }`.
 * Registries offer no conditional PUT, so two pushers racing can each write an index without the
 * other's entry. The tags are the truth: readCatalog takes the index, drops entries whose tag is
 * gone, and adds program tags the index lacks from their manifests' annotations (one tags/list
 * request, plus one manifest per missing tag); writers merge with that catalog, so the next
 * push repairs a lost entry.
 */
import { NipError } from '@nip/core'
import { sha256Digest, type RegistryClient } from './client.js'
import { EMPTY, INDEX_ARTIFACT, INDEX_LAYER, MANIFEST, PROGRAM_ARTIFACT, type ImageManifest } from './mediaTypes.js'
import { INDEX_TAG } from './reference.js'

export interface IndexEntry {
  name: string
  version: string
  source: string
  fingerprint: string
  tag: string
  /** The program manifest's digest. */
  digest: string
  variants: string[]
  summary?: string
  /** Bytes of file content. */
  size: number
  files: number
  /** The signing key's name, when signed. */
  key?: string
  pushedAt: string
}

export interface CacheIndex {
  schema: 1
  programs: IndexEntry[]
}

const EMPTY_JSON = Buffer.from('{}')

export async function readIndex(client: RegistryClient): Promise<CacheIndex> {
  const m = await client.getManifest(INDEX_TAG)
  if (!m) return { schema: 1, programs: [] }
  let manifest: ImageManifest
  try {
    manifest = JSON.parse(m.body.toString('utf8')) as ImageManifest
  } catch {
    throw notIndex(client, 'its manifest is not JSON')
  }
  const layer = manifest.layers?.[0]
  if (manifest.artifactType !== INDEX_ARTIFACT || layer?.mediaType !== INDEX_LAYER) throw notIndex(client, `its artifact type is ${JSON.stringify(manifest.artifactType)}`)
  if (!(layer.size <= 256 * 1024 * 1024)) throw notIndex(client, `it would be ${layer.size} bytes`)
  const body = await client.getBlob(layer.digest, layer.size)
  try {
    const doc = JSON.parse(body.toString('utf8')) as CacheIndex
    if (doc.schema !== 1 || !Array.isArray(doc.programs)) throw new Error('shape')
    return { schema: 1, programs: doc.programs.filter((p) => p && typeof p.name === 'string' && typeof p.version === 'string' && typeof p.digest === 'string' && typeof p.tag === 'string') }
  } catch {
    throw notIndex(client, 'its content is not an index')
  }
}

function notIndex(client: RegistryClient, why: string): NipError {
  return new NipError('ERR_NIP_REGISTRY', `The tag ${INDEX_TAG} in ${client.ref.url} is not a nip cache index: ${why}.`, { hint: `The repository is used by something else; give nip a repository of its own.`, data: { registry: client.ref.url } })
}

async function writeIndex(client: RegistryClient, index: CacheIndex): Promise<void> {
  const body = Buffer.from(JSON.stringify(index))
  await client.putBlob(EMPTY_JSON)
  await client.putBlob(body)
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MANIFEST,
    artifactType: INDEX_ARTIFACT,
    config: { mediaType: EMPTY, digest: sha256Digest(EMPTY_JSON), size: EMPTY_JSON.length },
    layers: [{ mediaType: INDEX_LAYER, digest: sha256Digest(body), size: body.length }],
    annotations: { 'org.opencontainers.image.created': new Date().toISOString() },
  }
  await client.putManifest(INDEX_TAG, Buffer.from(JSON.stringify(manifest)), MANIFEST)
}

/** The index reconciled with the repository's tags (see the file comment). */
export async function readCatalog(client: RegistryClient): Promise<CacheIndex> {
  const [index, tags] = await Promise.all([readIndex(client), client.listTags()])
  const present = new Set(tags)
  const programs = index.programs.filter((p) => present.has(p.tag))
  const known = new Set(programs.map((p) => p.tag))
  for (const tag of tags) {
    if (tag === INDEX_TAG || known.has(tag)) continue
    const m = await client.getManifest(tag)
    if (!m) continue
    let manifest: ImageManifest
    try {
      manifest = JSON.parse(m.body.toString('utf8')) as ImageManifest
    } catch {
      continue
    }
    const a = manifest.annotations ?? {}
    if (manifest.artifactType !== PROGRAM_ARTIFACT || !a['org.opencontainers.image.title'] || !a['org.opencontainers.image.version']) continue
    programs.push({
      name: a['org.opencontainers.image.title'],
      version: a['org.opencontainers.image.version'],
      source: a['dev.nip.source'] ?? '',
      fingerprint: a['dev.nip.fingerprint'] ?? '',
      tag,
      digest: m.digest,
      variants: [],
      size: Number(a['dev.nip.size'] ?? 0),
      files: Number(a['dev.nip.files'] ?? 0),
      ...(a['dev.nip.signature'] ? { key: a['dev.nip.signature'].split(':')[0] } : {}),
      pushedAt: a['org.opencontainers.image.created'] ?? '',
    })
  }
  return { schema: 1, programs: sortEntries(programs) }
}

function sortEntries(list: IndexEntry[]): IndexEntry[] {
  return list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0))
}

/** Adds (or replaces, by tag) entries in the index. */
export async function addToIndex(client: RegistryClient, entries: IndexEntry[]): Promise<void> {
  for (let round = 0; round < 4; round++) {
    const index = await readCatalog(client)
    const tags = new Set(entries.map((e) => e.tag))
    index.programs = sortEntries([...index.programs.filter((p) => !tags.has(p.tag)), ...entries])
    await writeIndex(client, index)
    const back = await readIndex(client)
    const have = new Map(back.programs.map((p) => [p.tag, p.digest]))
    if (entries.every((e) => have.get(e.tag) === e.digest)) return
  }
  throw new NipError('ERR_NIP_REGISTRY', `Could not record ${entries.map((e) => e.tag).join(', ')} in the index of ${client.ref.url}: other pushers kept replacing it.`, { hint: 'The programs are pushed; run nip cache push again to record them.', data: { registry: client.ref.url } })
}
