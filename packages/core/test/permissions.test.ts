/**
 * Permissions: nip (often root) never follows a symlink planted in the tree to write elsewhere;
 * files are moded as documented (blobs and program files read-only, settings private copies).
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { MemoryAdapter, openNip, checkConsistency, listTree, type MemoryPackage } from '@nip/testing'
import { NipError } from '@nip/core'

const hello: MemoryPackage = {
  name: 'hello',
  version: '1.0',
  files: {
    'bin/hello': '#!/bin/sh\necho hi\n',
    'share/hello/greeting.txt': 'hi\n',
    'Settings/hello.conf': { content: 'x=1\n', mode: 0o640, settings: true },
  },
}

describe('planted symlinks and modes', () => {
  let parent: string
  let root: string
  let outside: string
  beforeEach(() => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-perm-'))
    root = path.join(parent, 'root')
    outside = path.join(parent, 'outside')
    fs.mkdirSync(root)
    fs.mkdirSync(outside)
  })
  afterEach(() => fs.rmSync(parent, { recursive: true, force: true }))

  const plant = (rel: string) => {
    const p = path.join(root, rel)
    fs.mkdirSync(path.dirname(p), { recursive: true })
    fs.symlinkSync(outside, p)
    // as if an unprivileged user had planted it
    try {
      fs.lchownSync(p, 65534, 65534)
    } catch {
      /* not root: the symlink is ours, which changes nothing for the check */
    }
  }

  for (const [where, code] of [
    ['Programs/hello', 'ERR_NIP_CONFINED'],
    ['Programs/hello/Settings', 'ERR_NIP_CONFINED'],
    ['System/Links/Shared/hello', 'ERR_NIP_LINK_OCCUPIED'],
    ['System/Links/Executables/hello', 'ERR_NIP_LINK_OCCUPIED'],
  ] as const) {
    it(`a symlink planted at ${where} is not followed (${code})`, async () => {
      plant(where)
      const { nip } = await openNip(root, [new MemoryAdapter([hello])])
      try {
        await assert.rejects(nip.install(['hello']), (e: unknown) => e instanceof NipError && e.code === code)
        assert.deepEqual(fs.readdirSync(outside), [], 'nothing was written through the planted link')
        assert.deepEqual(nip.list(), [])
        const problems = (await checkConsistency(nip)).problems
        // The planted link itself is what doctor reports (unsafe-paths, or an unowned link in the farm).
        assert.deepEqual(problems.filter((p) => !p.startsWith('unowned-links') && !p.startsWith('unsafe-paths')), [])
        if (code === 'ERR_NIP_CONFINED') assert.ok(problems.some((p) => p.startsWith('unsafe-paths') && p.includes(where)), problems.join('\n'))
      } finally {
        nip.close()
      }
    })
  }

  it('blobs and program files are read-only, settings are private writable copies, directories 0755', async () => {
    const { nip } = await openNip(root, [new MemoryAdapter([hello])])
    try {
      await nip.install(['hello'])
      const prog = path.join(root, 'Programs/hello/1.0')
      assert.equal(fs.statSync(path.join(prog, 'bin/hello')).mode & 0o7777, 0o555)
      assert.equal(fs.statSync(path.join(prog, 'share/hello/greeting.txt')).mode & 0o7777, 0o444)
      assert.equal(fs.statSync(path.join(prog, 'bin')).mode & 0o7777, 0o755)
      const conf = fs.statSync(path.join(root, 'Programs/hello/Settings/hello.conf'))
      assert.equal(conf.mode & 0o7777, 0o640)
      assert.equal(conf.nlink, 1)
      for (const rel of listTree(path.join(root, 'var/nip/cas')).filter((p) => /^[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}(-x)?$/.test(p))) {
        const mode = fs.statSync(path.join(root, 'var/nip/cas', rel)).mode & 0o7777
        assert.equal(mode, rel.endsWith('-x') ? 0o555 : 0o444, rel)
      }
      if (process.getuid?.() === 0) assert.equal(fs.statSync(path.join(prog, 'bin/hello')).uid, 0)
    } finally {
      nip.close()
    }
  })
})
