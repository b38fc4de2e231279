/**
 * Ecosystem builds (`nip build --source gentoo|nix`): the ecosystem's own tool (emerge, nix-build)
 * runs in an executor and its binary package or output closure goes through that adapter's
 * existing reader into the CAS (DESIGN §8). The build source answers spec names
 * `gentoo:<category>/<name>` and `nix:<file>`; the CLI's `build --source` writes them.
 */
import type { AdapterContext, FetchResult, PackageManifest, PackageRef, PackageSpec } from '@nip/core'
import { NipError } from '@nip/core'
import type { Executor } from './executor.js'

export type Ecosystem = 'gentoo' | 'nix'

export function ecosystemOf(nameOrId: string): Ecosystem | null {
  if (nameOrId.startsWith('gentoo:')) return 'gentoo'
  if (nameOrId.startsWith('nix:')) return 'nix'
  return null
}

async function module(eco: Ecosystem) {
  return eco === 'gentoo' ? import('./gentoo/gentooBuild.js') : import('./nixBuild.js')
}

export async function ecosystemResolve(spec: PackageSpec, ctx: AdapterContext, executor: Executor): Promise<PackageRef[]> {
  const eco = ecosystemOf(spec.name)!
  return (await module(eco)).resolve(spec, ctx, executor)
}

export async function ecosystemDescribe(ref: PackageRef, ctx: AdapterContext, executor: Executor): Promise<PackageManifest> {
  const eco = ecosystemOf(ref.id)!
  return (await module(eco)).describe(ref, ctx, executor)
}

export async function ecosystemFetch(ref: PackageRef, ctx: AdapterContext, executor: Executor): Promise<FetchResult> {
  const eco = ecosystemOf(ref.id)
  if (!eco) throw new NipError('ERR_NIP_INTERNAL', `Not an ecosystem build: ${ref.id}`)
  return (await module(eco)).fetch(ref, ctx, executor)
}
