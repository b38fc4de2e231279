/**
 * Pulling a program: manifest → config (sha256-checked) → signature over the config (trusted
 * keys) → the manifest's layers must be exactly the document's → each layer whose files are not
 * all in the CAS already is fetched and sha256-checked, and each file sliced from it is stored
 * with its BLAKE3 checked → the tree digest of the entries must be the document's. Only then are
 * the entries returned for core to graft. Writes only blobs into the CAS (verified, idempotent):
 * a refusal at any step leaves nothing but verified blobs, and no program.
 */
import type { Cas } from '@nip/cas'
import { treeDigest } from '@nip/cas'
import { NipError, type Limits, type TreeEntry } from '@nip/core'
import type { RegistryClient } from './client.js'
import { parseDocument, toTreeEntries, type ProgramDocument } from './document.js'
import { digestOfKey } from './layers.js'
import { MANIFEST, PROGRAM_CONFIG, SIGNATURE_ANNOTATION, type ImageManifest } from './mediaTypes.js'
import { eachLimited } from './registry.js'
import { verifyDocument, type PublicKey } from './signing.js'

/** The largest program document nip reads (a 50,000-file tree's is about 10 MiB). */
export const MAX_DOCUMENT = 256 * 1024 * 1024

export interface PullOptions {
  client: RegistryClient
  cas: Cas
  trusted: PublicKey[]
  requireSigs: boolean
  limits?: Pick<Limits, 'maxEntries' | 'maxTotalSize'>
  jobs?: number
  /** The artifact as readProgram verified it already (its content is the same on every mirror). */
  read?: ReadProgram
}

export interface ReadProgram {
  manifest: ImageManifest
  document: ProgramDocument
  digest: string
  signedBy?: string
}

export interface PullResult {
  document: ProgramDocument
  entries: TreeEntry[]
  manifestDigest: string
  /** Layer bytes downloaded (layers whose files were all stored already are skipped). */
  downloaded: number
  signedBy?: string
}

/** The manifest and verified document of a program artifact (no layers fetched). */
export async function readProgram(client: RegistryClient, reference: string, opts: Pick<PullOptions, 'trusted' | 'requireSigs'>): Promise<ReadProgram> {
  const what = `${client.ref.url}@${reference}`
  const m = await client.getManifest(reference)
  if (!m) throw new NipError('ERR_NIP_NOT_FOUND', `${what} does not exist.`, { hint: 'nip cache list shows what the cache holds.', data: { registry: client.ref.url, reference } })
  let manifest: ImageManifest
  try {
    manifest = JSON.parse(m.body.toString('utf8')) as ImageManifest
  } catch {
    throw new NipError('ERR_NIP_BAD_PACKAGE', `${what}: the manifest is not JSON.`, { hint: 'The artifact is damaged; nothing was grafted.' })
  }
  if (manifest.mediaType !== MANIFEST || manifest.config?.mediaType !== PROGRAM_CONFIG || !Array.isArray(manifest.layers)) {
    throw new NipError('ERR_NIP_BAD_PACKAGE', `${what} is not a nip program (config ${JSON.stringify(manifest.config?.mediaType)}).`, { hint: 'nip grafts only artifacts nip cache push made.', data: { reference } })
  }
  if (!(manifest.config.size <= MAX_DOCUMENT)) throw new NipError('ERR_NIP_BAD_PACKAGE', `${what}: the program document would be ${manifest.config.size} bytes.`, { hint: `nip reads documents up to ${MAX_DOCUMENT} bytes; nothing was grafted.`, data: { reference } })
  const config = await client.getBlob(manifest.config.digest, manifest.config.size)
  const signature = manifest.annotations?.[SIGNATURE_ANNOTATION]
  let signedBy: string | undefined
  if (signature || opts.requireSigs) signedBy = verifyDocument(config, signature, opts.trusted, what)
  const document = parseDocument(config)
  const same = document.layers.length === manifest.layers.length && document.layers.every((l, i) => l.digest === manifest.layers[i].digest && l.size === manifest.layers[i].size)
  if (!same) throw new NipError('ERR_NIP_ARTIFACT_SIGNATURE', `${what}: the manifest's layers are not the ones its signed document names.`, { hint: 'The manifest was altered after signing; nothing was grafted.', data: { reference } })
  return { manifest, document, digest: m.digest, ...(signedBy ? { signedBy } : {}) }
}

export async function pullProgram(reference: string, opts: PullOptions): Promise<PullResult> {
  const { client, cas } = opts
  const { document, digest, signedBy } = opts.read && opts.read.digest === reference ? opts.read : await readProgram(client, reference, opts)
  const files = document.entries.filter((e) => e.type === 'file')
  const layerBytes = document.layers.reduce((n, l) => n + l.size, 0)
  // Reused layers carry other versions' files too, at most as many bytes as this tree's (REUSE_MIN).
  if (opts.limits && (document.entries.length > opts.limits.maxEntries || document.size > opts.limits.maxTotalSize || layerBytes > 2 * opts.limits.maxTotalSize)) {
    throw new NipError('ERR_NIP_ARCHIVE_TOO_LARGE', `${document.name} ${document.version} has ${document.entries.length} entries and ${document.size} bytes, over the configured limits.`, { hint: 'Raise max-archive-entries / max-archive-size if you trust this cache.' })
  }
  const byLayer = new Map<number, typeof files>()
  for (const f of files) {
    const list = byLayer.get(f.layer!) ?? []
    list.push(f)
    byLayer.set(f.layer!, list)
  }
  let downloaded = 0
  await eachLimited([...byLayer.entries()], opts.jobs ?? 4, async ([index, list]) => {
    const missing: typeof files = []
    for (const f of list) if (!(await cas.has(f.blob!))) missing.push(f)
    if (missing.length === 0) return
    const layer = document.layers[index]
    const data = await client.getBlob(layer.digest, layer.size)
    downloaded += data.length
    for (const f of missing) {
      await cas.addBuffer(data.subarray(f.offset!, f.offset! + f.size!), { executable: f.blob!.endsWith('-x'), expectDigest: digestOfKey(f.blob!), expectSize: f.size! })
    }
  })
  const entries = toTreeEntries(document)
  const tree = treeDigest(entries.map((e) => ({ path: e.path, type: e.type, mode: e.mode, ...(e.blob ? { key: e.blob } : {}), ...(e.target !== undefined ? { target: e.target } : {}) })))
  if (tree !== document.treeDigest) {
    throw new NipError('ERR_NIP_HASH_MISMATCH', `${document.name} ${document.version}: the tree digests to ${tree}, the document says ${document.treeDigest}.`, { hint: 'The artifact is inconsistent; nothing was grafted.', data: { expected: document.treeDigest, actual: tree } })
  }
  return { document, entries, manifestDigest: digest, downloaded, ...(signedBy ? { signedBy } : {}) }
}
