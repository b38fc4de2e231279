/**
 * End to end against the Debian mirror configured in this machine's apt sources (the only test
 * that reads them). Skips, saying why, when there are no apt sources or the mirror is unreachable.
 *
 * Grafted libraries live in <root>/System/Links/Libraries, which the host's loader does not
 * search; the programs are run with LD_LIBRARY_PATH pointing there (see docs/debian.md).
 */
import { strict as assert } from 'node:assert'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Nip } from '@nip/core'
import { openNip, tempRoot } from '@nip/testing'
import { DebianAdapter } from '../src/index.js'
import { readAptSources, type AptSource } from '../src/aptSources.js'

async function reachable(sources: AptSource[]): Promise<string | null> {
  const s = sources.find((x) => x.uri.startsWith('http'))
  if (s === undefined) return 'no http(s) apt source on this machine'
  try {
    const res = await fetch(new URL(`dists/${s.suite}/InRelease`, s.uri.endsWith('/') ? s.uri : `${s.uri}/`), { method: 'HEAD', signal: AbortSignal.timeout(8000) })
    return res.ok ? null : `the mirror answered HTTP ${res.status}`
  } catch (e) {
    return `the mirror is unreachable (${(e as Error).message})`
  }
}

describe('debian adapter against the real mirror of this machine', function () {
  this.timeout(600000)
  let root: string
  let nip: Nip

  before(async function () {
    const sources = existsSync('/etc/apt') ? await readAptSources('/etc/apt') : []
    const why = sources.length === 0 ? 'no apt sources on this machine' : await reachable(sources)
    if (why !== null) {
      console.log(`  (skipped: ${why})`)
      this.skip()
    }
    root = await tempRoot('nip-debian-real-')
    ;({ nip } = await openNip(root, [new DebianAdapter()], { sources: [{ id: 'debian', enabled: true, priority: 10, table: {} }] }))
  })

  after(() => {
    nip?.close()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  function runGrafted(program: string, args: string[]): string {
    const env = { ...process.env, LD_LIBRARY_PATH: path.join(root, 'System/Links/Libraries') }
    return execFileSync(path.join(root, 'System/Links/Executables', program), args, { encoding: 'utf8', env })
  }

  it('nip install hello: runs from System/Links/Executables', async () => {
    const result = await nip.install(['debian:hello'], { yes: true })
    assert.ok(result.grafted.some((p) => p.name === 'hello'))
    assert.match(runGrafted('hello', ['--version']), /^hello \(GNU Hello\)/)
    assert.equal(runGrafted('hello', []), 'Hello, world!\n')
  })

  it('nip install jq: grafts libjq1 and libonig5 (hidden from the host status) and runs them', async () => {
    // The host may have both libraries; a copy of its status without them forces nip to graft
    // them, so the run below proves the grafted libraries are the ones loaded.
    const status = path.join(root, 'status-without-jq-libs')
    const stanzas = readFileSync('/var/lib/dpkg/status', 'utf8').split(/\n\n+/)
    writeFileSync(status, stanzas.filter((st) => !/^Package: (libjq1|libonig5|jq)$/m.test(st)).join('\n\n'))
    const jqRoot = await tempRoot('nip-debian-real-jq-')
    const { nip: jqNip } = await openNip(jqRoot, [new DebianAdapter()], { sources: [{ id: 'debian', enabled: true, priority: 10, table: { 'dpkg-status': status } }] })
    try {
      await jqNip.install(['debian:jq'], { yes: true })
      assert.deepEqual(jqNip.list().map((p) => p.name).sort(), ['jq', 'libjq1', 'libonig5'])
      const env = { ...process.env, LD_LIBRARY_PATH: path.join(jqRoot, 'System/Links/Libraries') }
      const jq = path.join(jqRoot, 'System/Links/Executables/jq')
      assert.match(execFileSync(jq, ['--version'], { encoding: 'utf8', env }), /^jq-1\.[0-9.]+/)
      assert.equal(execFileSync(jq, ['-c', '.a'], { input: '{"a":[1,2]}', encoding: 'utf8', env }), '[1,2]\n')
      const ldd = execFileSync('ldd', [jq], { encoding: 'utf8', env })
      assert.match(ldd, new RegExp(`libjq\\.so\\.1 => ${jqRoot}/System/Links/Libraries/libjq\\.so\\.1`))
    } finally {
      jqNip.close()
      rmSync(jqRoot, { recursive: true, force: true })
    }
  })

  it('nip install tree: a third real package', async () => {
    await nip.install(['debian:tree'], { yes: true })
    assert.match(runGrafted('tree', ['--version']), /^tree v[0-9.]+/)
  })
})
