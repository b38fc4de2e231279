/**
 * Publishing a program: layers first (each checked with HEAD and sent only when absent, or
 * mounted from another repository of the same registry), then the signed program document, then
 * the manifest under its tag, then the cache index. Until the manifest is stored no tag names
 * anything, so a push that fails midway leaves at most unreferenced blobs (which the next push
 * reuses and the registry's garbage collection removes) and never a partial tag.
 * Reads the CAS only; writes nothing locally.
 */
import { readFile } from 'node:fs/promises'
import type { Cas } from '@nip/cas'
import { NipError, type DependencySpec, type TreeEntry } from '@nip/core'
import { sha256Digest, type RegistryClient } from './client.js'
import { addToIndex, readCatalog, type IndexEntry } from './cacheIndex.js'
import { DOCUMENT_SCHEMA, parseDocument, type DocumentEntry, type ProgramDocument } from './document.js'
import { digestOfKey, planLayers, type KnownLayer } from './layers.js'
import { MANIFEST, PACK, PROGRAM_ARTIFACT, PROGRAM_CONFIG, SIGNATURE_ANNOTATION, type ImageManifest } from './mediaTypes.js'
import { tagFor } from './reference.js'
import { eachLimited } from './registry.js'
import { signDocument, type SecretKey } from './signing.js'

export interface PushedProgram {
  name: string
  version: string
  source: string
  packageId: string
  variants: string[]
  fingerprint: string
  summary?: string
  dependencies: DependencySpec[]
  treeDigest: string
  entries: TreeEntry[]
}

export interface PushResult {
  name: string
  version: string
  tag: string
  digest: string
  layers: number
  /** Layers of earlier versions reused as they are. */
  reused: number
  /** Layers sent, found present, and mounted. */
  uploaded: number
  present: number
  mounted: number
  /** Bytes of layer content sent. */
  sent: number
  size: number
  signedBy?: string
}

export interface PushOptions {
  client: RegistryClient
  cas: Cas
  key?: SecretKey
  /** Other repositories of the same registry to mount blobs from. */
  mountFrom?: string[]
  jobs?: number
  /** Record in the cache index (default true). */
  index?: boolean
}

async function readBlob(cas: Cas, key: string): Promise<Buffer> {
  try {
    return await readFile(cas.pathOf(key))
  } catch (e) {
    throw new NipError('ERR_NIP_CAS_CORRUPT', `Blob ${key} is missing from the store: ${(e as Error).message}.`, { hint: 'Run nip verify and nip doctor --fix, then push again.', data: { key } })
  }
}

/**
 * The layers of the latest versions of `name` in the repository (up to `versions`), from their
 * documents, for planLayers to reuse. Unreadable ones are skipped: reuse is an optimisation.
 */
export async function knownLayers(client: RegistryClient, name: string, versions = 3): Promise<KnownLayer[]> {
  const known: KnownLayer[] = []
  let catalog
  try {
    catalog = await readCatalog(client)
  } catch {
    return known
  }
  const recent = catalog.programs.filter((p) => p.name === name).sort((a, b) => (a.pushedAt < b.pushedAt ? 1 : -1)).slice(0, versions)
  for (const p of recent) {
    try {
      const m = await client.getManifest(p.digest)
      if (!m) continue
      const manifest = JSON.parse(m.body.toString('utf8')) as ImageManifest
      if (manifest.config?.mediaType !== PROGRAM_CONFIG) continue
      const doc = parseDocument(await client.getBlob(manifest.config.digest, manifest.config.size))
      const files = doc.layers.map((l) => ({ digest: l.digest, size: l.size, files: [] as KnownLayer['files'] }))
      const seen = new Set<string>()
      for (const e of doc.entries) {
        if (e.type !== 'file' || seen.has(`${e.layer}:${e.blob}`)) continue
        seen.add(`${e.layer}:${e.blob}`)
        files[e.layer!].files.push({ digest: digestOfKey(e.blob!), size: e.size!, offset: e.offset! })
      }
      known.push(...files)
    } catch {
      // Not reusable; the next push packs afresh.
    }
  }
  return known
}

export async function pushProgram(program: PushedProgram, opts: PushOptions): Promise<PushResult> {
  const { client, cas } = opts
  const plan = planLayers(program.entries, await knownLayers(client, program.name))
  const where = new Map<string, { layer: number; offset: number }>()
  plan.forEach((l, i) => {
    for (const f of l.files) if (!where.has(f.digest)) where.set(f.digest, { layer: i, offset: f.offset })
  })
  const keyOf = new Map<string, string>()
  for (const e of program.entries) if (e.type === 'file' && e.blob) keyOf.set(digestOfKey(e.blob), e.blob)
  const layers: { digest: string; size: number }[] = new Array(plan.length)
  const before = { ...client.traffic }
  await eachLimited(plan, opts.jobs ?? 4, async (l, i) => {
    if (l.reuse) {
      layers[i] = { digest: l.reuse, size: l.size }
      return
    }
    const parts = await Promise.all(l.files.map((f) => readBlob(cas, keyOf.get(f.digest)!)))
    const data = parts.length === 1 ? parts[0] : Buffer.concat(parts)
    if (data.length !== l.size) throw new NipError('ERR_NIP_CAS_CORRUPT', `A layer of ${program.name} ${program.version} has ${data.length} bytes, the tree says ${l.size}.`, { hint: 'Run nip verify; the store or the database is damaged.' })
    const digest = sha256Digest(data)
    layers[i] = { digest, size: data.length }
    await client.putBlob(data, { digest, ...(opts.mountFrom ? { mountFrom: opts.mountFrom } : {}) })
  })
  const entries: DocumentEntry[] = [...program.entries]
    .sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
    .map((e) => {
      const base: DocumentEntry = { path: e.path, type: e.type, mode: e.mode }
      if (e.type === 'file') Object.assign(base, { blob: e.blob, size: e.size ?? 0, ...where.get(digestOfKey(e.blob!)) })
      if (e.type === 'symlink') base.target = e.target
      if (e.settings) base.settings = true
      return base
    })
  const size = [...new Map(program.entries.filter((e) => e.type === 'file').map((e) => [digestOfKey(e.blob!), e.size ?? 0])).values()].reduce((n, s) => n + s, 0)
  const doc: ProgramDocument = {
    schema: DOCUMENT_SCHEMA,
    name: program.name,
    version: program.version,
    source: program.source,
    packageId: program.packageId,
    variants: program.variants,
    fingerprint: program.fingerprint,
    ...(program.summary ? { summary: program.summary } : {}),
    dependencies: program.dependencies.map((d) => ({ name: d.name, ...(d.constraint ? { constraint: d.constraint } : {}), raw: d.raw })),
    treeDigest: program.treeDigest,
    size,
    layers,
    entries,
  }
  const config = Buffer.from(JSON.stringify(doc))
  await client.putBlob(config)
  const tag = tagFor(program.name, program.version, program.fingerprint)
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MANIFEST,
    artifactType: PROGRAM_ARTIFACT,
    config: { mediaType: PROGRAM_CONFIG, digest: sha256Digest(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: PACK, digest: l.digest, size: l.size })),
    annotations: {
      'org.opencontainers.image.title': program.name,
      'org.opencontainers.image.version': program.version,
      'org.opencontainers.image.created': new Date().toISOString(),
      'dev.nip.fingerprint': program.fingerprint,
      'dev.nip.source': program.source,
      'dev.nip.size': String(size),
      'dev.nip.files': String(program.entries.filter((e) => e.type === 'file').length),
      ...(opts.key ? { [SIGNATURE_ANNOTATION]: signDocument(config, opts.key) } : {}),
    },
  }
  const digest = await client.putManifest(tag, Buffer.from(JSON.stringify(manifest)), MANIFEST)
  const entry: IndexEntry = {
    name: program.name,
    version: program.version,
    source: program.source,
    fingerprint: program.fingerprint,
    tag,
    digest,
    variants: program.variants,
    ...(program.summary ? { summary: program.summary } : {}),
    size,
    files: program.entries.filter((e) => e.type === 'file').length,
    ...(opts.key ? { key: opts.key.name } : {}),
    pushedAt: new Date().toISOString(),
  }
  const t = client.traffic
  const result = { name: program.name, version: program.version, tag, digest, layers: plan.length, reused: plan.filter((l) => l.reuse).length, uploaded: t.uploaded - before.uploaded, present: t.present - before.present, mounted: t.mounted - before.mounted, sent: t.sent - before.sent, size, ...(opts.key ? { signedBy: opts.key.name } : {}) }
  if (opts.index !== false) await addToIndex(client, [entry])
  return result
}
