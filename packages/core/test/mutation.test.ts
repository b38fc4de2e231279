/**
 * Mutated input: valid archives in every compression nip reads, and nip.conf, damaged by bit
 * flips, truncation and splicing with a fixed seed. The only outcomes allowed are a correct
 * install or a NipError with a code — never an uncaught exception, a hang, a write outside the
 * root, or a half-grafted program. NIP_LONG_TESTS=1 runs ten times as many cases.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { TarAdapter, buildTar, openNip, checkConsistency, listTree, prng, mutate, withTimeout, type FixtureCompression } from '@nip/testing'
import { NipError, loadConfig } from '@nip/core'

const LONG = process.env.NIP_LONG_TESTS === '1'
const PER_FORMAT = LONG ? 3000 : 300

const VALID = [
  { path: 'bin/tool', content: '#!/bin/sh\necho tool\n', mode: 0o755 },
  { path: 'lib/libtool.so.1', content: Buffer.alloc(3000, 7) },
  { path: 'lib/libtool.so', type: 'symlink' as const, target: 'libtool.so.1' },
  { path: 'share/doc/tool/README', content: 'read me\n'.repeat(40) },
  { path: 'include/tool.h', content: '#define TOOL 1\n' },
]

describe('mutated inputs end in an install or a NipError, nothing else', function () {
  this.timeout(900000)
  const outcomes: Record<string, Record<string, number>> = {}
  after(() => {
    // The figures docs/reliability.md quotes.
    console.log(`      mutation outcomes (${PER_FORMAT} cases per format): ${JSON.stringify(outcomes)}`)
  })

  for (const compression of ['none', 'gzip', 'xz', 'zstd', 'bzip2'] as FixtureCompression[]) {
    it(`tar (${compression}): ${PER_FORMAT} mutated archives`, async function () {
      let valid: Buffer
      try {
        valid = await buildTar(VALID, { compression })
      } catch (e) {
        console.log(`      (skipped: cannot build a ${compression} fixture: ${(e as Error).message})`)
        this.skip()
      }
      const tally: Record<string, number> = {}
      outcomes[`tar.${compression}`] = tally
      const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-mut-'))
      const root = path.join(parent, 'root')
      fs.mkdirSync(root)
      const rnd = prng(0x5eed + compression.length)
      try {
        for (let i = 0; i < PER_FORMAT; i++) {
          const { data, how } = mutate(valid, rnd)
          const { nip } = await openNip(root, [new TarAdapter([{ name: 'tool', version: `${i}`, archive: data }])])
          try {
            await withTimeout(nip.install(['tool']), 20000, `${compression} case ${i} (${how})`)
            tally.installed = (tally.installed ?? 0) + 1
            assert.equal(nip.list().filter((p) => p.current).length, 1)
            await nip.remove(['tool'])
          } catch (e) {
            if (!(e instanceof NipError)) throw new Error(`${compression} case ${i} (${how}): not a NipError: ${(e as Error).stack}`)
            tally[e.code] = (tally[e.code] ?? 0) + 1
          } finally {
            nip.close()
          }
          assert.deepEqual(listTree(parent).filter((p) => p !== 'root' && !p.startsWith('root/')), [], `case ${i} (${how}) wrote outside the root`)
          if (i % 10 === 9 || i === PER_FORMAT - 1) {
            const { nip: check } = await openNip(root, [])
            try {
              const c = await checkConsistency(check)
              assert.deepEqual(c.problems, [], `after case ${i} (${how})`)
              assert.deepEqual(check.list().filter((p) => p.current), [])
            } finally {
              check.close()
            }
          }
        }
      } finally {
        fs.rmSync(parent, { recursive: true, force: true })
      }
    })
  }

  it(`nip.conf: ${PER_FORMAT * 2} mutated configuration files`, async () => {
    const { renderDefaultConfig } = await import('@nip/core')
    const base = Buffer.from(renderDefaultConfig().replace(/^# ?(\w[\w-]* =)/gm, '$1') + '\n[gobo]\nrepositories = ["/srv/gobo"]\n')
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-mutconf-'))
    const tally: Record<string, number> = {}
    outcomes['nip.conf'] = tally
    const rnd = prng(0xc0f)
    try {
      fs.mkdirSync(path.join(root, 'etc/nip'), { recursive: true })
      for (let i = 0; i < PER_FORMAT * 2; i++) {
        const { data, how } = mutate(base, rnd)
        fs.writeFileSync(path.join(root, 'etc/nip/nip.conf'), data)
        try {
          await loadConfig({ root, userConfigPath: null, env: {} })
          tally.loaded = (tally.loaded ?? 0) + 1
        } catch (e) {
          if (!(e instanceof NipError)) throw new Error(`config case ${i} (${how}): not a NipError: ${(e as Error).stack}`)
          tally[e.code] = (tally[e.code] ?? 0) + 1
        }
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  })
})
