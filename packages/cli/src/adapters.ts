/**
 * The source adapters nip ships, as lazy factories: an adapter package is imported only when a
 * command needs that source, so `nip --help`, `nip list` and friends load none of them. A package
 * that does not export createAdapter is served by core's not-implemented placeholder.
 */
import type { SourceAdapter } from '@nip/core'

interface AdapterModule {
  createAdapter?: () => SourceAdapter
}

async function instantiate(id: string, load: () => Promise<unknown>): Promise<SourceAdapter> {
  const mod = (await load()) as AdapterModule
  if (typeof mod.createAdapter === 'function') return mod.createAdapter()
  const { notImplementedAdapter } = await import('@nip/core')
  return notImplementedAdapter(id)
}

export const adapterFactories: Record<string, () => Promise<SourceAdapter>> = {
  gobo: () => instantiate('gobo', () => import('@nip/adapter-gobo')),
  nix: () => instantiate('nix', () => import('@nip/adapter-nix')),
  pkgsrc: () => instantiate('pkgsrc', () => import('@nip/adapter-pkgsrc')),
  pacman: () => instantiate('pacman', () => import('@nip/adapter-pacman')),
  gentoo: () => instantiate('gentoo', () => import('@nip/adapter-gentoo')),
  debian: () => instantiate('debian', () => import('@nip/adapter-debian')),
  build: () => instantiate('build', () => import('@nip/build')),
  oci: () => instantiate('oci', () => import('@nip/oci')),
}
