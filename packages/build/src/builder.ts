/**
 * The build pipeline: plan (recipe + variants + profiles + dependencies + executor →
 * fingerprint), fetch and verify the sources, run the steps in the executor, collect DESTDIR into
 * the CAS. Contracts:
 * - planBuild has no side effects (it reads recipes, profiles, the root's DB and the toolchain).
 * - runBuild writes only the work directory and the log (buildFs.ts), the source archives
 *   (core's downloader, in the build cache) and blobs (the CAS). It never grafts: the result is
 *   a tree for core's transaction. The work directory is removed whatever happens (unless
 *   `keep-work`), so a failed or killed build leaves nothing but its log.
 * - A failing step is ERR_NIP_BUILD_FAILED with the step, its exit status, the log's last lines
 *   and the log's path.
 */
import { existsSync, readFileSync, readlinkSync } from 'node:fs'
import path from 'node:path'
import type { Cas } from '@nip/cas'
import { Database, NipError, SOURCE_IDS, download, readKeyring, verifyDetached, type Layout, type Reporter, type TreeEntry, parseSpec } from '@nip/core'
import type { Executor } from './executor.js'
import { createExecutor } from './executors.js'
import { fingerprint, fingerprintDocument, type DependencyDigest, type ExecutorIdentity } from './fingerprint.js'
import { JOBS, planSteps, type StepPlan } from './plan.js'
import { loadProfiles, type Profile } from './profile.js'
import { loadRecipe, type Recipe } from './recipe.js'
import type { BuildSettings } from './settings.js'
import { resolveVariants, type ResolvedVariants } from './variants.js'
import { poolUrl, sourceUrls } from './mirror.js'
import { buildLogPath, tailLines } from './buildLog.js'
import { appendLog, closeLog, makeWorkDir, openLog, removeTree, writeJsonAtomic, writeLinkView } from './buildFs.js'
import { planLinkView } from './linkView.js'
import { collectTree, type Collected } from './collect.js'

export interface BuildPlan {
  recipe: Recipe
  profiles: Profile[]
  resolved: ResolvedVariants
  steps: StepPlan
  dependencies: DependencyDigest[]
  executor: ExecutorIdentity
  fingerprint: string
  /** The canonical document the fingerprint hashes. */
  document: string
  /** Program name and version directory the build grafts as. */
  name: string
  version: string
}

export function buildPaths(layout: Layout) {
  const base = path.join(layout.cacheDir, 'build')
  return { base, sources: path.join(base, 'sources'), work: path.join(base, 'work'), outputs: path.join(base, 'outputs') }
}

/** The recipe with its variants resolved: recipe defaults → `[build] variants.<name>` → the command line. */
export function resolveRecipe(settings: BuildSettings, name: string, words: string[]): { recipe: Recipe; profiles: Map<string, Profile>; resolved: ResolvedVariants } {
  const recipe = loadRecipe(settings.recipeDirs, name)
  const profiles = loadProfiles(settings.profileDirs)
  const resolved = resolveVariants(recipe, profiles, {
    defaultProfiles: settings.profiles,
    layers: [
      { origin: 'configuration (build.variants)', words: settings.variants[name] ?? [] },
      { origin: 'command line', words },
    ],
  })
  return { recipe, profiles, resolved }
}

/** What is grafted for each dependency spec: the current version of that program and its tree digest. */
export function dependencyDigests(layout: Layout, specs: string[]): DependencyDigest[] {
  const out: DependencyDigest[] = []
  let db: Database | null = null
  try {
    db = specs.length > 0 && existsSync(layout.dbPath) ? Database.openReader(layout.dbPath) : null
    for (const spec of specs) {
      const parsed = parseSpec(spec, { knownSources: SOURCE_IDS })
      let version = ''
      try {
        version = readlinkSync(layout.currentLink(parsed.name))
      } catch {
        version = ''
      }
      const row = db?.programsNamed(parsed.name).find((p) => p.version === version)
      out.push({ spec, program: parsed.name, version, digest: row?.tree_digest ?? '' })
    }
  } finally {
    db?.close()
  }
  return out
}

export async function planBuild(opts: { settings: BuildSettings; layout: Layout; name: string; words: string[]; executor?: Executor }): Promise<BuildPlan> {
  const { recipe, profiles, resolved } = resolveRecipe(opts.settings, opts.name, opts.words)
  const steps = planSteps({ recipe, profiles, resolved, layers: { config: { cflags: opts.settings.cflags, ldflags: opts.settings.ldflags } } })
  const dependencies = dependencyDigests(opts.layout, [...new Set([...steps.buildDependencies, ...steps.runtimeDependencies])])
  const executor = opts.executor ?? createExecutor(opts.settings)
  let identity: ExecutorIdentity
  try {
    identity = await executor.identity()
  } catch {
    identity = { id: executor.id, version: 'absent', toolchain: {} }
  }
  const active = resolved.profiles.map((p) => profiles.get(p)!)
  const document = fingerprintDocument({ recipe, profiles: active, resolved, plan: steps, dependencies, executor: identity })
  return { recipe, profiles: active, resolved, steps, dependencies, executor: identity, fingerprint: fingerprint(document), document, name: recipe.name, version: steps.version }
}

export interface StoredOutput {
  fingerprint: string
  name: string
  version: string
  digest: string
  entries: TreeEntry[]
  builtAt: string
  log: string
}

/** The stored output of a fingerprint, when its record exists and every blob is still in the CAS. */
export async function storedOutput(layout: Layout, cas: Cas, fp: string): Promise<StoredOutput | null> {
  const file = path.join(buildPaths(layout).outputs, `${fp}.json`)
  let rec: StoredOutput
  try {
    rec = JSON.parse(readFileSync(file, 'utf8')) as StoredOutput
  } catch {
    return null
  }
  if (rec.fingerprint !== fp || !Array.isArray(rec.entries)) return null
  for (const e of rec.entries) if (e.type === 'file' && (!e.blob || !(await cas.has(e.blob)))) return null
  return rec
}

export interface RunOptions {
  layout: Layout
  settings: BuildSettings
  mirrors: string[]
  reporter: Reporter
  /** Blobs go here; without it files are only hashed (--check). */
  cas?: Cas
  executor?: Executor
  signal?: AbortSignal
  /** Log file (default: the build's log under the log directory). */
  logFile?: string
  /** Label of the work directory (default: name-fingerprint). */
  workLabel?: string
  /** Keep the work directory whatever `keep-work` says, and tell where it is (--check's diffoscope). */
  keptWork?: (work: string) => void
}

export interface BuildOutput extends Collected {
  log: string
  seconds: number
}

export async function fetchSources(plan: BuildPlan, opts: Pick<RunOptions, 'layout' | 'mirrors' | 'reporter' | 'signal'>): Promise<{ host: string; name: string }[]> {
  const dir = buildPaths(opts.layout).sources
  const out: { host: string; name: string }[] = []
  for (const src of plan.recipe.sources) {
    const dest = path.join(dir, `${src.sha256.slice(0, 16)}-${src.file}`)
    const urls = sourceUrls(src, opts.mirrors)
    try {
      await download({ urls, dest, expectHash: { algorithm: 'sha256', digest: src.sha256 }, retries: 1, reporter: opts.reporter, label: src.file, ...(opts.signal ? { signal: opts.signal } : {}) })
    } catch (e) {
      // A mirror that served other bytes is the story, even when other mirrors were unreachable.
      const attempts = (e as NipError).data?.attempts as { reason: string; url: string }[] | undefined
      const wrong = attempts?.filter((a) => a.reason === 'hash-mismatch') ?? []
      if (e instanceof NipError && e.code === 'ERR_NIP_FETCH_FAILED' && wrong.length > 0) {
        throw new NipError('ERR_NIP_HASH_MISMATCH', `${src.file} from ${wrong.map((w) => w.url).join(', ')} does not have the SHA-256 ${src.sha256} that ${plan.recipe.file} names.\n${e.message}`, {
          hint: 'Either the recipe names the wrong hash or the mirror serves other bytes; nothing was built or grafted.',
          data: { ...e.data, file: src.file, expected: src.sha256, recipe: plan.recipe.file },
          cause: e,
        })
      }
      throw e
    }
    if (src.signature) await verifySignature(plan, src, dest, { ...opts, sigPath: `${dest}.sig` })
    out.push({ host: dest, name: src.file })
  }
  return out
}

/**
 * Checks upstream's detached signature of a fetched source against the key the recipe names
 * (ERR_NIP_SIGNATURE_INVALID, ERR_NIP_KEY_UNKNOWN, ERR_NIP_KEYRING_INVALID from core's OpenPGP).
 */
async function verifySignature(plan: BuildPlan, src: Recipe['sources'][number], file: string, opts: Pick<RunOptions, 'mirrors' | 'signal' | 'reporter'> & { sigPath: string }): Promise<void> {
  const sig = src.signature!
  const urls = [...(sig.debian ? opts.mirrors.map((m) => poolUrl(m, sig.debian!)) : []), ...(sig.url ? [sig.url] : [])]
  let keyText: Buffer
  try {
    keyText = readFileSync(sig.key)
  } catch (e) {
    throw new NipError('ERR_NIP_KEYRING_INVALID', `The signing key ${sig.key} that ${plan.recipe.file} names cannot be read: ${(e as Error).message}`, { hint: 'Fix signing-key in the recipe.', data: { key: sig.key, recipe: plan.recipe.file } })
  }
  const keyring = await readKeyring(keyText)
  // Kept beside the source in the cache: it is checked again on every build, fetched once.
  if (!existsSync(opts.sigPath)) await download({ urls, dest: opts.sigPath, maxSize: 1 << 20, retries: 1, label: `${src.file} signature`, ...(opts.signal ? { signal: opts.signal } : {}) })
  const signature = readFileSync(opts.sigPath)
  try {
    const good = await verifyDetached({ data: readFileSync(file), signature, keyring })
    opts.reporter.emit({ type: 'info', message: `${src.file}: good signature by ${good.userIds[0] ?? good.fingerprint} (${good.fingerprint})` })
  } catch (e) {
    if (e instanceof NipError) throw new NipError(e.code, `${src.file}: upstream's signature does not verify with ${sig.key}: ${e.message}`, { hint: 'Nothing was built or grafted; check the recipe\'s signing-key, or whether the source was tampered with.', data: { ...e.data, file: src.file, key: sig.key, recipe: plan.recipe.file }, cause: e })
    throw e
  }
}

export async function runBuild(plan: BuildPlan, opts: RunOptions): Promise<BuildOutput> {
  const started = process.hrtime.bigint()
  const executor = opts.executor ?? createExecutor(opts.settings)
  const probe = await executor.probe()
  if (!probe.ok) {
    throw new NipError('ERR_NIP_EXECUTOR_MISSING', `Cannot build ${plan.name} with the ${executor.id} executor: ${probe.detail}`, { hint: 'docs/build.md says how to set up bubblewrap and Podman; nothing was grafted.', data: { executor: executor.id, detail: probe.detail } })
  }
  const sources = await fetchSources(plan, opts)
  const log = opts.logFile ?? buildLogPath(opts.layout.logDir, plan.name, plan.version, plan.fingerprint)
  const work = makeWorkDir(buildPaths(opts.layout).work, opts.workLabel ?? `${plan.name}-${plan.fingerprint.slice(0, 12)}`)
  const fd = openLog(log)
  let kept = false
  try {
    appendLog(fd, `# nip build ${plan.name} ${plan.version}\n# fingerprint ${plan.fingerprint}\n# executor ${plan.executor.id} (${plan.executor.version})\n`)
    const view = planLinkView(opts.layout.programsDir, plan.dependencies.filter((d) => d.version !== '').map((d) => d.program))
    writeLinkView(path.join(work, 'deps'), view)
    if (view.length > 0) appendLog(fd, `# dependency view: ${view.length} links (${plan.dependencies.map((d) => `${d.program} ${d.version}`).join(', ')})\n`)
    const views = [{ host: opts.layout.programsDir, inside: '/Programs' }]
    const jobs = String(opts.settings.jobs)
    for (const step of plan.steps.steps) {
      opts.signal?.throwIfAborted()
      const argv = step.argv.map((a) => a.split(JOBS).join(jobs))
      const env = step.env ? Object.fromEntries(Object.entries(step.env).map(([k, v]) => [k, v.split(JOBS).join(jobs)])) : undefined
      appendLog(fd, `\n## ${step.name}: ${argv.map(shellQuote).join(' ')}\n`)
      opts.reporter.emit({ type: 'info', message: `build ${plan.name} ${plan.version}: ${step.name}` })
      const outcome = await executor.run({ ...step, argv, ...(env ? { env } : {}) }, { mounts: { workDir: work, sources, views }, env: plan.steps.env, logFd: fd, ...(opts.signal ? { signal: opts.signal } : {}) })
      if (outcome.exitCode !== 0) {
        const status = outcome.signal ? `was killed by ${outcome.signal}` : `exited with status ${outcome.exitCode}`
        appendLog(fd, `\n## ${step.name} ${status}\n`)
        const last = tailLines(log, 25)
        throw new NipError('ERR_NIP_BUILD_FAILED', `Building ${plan.name} ${plan.version} failed: step "${step.name}" ${status}. Last lines of the log:\n${last.map((l) => `  ${l}`).join('\n')}\nFull log: ${log}`, {
          hint: `Read the log (nip logs --build ${plan.name}); nothing was grafted.`,
          data: { recipe: plan.recipe.name, version: plan.version, step: step.name, exitCode: outcome.exitCode, signal: outcome.signal, log, fingerprint: plan.fingerprint },
        })
      }
    }
    const collected = await collectTree({ destDir: path.join(work, 'dest'), prefix: plan.steps.prefix, ...(opts.cas ? { cas: opts.cas } : {}) })
    if (collected.entries.length === 0) {
      throw new NipError('ERR_NIP_BUILD_FAILED', `Building ${plan.name} ${plan.version} installed nothing under ${plan.steps.prefix}.`, { hint: `Check the recipe's install step (log: ${log}); nothing was grafted.`, data: { log, prefix: plan.steps.prefix } })
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    appendLog(fd, `\n## done in ${seconds.toFixed(1)} s: ${collected.entries.length} entries, tree ${collected.digest}\n`)
    if (opts.keptWork) {
      kept = true
      opts.keptWork(work)
    }
    return { ...collected, log, seconds }
  } finally {
    closeLog(fd)
    if (!opts.settings.keepWork && !kept) removeTree(work)
  }
}

/** Records a build's output under its fingerprint (the local cache; the fleet cache will publish the same key). */
export function storeOutput(layout: Layout, plan: BuildPlan, out: BuildOutput): void {
  const rec: StoredOutput = { fingerprint: plan.fingerprint, name: plan.name, version: plan.version, digest: out.digest, entries: out.entries, builtAt: new Date().toISOString(), log: out.log }
  writeJsonAtomic(path.join(buildPaths(layout).outputs, `${plan.fingerprint}.json`), rec)
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
}
