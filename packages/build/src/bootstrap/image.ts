/**
 * A bootstrap tool that is a Podman image (a recipe with `[image]`, the shipped `container`): the
 * build image `nip build --container` runs recipes in. Two ways, in this order:
 *
 * 1. **pulled** from `[build] container-image` (a registry reference; plain HTTP only for a host
 *    in `[oci] insecure-registries`) through libpod's pull; a reference with `@sha256:` is pulled
 *    by digest and the image must carry that digest;
 * 2. **made** from a debootstrap root file system: `debootstrap --variant=<variant>
 *    --include=<packages> <suite>` from the first Debian mirror of nip's `[debian]` sources or the
 *    host's apt sources (none is built in; debootstrap checks the suite's Release signature with
 *    the host's archive keyring), into a staging directory under the root's cache
 *    (`<cache>/build/image/`, made and removed through the confined layer), then streamed as a tar
 *    through libpod's import into an image with no name.
 *
 * Either way the image must run the recipe's `check` (`gcc --version`) in a container without
 * network before it is tagged as the recipe's `[container] image`: a name only ever points at a
 * complete, checked image. What was made is recorded as the tool's tree, one file `image.json`
 * (`ImageRecord`: the image's id, its digest when pulled, where it came from), grafted by core's
 * transaction as the recipe's program: owned in the DB, listed by `nip bootstrap list` and
 * `nip doctor`, removed by `nip bootstrap remove` (which removes the image's name through the API
 * first).
 *
 * Kills: debootstrap runs in its own PID and mount namespaces whose first process dies with nip
 * (`setpriv --pdeathsig`, `unshare --kill-child`), so nothing goes on writing and the proc and sys
 * mounts it makes vanish with it. An import that was not tagged yet carries this root's label and
 * no name; the next install removes such images and any staging directory left (it holds nip's
 * lock, so none of them is another run's). Between the tag and the DB's registration a kill leaves
 * the checked image under its name with no record: `nip bootstrap list` then reports it as found on
 * the host, and `install --force` makes and records it again.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import type { Cas } from '@nip/cas'
import { NipError, type Layout, type Reporter, type TreeEntry } from '@nip/core'
import { buildPaths } from '../builder.js'
import { buildLogPath, tailLines } from '../buildLog.js'
import { closeLog, makeStagingDir, openLog, removeTree } from '../buildFs.js'
import { PodmanApi } from '../podmanApi.js'
import type { BuildSettings } from '../settings.js'
import { insecureRegistry, type ImageReference } from './imageRef.js'
import type { BootstrapImage, BootstrapRecipe } from './recipe.js'

/** The file of the tool's tree that records the image. */
export const IMAGE_RECORD = 'image.json'
export const LABEL_TOOL = 'org.nip.bootstrap'
export const LABEL_ROOT = 'org.nip.root'

export interface ImageRecord {
  tool: string
  /** The name the image is tagged with (the recipe's `[container] image`). */
  image: string
  /** `sha256:<hex>`: Podman's image id. */
  id: string
  from: 'debootstrap' | 'registry'
  /** Registry: the configured reference and the manifest digest Podman recorded for it. */
  reference?: string
  digest?: string
  /** debootstrap: the suite, variant, packages and mirror. */
  suite?: string
  variant?: string
  include?: string[]
  mirror?: string
  check: { command: string[]; output: string }
  size: number
}

export type ImageWay =
  | { way: 'registry'; reference: ImageReference; insecure: boolean }
  | { way: 'debootstrap'; suite: string; variant: string; include: string[]; mirror: string }

export interface ImagePlan {
  available: boolean
  way?: ImageWay
  /** What install would do, or why it cannot. */
  detail: string
}

export interface PlanInputs {
  settings: Pick<BuildSettings, 'containerImage' | 'podmanSocket'>
  /** Debian archive roots (debianMirrors of `[debian]`). */
  mirrors: readonly string[]
  /** The `[oci]` table (its `insecure-registries`). */
  oci: Record<string, unknown>
  /** Where the host's commands are (null: not on PATH). */
  commands: Record<'debootstrap' | 'unshare' | 'setpriv', string | null>
  /** Whether nip runs as root (debootstrap needs it). */
  root: boolean
}

/** How `install` would get the image here: pure, from the configuration and the host (tested alone). */
export function planImage(recipe: BootstrapRecipe, inputs: PlanInputs): ImagePlan {
  const image = recipe.image
  const name = recipe.container?.image
  if (!image || !name) return { available: false, detail: `${recipe.name} is not an image tool.` }
  const ref = inputs.settings.containerImage
  if (ref) {
    const insecure = insecureRegistry(ref, inputs.oci)
    return { available: true, way: { way: 'registry', reference: ref, insecure }, detail: `Pulls ${ref.pull}${insecure ? ' over plain HTTP ([oci] insecure-registries)' : ''} through Podman's API, checks that it runs ${image.check.join(' ')}, and tags it ${name}.` }
  }
  const mirror = inputs.mirrors.find((m) => /^(https?|file):\/\//.test(m))
  const missing = (['debootstrap', 'unshare', 'setpriv'] as const).filter((c) => inputs.commands[c] === null)
  const what = `Makes ${name} from a debootstrap root file system (${image.suite} ${image.variant}${image.include.length > 0 ? ` with ${image.include.join(', ')}` : ''})`
  if (missing.length > 0) return { available: false, detail: `${what}, but the host lacks ${missing.join(', ')} (apt-get install debootstrap util-linux), or set [build] container-image to pull it.` }
  if (!inputs.root) return { available: false, detail: `${what}, but debootstrap needs root; run as root, or set [build] container-image to pull it.` }
  if (!mirror) return { available: false, detail: `${what}, but no Debian mirror is configured: set [debian] sources or the host's apt sources, or [build] container-image.` }
  return { available: true, way: { way: 'debootstrap', suite: image.suite, variant: image.variant, include: image.include, mirror }, detail: `${what} from ${mirror}, imports it through Podman's API, checks that it runs ${image.check.join(' ')}, and tags it ${name}.` }
}

/** A short, stable label of this root for the images it makes. */
export function rootLabel(layout: Layout): string {
  return createHash('sha256').update(layout.root).digest('hex').slice(0, 16)
}

export function imageStagingParent(layout: Layout): string {
  return path.join(buildPaths(layout).base, 'image')
}

/** Staging directories and unnamed imports a killed install of this root left; removed (nip holds the lock). */
async function removeLeftovers(layout: Layout, api: PodmanApi, recipe: BootstrapRecipe, reporter: Reporter): Promise<void> {
  const parent = imageStagingParent(layout)
  let names: string[] = []
  try {
    names = readdirSync(parent)
  } catch {
    names = []
  }
  for (const n of names) {
    removeTree(path.join(parent, n))
    reporter.emit({ type: 'info', message: `removed ${path.join(parent, n)}, left by an interrupted install` })
  }
  for (const img of await api.withLabels([`${LABEL_TOOL}=${recipe.name}`, `${LABEL_ROOT}=${rootLabel(layout)}`], { dangling: true })) {
    if (img.tags.length > 0) continue
    await api.remove(img.id)
    reporter.emit({ type: 'info', message: `removed the unnamed image ${img.id.slice(0, 19)}, left by an interrupted install` })
  }
}

/** Staging directories a killed image install of this root left (doctor reports them, install removes them). */
export function imageLeftovers(layout: Layout): string[] {
  try {
    return readdirSync(imageStagingParent(layout)).map((n) => path.join(imageStagingParent(layout), n))
  } catch {
    return []
  }
}

export interface MakeImageOptions {
  layout: Layout
  socket: string
  way: ImageWay
  reporter: Reporter
  signal?: AbortSignal
}

/** Makes (or pulls), checks and tags the image; returns its record. Nothing is named until the check passed. */
export async function makeImage(recipe: BootstrapRecipe, opts: MakeImageOptions): Promise<ImageRecord> {
  const image = recipe.image!
  const name = recipe.container!.image
  const api = new PodmanApi(opts.socket)
  const version = await api.require()
  await removeLeftovers(opts.layout, api, recipe, opts.reporter)
  let id: string
  let owned: boolean
  let pulledName: string | undefined
  const origin: Partial<ImageRecord> = {}
  const way = opts.way
  if (way.way === 'debootstrap') {
    id = await debootstrapImage(recipe, image, way, api, opts)
    owned = true
    Object.assign(origin, { from: 'debootstrap', suite: way.suite, variant: way.variant, include: way.include, mirror: way.mirror })
  } else {
    const ref = way.reference
    const before = ref.tag ? await api.inspect(`${ref.repository}:${ref.tag}`) : null
    opts.reporter.emit({ type: 'info', message: `pulling ${ref.pull} through Podman ${version}${way.insecure ? ' (plain HTTP)' : ''}` })
    id = await api.pull(ref.pull, { tlsVerify: !way.insecure, ...(opts.signal ? { signal: opts.signal } : {}) })
    if (ref.tag && !ref.digest && !before) pulledName = `${ref.repository}:${ref.tag}`
    owned = false
    const info = await api.inspect(id)
    const digest = info?.digests.find((d) => d.startsWith(`${ref.repository}@`))?.slice(ref.repository.length + 1)
    if (ref.digest && !info?.digests.includes(`${ref.repository}@${ref.digest}`)) {
      if (pulledName) await api.untag(id, pulledName).catch(() => undefined)
      throw new NipError('ERR_NIP_HASH_MISMATCH', `The image pulled as ${ref.pull} does not carry the digest ${ref.digest} (Podman recorded ${info?.digests.join(', ') || 'none'}).`, { hint: 'Nothing was tagged or recorded; check [build] container-image.', data: { reference: ref.text, expected: ref.digest, digests: info?.digests ?? [] } })
    }
    Object.assign(origin, { from: 'registry', reference: ref.text, ...(digest ? { digest } : {}) })
  }
  let check: { exitCode: number; output: string }
  try {
    check = await api.run(id, image.check, opts.signal ? { signal: opts.signal } : {})
    if (check.exitCode !== 0) {
      throw new NipError('ERR_NIP_BUILD_FAILED', `The image ${id.slice(0, 19)} does not run ${image.check.join(' ')} (exit status ${check.exitCode}): ${check.output.trim().split('\n').slice(-5).join(' | ')}`, {
        hint: way.way === 'debootstrap' ? `Add what it needs to [image] include of ${recipe.file}; nothing was tagged or recorded.` : `The image at ${way.reference.text} lacks the toolchain; nothing was tagged or recorded.`,
        data: { image: id, command: image.check, exitCode: check.exitCode },
      })
    }
  } catch (e) {
    if (owned) await api.remove(id).catch(() => undefined)
    else if (pulledName) await api.untag(id, pulledName).catch(() => undefined)
    throw e
  }
  const previous = await api.inspect(name)
  await api.tag(id, name)
  if (pulledName) await api.untag(id, pulledName)
  // A previous image of this root's install that lost its name is nip's to remove.
  if (previous && previous.id !== id && previous.labels[LABEL_ROOT] === rootLabel(opts.layout)) {
    const now = await api.inspect(previous.id)
    if (now && now.tags.length === 0) await api.remove(previous.id).catch(() => undefined)
  }
  const info = await api.inspect(id)
  opts.reporter.emit({ type: 'info', message: `${name}: image ${id.slice(0, 19)} (${check.output.split('\n')[0].trim()})` })
  return { tool: recipe.name, image: name, id, ...origin, check: { command: image.check, output: check.output.split('\n')[0].trim() }, size: info?.size ?? 0 } as ImageRecord
}

async function debootstrapImage(recipe: BootstrapRecipe, image: BootstrapImage, way: Extract<ImageWay, { way: 'debootstrap' }>, api: PodmanApi, opts: MakeImageOptions): Promise<string> {
  const staging = makeStagingDir(imageStagingParent(opts.layout), recipe.name)
  const log = buildLogPath(opts.layout.logDir, recipe.program, recipe.version, 'debootstrap00000')
  try {
    const args = [`--variant=${way.variant}`, ...(way.include.length > 0 ? [`--include=${way.include.join(',')}`] : []), way.suite, staging, way.mirror]
    opts.reporter.emit({ type: 'info', message: `debootstrap ${args.join(' ')} (log: ${log})` })
    const fd = openLog(log)
    let code: number | null
    try {
      // Its own PID and mount namespaces, whose first process is killed when nip dies: nothing
      // keeps writing into the staging directory, and the mounts debootstrap makes inside it go
      // with the namespace.
      code = await runLogged('setpriv', ['--pdeathsig', 'KILL', '--', 'unshare', '--mount', '--pid', '--fork', '--kill-child=KILL', '--', 'debootstrap', ...args], fd, opts.signal)
    } finally {
      closeLog(fd)
    }
    if (code !== 0) {
      throw new NipError('ERR_NIP_BUILD_FAILED', `debootstrap of ${way.suite} from ${way.mirror} failed (exit status ${code}):\n${tailLines(log, 12).join('\n')}`, {
        hint: `The whole log: ${log}. Nothing was imported or recorded.`,
        data: { log, suite: way.suite, mirror: way.mirror, exitCode: code },
      })
    }
    // The package cache and the index files are left out of the image (as image builders do).
    const tar = spawn('tar', ['-C', staging, '--numeric-owner', '--exclude=./var/cache/apt/archives/*.deb', '--exclude=./var/lib/apt/lists/*_*', '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let tarErr = ''
    tar.stderr.on('data', (d) => (tarErr += d))
    const tarDone = new Promise<number | null>((resolve) => {
      tar.on('error', () => resolve(-1))
      tar.on('close', (c) => resolve(c))
    })
    opts.reporter.emit({ type: 'info', message: `importing ${staging} through Podman's API` })
    let id: string
    try {
      id = await api.importTar(tar.stdout, {
        changes: [`LABEL ${LABEL_TOOL}=${recipe.name}`, `LABEL ${LABEL_ROOT}=${rootLabel(opts.layout)}`, `LABEL org.nip.suite=${way.suite}`, 'CMD ["/bin/bash"]'],
        message: `nip bootstrap ${recipe.name}: debootstrap ${way.variant} ${way.suite}`,
        ...(opts.signal ? { signal: opts.signal } : {}),
      })
    } finally {
      tar.kill()
    }
    const tarCode = await tarDone
    if (tarCode !== 0 && tarCode !== null) {
      await api.remove(id).catch(() => undefined)
      throw new NipError('ERR_NIP_BUILD_FAILED', `Reading the root file system ${staging} failed (tar exited with ${tarCode}): ${tarErr.trim().split('\n').slice(-3).join(' ')}`, { hint: 'Nothing was recorded.', data: { staging } })
    }
    return id
  } finally {
    removeTree(staging)
  }
}

function runLogged(cmd: string, args: string[], fd: number, signal?: AbortSignal): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], ...(signal ? { signal } : {}) })
    child.on('error', () => resolve(-1))
    child.on('close', (code) => resolve(code))
  })
}

/** The tool's tree: the record alone. */
export function imageTree(record: ImageRecord, cas: Cas): TreeEntry[] {
  const text = Buffer.from(`${JSON.stringify(record, null, 2)}\n`)
  const blob = cas.addBufferSync(text)
  return [{ path: IMAGE_RECORD, type: 'file', mode: 0o644, blob: blob.key, size: text.length }]
}

/** The record in a grafted tool's directory, or null. */
export function readImageRecord(dir: string): ImageRecord | null {
  try {
    const r = JSON.parse(readFileSync(path.join(dir, IMAGE_RECORD), 'utf8')) as ImageRecord
    return typeof r.id === 'string' && typeof r.image === 'string' ? r : null
  } catch {
    return null
  }
}

/** What Podman says of a recorded image: present under its name with the recorded id, renamed, or gone. */
export async function checkImage(socket: string, record: ImageRecord): Promise<{ ok: boolean; detail: string }> {
  const api = new PodmanApi(socket)
  const p = await api.ping()
  if ('error' in p) return { ok: false, detail: `Podman's API socket ${socket} does not answer (${p.error}): the image ${record.image} cannot be checked.` }
  const info = await api.inspect(record.image)
  if (!info) return { ok: false, detail: `Podman has no image ${record.image} (recorded as ${record.id.slice(0, 19)}).` }
  if (info.id !== record.id) return { ok: false, detail: `${record.image} is now the image ${info.id.slice(0, 19)}, not the ${record.id.slice(0, 19)} nip made.` }
  return { ok: true, detail: `${record.image} is the image ${record.id.slice(0, 19)} nip made.` }
}

/**
 * Removes what nip made: the name, when it still points at the recorded image (an image with
 * other names only loses this one), and the recorded image when it is left with no name.
 */
export async function removeImage(socket: string, record: ImageRecord): Promise<{ removed: boolean; detail: string }> {
  const api = new PodmanApi(socket)
  await api.require()
  const info = await api.inspect(record.image)
  let removed = false
  if (info && info.id === record.id) removed = await api.remove(record.image)
  const left = await api.inspect(record.id)
  if (left && left.tags.length === 0) removed = (await api.remove(record.id)) || removed
  if (info && info.id !== record.id) return { removed, detail: `${record.image} now names another image (${info.id.slice(0, 19)}); it was left alone.` }
  return { removed, detail: removed ? `removed ${record.image} (${record.id.slice(0, 19)}) from Podman` : `Podman had no ${record.image} any more` }
}
