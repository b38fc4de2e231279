/**
 * Real builds from real tarballs, through the nip executable: GNU hello 2.10 (fetched from the
 * Debian mirror of the host's apt sources, SHA-256 checked) built in bubblewrap with and without
 * nls, grafted into a temporary root and run from its System/Links/Executables; a second build
 * with the same fingerprint builds nothing; each refusal ends with its own code and nothing
 * grafted; --check tells a reproducible build from a deliberately non-reproducible one.
 *
 * Slow (each hello build is ~30 s): runs with NIP_LONG_TESTS=1, and skips visibly when bwrap is
 * not installed or the mirror cannot be reached.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { debianMirrors, poolUrl } from '../src/index.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const BIN = path.resolve(HERE, '..', '..', 'cli', 'bin', 'run.js')
const HELLO_SHA256 = '31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b'

interface Run {
  status: number | null
  stdout: string
  stderr: string
  json: any
}

function snapshot(dir: string): string {
  const lines: string[] = []
  const walk = (d: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n)
      const st = fs.lstatSync(p)
      lines.push(`${path.relative(dir, p)} ${st.mode} ${st.size} ${st.mtimeMs} ${st.isFile() ? createHash('sha256').update(fs.readFileSync(p)).digest('hex') : ''}`)
      if (st.isDirectory()) walk(p)
    }
  }
  walk(dir)
  return lines.join('\n')
}

async function reachable(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(8000) })
    return r.ok
  } catch {
    return false
  }
}

const long = process.env.NIP_LONG_TESTS === '1'

;(long ? describe : describe.skip)('nip build: real builds in bubblewrap (NIP_LONG_TESTS)', function () {
  this.timeout(600_000)
  let parent: string
  let root: string
  let beside: string
  let home: string
  let recipes: string
  let besideBefore: string

  const nip = (args: string[]): Run => {
    const r = spawnSync(process.execPath, [BIN, ...args, '--root', root, '--json', '--yes'], { encoding: 'utf8', cwd: home, env: { ...process.env, HOME: home, NIP_CONFIG: '' } })
    let json: any = null
    try {
      json = JSON.parse(r.stdout.trim().split('\n').pop() ?? '')
    } catch {
      json = null
    }
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, json }
  }
  const programs = () => (fs.existsSync(path.join(root, 'Programs')) ? fs.readdirSync(path.join(root, 'Programs')).sort() : [])
  const versions = (name: string) => fs.readdirSync(path.join(root, 'Programs', name)).filter((v) => v !== 'Current' && !v.startsWith('.')).sort()
  const runHello = () => execFileSync(path.join(root, 'System', 'Links', 'Executables', 'hello'), { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } })

  before(async function () {
    try {
      execFileSync('bwrap', ['--version'], { stdio: 'ignore' })
    } catch {
      console.log('    (skipped: bubblewrap is not installed; apt-get install bubblewrap)')
      this.skip()
    }
    const mirrors = debianMirrors({})
    if (mirrors.length === 0 || !(await reachable(poolUrl(mirrors[0], 'hello/hello_2.10.orig.tar.gz')))) {
      console.log('    (skipped: the Debian mirror of the host apt sources is unreachable)')
      this.skip()
    }
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-build-'))
    root = path.join(parent, 'root')
    beside = path.join(parent, 'beside')
    home = path.join(parent, 'home')
    recipes = path.join(parent, 'recipes')
    for (const d of [root, beside, home, recipes]) fs.mkdirSync(d)
    fs.writeFileSync(path.join(beside, 'keep.txt'), 'must not change\n')
    const hello = fs.readFileSync(path.resolve(HERE, '..', '..', '..', 'recipes', 'hello.toml'), 'utf8')
    const variant = (name: string, text: string) => fs.writeFileSync(path.join(recipes, `${name}.toml`), text.replace('name = "hello"', `name = "${name}"`))
    // A wrong hash: one digit changed.
    variant('badhash', hello.replace(HELLO_SHA256, HELLO_SHA256.replace(/^3/, '4')))
    // A signature checked against the wrong key (FFmpeg's release key for GNU hello).
    fs.mkdirSync(path.join(recipes, 'keys'))
    fs.copyFileSync(path.resolve(HERE, '..', '..', '..', 'recipes', 'keys', 'hello.asc'), path.join(recipes, 'keys', 'hello.asc'))
    fs.copyFileSync(path.resolve(HERE, '..', '..', '..', 'recipes', 'keys', 'ffmpeg.asc'), path.join(recipes, 'keys', 'other.asc'))
    variant('badsig', hello.replace('signing-key = "keys/hello.asc"', 'signing-key = "keys/other.asc"'))
    // A configure step that fails: a compiler that does not exist.
    variant('badconf', hello.replace('options = ["--disable-silent-rules"]', 'options = ["--disable-silent-rules", "CC=/nonexistent/cc"]'))
    // A variant that requires nls.
    variant('needs', hello + '\n[variants.fancy]\nsummary = "needs translations"\ndefault = false\nrequires = ["+nls"]\n')
    // Deliberately not reproducible: the build writes the time and a random number into the tree.
    variant(
      'stamp',
      hello.replace(/\[build\][\s\S]*$/, '[build]\nsystem = "custom"\n\n[[build.step]]\nname = "stamp"\nrun = ["sh", "-c", "mkdir -p \\"$DESTDIR$PREFIX/share\\" && date +%s%N > \\"$DESTDIR$PREFIX/share/stamp\\" && od -An -N8 -tx8 /dev/urandom >> \\"$DESTDIR$PREFIX/share/stamp\\" && cp README \\"$DESTDIR$PREFIX/share/README\\""]\n'),
    )
    // A build that waits until it is killed.
    variant('slow', hello.replace(/\[build\][\s\S]*$/, '[build]\nsystem = "custom"\n\n[[build.step]]\nname = "wait"\nrun = ["sleep", "607"]\n'))
    fs.mkdirSync(path.join(root, 'etc', 'nip'), { recursive: true })
    fs.writeFileSync(path.join(root, 'etc', 'nip', 'nip.conf'), `[build]\nrecipe-dirs = [${JSON.stringify(recipes)}]\n`)
    besideBefore = snapshot(beside)
  })

  after(() => {
    if (beside) assert.equal(snapshot(beside), besideBefore, 'the directory beside the root changed')
    if (parent) fs.rmSync(parent, { recursive: true, force: true })
  })

  it('builds hello -nls and runs it from System/Links/Executables', () => {
    const r = nip(['build', 'hello', '-nls'])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.json.result.build.version, '2.10~nls')
    assert.match(r.json.result.build.fingerprint, /^[0-9a-f]{64}$/)
    assert.equal(r.json.result.install.grafted[0].name, 'hello')
    assert.equal(runHello(), 'Hello, world!\n')
    const tree = path.join(root, 'Programs', 'hello', '2.10~nls')
    assert.ok(fs.statSync(path.join(tree, 'bin', 'hello')).isFile())
    assert.equal(fs.existsSync(path.join(tree, 'share', 'locale')), false, 'a -nls build has no translations')
  })

  it('builds hello with nls beside it: the translations are there, and it runs from the farm too', () => {
    const r = nip(['build', 'hello', '+nls'])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.json.result.build.version, '2.10')
    assert.deepEqual(versions('hello'), ['2.10', '2.10~nls'])
    assert.equal(fs.readlinkSync(path.join(root, 'Programs', 'hello', 'Current')), '2.10')
    assert.equal(runHello(), 'Hello, world!\n')
    const mo = path.join(root, 'Programs', 'hello', '2.10', 'share', 'locale', 'de', 'LC_MESSAGES', 'hello.mo')
    assert.ok(fs.statSync(mo).size > 0)
    const a = fs.readFileSync(path.join(root, 'Programs', 'hello', '2.10', 'bin', 'hello'))
    const b = fs.readFileSync(path.join(root, 'Programs', 'hello', '2.10~nls', 'bin', 'hello'))
    assert.notDeepEqual(a, b, 'the nls and -nls binaries differ')
    // Switch between the two variants.
    const s = nip(['switch', 'hello', '2.10~nls'])
    assert.equal(s.status, 0, s.stderr)
    assert.equal(runHello(), 'Hello, world!\n')
    assert.equal(fs.readlinkSync(path.join(root, 'Programs', 'hello', 'Current')), '2.10~nls')
  })

  it('a second build with the same fingerprint builds nothing; a removed one is grafted from the store', () => {
    const logs = path.join(root, 'var', 'log', 'nip', 'build', 'hello')
    const before = snapshot(logs)
    const again = nip(['build', 'hello', '-nls'])
    assert.equal(again.status, 0, again.stderr)
    assert.equal(again.json.result.build.cached, true)
    assert.deepEqual(again.json.result.install.grafted, [])
    assert.equal(again.json.result.install.skipped[0].reason, 'already-installed')
    const rm = nip(['remove', 'hello@2.10~nls'])
    assert.equal(rm.status, 0, rm.stderr)
    const back = nip(['build', 'hello', '-nls'])
    assert.equal(back.status, 0, back.stderr)
    assert.equal(back.json.result.install.grafted[0].version, '2.10~nls')
    assert.equal(snapshot(logs), before, 'no build ran (no log was written)')
    assert.equal(runHello(), 'Hello, world!\n')
  })

  it('nip logs --build shows the build log', () => {
    const r = nip(['logs', '--build', 'hello'])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.json.result.text, /## configure: \.\/configure --prefix=\/Programs\/hello\//)
  })

  const refusals: [string, string[], string, number][] = [
    ['a source with a wrong hash', ['badhash'], 'ERR_NIP_HASH_MISMATCH', 65],
    ['a signature by another key', ['badsig'], 'ERR_NIP_KEY_UNKNOWN', 65],
    ['an unknown flag', ['hello', '+nsl'], 'ERR_NIP_VARIANT_UNKNOWN', 64],
    ['a violated requires', ['needs', '+fancy', '-nls'], 'ERR_NIP_VARIANT_REQUIRES', 64],
    ['a failing configure step', ['badconf'], 'ERR_NIP_BUILD_FAILED', 5],
  ]
  for (const [what, args, code, exit] of refusals) {
    it(`${what} ends with ${code} and nothing grafted`, () => {
      const before = programs()
      const list = nip(['list']).json.result
      const r = nip(['build', ...args])
      assert.equal(r.status, exit, r.stderr)
      assert.equal(r.json.error.code, code)
      assert.deepEqual(programs(), before)
      assert.deepEqual(nip(['list']).json.result, list)
      assert.deepEqual(fs.readdirSync(path.join(root, 'var', 'nip', 'cache', 'build', 'work')), [], 'no work directory is left')
      if (code === 'ERR_NIP_VARIANT_UNKNOWN') assert.deepEqual(r.json.error.data.suggestions, ['nls'])
      if (code === 'ERR_NIP_BUILD_FAILED') {
        assert.equal(r.json.error.data.step, 'configure')
        assert.ok(fs.existsSync(r.json.error.data.log))
        assert.match(r.json.error.message, /Full log: /)
        assert.match(r.json.error.message, /C compiler/)
      }
    })
  }

  it('a killed build leaves nothing visible, and its sandbox dies with it', async () => {
    const before = programs()
    const list = nip(['list']).json.result
    const child = spawn(process.execPath, [BIN, 'build', 'slow', '--root', root, '--yes', '--quiet'], { cwd: home, env: { ...process.env, HOME: home, NIP_CONFIG: '' }, stdio: 'ignore' })
    const logDir = path.join(root, 'var', 'log', 'nip', 'build', 'slow')
    let exitedEarly = false
    child.on('exit', () => (exitedEarly = true))
    // Wait for the build to reach its step (an event, not a time): its log says so.
    for (;;) {
      assert.equal(exitedEarly, false, 'the build ended before reaching its step')
      const logs = fs.existsSync(logDir) ? fs.readdirSync(logDir) : []
      if (logs.some((l) => fs.readFileSync(path.join(logDir, l), 'utf8').includes('## wait: sleep 607'))) break
      await new Promise((r) => setTimeout(r, 100))
    }
    const sleeping = () => spawnSync('pgrep', ['-f', '^sleep 607$']).status === 0
    for (let i = 0; i < 100 && !sleeping(); i++) await new Promise((r) => setTimeout(r, 100))
    assert.ok(sleeping(), 'the step runs')
    const exited = new Promise((r) => child.on('exit', r))
    child.kill('SIGKILL')
    await exited
    for (let i = 0; i < 100 && sleeping(); i++) await new Promise((r) => setTimeout(r, 100))
    assert.equal(sleeping(), false, 'the sandboxed step died with nip')
    // Nothing visible: at most core's hidden staging directory, which the next writer discards.
    const slow = path.join(root, 'Programs', 'slow')
    assert.deepEqual(fs.existsSync(slow) ? fs.readdirSync(slow).filter((n) => !n.startsWith('.')) : [], [])
    assert.deepEqual(nip(['list']).json.result, list)
    const fix = nip(['doctor', '--fix'])
    assert.equal(fix.status, 0, fix.stderr)
    assert.deepEqual(programs(), before)
    // doctor --fix re-hashes the grafted programs (as verify does) and records that; the rest is as it was.
    const unverified = (rows: Record<string, unknown>[]) => rows.map(({ integrity: _i, verifiedAt: _v, ...rest }) => rest)
    assert.deepEqual(unverified(nip(['list']).json.result), unverified(list))
  })

  it('--check reports hello reproducible', () => {
    const r = nip(['build', 'hello', '-nls', '--check'])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.json.result.reproducible, true)
    assert.equal(r.json.result.digests[0], r.json.result.digests[1])
    assert.deepEqual(r.json.result.differing, [])
  })

  it('--check reports a non-reproducible recipe with the differing file', () => {
    const before = programs()
    const r = nip(['build', 'stamp', '--check'])
    assert.equal(r.status, 6, r.stderr)
    assert.equal(r.json.error.code, 'ERR_NIP_NOT_REPRODUCIBLE')
    assert.deepEqual(r.json.error.data.differing.map((d: { path: string }) => d.path), ['share/stamp'])
    if (spawnSync('diffoscope', ['--version']).status === 0) {
      // diffoscope's report of the two trees names the differing file, with the build paths replaced.
      const report = fs.readFileSync(r.json.error.data.diffoscope.report, 'utf8')
      assert.match(report, /share\/stamp/)
      assert.ok(r.json.error.data.diffoscope.report.startsWith(root), 'the report is kept under the root')
    } else {
      console.log('      (diffoscope is not installed: its report is not checked)')
      assert.equal(r.json.error.data.diffoscope, null)
    }
    assert.deepEqual(programs(), before)
  })
})
