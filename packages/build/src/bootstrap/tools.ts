/**
 * The detection chain of a bootstrap tool and the tree nip grafts for it.
 *
 * Detection, in order (docs/bootstrap.md): the tool's commands on the host's PATH → the tool
 * grafted by nip in this root (its program's Current version) → the container image in Podman
 * (asked through its API socket) → manual instructions → other sources. A tool that is itself a
 * Podman image (`[image]`, image.ts) is "on the host" when Podman has the image. The choices offered when the tool is missing are
 * `install` (when the recipe can install here), `container` (when Podman has the image),
 * `manual`, and `source:<id>` for each alternative; the first available of install, container,
 * manual is the recommended one.
 *
 * A tool nip installs is a program like any other: its tree (the recipe's archives unpacked under
 * their `into` directories, or the packages its `[[package]]` specs name) goes through core's
 * transaction, so it lives under the root's /Programs, is owned in the DB, removable with
 * `nip bootstrap remove` and listed by `nip doctor`; nothing is written to the host's /usr.
 */
import { accessSync, constants, createReadStream, existsSync, readFileSync, readlinkSync } from 'node:fs'
import path from 'node:path'
import type { Cas } from '@nip/cas'
import { Database, NipError, download, readKeyring, unpackToCas, verifyDetached, type Layout, type Limits, type Reporter, type TreeEntry } from '@nip/core'
import { buildPaths } from '../builder.js'
import { debianMirrors } from '../mirror.js'
import { PodmanApi, socketHint } from '../podmanApi.js'
import { readBuildSettings, shippedDir, type BuildSettings } from '../settings.js'
import { planImage, readImageRecord, type ImageRecord } from './image.js'
import { listBootstrapRecipes, loadBootstrapRecipe, type BootstrapRecipe, type BootstrapSource } from './recipe.js'
import { repositoryTree } from './repository.js'

export type ChoiceId = 'install' | 'container' | 'manual' | `source:${string}`

export interface BootstrapChoice {
  id: ChoiceId
  label: string
  available: boolean
  detail: string
}

export interface Detection {
  tool: string
  summary: string
  version: string
  program: string
  /** Where the tool was found: on the host, grafted by nip, as a container image, or not at all. */
  status: 'host' | 'nip' | 'container' | 'missing'
  host: { found: boolean; commands: Record<string, string | null>; needs: Record<string, string | null> }
  nip: { installed: boolean; version?: string; dir?: string }
  container: { image?: string; available: boolean; detail: string }
  /** For a tool that is a Podman image (`[image]`): whether Podman has it, and nip's record of it. */
  image?: { name: string; present: boolean; id?: string; detail: string; way?: 'registry' | 'debootstrap'; record?: ImageRecord }
  choices: BootstrapChoice[]
  recommended: ChoiceId
  recipe: string
}

/** The directories searched for bootstrap recipes: configured ones, those update-recipes fetched, the shipped ones. */
export function bootstrapRecipeDirs(settings: BuildSettings, layout: Layout): string[] {
  const shipped = shippedDir('bootstrap')
  return [...settings.bootstrapRecipeDirs, updatedRecipesDir(layout), ...(shipped ? [shipped] : [])]
}

export function updatedRecipesDir(layout: Layout): string {
  return path.join(layout.stateDir, 'bootstrap', 'recipes')
}

export function listTools(settings: BuildSettings, layout: Layout): BootstrapRecipe[] {
  const dirs = bootstrapRecipeDirs(settings, layout)
  return [...listBootstrapRecipes(dirs).keys()].map((t) => loadBootstrapRecipe(dirs, t, settings))
}

export function findOnPath(cmd: string, pathVar = process.env.PATH ?? ''): string | null {
  for (const dir of pathVar.split(':')) {
    if (!dir) continue
    const p = path.join(dir, cmd)
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {
      // next
    }
  }
  return null
}

/** The version of `program` nip has made Current in this root, with its directory. */
export function graftedTool(layout: Layout, program: string): { version: string; dir: string } | null {
  let version: string
  try {
    version = readlinkSync(layout.currentLink(program))
  } catch {
    return null
  }
  let db: Database | null = null
  try {
    db = existsSync(layout.dbPath) ? Database.openReader(layout.dbPath) : null
    const row = db?.programsNamed(program).find((p) => p.version === version)
    if (!row) return null
  } finally {
    db?.close()
  }
  return { version, dir: layout.versionDir(program, version) }
}

/** What detection needs besides the recipe: the build settings and the tables of `[debian]` (mirrors) and `[oci]` (insecure registries). */
export interface BootstrapContext {
  settings: BuildSettings
  mirrors: string[]
  oci: Record<string, unknown>
}

/** The context from the configuration's source tables. */
export function bootstrapContext(table: (id: string) => Record<string, unknown>): BootstrapContext {
  return { settings: readBuildSettings(table('build')), mirrors: debianMirrors(table('debian')), oci: table('oci') }
}

async function podmanImage(socket: string, image: string): Promise<{ available: boolean; detail: string; id?: string }> {
  const api = new PodmanApi(socket)
  const p = await api.ping(3000)
  if ('error' in p) return { available: false, detail: `Podman's API socket ${socket} does not answer (${p.error}).` }
  try {
    const info = await api.inspect(image)
    return info ? { available: true, detail: `Podman has the image ${image} (${info.id.slice(0, 19)}).`, id: info.id } : { available: false, detail: `Podman does not have the image ${image}.` }
  } catch (e) {
    return { available: false, detail: (e as Error).message }
  }
}

export async function detectTool(recipe: BootstrapRecipe, layout: Layout, opts: { probeContainer?: boolean; context?: BootstrapContext } = {}): Promise<Detection> {
  const commands = Object.fromEntries(recipe.commands.map((c) => [c, findOnPath(c)]))
  const needs = Object.fromEntries(recipe.needs.map((c) => [c, findOnPath(c)]))
  const hostFound = recipe.commands.length > 0 && Object.values(commands).every((p) => p !== null)
  const grafted = graftedTool(layout, recipe.program)
  const socket = opts.context?.settings.podmanSocket ?? readBuildSettings({}).podmanSocket
  const probed = recipe.container && opts.probeContainer !== false ? await podmanImage(socket, recipe.container.image) : undefined
  const container = recipe.container
    ? probed
      ? { image: recipe.container.image, available: probed.available, detail: probed.detail }
      : { image: recipe.container.image, available: false, detail: 'not probed' }
    : { available: false, detail: 'The recipe names no container image.' }
  const manual: BootstrapChoice = { id: 'manual', label: 'Show the manual steps', available: true, detail: recipe.manual.length > 0 ? `${recipe.manual.length} steps` : 'See docs/bootstrap.md.' }
  const others = recipe.alternatives.map((a) => ({ id: `source:${a}` as ChoiceId, label: `Try another source (${a})`, available: true, detail: `nip install --source ${a} …` }))
  const base = { tool: recipe.name, summary: recipe.summary, version: recipe.version, program: recipe.program, nip: grafted ? { installed: true, version: grafted.version, dir: grafted.dir } : { installed: false }, container, recipe: recipe.file }
  if (recipe.image) {
    // The tool is the image itself: "on the host" is Podman having it; there is no container choice.
    const ctx = opts.context ?? { settings: readBuildSettings({}), mirrors: [], oci: {} }
    const plan = planImage(recipe, { settings: ctx.settings, mirrors: ctx.mirrors, oci: ctx.oci, commands: { debootstrap: findOnPath('debootstrap'), unshare: findOnPath('unshare'), setpriv: findOnPath('setpriv') }, root: process.getuid?.() === 0 })
    const record = grafted ? readImageRecord(grafted.dir) : null
    const present = probed?.available === true
    const answers = probed !== undefined && !/does not answer/.test(probed.detail)
    const install: BootstrapChoice = {
      id: 'install',
      label: plan.way?.way === 'registry' ? `Pull the build image (${plan.way.reference.pull})` : `Make the build image with debootstrap (${recipe.container!.image})`,
      available: plan.available && (answers || probed === undefined),
      detail: plan.available && probed !== undefined && !answers ? `${plan.detail} But ${probed.detail} ${socketHint(socket)}` : plan.detail,
    }
    // For the build image, the other source is the build source in bubblewrap.
    const choices = [install, manual, ...others.map((o) => (o.id === 'source:build' ? { ...o, label: 'Build in bubblewrap instead', detail: 'nip build without --container ([build] executor = "bwrap")' } : o))]
    return {
      ...base,
      status: grafted ? 'nip' : present ? 'host' : 'missing',
      host: { found: !grafted && present, commands, needs },
      image: { name: recipe.container!.image, present, ...(probed?.id ? { id: probed.id } : {}), detail: probed?.detail ?? 'not probed', ...(plan.way ? { way: plan.way.way } : {}), ...(record ? { record } : {}) },
      choices,
      recommended: install.available ? 'install' : 'manual',
    }
  }
  const missingNeeds = Object.entries(needs).filter(([, p]) => p === null).map(([c]) => c)
  const repo = recipe.repository
  const noRepository = repo !== undefined && repo.location === undefined
  const repoDetail = repo?.location ? `, and the repository ${repo.location.location} (${repo.location.kind === 'directory' ? 'a directory, copied' : 'a snapshot, signature verified'})` : ''
  const installDetail = !recipe.installable
    ? recipe.notInstallable!
    : noRepository
      ? `Installs ${recipe.program} ${recipe.version} into this root, but needs a repository: set [build] ${recipe.name}-repository = DIR (or a snapshot URL with ${recipe.name}-repository-key), or pass --repository DIR.`
      : missingNeeds.length > 0
      ? `Installs ${recipe.program} ${recipe.version} into this root, but the host lacks ${missingNeeds.join(', ')} to run it.`
      : recipe.packages.length > 0
        ? `Grafts ${recipe.packages.join(', ')} into this root as ${recipe.program}.`
        : `Fetches ${recipe.sources.map((s) => s.file).join(', ')} (SHA-256 checked${recipe.sources.some((s) => s.signatureUrl) ? ', signatures verified' : ''})${repoDetail} into this root as ${recipe.program} ${recipe.version}.`
  const choices: BootstrapChoice[] = [
    { id: 'install', label: `Install minimal tools (${recipe.program} ${recipe.version}) into this root`, available: recipe.installable && !noRepository && missingNeeds.length === 0, detail: installDetail },
    { id: 'container', label: `Use a container${recipe.container ? ` (${recipe.container.image})` : ''}`, available: container.available, detail: container.detail },
    manual,
    ...others,
  ]
  const recommended = (choices.find((c) => c.available && c.id !== 'manual' && !c.id.startsWith('source:')) ?? manual).id
  const status = hostFound ? 'host' : grafted ? 'nip' : container.available ? 'container' : 'missing'
  return { ...base, status, host: { found: hostFound, commands, needs }, choices, recommended }
}

/**
 * The tree of a tool made from its recipe's archives: each fetched (SHA-256 checked, signature
 * verified when the recipe names one) into the build cache, and unpacked into the CAS under its
 * `into` directory through core's unpacker (every path, link and device check applies).
 */
export async function toolTree(recipe: BootstrapRecipe, opts: { layout: Layout; cas: Cas; limits: Limits; reporter: Reporter; mirrors?: readonly string[]; signal?: AbortSignal }): Promise<TreeEntry[]> {
  const entries = new Map<string, TreeEntry>()
  const addDir = (p: string) => {
    const parts = p.split('/')
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/')
      if (!entries.has(d)) entries.set(d, { path: d, type: 'dir', mode: 0o755 })
    }
  }
  for (const src of recipe.sources) {
    const file = await fetchBootstrapSource(recipe, src, opts)
    addDir(src.into)
    const result = await unpackToCas(createReadStream(file), {
      cas: opts.cas,
      limits: opts.limits,
      stripComponents: src.strip,
      archive: src.file,
      mapPath: (p) => `${src.into}/${p}`,
    })
    for (const e of result.entries) entries.set(e.path, e)
  }
  if (recipe.repository) {
    addDir(recipe.repository.into)
    const repo = await repositoryTree(recipe, recipe.repository, opts)
    for (const e of repo.entries) entries.set(e.path, e)
  }
  return [...entries.values()]
}

/** Where a recipe archive is looked for: `<mirror>/<file>` of each `[build] bootstrap-mirrors` entry (a URL or a directory), then its own URL. */
export function bootstrapSourceUrls(src: BootstrapSource, mirrors: readonly string[] = []): string[] {
  const urls = mirrors.map((m) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(m) ? `${m.replace(/\/+$/, '')}/${encodeURIComponent(src.file)}` : path.join(m, src.file)))
  if (!urls.includes(src.url)) urls.push(src.url)
  return urls
}

export async function fetchBootstrapSource(recipe: BootstrapRecipe, src: BootstrapSource, opts: { layout: Layout; reporter: Reporter; mirrors?: readonly string[]; signal?: AbortSignal }): Promise<string> {
  const dest = path.join(buildPaths(opts.layout).sources, `${src.sha256.slice(0, 16)}-${src.file}`)
  const urls = bootstrapSourceUrls(src, opts.mirrors)
  try {
    await download({ urls, dest, expectHash: { algorithm: 'sha256', digest: src.sha256 }, retries: 1, reporter: opts.reporter, label: src.file, ...(opts.signal ? { signal: opts.signal } : {}) })
  } catch (e) {
    const attempts = (e as NipError).data?.attempts as { reason: string; url: string }[] | undefined
    if (e instanceof NipError && attempts?.some((a) => a.reason === 'hash-mismatch')) {
      throw new NipError('ERR_NIP_HASH_MISMATCH', `${src.file} from ${attempts.filter((a) => a.reason === 'hash-mismatch').map((a) => a.url).join(', ')} does not have the SHA-256 ${src.sha256} that ${recipe.file} names.`, {
        hint: 'Either the recipe names the wrong hash or the server sends other bytes; nothing was installed (nip bootstrap update-recipes fetches current recipes).',
        data: { ...e.data, file: src.file, expected: src.sha256, recipe: recipe.file },
        cause: e,
      })
    }
    throw e
  }
  if (src.signatureUrl && src.signingKey) {
    let keyText: Buffer
    try {
      keyText = readFileSync(src.signingKey)
    } catch (e) {
      throw new NipError('ERR_NIP_KEYRING_INVALID', `The signing key ${src.signingKey} that ${recipe.file} names cannot be read: ${(e as Error).message}`, { hint: 'Fix signing-key in the bootstrap recipe.', data: { key: src.signingKey } })
    }
    const sigPath = `${dest}.sig`
    if (!existsSync(sigPath)) await download({ urls: [src.signatureUrl], dest: sigPath, maxSize: 1 << 20, retries: 1, label: `${src.file} signature`, ...(opts.signal ? { signal: opts.signal } : {}) })
    try {
      const good = await verifyDetached({ data: readFileSync(dest), signature: readFileSync(sigPath), keyring: await readKeyring(keyText) })
      opts.reporter.emit({ type: 'info', message: `${src.file}: good signature by ${good.userIds[0] ?? good.fingerprint}` })
    } catch (e) {
      if (e instanceof NipError) throw new NipError(e.code, `${src.file}: the signature does not verify with ${src.signingKey}: ${e.message}`, { hint: 'Nothing was installed.', data: { ...e.data, file: src.file }, cause: e })
      throw e
    }
  }
  return dest
}
