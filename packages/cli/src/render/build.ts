/** Human rendering of `nip build`, `nip info --recipe` and `nip logs --build`. */
import type { InstallResult } from '@nip/core'
import type { CheckResult } from '@nip/build'
import { renderInstallResult } from './plan.js'
import { formatTable } from './format.js'
import type { Style } from './style.js'
import { renderCachePush, type CachePushResult } from './cache.js'

export interface VariantRow {
  name: string
  kind: 'bool' | 'value'
  default: boolean | string
  values?: string[]
  summary: string
  requires?: string[]
  conflicts?: string[]
}

export interface ProfileRow {
  name: string
  summary: string
}

export interface RecipeView {
  kind: 'recipe'
  name: string
  version: string
  summary: string
  license?: string
  homepage?: string
  file: string
  system: string
  sources: { file: string; url?: string; sha256: string; debian?: string }[]
  buildDependencies: string[]
  runtimeDependencies: string[]
  variants: VariantRow[]
  profiles: ProfileRow[]
}

export interface BuildSummary {
  name: string
  version: string
  fingerprint: string
  cached: boolean
  words: string[]
  profiles: string[]
  cflags: string
  ldflags: string
  options: string[]
  steps: string[]
}

export interface BuildResultView {
  kind: 'build'
  build: BuildSummary
  dependencies?: InstallResult
  install: InstallResult
  /** The fleet cache entry grafted instead of building (registry and tag). */
  fleet?: { registry: string; tag: string }
  /** What --push published. */
  pushed?: CachePushResult
}

/** `nip build --check`: the builder's result as it is. */
export type CheckView = CheckResult & { kind: 'check' }

export type BuildCommandResult = RecipeView | BuildResultView | CheckView

export function renderVariants(r: RecipeView, style: Style): string {
  const lines: string[] = []
  if (r.variants.length === 0) lines.push(`${r.name} has no variants.`)
  else {
    const rows = r.variants.map((v) => [
      style.bold(v.name),
      v.kind === 'bool' ? (v.default ? '+ (on)' : '- (off)') : `${v.default} of ${v.values!.join('|')}`,
      v.summary + [...(v.requires?.length ? [` requires ${v.requires.join(' ')}`] : []), ...(v.conflicts?.length ? [` conflicts ${v.conflicts.join(' ')}`] : [])].join(';'),
    ])
    lines.push(formatTable(rows, { header: ['Variant', 'Default', 'Description'] }))
  }
  if (r.profiles.length) {
    lines.push('', 'Profiles (+name when the recipe has no variant of that name):')
    lines.push(formatTable(r.profiles.map((p) => [style.bold(p.name), p.summary])))
  }
  return lines.join('\n')
}

export function renderRecipe(r: RecipeView, style: Style): string {
  const lines = [`${style.bold(r.name)} ${r.version} — ${r.summary}`, `  recipe:   ${r.file}`, `  build:    ${r.system}`]
  if (r.license) lines.push(`  license:  ${r.license}`)
  if (r.homepage) lines.push(`  homepage: ${r.homepage}`)
  for (const s of r.sources) lines.push(`  source:   ${s.file} sha256:${s.sha256}${s.url ? `\n            ${s.url}` : ''}${s.debian ? `\n            Debian pool: ${s.debian}` : ''}`)
  if (r.buildDependencies.length) lines.push(`  build dependencies:   ${r.buildDependencies.join(', ')}`)
  if (r.runtimeDependencies.length) lines.push(`  runtime dependencies: ${r.runtimeDependencies.join(', ')}`)
  lines.push('', renderVariants(r, style))
  return lines.join('\n')
}

function renderSummary(b: BuildSummary, style: Style): string {
  return [
    `${style.bold(b.name)} ${b.version}${b.words.length ? ` (${b.words.join(' ')})` : ''}`,
    `  fingerprint: ${b.fingerprint} ${b.cached ? style.green('(stored: nothing to build)') : '(not stored: will build)'}`,
    `  CFLAGS:  ${b.cflags}`,
    ...(b.ldflags ? [`  LDFLAGS: ${b.ldflags}`] : []),
    ...(b.options.length ? [`  options: ${b.options.join(' ')}`] : []),
    `  steps:   ${b.steps.join(', ')}`,
  ].join('\n')
}

interface GentooDependencyView {
  target: string
  packages: { cpv: string; dependencies: { atom: string; how: string; cpv?: string; debian?: string; program?: { name: string; version: string } }[]; blockers: string[] }[]
  builds: { cpv: string; variants?: string[] }[]
}

/** The dependencies of a gentoo build: how each atom is satisfied, and what is built first. */
function renderGentooDependencies(g: GentooDependencyView, style: Style): string {
  const lines = [`Dependencies of ${style.bold(g.target)}:`]
  for (const p of g.packages) {
    if (p.dependencies.length === 0) continue
    if (p.cpv !== g.target) lines.push(`  ${p.cpv}:`)
    for (const d of p.dependencies) {
      const how = d.how === 'grafted' ? `grafted (${d.program?.name} ${d.program?.version})` : d.how === 'host' ? `provided by the host (${d.debian})` : d.how === 'provided' ? `provided ([build] gentoo-provided ${d.cpv})` : d.how === 'build' ? `to build: ${d.cpv}` : style.red('unmet')
      lines.push(`  ${p.cpv !== g.target ? '  ' : ''}${d.atom}  ${how}`)
    }
  }
  if (g.builds.length > 0) lines.push(`Built first: ${g.builds.map((b) => (b.variants && b.variants.length > 0 ? `${b.cpv} (USE ${b.variants.join(' ')})` : b.cpv)).join(', ')}`)
  return lines.join('\n')
}

export function renderBuildResult(r: BuildResultView, style: Style): string {
  // An ecosystem build (--source) has no recipe summary: the install result says it all.
  const parts = r.build ? [renderSummary(r.build, style)] : []
  const gentoo = (r as unknown as { gentooDependencies?: GentooDependencyView }).gentooDependencies
  if (gentoo && gentoo.packages.some((p) => p.dependencies.length > 0)) parts.push(renderGentooDependencies(gentoo, style))
  if (r.dependencies && (r.dependencies.grafted.length > 0 || r.dependencies.dryRun)) parts.push(renderInstallResult(r.dependencies, style))
  if (r.fleet && r.build) parts.push(`${style.green('from the fleet cache')} ${r.fleet.registry}:${r.fleet.tag} (fingerprint ${r.build.fingerprint.slice(0, 16)}; not built)`)
  if (r.install) parts.push(renderInstallResult(r.install, style))
  else parts.push(`Dry run: would nix-build ${(r as unknown as { file?: string }).file ?? ''} and graft its output closure through the nix source.`)
  if (r.pushed) parts.push(renderCachePush(r.pushed, style))
  return parts.join('\n\n')
}

export function renderCheck(r: CheckView, style: Style): string {
  const head = r.reproducible ? style.green('reproducible') : style.red('NOT reproducible')
  const lines = [`${style.bold(r.name)} ${r.version}: ${head} (two builds, ${r.seconds.map((s) => `${s.toFixed(1)} s`).join(' and ')})`, `  tree digests: ${r.digests[0]}${r.reproducible ? '' : `\n                ${r.digests[1]}`}`]
  for (const d of r.differing) lines.push(`  differs: ${d.path}${d.first === null ? ' (only in the second build)' : d.second === null ? ' (only in the first build)' : ''}`)
  if (r.diffoscope) lines.push(`  diffoscope: ${r.diffoscope.report}${r.diffoscope.truncated ? ' (cut short)' : ''}`)
  lines.push(`  logs: ${r.logs.join(', ')}`)
  return lines.join('\n')
}

export interface BuildLogView {
  kind: 'build-log'
  name: string
  file: string | null
  logs: { name: string; file: string; modified: string; size: number }[]
  text: string
}

export function renderBuildLog(r: BuildLogView, style: Style): string {
  if (!r.file) return `No build logs for ${r.name}.`
  return `${style.dim(`# ${r.file}`)}\n${r.text.replace(/\n$/, '')}`
}
