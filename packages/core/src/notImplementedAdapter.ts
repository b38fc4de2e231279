/**
 * An adapter placeholder for a source whose implementation has not landed: it is listed by
 * `nip sources` as unconfigured, resolves nothing (so the dispatcher moves on and names it in
 * ERR_NIP_NOT_FOUND), and refuses every other operation with ERR_NIP_NOT_IMPLEMENTED.
 */
import type { AdapterId, SourceAdapter } from './adapter.js'
import { NipError } from './errors.js'

export function notImplementedAdapter(id: AdapterId): SourceAdapter {
  const refuse = (op: string): never => {
    throw new NipError('ERR_NIP_NOT_IMPLEMENTED', `The ${id} source cannot ${op} yet: its adapter is not implemented in this version of nip.`, {
      hint: 'Use another source (nip sources lists them), or a local package file.',
      data: { source: id, operation: op },
    })
  }
  return {
    id,
    async probe() {
      return { id, configured: false, reachable: null, detail: 'adapter not implemented in this version' }
    },
    async *search() {},
    async resolve() {
      return []
    },
    async describe() {
      return refuse('describe packages')
    },
    async fetch() {
      return refuse('fetch packages')
    },
    compareVersions(a, b) {
      return a < b ? -1 : a > b ? 1 : 0
    },
    satisfies() {
      return refuse('check dependencies')
    },
  }
}
