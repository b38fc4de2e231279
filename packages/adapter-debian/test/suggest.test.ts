/**
 * A package no source has: "did you mean" from every source's local index (`firefox` →
 * `firefox-esr (debian)`), and the "tried" list tells a source with nothing configured
 * ("is not configured") from one that has no such package. Loopback mirror, real .debs
 * (dpkg-deb), InRelease clear-signed by a throw-away key; after nip update the mirror is gone,
 * so the suggestions come from the local index alone.
 */
import { strict as assert } from 'node:assert'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { NipError } from '@nip/core'
import { listTree, MemoryAdapter, openNip, startMirror, tempRoot } from '@nip/testing'
import { DebianAdapter } from '../src/index.js'
import { buildDeb, hasTool, killAgent, makeGpgKey, packagesStanza, writeSuite, type DebSpec, type GpgKey } from './debRepository.js'

const STATUS = new URL('./fixtures/dpkg-status', import.meta.url).pathname
const spec = (name: string): DebSpec => ({ name, version: '1.0', files: { [`usr/bin/${name}`]: `#!/bin/sh\necho ${name}\n` } })

describe('debian: did you mean, from the local index', function () {
  this.timeout(120000)
  let dir: string
  let key: GpgKey
  let parent: string

  before(function () {
    for (const tool of ['dpkg-deb', 'gpg', 'xz']) {
      if (!hasTool(tool)) {
        console.log(`  (skipped: ${tool} not installed)`)
        this.skip()
      }
    }
    dir = mkdtempSync(path.join(os.tmpdir(), 'nip-debian-suggest-'))
    key = makeGpgKey(dir)
  })
  after(() => {
    if (key) killAgent(key)
    if (dir) rmSync(dir, { recursive: true, force: true })
    if (parent) rmSync(parent, { recursive: true, force: true })
  })

  it('firefox → firefox-esr (debian); an unconfigured source is "not configured"', async () => {
    const repo = path.join(dir, 'repo')
    const stanzas = ['firefox-esr', 'othertool', 'thunderbird'].map((n) => packagesStanza(repo, spec(n), buildDeb(dir, spec(n))))
    writeSuite(repo, { suite: 'local', stanzas, key })
    const files = new Map<string, Buffer>()
    for (const rel of listTree(repo)) if (statSync(path.join(repo, rel)).isFile()) files.set(`/debian/${rel}`, readFileSync(path.join(repo, rel)))
    const m = await startMirror(Object.fromEntries([...files].map(([p, body]) => [p, { body }])))
    parent = await tempRoot('nip-debian-suggest-root-')
    const root = path.join(parent, 'root')
    mkdirSync(root)
    const table = { 'host-sources': false, sources: [{ uri: `${m.url}/debian`, suite: 'local', components: ['main'], 'signed-by': key.keyring }], architecture: 'amd64', 'dpkg-status': STATUS, retries: 0, timeout: 2 }
    // A second source that says it has nothing configured.
    const empty = Object.assign(new MemoryAdapter([], { id: 'gobo' }), { configured: async () => false })
    const sources = [
      { id: 'gobo', enabled: true, priority: 5, table: {} },
      { id: 'debian', enabled: true, priority: 50, table },
    ]
    {
      const { nip } = await openNip(root, [empty, new DebianAdapter()], { sources })
      try {
        assert.equal((await nip.update()).ok, true)
      } finally {
        nip.close()
      }
    }
    await m.close()
    const { nip } = await openNip(root, [empty, new DebianAdapter()], { sources })
    try {
      const e = (await nip.install(['firefox'], { dryRun: true }).then(
        () => assert.fail('firefox was found'),
        (err: unknown) => err,
      )) as NipError
      assert.equal(e.code, 'ERR_NIP_NOT_FOUND')
      assert.deepEqual(e.data.suggestions, [{ name: 'firefox-esr', source: 'debian' }])
      assert.deepEqual((e.data.tried as { source: string; outcome: string }[]).map((t) => `${t.source}: ${t.outcome}`), ['gobo: is not configured', 'debian: has no package named firefox'])
      assert.match(e.hint ?? '', /^Did you mean firefox-esr \(debian\)\? .*configure gobo/)
    } finally {
      nip.close()
    }
  })
})
