/**
 * Ecosystem builds (`nip build --source gentoo|nix`): the ecosystem's own tool (emerge, nix-build)
 * runs in an executor and its binary package or output closure goes through that adapter's
 * existing reader into the CAS (DESIGN §8). The build source answers spec names
 * `gentoo:<category>/<name>`; the CLI's `build --source gentoo` writes them. (Nix builds are
 * grafted by the Nix adapter itself from the signed binary cache nixBuild.ts fills.)
 */
import type { AdapterContext, FetchResult, PackageManifest, PackageRef, PackageSpec } from '@nip/core'
import { NipError } from '@nip/core'
import type { Executor } from './executor.js'

export type Ecosystem = 'gentoo'

export function ecosystemOf(nameOrId: string): Ecosystem | null {
  if (nameOrId.startsWith('gentoo:')) return 'gentoo'
  return null
}

async function module(_eco: Ecosystem) {
  return import('./gentoo/gentooBuild.js')
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
