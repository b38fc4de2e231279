/**
 * The fingerprint of a build (Spack's DAG hash, Nix's derivation hash): BLAKE3 over everything
 * that can change the output — the recipe's bytes, the sources' SHA-256, the resolved variants,
 * the active profiles' bytes and the flags, options and steps they lead to, the dependencies'
 * tree digests, and the executor with its toolchain versions. One canonical JSON document is
 * hashed (arrays in a fixed order, keys written in a fixed order), so equal inputs give equal
 * fingerprints on every machine. It is the cache key: a build whose fingerprint is stored is
 * grafted without building.
 */
import { blake3Hex } from '@nip/cas'
import type { Profile } from './profile.js'
import type { Recipe } from './recipe.js'
import type { ResolvedVariants } from './variants.js'
import type { StepPlan } from './plan.js'

export interface DependencyDigest {
  /** The spec as the recipe wrote it. */
  spec: string
  /** What is grafted for it: program, version and tree digest (empty when not grafted). */
  program: string
  version: string
  digest: string
}

export interface ExecutorIdentity {
  id: string
  version: string
  /** Tool → first line of its `--version`. */
  toolchain: Record<string, string>
}

export const FINGERPRINT_SCHEMA = 'nip-build-fingerprint/1'

export function fingerprintDocument(input: { recipe: Recipe; profiles: Profile[]; resolved: ResolvedVariants; plan: StepPlan; dependencies: DependencyDigest[]; executor: ExecutorIdentity }): string {
  const { recipe, resolved, plan } = input
  const doc = [
    FINGERPRINT_SCHEMA,
    ['recipe', recipe.name, blake3Hex(Buffer.from(recipe.text, 'utf8'))],
    ['sources', recipe.sources.map((s) => [s.file, s.sha256, s.stripComponents, s.into ?? ''])],
    ['variants', Object.keys(resolved.values).sort().map((k) => [k, resolved.values[k]])],
    ['profiles', input.profiles.map((p) => [p.name, blake3Hex(Buffer.from(p.text, 'utf8'))]).sort()],
    ['flags', plan.cflags, plan.cxxflags, plan.ldflags],
    ['options', plan.options],
    ['steps', plan.steps.map((s) => [s.name, s.argv, s.cwd, Object.entries(s.env ?? {}).sort()])],
    ['env', Object.entries(plan.env).sort()],
    ['prefix', plan.prefix],
    ['dependencies', input.dependencies.map((d) => [d.spec, d.program, d.version, d.digest]).sort()],
    ['executor', input.executor.id, input.executor.version, Object.entries(input.executor.toolchain).sort()],
  ]
  return JSON.stringify(doc)
}

export function fingerprint(document: string): string {
  return blake3Hex(Buffer.from(document, 'utf8'))
}
