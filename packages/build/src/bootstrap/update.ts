/**
 * `nip bootstrap update-recipes`: fetches current bootstrap recipes from `[build]
 * bootstrap-recipes-url`. The URL holds `index.json` — `{ "files": [{ "path": "gentoo.toml",
 * "sha256": "…" }, { "path": "keys/x.asc", … }] }` — and, when `bootstrap-recipes-key` is set,
 * `index.json.sig`, a detached OpenPGP signature that must verify with that key (refused
 * otherwise). Every file is fetched into memory, checked against its SHA-256, every `.toml` parsed
 * as a recipe; only when all are good are they written (through the root's confined layer) into
 * `<state>/bootstrap/recipes/`, which is searched before the shipped recipes.
 */
import path from 'node:path'
import { NipError, downloadToBuffer, readKeyring, verifyDetached, type Layout, type Reporter } from '@nip/core'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { parseBootstrapRecipe } from './recipe.js'
import { updatedRecipesDir } from './tools.js'
import type { BuildSettings } from '../settings.js'

const SAFE = /^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._/+-]+$/

export interface UpdateResult {
  url: string
  signed: boolean
  files: { path: string; sha256: string }[]
  dir: string
}

export async function updateRecipes(opts: { settings: BuildSettings; layout: Layout; reporter: Reporter; signal?: AbortSignal }): Promise<UpdateResult> {
  const base = opts.settings.bootstrapRecipesUrl?.replace(/\/+$/, '')
  if (!base) {
    throw new NipError('ERR_NIP_CONFIG', 'No URL to update the bootstrap recipes from.', { hint: 'Set [build] bootstrap-recipes-url (and bootstrap-recipes-key) in nip.conf; docs/bootstrap.md.', data: { key: 'build.bootstrap-recipes-url' } })
  }
  const get = async (rel: string, maxSize: number) => (await downloadToBuffer({ urls: [`${base}/${rel}`], maxSize, retries: 1, label: rel, ...(opts.signal ? { signal: opts.signal } : {}) })).data
  const indexBytes = await get('index.json', 1 << 20)
  let signed = false
  if (opts.settings.bootstrapRecipesKey) {
    const keyring = await readKeyring(readFileSync(opts.settings.bootstrapRecipesKey))
    const sig = await get('index.json.sig', 1 << 16)
    try {
      await verifyDetached({ data: indexBytes, signature: sig, keyring })
    } catch (e) {
      if (e instanceof NipError) throw new NipError(e.code, `${base}/index.json: the signature does not verify with ${opts.settings.bootstrapRecipesKey}: ${e.message}`, { hint: 'The recipe index was not signed by the configured key; nothing was changed.', data: { ...e.data, url: `${base}/index.json` }, cause: e })
      throw e
    }
    signed = true
  }
  const bad = (why: string) => new NipError('ERR_NIP_BAD_PACKAGE', `${base}/index.json: ${why}`, { hint: 'The recipe server sends a malformed index; nothing was changed.', data: { url: `${base}/index.json` } })
  let index: { files?: { path?: unknown; sha256?: unknown }[] }
  try {
    index = JSON.parse(indexBytes.toString('utf8'))
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`)
  }
  if (!Array.isArray(index.files) || index.files.length === 0) throw bad('"files" must be a non-empty array')
  const files: { path: string; sha256: string; data: Buffer }[] = []
  for (const f of index.files) {
    if (typeof f.path !== 'string' || !SAFE.test(f.path)) throw bad(`unsafe or missing path ${JSON.stringify(f.path)}`)
    if (typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256)) throw bad(`${f.path}: sha256 must be 64 hex digits`)
    const data = await get(f.path, 4 << 20)
    const got = createHash('sha256').update(data).digest('hex')
    if (got !== f.sha256) {
      throw new NipError('ERR_NIP_HASH_MISMATCH', `${base}/${f.path} has SHA-256 ${got}, the index says ${f.sha256}.`, { hint: 'The recipe server sends other bytes than its index names; nothing was changed.', data: { file: f.path, expected: f.sha256, actual: got } })
    }
    files.push({ path: f.path, sha256: f.sha256, data })
  }
  const dir = updatedRecipesDir(opts.layout)
  for (const f of files) if (f.path.endsWith('.toml') && !f.path.includes('/')) parseBootstrapRecipe(path.join(dir, f.path), f.data.toString('utf8'))
  const cfs = opts.layout.cfs
  for (const f of files) {
    const dest = path.join(dir, f.path)
    cfs.mkdirp(path.dirname(dest))
    cfs.replaceFile(dest, f.data, 0o644)
  }
  opts.reporter.emit({ type: 'info', message: `bootstrap recipes: ${files.length} files from ${base}${signed ? ' (index signature good)' : ''}` })
  return { url: base, signed, files: files.map(({ path: p, sha256 }) => ({ path: p, sha256 })), dir }
}
