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

/** A source whose mirrors are all down. */
class UnreachableAdapter extends MemoryAdapter {
  override async resolve(_spec: PackageSpec): Promise<never> {
    throw new NipError('ERR_NIP_FETCH_FAILED', 'every mirror failed: http://127.0.0.1:9/index (connection refused)', { data: { urls: ['http://127.0.0.1:9/index'] } })
  }
}

describe('dispatcher', () => {
  it('passes on the error of the only source asked; with several, reports not found with each outcome', async () => {
    const root = await tempRoot()
    const { nip } = await openNip(root, [new UnreachableAdapter([], { id: 'down' }), new MemoryAdapter([], { id: 'empty' })])
    try {
      await assert.rejects(nip.install(['down:hello']), (e: unknown) => {
        assert.ok(e instanceof NipError)
        assert.equal(e.code, 'ERR_NIP_FETCH_FAILED')
        assert.deepEqual(e.data.urls, ['http://127.0.0.1:9/index'])
        assert.deepEqual((e.data.tried as { source: string; code?: string }[]).map((t) => [t.source, t.code]), [['down', 'ERR_NIP_FETCH_FAILED']])
        return true
      })
      await assert.rejects(nip.install(['hello']), (e: unknown) => {
        assert.ok(e instanceof NipError)
        assert.equal(e.code, 'ERR_NIP_NOT_FOUND')
        assert.match(e.message, /down: ERR_NIP_FETCH_FAILED/)
        assert.match(e.message, /empty: has no package named hello/)
        return true
      })
    } finally {
      nip.close()
      fs.rmSync(root, { recursive: true, force: true })
    }
  })

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
