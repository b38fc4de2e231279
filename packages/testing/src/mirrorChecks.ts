/**
 * The ending every adapter's "every mirror fails" tests share (flakyMirror.test.ts of each
 * adapter): the attempt is refused with its code, naming every URL it tried; each mirror saw the
 * requests it should; nothing is grafted, registered or kept in the cache; the root is consistent.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { isNipError, type Nip } from '@nip/core'
import type { Mirror } from './mirror.js'
import { checkConsistency } from './scenario.js'

export interface EveryMirrorRefusal {
  /** What must fail (an install through every mirror). */
  attempt: () => Promise<unknown>
  code: 'ERR_NIP_FETCH_FAILED' | 'ERR_NIP_HASH_MISMATCH'
  /** The mirrors, in the order they are tried. */
  mirrors: Mirror[]
  /** The failing file's URL path, the same on every mirror ("/repo/x.pkg.tar.zst"). */
  file: string
  /** Each mirror's requests for it: how many, or exactly which statuses. */
  requests: number | number[]
  /** Further patterns the message must match (the faults' own words). */
  message?: RegExp[]
  /** What the source's cache still holds of the package: must be nothing. */
  leftovers: () => string[]
}

/**
 * The URLs are named in the message, and for ERR_NIP_FETCH_FAILED they are `data.urls` exactly,
 * in order. Closes `nip`.
 */
export async function expectEveryMirrorRefused(nip: Nip, root: string, o: EveryMirrorRefusal): Promise<void> {
  try {
    const urls = o.mirrors.map((m) => `${m.url}${o.file}`)
    await assert.rejects(o.attempt(), (e: unknown) => {
      assert.ok(isNipError(e, o.code), String(e))
      if (o.code === 'ERR_NIP_FETCH_FAILED') assert.deepEqual(e.data.urls, urls)
      for (const u of urls) assert.ok(e.message.includes(u), `${u} named in: ${e.message}`)
      for (const m of o.message ?? []) assert.match(e.message, m)
      return true
    })
    for (const m of o.mirrors) {
      const statuses = m.requestsFor(o.file).map((r) => r.status)
      if (typeof o.requests === 'number') assert.equal(statuses.length, o.requests, `requests for ${m.url}${o.file}: ${statuses.join(' ')}`)
      else assert.deepEqual(statuses, o.requests, `requests for ${m.url}${o.file}`)
    }
    assert.deepEqual(nip.list(), [])
    const programs = path.join(root, 'Programs')
    assert.deepEqual(fs.existsSync(programs) ? fs.readdirSync(programs) : [], [])
    assert.deepEqual(o.leftovers(), [], 'no unverified package kept')
    assert.deepEqual((await checkConsistency(nip)).problems, [])
  } finally {
    nip.close()
  }
}
