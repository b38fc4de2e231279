/**
 * Bootstrap recipes: how nip gets an ecosystem's own build tools (Portage, Nix, pkgsrc's bmake, a
 * container build image) when the host lacks them. One TOML file per tool (`bootstrap/<tool>.toml`,
 * described in docs/bootstrap.md):
 *
 *   name, summary, version       the tool and the version the recipe installs
 *   program                      the program name the tool is grafted as (its own tree in the root)
 *   commands = [...]             what "already on the host" means: every command found on PATH
 *   needs = [...]                host commands the tool needs to run (python3, bwrap, …)
 *   alternatives = [...]         other sources to try instead (`debian`, `build`, …)
 *   [[source]]                   archives unpacked into the tool's tree: url, sha256, strip, into,
 *                                optional signature-url + signing-key (OpenPGP, checked first)
 *   [[package]]                  or packages of nip's own sources grafted as the tool: spec
 *   [repository] into, strip, signature-suffix, marker
 *                                a repository whose location the user configures (`[build]
 *                                <tool>-repository = DIR|URL` or `--repository`): a directory copied
 *                                into the tree, or a snapshot archive verified by its OpenPGP
 *                                signature (it changes daily, so it has no pinned hash)
 *   [image] suite, variant,      or the tool is a Podman image nip makes (image.ts): a debootstrap
 *     include, check             root file system of `suite` (`variant`, with the `include`d
 *                                packages) imported through Podman's API, or pulled from `[build]
 *                                container-image`; `check` is the command it must run; the image is
 *                                tagged as `[container] image` (required with [image])
 *   [install] available, reason  whether nip can install it here (and why not)
 *   [container] image, build     the Podman image to use instead
 *   [manual] steps = [...]       the manual instructions
 * Refusals: ERR_NIP_RECIPE_INVALID naming the file, line and key.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { listRecipes } from '../recipe.js'
import { NipError } from '@nip/core'
import { Reader, TomlFile, nearest } from '../schema.js'
import type { BuildSettings, RepositorySetting } from '../settings.js'

export interface BootstrapSource {
  role: string
  url: string
  /** The file name kept in the build cache. */
  file: string
  sha256: string
  strip: number
  /** Directory of the tool's tree the archive is unpacked into. */
  into: string
  signatureUrl?: string
  /** Absolute path of the OpenPGP key the signature must verify with. */
  signingKey?: string
}

/** A repository the user names (Portage's repos.conf `location` / `sync-uri`), not pinned by the recipe. */
export interface BootstrapRepository {
  /** Directory of the tool's tree it goes into. */
  into: string
  /** Leading path components dropped from a snapshot archive. */
  strip: number
  /** Appended to a snapshot URL for its detached signature (unless configured). */
  signatureSuffix: string
  /** A path every repository must hold (relative to it), e.g. `profiles/repo_name`. */
  marker?: string
  /** Where it comes from here: from the settings (`<tool>-repository`), when configured. */
  location?: RepositorySetting
}

/** How nip makes a Podman image (`[image]`): a debootstrap root file system, or a pull of `[build] container-image`. */
export interface BootstrapImage {
  suite: string
  variant: string
  include: string[]
  /** The command the image must run (exit 0) before nip tags it. */
  check: string[]
}

export interface BootstrapRecipe {
  name: string
  summary: string
  version: string
  program: string
  commands: string[]
  needs: string[]
  alternatives: string[]
  sources: BootstrapSource[]
  packages: string[]
  repository?: BootstrapRepository
  image?: BootstrapImage
  installable: boolean
  notInstallable?: string
  container?: { image: string; build: string[] }
  manual: string[]
  file: string
  text: string
}

const NAME = /^[a-z][a-z0-9-]*$/
const SHA256 = /^[0-9a-f]{64}$/
/** A local image name: `[HOST[:PORT]/]PATH[:TAG]`, lowercase path components (what `podman tag` accepts). */
export const IMAGE_NAME = /^(?:[a-z0-9.-]+(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$/
const REL = /^(?!\/)(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._/+-]+$/

export function parseBootstrapRecipe(file: string, text: string): BootstrapRecipe {
  const toml = new TomlFile(file, text)
  const top = new Reader(toml, toml.doc, '')
  const name = top.requiredString('name', { pattern: NAME, what: 'a tool name (a-z, 0-9, -)' })
  const expected = path.basename(file, '.toml')
  if (expected !== name) throw toml.error('name', `is "${name}" but the file is ${path.basename(file)}`, `Name the file ${name}.toml.`)
  const sources = top.tables('source').map((r) => {
    const url = r.requiredString('url', { pattern: /^https?:\/\/\S+$/, what: 'an http(s) URL' })
    const sha256 = r.requiredString('sha256', { pattern: SHA256, what: 'a SHA-256 (64 lowercase hex digits)' })
    const signatureUrl = r.string('signature-url', { pattern: /^https?:\/\/\S+$/, what: 'an http(s) URL' })
    const key = r.string('signing-key')
    if ((signatureUrl === undefined) !== (key === undefined)) throw toml.error(r.key(signatureUrl ? 'signing-key' : 'signature-url'), 'signature-url and signing-key go together')
    const src: BootstrapSource = {
      role: r.requiredString('role', { pattern: NAME, what: 'a role name' }),
      url,
      file: r.string('file', { pattern: /^[A-Za-z0-9._+-]+$/, what: 'a file name' }) ?? decodeURIComponent(new URL(url).pathname.split('/').pop() || 'source'),
      sha256,
      strip: r.integer('strip', { min: 0 }) ?? 0,
      into: r.requiredString('into', { pattern: REL, what: 'a relative path inside the tool' }),
      ...(signatureUrl ? { signatureUrl, signingKey: path.resolve(path.dirname(file), key!) } : {}),
    }
    r.done()
    return src
  })
  const packages = top.tables('package').map((r) => {
    const spec = r.requiredString('spec')
    r.done()
    return spec
  })
  const repoTable = top.table_('repository')
  let repository: BootstrapRepository | undefined
  if (repoTable) {
    const marker = repoTable.string('marker', { pattern: REL, what: 'a relative path' })
    repository = {
      into: repoTable.requiredString('into', { pattern: REL, what: 'a relative path inside the tool' }),
      strip: repoTable.integer('strip', { min: 0 }) ?? 0,
      signatureSuffix: repoTable.string('signature-suffix', { pattern: /^[A-Za-z0-9._-]+$/, what: 'a file name suffix' }) ?? '.asc',
      ...(marker ? { marker } : {}),
    }
    repoTable.done()
  }
  const imageTable = top.table_('image')
  let imageRecipe: BootstrapImage | undefined
  if (imageTable) {
    const pkg = /^[a-z0-9][a-z0-9+.-]+$/
    const include = imageTable.strings('include')
    const bad = include.find((p) => !pkg.test(p))
    if (bad !== undefined) throw toml.error('image.include', `${JSON.stringify(bad)} is not a Debian package name`)
    const check = imageTable.strings('check')
    imageRecipe = {
      suite: imageTable.requiredString('suite', { pattern: /^[a-z][a-z0-9-]*$/, what: 'a Debian suite or code name (bookworm)' }),
      variant: imageTable.string('variant', { pattern: /^(minbase|buildd|fakechroot|-)$/, what: 'a debootstrap variant (minbase, buildd, fakechroot, -)' }) ?? 'minbase',
      include,
      check: check.length > 0 ? check : ['gcc', '--version'],
    }
    imageTable.done()
    if (sources.length > 0 || packages.length > 0 || repository) throw toml.error('image', 'a tool is either an image or a tree ([[source]], [[package]], [repository]), not both')
  }
  const install = top.table_('install')
  const installable = install?.boolean('available') ?? true
  const reason = install?.string('reason')
  install?.done()
  if (installable && sources.length === 0 && packages.length === 0 && !repository && !imageRecipe) throw toml.error('source', 'an installable tool needs [[source]] or [[package]] entries (or [image])', 'Or set [install] available = false with a reason.')
  if (!installable && !reason) throw toml.error('install.reason', 'is required when available = false')
  const container = top.table_('container')
  const image = container?.requiredString('image')
  const build = container?.strings('build') ?? []
  container?.done()
  if (imageRecipe && !image) throw toml.error('container.image', 'is required with [image]: it is the name nip tags the image with')
  if (image !== undefined && !IMAGE_NAME.test(image)) throw toml.error('container.image', `${JSON.stringify(image)} is not an image name (HOST/PATH[:TAG], lowercase)`)
  const manual = top.table_('manual')
  const steps = manual?.strings('steps') ?? []
  manual?.done()
  const recipe: BootstrapRecipe = {
    name,
    summary: top.requiredString('summary'),
    version: top.requiredString('version', { pattern: /^[A-Za-z0-9._+~-]+$/, what: 'a version' }),
    program: top.requiredString('program', { pattern: NAME, what: 'a program name' }),
    commands: top.strings('commands'),
    needs: top.strings('needs'),
    alternatives: top.strings('alternatives'),
    sources,
    packages,
    ...(repository ? { repository } : {}),
    ...(imageRecipe ? { image: imageRecipe } : {}),
    installable,
    ...(reason ? { notInstallable: reason } : {}),
    ...(image ? { container: { image, build } } : {}),
    manual: steps,
    file,
    text,
  }
  top.done()
  return recipe
}

/** Every recipe in the directories, the first directory's winning for a name (as for build recipes). */
export function listBootstrapRecipes(dirs: readonly string[]): Map<string, string> {
  return listRecipes(dirs)
}

/**
 * The recipe of `tool`; with the settings, its [repository] carries the configured location
 * (`[build] <tool>-repository`), which detection and installation need.
 */
export function loadBootstrapRecipe(dirs: readonly string[], tool: string, settings?: Pick<BuildSettings, 'repositories'>): BootstrapRecipe {
  const all = listBootstrapRecipes(dirs)
  const file = all.get(tool)
  if (!file) {
    const near = nearest(tool, [...all.keys()])
    throw new NipError('ERR_NIP_NOT_FOUND', `There is no bootstrap recipe for "${tool}".`, {
      hint: near.length > 0 ? `Did you mean ${near.join(', ')}? (nip bootstrap list)` : `Known tools: ${[...all.keys()].join(', ') || 'none'} (nip bootstrap list).`,
      data: { tool, known: [...all.keys()] },
    })
  }
  const recipe = parseBootstrapRecipe(file, readFileSync(file, 'utf8'))
  const location = settings?.repositories[recipe.name]
  if (recipe.repository && location) recipe.repository.location = location
  return recipe
}
