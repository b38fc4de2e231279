/**
 * Hostile archives through the whole install pipeline: one per refusal of the safe unpacker.
 * After each: the right error code, nothing written outside the target root, no program
 * half-grafted (no directory, no DB row, no link), and the store consistent.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { TarAdapter, buildHostileArchives, buildTar, openNip, checkConsistency, listTree } from '@nip/testing'
import { NipError } from '@nip/core'

describe('hostile archives are refused end to end', () => {
  let parent: string
  let root: string
  beforeEach(() => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-hostile-'))
    root = path.join(parent, 'root')
    fs.mkdirSync(root)
    // a sibling directory an escape would land in
    fs.mkdirSync(path.join(parent, 'outside'))
  })
  afterEach(() => fs.rmSync(parent, { recursive: true, force: true }))

  const cases = Object.entries(buildHostileArchives())
  assert.ok(cases.length >= 10)
  // Unpacked in place: a large archive's files are created in the staging directory as they are stored.
  for (const [label, hostile, inPlace] of cases.flatMap(([l, h]) => [[l, h, false], [l, h, true]] as const)) {
    it(`${label} → ${hostile.code}${inPlace ? ' (unpacked in place)' : ''}`, async () => {
      const archive = await buildTar(hostile.entries, { compression: 'gzip' })
      const { nip } = await openNip(root, [new TarAdapter([{ name: 'evil', version: '1.0', archive, ...(inPlace ? { sourceSize: 8 << 20 } : {}) }])])
      try {
        await assert.rejects(nip.install(['evil']), (e: unknown) => {
          assert.ok(e instanceof NipError, String(e))
          assert.equal(e.code, hostile.code, e.message)
          assert.ok(e.hint, 'a refusal carries a hint')
          return true
        })
        // nothing outside the root
        assert.deepEqual(listTree(parent).filter((p) => p !== 'root' && !p.startsWith('root/')), ['outside'])
        // nothing half-grafted
        assert.deepEqual(nip.list(), [])
        assert.deepEqual(fs.readdirSync(path.join(root, 'Programs')), [])
        assert.deepEqual(listTree(path.join(root, 'System/Links')).filter((p) => !/^(Executables|Libraries|Headers|Shared|Manuals)$/.test(p)), [])
        assert.deepEqual((await checkConsistency(nip)).problems, [])
        assert.equal(nip.logs(1)[0].error?.code, hostile.code)
      } finally {
        nip.close()
      }
    })
  }

  it('clears setuid/setgid bits, warns, and grafts the rest', async () => {
    const archive = await buildTar(
      [
        { path: 'bin/su-like', content: '#!/bin/sh\n', mode: 0o4755 },
        { path: 'bin/sg-like', content: '#!/bin/sh\necho g\n', mode: 0o2755 },
      ],
      { compression: 'zstd' },
    )
    const { nip, reporter } = await openNip(root, [new TarAdapter([{ name: 'suid', version: '1', archive }])])
    try {
      await nip.install(['suid'])
      for (const f of ['su-like', 'sg-like']) {
        const st = fs.statSync(path.join(root, 'Programs/suid/1/bin', f))
        assert.equal(st.mode & 0o7000, 0, `${f} keeps no special bits`)
      }
      const warned = reporter.warnings().filter((w) => w.code === 'setuid-cleared').map((w) => (w.data as { path: string }).path).sort()
      assert.deepEqual(warned, ['bin/sg-like', 'bin/su-like'])
      assert.deepEqual((await checkConsistency(nip)).problems, [])
    } finally {
      nip.close()
    }
  })
})
