/**
 * Recipes: `recipes/<name>.toml`, one program version each (docs/recipes.md). Parsing checks the
 * whole schema up front, so a recipe with a typo fails before anything is fetched, with the file,
 * line and key in the message (ERR_NIP_RECIPE_INVALID).
 */
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { NipError } from '@nip/core'
import { nearest, Reader, TomlFile } from './schema.js'

export type BuildSystem = 'autotools' | 'cmake' | 'meson' | 'make' | 'custom'
export const BUILD_SYSTEMS: readonly BuildSystem[] = ['autotools', 'cmake', 'meson', 'make', 'custom']

export interface RecipeSource {
  /** The upstream URL (where the hash was taken from); absent for a Debian-only tarball. */
  url?: string
  /** File name the archive is kept under (default: the URL's last component). */
  file: string
  sha256: string
  /** More full URLs serving the same bytes. */
  mirrors: string[]
  /** Mirror scheme: `<source package>/<file>` in the pool of the configured Debian mirror. */
  debian?: string
  /** Leading path components removed when unpacking (default 1). */
  stripComponents: number
  /** Where under the source directory it is unpacked (default: the source directory itself). */
  into?: string
  /** Upstream's detached OpenPGP signature and the key that must have made it. */
  signature?: { url?: string; debian?: string; key: string }
}

export interface CustomStep {
  name: string
  /** argv, run in the source directory; `$PREFIX`, `$DESTDIR`, `$JOBS` are in the environment. */
  run: string[]
}

export interface RecipeBuild {
  system: BuildSystem
  /** Options for configure / cmake / meson, or make variables for `make`. */
  options: string[]
  /** Extra arguments of the make / ninja step. */
  makeOptions: string[]
  cflags: string[]
  ldflags: string[]
  /** Steps run before configuring (e.g. `["autoreconf", "-fi"]`). */
  preConfigure: CustomStep[]
  /** The whole build for `custom`. */
  steps: CustomStep[]
  /** Run the build in a subdirectory of the sources (e.g. "build/unix"). */
  subdir?: string
  /** Whether the build may run make with -j (default true). */
  parallel: boolean
}

export interface BoolVariant {
  kind: 'bool'
  name: string
  summary: string
  default: boolean
  on: string[]
  off: string[]
  requires: string[]
  conflicts: string[]
  buildDependencies: string[]
  runtimeDependencies: string[]
}

export interface ValueVariant {
  kind: 'value'
  name: string
  summary: string
  values: string[]
  default: string
  /** Options per value. */
  options: Record<string, string[]>
  buildDependencies: Record<string, string[]>
  runtimeDependencies: Record<string, string[]>
}

export type VariantDef = BoolVariant | ValueVariant

export interface Recipe {
  name: string
  version: string
  summary: string
  license?: string
  homepage?: string
  /** SOURCE_DATE_EPOCH for the build (default: 315532800, 1980-01-01). */
  sourceDateEpoch: number
  sources: RecipeSource[]
  build: RecipeBuild
  buildDependencies: string[]
  runtimeDependencies: string[]
  variants: Map<string, VariantDef>
  /** Options this recipe adds when a profile is on (`[profile-options] lto = ["--enable-lto"]`). */
  profileOptions: Record<string, string[]>
  /** The file it was read from, and its bytes (part of the fingerprint). */
  file: string
  text: string
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9+_.-]*$/
const VARIANT_NAME = /^[a-z0-9][a-z0-9_-]*$/
const SHA256 = /^[0-9a-f]{64}$/
const URL_RE = /^(https?|file):\/\/\S+$/

export function parseRecipe(file: string, text: string): Recipe {
  const toml = new TomlFile(file, text)
  const top = new Reader(toml, toml.doc, '')
  const name = top.requiredString('name', { pattern: NAME, what: 'a program name (letters, digits, + _ . -)' })
  const expected = path.basename(file, '.toml')
  if (name !== expected) throw toml.error('name', `is "${name}" but the file is named ${expected}.toml`)
  const version = top.requiredString('version', { pattern: /^[0-9A-Za-z][0-9A-Za-z._~-]*$/, what: 'a version' })
  const summary = top.requiredString('summary')
  const license = top.string('license')
  const homepage = top.string('homepage')
  const sourceDateEpoch = top.integer('source-date-epoch', { min: 0 }) ?? 315532800
  const recipeDir = path.dirname(file)
  const sources = top.tables('source').map((r): RecipeSource => {
    const url = r.string('url', { pattern: URL_RE, what: 'an http(s):// or file:// URL' })
    const debian0 = typeof r.table.debian === 'string' ? r.table.debian : undefined
    const named = r.string('file', { pattern: /^[^/]+$/, what: 'a file name' })
    const file = named ?? (url ? decodeURIComponent(url.replace(/[?#].*$/, '').split('/').pop() ?? '') : debian0?.split('/').pop())
    if (!file) throw toml.error(r.key('url'), 'a source needs a url, or a debian pool path (and then file is taken from it)')
    const sha256 = r.requiredString('sha256', { pattern: SHA256, what: 'a SHA-256 (64 lowercase hex digits)' })
    const mirrors = r.strings('mirrors')
    mirrors.forEach((m, i) => {
      if (!URL_RE.test(m)) throw toml.error(r.key(`mirrors`), `entry ${i + 1} "${m}" is not an http(s):// or file:// URL`)
    })
    const debian = r.string('debian', { pattern: /^[a-z0-9][a-z0-9+.-]+\/[^/]+$/, what: 'a Debian pool path "<source package>/<file>"' })
    const stripComponents = r.integer('strip-components', { min: 0 }) ?? 1
    const into = r.string('into', { pattern: /^(?!\/)(?!.*(^|\/)\.\.?(\/|$)).+$/, what: 'a relative path inside the sources' })
    const sigUrl = r.string('signature-url', { pattern: URL_RE, what: 'an http(s):// or file:// URL' })
    const sigDebian = r.string('signature-debian', { pattern: /^[a-z0-9][a-z0-9+.-]+\/[^/]+$/, what: 'a Debian pool path "<source package>/<file>"' })
    const keyRel = r.string('signing-key', { pattern: /^(?!\/)(?!.*(^|\/)\.\.(\/|$)).+$/, what: 'a path relative to the recipe' })
    if ((sigUrl || sigDebian) && !keyRel) throw toml.error(r.key('signing-key'), 'is required with signature-url or signature-debian')
    if (keyRel && !sigUrl && !sigDebian) throw toml.error(r.key('signing-key'), 'needs signature-url or signature-debian')
    const signature = keyRel ? { ...(sigUrl ? { url: sigUrl } : {}), ...(sigDebian ? { debian: sigDebian } : {}), key: path.join(recipeDir, keyRel) } : undefined
    r.done()
    if (!url && !debian && mirrors.length === 0) throw toml.error(r.key('url'), 'a source needs a url, mirrors or a debian pool path')
    return { ...(url ? { url } : {}), file, sha256, mirrors, ...(debian ? { debian } : {}), stripComponents, ...(into ? { into } : {}), ...(signature ? { signature } : {}) }
  })
  if (sources.length === 0) throw toml.error('source', 'at least one [[source]] is required')
  const b = top.table_('build')
  if (!b) throw toml.error('build', 'the [build] table is required')
  const system = b.requiredString('system') as BuildSystem
  if (!BUILD_SYSTEMS.includes(system)) throw toml.error('build.system', `"${system}" is not a build system (${BUILD_SYSTEMS.join(', ')})`)
  const steps = (key: string) =>
    b.tables(key).map((r, i): CustomStep => {
      const run = r.strings('run')
      if (run.length === 0) throw toml.error(r.key('run'), 'must name a program and its arguments')
      const step = { name: r.string('name') ?? `${key}-${i + 1}`, run }
      r.done()
      return step
    })
  const build: RecipeBuild = {
    system,
    options: b.strings('options'),
    makeOptions: b.strings('make-options'),
    cflags: b.strings('cflags'),
    ldflags: b.strings('ldflags'),
    preConfigure: steps('pre-configure'),
    steps: steps('step'),
    parallel: b.boolean('parallel') ?? true,
  }
  const subdir = b.string('subdir', { pattern: /^(?!\/)(?!.*(^|\/)\.\.?(\/|$)).+$/, what: 'a relative path inside the sources' })
  if (subdir) build.subdir = subdir
  b.done()
  if (system === 'custom' && build.steps.length === 0) throw toml.error('build.step', 'a custom build needs at least one [[build.step]]')
  if (system !== 'custom' && build.steps.length > 0) throw toml.error('build.step', `steps are for system = "custom", not "${system}"`)
  const deps = top.table_('dependencies')
  const buildDependencies = deps?.strings('build') ?? []
  const runtimeDependencies = deps?.strings('runtime') ?? []
  deps?.done()

  const variants = new Map<string, VariantDef>()
  const vt = top.table_('variants')
  if (vt) {
    for (const vname of Object.keys(vt.table)) {
      const r = vt.table_(vname)!
      if (!VARIANT_NAME.test(vname)) throw toml.error(r.key(''), `variant name "${vname}" must be lowercase letters, digits, _ and -`)
      const summary = r.requiredString('summary')
      if (r.has('values')) {
        const values = r.strings('values')
        if (values.length < 2) throw toml.error(r.key('values'), 'a valued variant needs at least two values')
        const def = r.requiredString('default')
        if (!values.includes(def)) throw toml.error(r.key('default'), `"${def}" is not one of the values (${values.join(', ')})`)
        const perValue = (key: string): Record<string, string[]> => {
          const t = r.table_(key)
          const out: Record<string, string[]> = {}
          if (!t) return out
          for (const v of Object.keys(t.table)) {
            if (!values.includes(v)) throw toml.error(t.key(v), `"${v}" is not one of the values (${values.join(', ')})`)
            out[v] = t.strings(v)
          }
          t.done()
          return out
        }
        variants.set(vname, { kind: 'value', name: vname, summary, values, default: def, options: perValue('options'), buildDependencies: perValue('build-dependencies'), runtimeDependencies: perValue('runtime-dependencies') })
      } else {
        const def = r.boolean('default')
        if (def === undefined) throw toml.error(r.key('default'), 'is required (true or false; or give `values` for a valued variant)')
        variants.set(vname, {
          kind: 'bool',
          name: vname,
          summary,
          default: def,
          on: r.strings('on'),
          off: r.strings('off'),
          requires: r.strings('requires'),
          conflicts: r.strings('conflicts'),
          buildDependencies: r.strings('build-dependencies'),
          runtimeDependencies: r.strings('runtime-dependencies'),
        })
      }
      r.done()
    }
    vt.done()
    // Clauses must name known variants (profiles are checked when resolving).
    for (const v of variants.values()) {
      if (v.kind !== 'bool') continue
      for (const [key, clauses] of [['requires', v.requires], ['conflicts', v.conflicts]] as const) {
        for (const c of clauses) {
          const m = /^([+~-])?([a-z0-9][a-z0-9_-]*)(?:=(.+))?$/.exec(c)
          if (!m || (m[1] === undefined) === (m[3] === undefined)) throw toml.error(`variants.${v.name}.${key}`, `"${c}" is not a clause (+name, -name or name=value)`)
        }
      }
    }
  }
  const profileOptions: Record<string, string[]> = {}
  const po = top.table_('profile-options')
  if (po) {
    for (const p of Object.keys(po.table)) {
      if (!VARIANT_NAME.test(p)) throw toml.error(po.key(p), `"${p}" is not a profile name`)
      profileOptions[p] = po.strings(p)
    }
    po.done()
  }
  top.done()
  return { name, version, summary, ...(license ? { license } : {}), ...(homepage ? { homepage } : {}), sourceDateEpoch, sources, build, buildDependencies, runtimeDependencies, variants, profileOptions, file, text }
}

/** The recipe files of some directories: name → path (the first directory that has a name wins). */
export function listRecipes(dirs: readonly string[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const dir of dirs) {
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch {
      continue
    }
    for (const n of names.sort()) {
      if (!n.endsWith('.toml')) continue
      const name = n.slice(0, -5)
      if (!out.has(name)) out.set(name, path.join(dir, n))
    }
  }
  return out
}

/** Loads the recipe `name` from the first directory that has it; null when none does. */
export function findRecipe(dirs: readonly string[], name: string): Recipe | null {
  const file = listRecipes(dirs).get(name)
  if (!file) return null
  return parseRecipe(file, readFileSync(file, 'utf8'))
}

/** Like findRecipe, but a missing recipe is ERR_NIP_NOT_FOUND naming the nearest ones. */
export function loadRecipe(dirs: readonly string[], name: string): Recipe {
  const r = findRecipe(dirs, name)
  if (r) return r
  const known = [...listRecipes(dirs).keys()]
  const near = nearest(name, known)
  throw new NipError('ERR_NIP_NOT_FOUND', `There is no recipe named ${name}.`, {
    hint: near.length ? `Did you mean ${near.join(', ')}?` : `Recipes: ${known.join(', ') || '(none)'} (in ${dirs.join(', ')}).`,
    data: { recipe: name, dirs, ...(near.length ? { suggestions: near } : {}) },
  })
}
