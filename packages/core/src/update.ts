/**
 * `nip update`: every enabled source refreshes its local index from the network, one result per
 * source. A source that fails keeps its last good copy (the adapter's contract); a source
 * without a local index (no `update`) says so.
 *
 * Contract: writes nothing itself; each adapter writes only its own cache directory.
 */
import type { AdapterId, SourceUpdate } from './adapter.js'
import type { Dispatcher } from './dispatcher.js'
import { isNipError } from './errors.js'

/** `index-max-age` when the configuration has none: one day. */
export const DEFAULT_INDEX_MAX_AGE = 86400

export interface UpdateResult {
  sources: SourceUpdate[]
  /** True when no source failed. */
  ok: boolean
}

export async function updateSources(dispatcher: Dispatcher, only?: AdapterId): Promise<UpdateResult> {
  const ids = only !== undefined ? [only] : dispatcher.enabledIds()
  if (only !== undefined) await dispatcher.adapter(only) // ERR_NIP_UNKNOWN_SOURCE for a name nip does not know
  const sources: SourceUpdate[] = []
  for (const id of ids) {
    try {
      const adapter = await dispatcher.adapter(id)
      if (adapter.update === undefined) {
        sources.push({ source: id, status: 'not-supported', detail: 'no local index: its metadata is read when a command needs it' })
        continue
      }
      const ctx = dispatcher.context(id)
      sources.push(await adapter.update({ ...ctx, index: { maxAgeSeconds: ctx.index?.maxAgeSeconds ?? DEFAULT_INDEX_MAX_AGE, refresh: 'force' } }))
    } catch (e) {
      const code = isNipError(e) ? e.code : 'ERR_NIP_INTERNAL'
      sources.push({ source: id, status: 'failed', detail: (e as Error).message, error: { code, message: (e as Error).message } })
    }
  }
  return { sources, ok: sources.every((s) => s.status !== 'failed') }
}
