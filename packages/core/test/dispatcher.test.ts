import assert from 'node:assert/strict'
import fs from 'node:fs'
import { MemoryAdapter, openNip, tempRoot } from '@nip/testing'
import { NipError, type PackageSpec } from '@nip/core'

/** A source whose index fails verification. */
class TamperedAdapter extends MemoryAdapter {
  override async resolve(_spec: PackageSpec): Promise<never> {
    throw new NipError('ERR_NIP_SIGNATURE_INVALID', 'tampered: the index signature does not verify', { hint: 'check the keyring' })
  }
}

describe('dispatcher', () => {
  it('stops at a source that fails verification instead of falling through to the next one', async () => {
    const root = await tempRoot()
    const { nip } = await openNip(root, [new TamperedAdapter([], { id: 'first' }), new MemoryAdapter([{ name: 'hello', version: '1', files: { 'bin/hello': 'x' } }], { id: 'second' })])
    try {
      await assert.rejects(nip.install(['hello']), (e: unknown) => {
        assert.ok(e instanceof NipError)
        assert.equal(e.code, 'ERR_NIP_SIGNATURE_INVALID')
        assert.equal(e.exitCode, 65)
        assert.deepEqual((e.data.tried as { source: string }[]).map((t) => t.source), ['first'])
        return true
      })
      assert.deepEqual(nip.list(), [])
      // naming the other source explicitly still works
      const r = await nip.install(['second:hello'])
      assert.equal(r.grafted[0].source, 'second')
    } finally {
      nip.close()
      fs.rmSync(root, { recursive: true, force: true })
    }
  })
})
