/**
 * A build plan: everything a build will do, decided before anything is fetched — the resolved
 * variants and profiles, the compiler flags in their order of precedence, the steps of the build
 * system, the environment, and the fingerprint over all of it. `nip build --dry-run` shows it;
 * the executor only carries it out.
 *
 * Flag precedence (later wins, as the compiler reads them): nip's base flags → profiles → the
 * configuration's `[build] cflags/ldflags` → the recipe's → the command line's `cflags=`/`ldflags=`.
 * Options to configure/cmake/meson: profiles → recipe → variants.
 */
import type { BuildSystem, CustomStep, Recipe } from './recipe.js'
import type { Profile } from './profile.js'
import type { ResolvedVariants } from './variants.js'
import { variantVersion } from './variants.js'

/** Paths inside the sandbox: fixed, so builds do not depend on where the work directory is. */
export const SANDBOX = {
  build: '/build',
  src: '/build/src',
  dest: '/build/dest',
  home: '/build/home',
  sources: '/build/sources',
  deps: '/build/deps',
} as const

export const BASE_CFLAGS = ['-O2', `-ffile-prefix-map=${SANDBOX.build}=.`]

export interface PlannedStep {
  name: string
  argv: string[]
  /** Working directory inside the sandbox. */
  cwd: string
  env?: Record<string, string>
}

export interface FlagLayers {
  config: { cflags: string[]; ldflags: string[] }
}

export interface StepPlan {
  version: string
  prefix: string
  cflags: string[]
  cxxflags: string[]
  ldflags: string[]
  options: string[]
  steps: PlannedStep[]
  env: Record<string, string>
  buildDependencies: string[]
  runtimeDependencies: string[]
}

/** Stands for the number of parallel jobs in step arguments; replaced when a step runs, so the fingerprint does not depend on the machine's CPU count. */
export const JOBS = '@JOBS@'

export function planSteps(opts: { recipe: Recipe; profiles: Map<string, Profile>; resolved: ResolvedVariants; layers: FlagLayers }): StepPlan {
  const { recipe, resolved } = opts
  const active = resolved.profiles.map((p) => opts.profiles.get(p)!)
  const version = variantVersion(recipe.version, resolved)
  const prefix = `/Programs/${recipe.name}/${version}`
  const cflags = [...BASE_CFLAGS, ...active.flatMap((p) => p.cflags), ...opts.layers.config.cflags, ...recipe.build.cflags, ...resolved.cflags]
  const cxxflags = [...BASE_CFLAGS, ...active.flatMap((p) => [...p.cflags, ...p.cxxflags]), ...opts.layers.config.cflags, ...recipe.build.cflags, ...resolved.cflags]
  const ldflags = [...active.flatMap((p) => p.ldflags), ...opts.layers.config.ldflags, ...recipe.build.ldflags, ...resolved.ldflags]
  const system: BuildSystem = recipe.build.system
  const options = [...active.flatMap((p) => [...(p.options[system] ?? []), ...(recipe.profileOptions[p.name] ?? [])]), ...recipe.build.options]
  const buildDependencies = [...recipe.buildDependencies]
  const runtimeDependencies = [...recipe.runtimeDependencies]
  for (const v of recipe.variants.values()) {
    const val = resolved.values[v.name]
    if (v.kind === 'bool') {
      options.push(...(val ? v.on : v.off))
      if (val) {
        buildDependencies.push(...v.buildDependencies)
        runtimeDependencies.push(...v.runtimeDependencies)
      }
    } else {
      options.push(...(v.options[val as string] ?? []))
      buildDependencies.push(...(v.buildDependencies[val as string] ?? []))
      runtimeDependencies.push(...(v.runtimeDependencies[val as string] ?? []))
    }
  }
  const src = recipe.build.subdir ? `${SANDBOX.src}/${recipe.build.subdir}` : SANDBOX.src
  const jobs = recipe.build.parallel ? JOBS : '1'
  const steps: PlannedStep[] = []
  for (const s of recipe.sources) {
    const into = s.into ? `${SANDBOX.src}/${s.into}` : SANDBOX.src
    steps.push({ name: `unpack ${s.file}`, argv: ['sh', '-c', 'mkdir -p "$1" && exec tar -xf "$2" -C "$1" --strip-components="$3" --no-same-owner', 'unpack', into, `${SANDBOX.sources}/${s.file}`, String(s.stripComponents)], cwd: SANDBOX.build })
  }
  const custom = (list: CustomStep[], env?: Record<string, string>) => list.map((c) => ({ name: c.name, argv: c.run, cwd: src, ...(env ? { env } : {}) }))
  const vars = { PREFIX: prefix, DESTDIR: SANDBOX.dest, JOBS: jobs }
  steps.push(...custom(recipe.build.preConfigure, vars))
  const make = recipe.build.makeOptions
  switch (system) {
    case 'autotools':
      steps.push({ name: 'configure', argv: ['./configure', `--prefix=${prefix}`, ...options], cwd: src })
      steps.push({ name: 'make', argv: ['make', `-j${jobs}`, ...make], cwd: src })
      steps.push({ name: 'install', argv: ['make', 'install', `DESTDIR=${SANDBOX.dest}`, ...make], cwd: src })
      break
    case 'cmake':
      steps.push({ name: 'configure', argv: ['cmake', '-S', '.', '-B', '_nip-build', `-DCMAKE_INSTALL_PREFIX=${prefix}`, '-DCMAKE_BUILD_TYPE=Release', ...options], cwd: src })
      steps.push({ name: 'make', argv: ['cmake', '--build', '_nip-build', '-j', jobs, ...(make.length ? ['--', ...make] : [])], cwd: src })
      steps.push({ name: 'install', argv: ['cmake', '--install', '_nip-build'], cwd: src, env: { DESTDIR: SANDBOX.dest } })
      break
    case 'meson':
      steps.push({ name: 'configure', argv: ['meson', 'setup', '_nip-build', `--prefix=${prefix}`, '--buildtype=release', ...options], cwd: src })
      steps.push({ name: 'make', argv: ['meson', 'compile', '-C', '_nip-build', '-j', jobs, ...make], cwd: src })
      steps.push({ name: 'install', argv: ['meson', 'install', '-C', '_nip-build', '--destdir', SANDBOX.dest], cwd: src })
      break
    case 'make':
      steps.push({ name: 'make', argv: ['make', `-j${jobs}`, `PREFIX=${prefix}`, ...options, ...make], cwd: src })
      steps.push({ name: 'install', argv: ['make', 'install', `PREFIX=${prefix}`, `DESTDIR=${SANDBOX.dest}`, ...options, ...make], cwd: src })
      break
    case 'custom':
      steps.push(...custom(recipe.build.steps, vars))
      break
  }
  const env: Record<string, string> = {
    PATH: `${SANDBOX.deps}/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`,
    HOME: SANDBOX.home,
    TMPDIR: '/tmp',
    TZ: 'UTC',
    LC_ALL: 'C',
    LANG: 'C',
    SOURCE_DATE_EPOCH: String(recipe.sourceDateEpoch),
    CFLAGS: cflags.join(' '),
    CXXFLAGS: cxxflags.join(' '),
    LDFLAGS: ldflags.join(' '),
    // The link view of the declared dependencies (linkView.ts), pointing into /Programs.
    CPATH: `${SANDBOX.deps}/include`,
    LIBRARY_PATH: `${SANDBOX.deps}/lib`,
    LD_LIBRARY_PATH: `${SANDBOX.deps}/lib`,
    PKG_CONFIG_PATH: `${SANDBOX.deps}/lib/pkgconfig:${SANDBOX.deps}/share/pkgconfig`,
  }
  return { version, prefix, cflags, cxxflags, ldflags, options, steps, env, buildDependencies, runtimeDependencies }
}
