/** The executor the settings name: bubblewrap (default) or Podman. */
import { BwrapExecutor } from './bwrap.js'
import type { Executor } from './executor.js'
import { PodmanExecutor } from './podman.js'
import type { BuildSettings } from './settings.js'

export function createExecutor(settings: Pick<BuildSettings, 'executor' | 'podmanSocket' | 'image'>): Executor {
  return settings.executor === 'podman' ? new PodmanExecutor({ socket: settings.podmanSocket, image: settings.image }) : new BwrapExecutor()
}
