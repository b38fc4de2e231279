/** docs/errors.md lists every code of ERROR_CODES with its exit status, and nothing else. */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { ERROR_CODES } from '@nip/core'
import { REPO_DIR } from './helpers.js'

describe('docs/errors.md', () => {
  it('has one row per error code with the right exit status', () => {
    const doc = fs.readFileSync(path.join(REPO_DIR, 'docs', 'errors.md'), 'utf8')
    const rows = new Map<string, number>()
    for (const m of doc.matchAll(/^\| `(ERR_NIP_[A-Z_]+)` \| (\d+) \|/gm)) {
      assert.ok(!rows.has(m[1]), `${m[1]} is listed twice`)
      rows.set(m[1], Number(m[2]))
    }
    const expected = new Map(Object.entries(ERROR_CODES).map(([code, { exit }]) => [code, exit as number]))
    assert.deepEqual(rows, expected, 'run: node scripts/gen-errors-doc.mjs')
  })
})
