/**
 * The repository a bootstrap recipe's `[repository]` installs (docs/bootstrap.md), from where
 * the user configured it — Portage's repos.conf `location` and `sync-uri` in nip's terms:
 *
 * - a directory (`[build] gentoo-repository = "DIR"` or `nip bootstrap install gentoo
 *   --repository DIR`): read with tar and copied into the CAS through core's unpacker (every
 *   path and link check applies; VCS directories are left out), then grafted with the tool by
 *   core's transaction, never written anywhere else;
 * - a snapshot URL (`gentoo-repository = "https://…/gentoo-latest.tar.xz"`), emerge-webrsync's
 *   way: the snapshot changes daily, so it is verified by its detached OpenPGP signature (the
 *   URL plus the recipe's `signature-suffix`, or `<tool>-repository-signature-url`) with the
 *   configured key (`<tool>-repository-key`), not by a pinned hash. Both are fetched again
 *   (conditionally) on every install.
 *
 * Either way the repository's tree digest (BLAKE3 over its sorted entries) is recorded beside
 * it as `<into>.source.json`, which is part of the tool's tree: builds fingerprint it, so a
 * changed repository changes their fingerprints.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { blake3Hex, type Cas } from '@nip/cas'
import { NipError, download, readKeyring, unpackToCas, verifyDetached, type Layout, type Limits, type Reporter, type TreeEntry } from '@nip/core'
import { buildPaths } from '../builder.js'
import type { BootstrapRecipe, BootstrapRepository } from './recipe.js'

export interface RepositoryRecord {
  kind: 'directory' | 'snapshot'
  location: string
  /** BLAKE3 over the repository's sorted tree entries (path, type, mode, content, link target). */
  digest: string
  /** For a snapshot: the archive's SHA-256 and who signed it. */
  sha256?: string
  signedBy?: string
}

/** The file beside the repository (inside the tool's tree) recording where it came from. */
export function recordPath(into: string): string {
  return `${into}.source.json`
}

export function repositoryDigest(entries: readonly TreeEntry[]): string {
  const rows = entries
    .map((e) => [e.path, e.type, e.mode, e.blob ?? '', e.target ?? ''])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  return blake3Hex(Buffer.from(JSON.stringify(rows)))
}

function notConfigured(recipe: BootstrapRecipe): NipError {
  return new NipError('ERR_NIP_CONFIG', `The ${recipe.name} tool needs a repository, and none is configured.`, {
    hint: `Set [build] ${recipe.name}-repository = "DIR" (a directory) or a snapshot URL with ${recipe.name}-repository-key, or pass nip bootstrap install ${recipe.name} --repository DIR; docs/bootstrap.md.`,
    data: { tool: recipe.name, key: `build.${recipe.name}-repository` },
  })
}

interface TreeOpts {
  layout: Layout
  cas: Cas
  limits: Limits
  reporter: Reporter
  signal?: AbortSignal
}

/** The repository's entries under `repo.into`, and its record (also an entry). */
export async function repositoryTree(recipe: BootstrapRecipe, repo: BootstrapRepository, opts: TreeOpts): Promise<{ entries: TreeEntry[]; record: RepositoryRecord }> {
  const where = repo.location
  if (!where) throw notConfigured(recipe)
  let inner: TreeEntry[]
  let record: Omit<RepositoryRecord, 'digest'>
  if (where.kind === 'directory') {
    inner = await directoryEntries(recipe, where.location, opts)
    record = { kind: 'directory', location: where.location }
  } else {
    const snap = await snapshotEntries(recipe, repo, opts)
    inner = snap.entries
    record = { kind: 'snapshot', location: where.location, sha256: snap.sha256, signedBy: snap.signedBy }
  }
  if (repo.marker && !inner.some((e) => e.path === repo.marker)) {
    throw new NipError('ERR_NIP_BAD_PACKAGE', `${where.location} is not a ${recipe.name} repository: it has no ${repo.marker}.`, {
      hint: `Point [build] ${recipe.name}-repository at the repository's top directory (the one holding ${repo.marker.split('/')[0]}/); nothing was installed.`,
      data: { tool: recipe.name, location: where.location, marker: repo.marker },
    })
  }
  const full: RepositoryRecord = { ...record, digest: repositoryDigest(inner) }
  const text = Buffer.from(`${JSON.stringify(full, null, 2)}\n`)
  const blob = opts.cas.addBufferSync(text)
  const entries = inner.map((e) => ({ ...e, path: `${repo.into}/${e.path}` }))
  entries.push({ path: recordPath(repo.into), type: 'file', mode: 0o644, blob: blob.key, size: text.length })
  opts.reporter.emit({ type: 'info', message: `${recipe.name} repository: ${where.location} (${where.kind}, ${inner.filter((e) => e.type === 'file').length} files, digest ${full.digest.slice(0, 16)})` })
  return { entries, record: full }
}

/** A local repository read with tar (nothing is written beside it) into the CAS. */
async function directoryEntries(recipe: BootstrapRecipe, dir: string, opts: TreeOpts): Promise<TreeEntry[]> {
  let st
  try {
    st = statSync(dir)
  } catch {
    st = undefined
  }
  if (!st?.isDirectory()) {
    throw new NipError('ERR_NIP_NOT_FOUND', `The ${recipe.name} repository ${dir} is not a directory.`, {
      hint: `Fix [build] ${recipe.name}-repository (or --repository); nothing was installed.`,
      data: { tool: recipe.name, location: dir },
    })
  }
  const child = spawn('tar', ['-C', path.dirname(dir), '--sort=name', '--exclude-vcs', '--owner=0', '--group=0', '--numeric-owner', '-cf', '-', path.basename(dir)], { stdio: ['ignore', 'pipe', 'pipe'], ...(opts.signal ? { signal: opts.signal } : {}) })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', () => resolve(-1))
    child.on('close', (code) => resolve(code))
  })
  const result = await unpackToCas(child.stdout, { cas: opts.cas, limits: opts.limits, stripComponents: 1, archive: path.basename(dir) })
  const code = await exited
  if (code !== 0) {
    throw new NipError('ERR_NIP_FETCH_FAILED', `Reading the ${recipe.name} repository ${dir} failed (tar exited with ${code}): ${stderr.trim().split('\n').slice(-3).join(' ')}`, {
      hint: 'Check that the directory is readable; nothing was installed.',
      data: { tool: recipe.name, location: dir },
    })
  }
  return result.entries
}

/** A snapshot archive and its detached signature, fetched afresh (conditionally) and verified with the configured key. */
async function snapshotEntries(recipe: BootstrapRecipe, repo: BootstrapRepository, opts: TreeOpts): Promise<{ entries: TreeEntry[]; sha256: string; signedBy: string }> {
  const where = repo.location!
  if (!where.key) {
    throw new NipError('ERR_NIP_CONFIG', `The ${recipe.name} repository snapshot ${where.location} has no key to verify its signature with.`, {
      hint: `Set [build] ${recipe.name}-repository-key = PATH (the snapshot signer's OpenPGP public key); a snapshot changes daily, so nip verifies it by signature, not by a pinned hash. docs/bootstrap.md.`,
      data: { tool: recipe.name, key: `build.${recipe.name}-repository-key` },
    })
  }
  let keyText: Buffer
  try {
    keyText = readFileSync(where.key)
  } catch (e) {
    throw new NipError('ERR_NIP_KEYRING_INVALID', `The key ${where.key} ([build] ${recipe.name}-repository-key) cannot be read: ${(e as Error).message}`, { hint: 'Fix the path; nothing was installed.', data: { key: where.key } })
  }
  const name = decodeURIComponent(new URL(where.location).pathname.split('/').pop() || 'snapshot').replace(/[^A-Za-z0-9._+-]/g, '_')
  const tag = createHash('sha256').update(where.location).digest('hex').slice(0, 16)
  const dest = path.join(buildPaths(opts.layout).sources, `repository-${tag}-${name}`)
  const sigUrl = where.signatureUrl ?? `${where.location}${repo.signatureSuffix}`
  const signal = opts.signal ? { signal: opts.signal } : {}
  await download({ urls: [where.location], dest, conditional: true, resume: false, retries: 1, reporter: opts.reporter, label: name, ...signal })
  await download({ urls: [sigUrl], dest: `${dest}.sig`, conditional: true, resume: false, maxSize: 1 << 20, retries: 1, label: `${name} signature`, ...signal })
  const data = readFileSync(dest)
  let signedBy: string
  try {
    const good = await verifyDetached({ data, signature: readFileSync(`${dest}.sig`), keyring: await readKeyring(keyText) })
    signedBy = good.fingerprint
    opts.reporter.emit({ type: 'info', message: `${name}: good signature by ${good.userIds[0] ?? good.fingerprint}` })
  } catch (e) {
    if (e instanceof NipError) {
      throw new NipError(e.code, `${name}: the signature ${sigUrl} does not verify with ${where.key}: ${e.message}`, { hint: 'The snapshot was not signed by the configured key (or was changed on the way); nothing was installed.', data: { ...e.data, url: where.location, signature: sigUrl }, cause: e })
    }
    throw e
  }
  if (!existsSync(dest)) throw new NipError('ERR_NIP_INTERNAL', `${dest} vanished after its download.`)
  const result = await unpackToCas(createReadStream(dest), { cas: opts.cas, limits: opts.limits, stripComponents: repo.strip, archive: name })
  return { entries: result.entries, sha256: createHash('sha256').update(data).digest('hex'), signedBy }
}
