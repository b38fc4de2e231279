/**
 * The `[build]` table of nip's configuration (docs/configuration.md):
 *   recipe-dirs = [...]   directories searched for recipes before the shipped `recipes/`
 *   profile-dirs = [...]  the same for profiles
 *   profiles = [...]      profiles on for every build (`-name` on the command line turns one off)
 *   variants = { hello = ["-nls"] }   per-recipe variant words, between the recipe's defaults and the command line
 *   cflags = [...], ldflags = [...]   flags between the profiles' and the recipe's
 *   jobs = N              parallel make jobs (default: the number of CPUs)
 *   rebuild = false       build even when a build with the same fingerprint is stored (`nip build --rebuild`)
 *   keep-work = false     keep the work directory of a build (for debugging a recipe)
 *   executor = "bwrap"    or "podman" (`nip build --container`)
 *   podman-socket = PATH  Podman's API socket (default /run/podman/podman.sock as root, else $XDG_RUNTIME_DIR/podman/podman.sock)
 *   image = NAME          the Podman image holding the toolchain (default localhost/nip-build:bookworm)
 *   container-image = REF where `nip bootstrap install container` pulls the build image from
 *                         (HOST[:PORT]/PATH:TAG or …@sha256:DIGEST) instead of making it with debootstrap
 *   bootstrap-recipe-dirs = [...]  directories searched for bootstrap recipes (nip bootstrap) before
 *                         those `nip bootstrap update-recipes` fetched and the shipped `bootstrap/`
 *   bootstrap-recipes-url = URL    where `nip bootstrap update-recipes` fetches `index.json`
 *   bootstrap-recipes-key = PATH   the OpenPGP key `index.json.sig` must verify with
 *   gentoo-profile = NAME  the profile (under the repository's profiles/) gentoo builds use
 *   gentoo-provided = [CPV...]  what the host provides to gentoo builds, as in Portage's
 *                         package.provided (`sys-libs/zlib-1.2.13`)
 *   gentoo-host-packages = true  detect toolchain/system atoms from the host's dpkg status
 *                         through the shipped table (gentoo/hostPackages.ts); false: only gentoo-provided
 *   distfile-mirrors = [URL...]    where ecosystem builds fetch distfiles (`URL/<file>`), before the
 *                         Debian pool names the bootstrap gentoo recipe maps
 *   bootstrap-mirrors = [URL|DIR...]  where bootstrap recipes' archives are fetched first
 *                         (`URL/<file>` or `DIR/<file>`), each checked by the recipe's SHA-256
 *   <tool>-repository = DIR|URL   the repository a bootstrap recipe's [repository] installs
 *                         (gentoo-repository: an ebuild repository directory, or a snapshot URL)
 *   <tool>-repository-key = PATH  the OpenPGP key a snapshot URL's signature must verify with
 *   <tool>-repository-signature-url = URL  the signature's URL (default: the recipe's suffix appended)
 */
import { existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { NipError } from '@nip/core'
import { parseImageReference, type ImageReference } from './bootstrap/imageRef.js'

export interface BuildSettings {
  recipeDirs: string[]
  profileDirs: string[]
  profiles: string[]
  variants: Record<string, string[]>
  cflags: string[]
  ldflags: string[]
  jobs: number
  rebuild: boolean
  keepWork: boolean
  executor: 'bwrap' | 'podman'
  podmanSocket: string
  image: string
  /** `container-image`: the registry reference the container bootstrap pulls instead of running debootstrap. */
  containerImage?: ImageReference
  bootstrapRecipeDirs: string[]
  bootstrapRecipesUrl?: string
  bootstrapRecipesKey?: string
  distfileMirrors: string[]
  gentooProfile?: string
  /** `[build] gentoo-provided`: CPVs the host provides to gentoo builds (package.provided). */
  gentooProvided: string[]
  /** `[build] gentoo-host-packages`: detect host-provided atoms from dpkg's status (default true). */
  gentooHostPackages: boolean
  bootstrapMirrors: string[]
  /** Per bootstrap tool: where its recipe's [repository] comes from (`<tool>-repository` keys). */
  repositories: Record<string, RepositorySetting>
}

export interface RepositorySetting {
  /** An absolute directory, or an http(s)/file URL of a snapshot archive. */
  location: string
  kind: 'directory' | 'snapshot'
  key?: string
  signatureUrl?: string
}

function bad(key: string, why: string): NipError {
  return new NipError('ERR_NIP_CONFIG', `build.${key}: ${why}`, { hint: 'See docs/configuration.md ([build]).', data: { key: `build.${key}` } })
}

function strings(table: Record<string, unknown>, key: string): string[] {
  const v = table[key]
  if (v === undefined) return []
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(key, 'must be an array of strings')
  return v as string[]
}

/**
 * The directory nip ships next to its packages (`recipes/`, `profiles/` at the top of the
 * checkout or install), found by walking up from this module: the same file is reached from
 * packages/build/dist and from the CLI bundle.
 */
export function shippedDir(kind: 'recipes' | 'profiles' | 'bootstrap'): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 8; i++) {
    const candidate = path.join(dir, kind)
    if (existsSync(path.join(candidate, 'README.md')) && existsSync(path.join(dir, 'packages'))) return candidate
    const up = path.dirname(dir)
    if (up === dir) break
    dir = up
  }
  return null
}

export function readBuildSettings(table: Record<string, unknown>): BuildSettings {
  const variants: Record<string, string[]> = {}
  const vt = table.variants
  if (vt !== undefined) {
    if (typeof vt !== 'object' || vt === null || Array.isArray(vt)) throw bad('variants', 'must be a table of recipe name = [words]')
    for (const [k, v] of Object.entries(vt)) {
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(`variants.${k}`, 'must be an array of variant words')
      variants[k] = v as string[]
    }
  }
  const jobsRaw = table.jobs
  let jobs = Math.max(1, os.availableParallelism?.() ?? os.cpus().length)
  if (jobsRaw !== undefined) {
    const n = typeof jobsRaw === 'bigint' ? Number(jobsRaw) : jobsRaw
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw bad('jobs', 'must be a whole number ≥ 1')
    jobs = n
  }
  const bool = (key: string) => {
    const v = table[key]
    if (v === undefined) return false
    if (typeof v !== 'boolean') throw bad(key, 'must be true or false')
    return v
  }
  const shippedRecipes = shippedDir('recipes')
  const shippedProfiles = shippedDir('profiles')
  return {
    recipeDirs: [...strings(table, 'recipe-dirs').map((d) => path.resolve(d)), ...(shippedRecipes ? [shippedRecipes] : [])],
    profileDirs: [...strings(table, 'profile-dirs').map((d) => path.resolve(d)), ...(shippedProfiles ? [shippedProfiles] : [])],
    profiles: strings(table, 'profiles'),
    variants,
    cflags: strings(table, 'cflags'),
    ldflags: strings(table, 'ldflags'),
    jobs,
    rebuild: bool('rebuild'),
    keepWork: bool('keep-work'),
    executor: executorOf(table.executor),
    podmanSocket: str(table, 'podman-socket') ?? defaultSocket(),
    image: str(table, 'image') ?? 'localhost/nip-build:bookworm',
    ...(str(table, 'container-image') ? { containerImage: parseImageReference(str(table, 'container-image')!) } : {}),
    bootstrapRecipeDirs: strings(table, 'bootstrap-recipe-dirs').map((d) => path.resolve(d)),
    ...(str(table, 'bootstrap-recipes-url') ? { bootstrapRecipesUrl: str(table, 'bootstrap-recipes-url') } : {}),
    ...(str(table, 'bootstrap-recipes-key') ? { bootstrapRecipesKey: path.resolve(str(table, 'bootstrap-recipes-key')!) } : {}),
    distfileMirrors: strings(table, 'distfile-mirrors').map((u) => u.replace(/\/+$/, '')),
    ...(str(table, 'gentoo-profile') ? { gentooProfile: str(table, 'gentoo-profile') } : {}),
    gentooProvided: strings(table, 'gentoo-provided').map((c) => {
      if (!/^[A-Za-z0-9][A-Za-z0-9+_.-]*\/[A-Za-z0-9][A-Za-z0-9+_-]*-\d/.test(c)) throw bad('gentoo-provided', `lists CATEGORY/NAME-VERSION entries (sys-libs/zlib-1.2.13), not ${JSON.stringify(c)}`)
      return c
    }),
    gentooHostPackages: table['gentoo-host-packages'] === undefined ? true : bool('gentoo-host-packages'),
    bootstrapMirrors: strings(table, 'bootstrap-mirrors').map((m) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(m) ? m.replace(/\/+$/, '') : path.resolve(m))),
    repositories: readRepositories(table),
  }
}

/** `<tool>-repository` (a directory or a snapshot URL), `<tool>-repository-key`, `<tool>-repository-signature-url`. */
function readRepositories(table: Record<string, unknown>): Record<string, RepositorySetting> {
  const out: Record<string, RepositorySetting> = {}
  for (const key of Object.keys(table)) {
    const m = /^([a-z][a-z0-9-]*?)-repository$/.exec(key)
    if (!m) continue
    const tool = m[1]
    const raw = str(table, key)!
    const url = /^(https?|file):\/\//.test(raw)
    if (!url && /^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) throw bad(key, `must be a directory or an http(s):// or file:// URL, not ${JSON.stringify(raw)}`)
    const keyFile = str(table, `${tool}-repository-key`)
    const sig = str(table, `${tool}-repository-signature-url`)
    if (sig !== undefined && !/^(https?|file):\/\//.test(sig)) throw bad(`${tool}-repository-signature-url`, 'must be an http(s):// or file:// URL')
    out[tool] = {
      location: url ? raw : path.resolve(raw),
      kind: url ? 'snapshot' : 'directory',
      ...(keyFile ? { key: path.resolve(keyFile) } : {}),
      ...(sig ? { signatureUrl: sig } : {}),
    }
  }
  for (const key of Object.keys(table)) {
    const m = /^([a-z][a-z0-9-]*?)-repository-(key|signature-url)$/.exec(key)
    if (m && !out[m[1]]) throw bad(key, `is set but ${m[1]}-repository is not`)
  }
  return out
}

function str(table: Record<string, unknown>, key: string): string | undefined {
  const v = table[key]
  if (v === undefined) return undefined
  if (typeof v !== 'string' || v === '') throw bad(key, 'must be a non-empty string')
  return v
}

function executorOf(v: unknown): 'bwrap' | 'podman' {
  if (v === undefined || v === 'bwrap') return 'bwrap'
  if (v === 'podman') return 'podman'
  throw bad('executor', `must be "bwrap" or "podman", not ${JSON.stringify(v)}`)
}

function defaultSocket(): string {
  if (process.getuid?.() === 0) return '/run/podman/podman.sock'
  return path.join(process.env.XDG_RUNTIME_DIR || `/run/user/${process.getuid?.() ?? 0}`, 'podman', 'podman.sock')
}
