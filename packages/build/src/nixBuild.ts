import type { AdapterContext, FetchResult, PackageManifest, PackageRef, PackageSpec } from '@nip/core'
import { NipError } from '@nip/core'
import type { Executor } from './executor.js'

const notYet = () => new NipError('ERR_NIP_NOT_IMPLEMENTED', 'This ecosystem build is not implemented yet.', { hint: 'See docs/bootstrap.md.' })
export async function resolve(_spec: PackageSpec, _ctx: AdapterContext, _e: Executor): Promise<PackageRef[]> {
  throw notYet()
}
export async function describe(_ref: PackageRef, _ctx: AdapterContext, _e: Executor): Promise<PackageManifest> {
  throw notYet()
}
export async function fetch(_ref: PackageRef, _ctx: AdapterContext, _e: Executor): Promise<FetchResult> {
  throw notYet()
}
