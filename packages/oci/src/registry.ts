/** A client for one configured registry, with the settings' credentials, transport and retries. */
import type { Reporter } from '@nip/core'
import { RegistryClient } from './client.js'
import { findCredentials, type Env } from './credentials.js'
import type { RegistryRef } from './reference.js'
import type { OciSettings } from './settings.js'

export function clientFor(ref: RegistryRef, settings: OciSettings, opts: { reporter?: Reporter; signal?: AbortSignal; env?: Env } = {}): RegistryClient {
  const credentials = findCredentials(ref.host, settings.credentials, opts.env)
  return new RegistryClient({
    ref,
    insecure: settings.insecure.has(ref.host),
    ...(credentials ? { credentials } : {}),
    retries: settings.retries,
    timeoutMs: settings.timeoutMs,
    chunkSize: settings.chunkSize,
    ...(opts.reporter ? { reporter: opts.reporter } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  })
}

/** Runs `work` over `items` with at most `jobs` at once; the first failure rejects (after the running ones settle). */
export async function eachLimited<T>(items: T[], jobs: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0
  let failure: unknown
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const i = next++
      try {
        await work(items[i], i)
      } catch (e) {
        failure ??= e
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, worker))
  if (failure !== undefined) throw failure
}
