/**
 * The debian source adapter. Not implemented yet: it registers itself so that `nip sources`
 * lists it, reports itself as unconfigured, and resolves nothing. Its implementation is a
 * separate piece of work (see docs/adapters.md).
 */
import { notImplementedAdapter, type SourceAdapter } from '@nip/core'

export function createAdapter(): SourceAdapter {
  return notImplementedAdapter('debian')
}
