/**
 * End to end against the Debian mirror configured in this machine's apt sources (the only test
 * that reads them). Skips, saying why, when there are no apt sources or the mirror is unreachable.
 *
 * Grafted libraries live in <root>/System/Links/Libraries, which the host's loader does not
 * search; grafted ELF files carry a RUNPATH there (core's relocation, docs/debian.md), so the
 * programs run with no LD_LIBRARY_PATH. The whole file runs as on a fresh machine without
 * patchelf (PATH without it): nip's own ELF editor writes the RUNPATHs.
 *
 * With NIP_LONG_TESTS=1, `firefox-esr` (a browser and its few hundred libraries) is grafted and
 * started (`--version`).
 */
import { strict as assert } from 'node:assert'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { findPatchelf, readElfDynamic, type Nip } from '@nip/core'
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
  const savedPath = process.env.PATH
  let toolDir: string | undefined

  before(async function () {
    const sources = existsSync('/etc/apt') ? await readAptSources('/etc/apt') : []
    const why = sources.length === 0 ? 'no apt sources on this machine' : await reachable(sources)
    if (why !== null) {
      console.log(`  (skipped: ${why})`)
      this.skip()
    }
    // A machine without patchelf: PATH is one directory of links to the host's tools, patchelf left out.
    toolDir = mkdtempSync(path.join(os.tmpdir(), 'nip-no-patchelf-'))
    for (const dir of (savedPath ?? '').split(path.delimiter).filter((d) => path.isAbsolute(d) && existsSync(d))) {
      for (const name of readdirSync(dir)) {
        if (name !== 'patchelf' && !existsSync(path.join(toolDir, name))) symlinkSync(path.join(dir, name), path.join(toolDir, name))
      }
    }
    process.env.PATH = toolDir
    assert.equal(await findPatchelf(), null)
    root = await tempRoot('nip-debian-real-')
    ;({ nip } = await openNip(root, [new DebianAdapter()], { sources: [{ id: 'debian', enabled: true, priority: 10, table: {} }] }))
  })

  after(() => {
    process.env.PATH = savedPath
    if (toolDir) rmSync(toolDir, { recursive: true, force: true })
    nip?.close()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  /** The host's environment without LD_LIBRARY_PATH: grafted programs find their libraries by RUNPATH. */
  function envFor(_someRoot: string): NodeJS.ProcessEnv {
    const env = { ...process.env }
    delete env.LD_LIBRARY_PATH
    delete env.LD_PRELOAD
    return env
  }

  function runGrafted(program: string, args: string[]): string {
    return execFileSync(path.join(root, 'System/Links/Executables', program), args, { encoding: 'utf8', env: envFor(root) })
  }

  /**
   * apt's candidate for each package against the mirror as it is now: `apt-get update` into a
   * private lists directory (the host's apt state is not touched), then `apt-cache policy`.
   */
  let aptCandidates: Map<string, string> | null | undefined
  function aptCandidate(name: string): string | null {
    if (aptCandidates === undefined) {
      aptCandidates = null
      const apt = spawnSync('sh', ['-c', 'command -v apt-get && command -v apt-cache'])
      if (apt.status === 0) {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'nip-apt-lists-'))
        try {
          mkdirSync(path.join(dir, 'lists', 'partial'), { recursive: true })
          mkdirSync(path.join(dir, 'cache', 'archives', 'partial'), { recursive: true })
          const o = ['-o', `Dir::State::Lists=${dir}/lists`, '-o', `Dir::Cache=${dir}/cache`, '-o', 'APT::Sandbox::User=root', '-o', 'Debug::NoLocking=1']
          spawnSync('apt-get', ['-qq', ...o, 'update'], { encoding: 'utf8', timeout: 300000 })
          aptCandidates = new Map()
          for (const p of ['jq', 'libjq1', 'libonig5', 'tree', 'hello', 'curl']) {
            const out = spawnSync('apt-cache', [...o, 'policy', p], { encoding: 'utf8' }).stdout
            const m = /Candidate: (\S+)/.exec(out)
            if (m !== null && m[1] !== '(none)') aptCandidates.set(p, m[1]!)
          }
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      }
    }
    return aptCandidates?.get(name) ?? null
  }

  it("resolves the version apt-cache policy names as candidate (jq and others; security updates in use)", async function () {
    if (aptCandidate('jq') === null) {
      console.log('    (skipped: apt-get/apt-cache unavailable or apt update failed)')
      this.skip()
    }
    for (const name of ['jq', 'libjq1', 'libonig5', 'tree', 'hello', 'curl']) {
      const want = aptCandidate(name)
      if (want === null) continue
      assert.equal((await nip.info(`debian:${name}`)).candidates[0]?.version, want, name)
    }
  })

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
      // The grafted jq is apt's candidate (with bookworm-security in use, the newest +debNuM).
      const want = aptCandidate('jq')
      if (want !== null) assert.equal(jqNip.list().find((p) => p.name === 'jq')?.version, want)
      const env = envFor(jqRoot)
      const jq = path.join(jqRoot, 'System/Links/Executables/jq')
      assert.match(execFileSync(jq, ['--version'], { encoding: 'utf8', env }), /^jq-1\.[0-9.]+/)
      assert.equal(execFileSync(jq, ['-c', '.a'], { input: '{"a":[1,2]}', encoding: 'utf8', env }), '[1,2]\n')
      // ldd (no LD_LIBRARY_PATH either) loads the grafted libjq.so.1 and libonig.so.5 through the
      // link farm, found by the RUNPATHs nip wrote into jq and into libjq.
      const ldd = execFileSync('ldd', [jq], { encoding: 'utf8', env })
      assert.doesNotMatch(ldd, /not found/)
      for (const [lib, program] of [['libjq.so.1', 'libjq1'], ['libonig.so.5', 'libonig5']]) {
        const m = new RegExp(`${lib.replace(/\./g, '\\.')} => (${jqRoot}/System/Links/\\S*/${lib.replace(/\./g, '\\.')}) `).exec(ldd)
        assert.ok(m !== null, `${lib} is not the grafted one:\n${ldd}`)
        assert.ok(realpathSync(m[1]).startsWith(path.join(jqRoot, 'Programs', program) + path.sep), `${m[1]} is not ${program}'s`)
      }
    } finally {
      jqNip.close()
      rmSync(jqRoot, { recursive: true, force: true })
    }
  })

  it('nip install tree: a third real package', async () => {
    await nip.install(['debian:tree'], { yes: true })
    assert.match(runGrafted('tree', ['--version']), /^tree v[0-9.]+/)
  })

  it('nip install firefox-esr without patchelf: the browser starts (--version) with no LD_LIBRARY_PATH (NIP_LONG_TESTS=1)', async function () {
    if (process.env.NIP_LONG_TESTS !== '1') {
      console.log('    (skipped: set NIP_LONG_TESTS=1 to graft firefox-esr)')
      this.skip()
    }
    const ffRoot = await tempRoot('nip-debian-real-firefox-')
    const { nip: ffNip } = await openNip(ffRoot, [new DebianAdapter()], { sources: [{ id: 'debian', enabled: true, priority: 10, table: {} }] })
    try {
      await ffNip.install(['debian:firefox-esr'], { yes: true })
      const env = { ...envFor(ffRoot), HOME: path.join(ffRoot, 'home') }
      mkdirSync(env.HOME, { recursive: true })
      const ff = path.join(ffRoot, 'System/Links/Executables/firefox-esr')
      const out = execFileSync(ff, ['--version'], { encoding: 'utf8', env, timeout: 120000 })
      assert.match(out, /^Mozilla Firefox [0-9]+\.[0-9.]+esr/m)
      // The browser's ELF files carry nip's RUNPATH (written by nip's editor: no patchelf here),
      // and the main program's libraries are all found without LD_LIBRARY_PATH. (libxul.so is
      // loaded by the browser after it has loaded its own libraries from its directory, so `ldd`
      // of libxul alone is no test, on a Debian host either.)
      const version = ffNip.list().find((p) => p.name === 'firefox-esr')!.version
      const dir = path.join(ffRoot, 'Programs/firefox-esr', version, 'lib/firefox-esr')
      for (const f of ['firefox-esr', 'libxul.so']) assert.match((await readElfDynamic(path.join(dir, f)))?.runpath ?? '', /^\$ORIGIN.*System\/Links\/Libraries/, f)
      const ldd = execFileSync('ldd', [path.join(dir, 'firefox-esr')], { encoding: 'utf8', env })
      assert.doesNotMatch(ldd, /not found/, ldd)
    } finally {
      ffNip.close()
      rmSync(ffRoot, { recursive: true, force: true })
    }
  })
})
