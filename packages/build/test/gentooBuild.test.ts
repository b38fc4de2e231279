/**
 * nip build --source gentoo through the nip executable, with Portage and the minimal ebuild
 * repository of the shared gentoo fixtures installed by nip bootstrap from a loopback mirror.
 *
 * Always (bubblewrap and the fixtures present): the tool missing is ERR_NIP_TOOL_MISSING; an
 * unknown USE flag and a REQUIRED_USE violation are refused (ERR_NIP_BAD_SPEC) before Portage
 * runs; a distfile whose bytes differ from the Manifest is ERR_NIP_DISTFILE_MISMATCH; nothing is
 * grafted and nothing changes beside the root or in the host's Portage directories.
 *
 * NIP_LONG_TESTS=1 (as root, each emerge is tens of seconds): real emerge of app-misc/hello 2.10
 * with +nls and -nls (the distfile from the Debian mirror of the host's apt sources), both grafted
 * and run from the link farm, differing in their locale files; the +nls build is built for its own
 * directory (EPREFIX): its binary names /Programs/hello/2.10-r1~nls/usr/share/locale, `usr → .`
 * is grafted and owned, and run with the root mounted as / under LANGUAGE=fr it greets in French
 * (the -nls build stays English); the same USE again is reused; a killed build leaves nothing
 * visible.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { snapshotDir, assertUnchanged, startMirror, type DirSnapshot, type Mirror } from '@nip/testing'
import { debianMirrors, poolUrl } from '../src/index.js'
import { hostDirArgs } from '../src/bwrap.js'
import { SHARED_GENTOO, gentooRecipe, runNip, runOnTerminal } from './helpers/gentooFixtures.js'

const HOST_PORTAGE_DIRS = ['/etc/portage', '/var/db/pkg', '/var/lib/portage', '/var/cache/edb']
const BIN = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'cli', 'bin', 'run.js')
const long = process.env.NIP_LONG_TESTS === '1'

/** The shared repository plus an ebuild with a REQUIRED_USE constraint (no build: metadata only). */
function testRepoTarball(dir: string): Buffer {
  const tree = path.join(dir, 'repo-src')
  fs.cpSync(path.join(SHARED_GENTOO, 'repo'), path.join(tree, 'repo'), { recursive: true })
  fs.chmodSync(path.join(tree, 'repo', 'app-misc'), 0o755)
  fs.mkdirSync(path.join(tree, 'repo', 'app-misc', 'needy'))
  fs.writeFileSync(path.join(tree, 'repo', 'app-misc', 'needy', 'needy-1.0.ebuild'), 'EAPI=8\nDESCRIPTION="needs b with a"\nSLOT="0"\nKEYWORDS="~amd64"\nIUSE="a b"\nREQUIRED_USE="a? ( b )"\n')
  fs.writeFileSync(path.join(tree, 'repo', 'app-misc', 'needy', 'Manifest'), '')
  const out = path.join(dir, 'gentoo-repo.tar.gz')
  execFileSync('tar', ['-C', tree, '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-czf', out, 'repo'])
  return fs.readFileSync(out)
}

describe('nip build --source gentoo', function () {
  this.timeout(900_000)
  let parent: string
  let root: string
  let beside: string
  let home: string
  let besideBefore: DirSnapshot
  let mirror: Mirror
  const hostBefore = HOST_PORTAGE_DIRS.filter((d) => fs.existsSync(d))
  const nip = (args: string[]) => runNip(root, home, args)
  const visible = (name: string) => (fs.existsSync(path.join(root, 'Programs', name)) ? fs.readdirSync(path.join(root, 'Programs', name)).filter((n) => !n.startsWith('.')).sort() : [])
  const workDirs = () => {
    const d = path.join(root, 'var', 'nip', 'cache', 'build', 'work')
    return fs.existsSync(d) ? fs.readdirSync(d).join(' ') : ''
  }

  before(async function () {
    if (!fs.existsSync(path.join(SHARED_GENTOO, 'portage-a20ef27.tar.gz'))) {
      console.log(`    (skipped: the shared gentoo fixtures are absent at ${SHARED_GENTOO})`)
      this.skip()
    }
    try {
      execFileSync('bwrap', ['--version'], { stdio: 'ignore' })
    } catch {
      console.log('    (skipped: bubblewrap is not installed)')
      this.skip()
    }
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-gentoo-'))
    root = path.join(parent, 'root')
    beside = path.join(parent, 'beside')
    home = path.join(parent, 'home')
    const recipes = path.join(parent, 'recipes')
    for (const d of [root, beside, home, recipes]) fs.mkdirSync(d)
    fs.writeFileSync(path.join(beside, 'keep.txt'), 'must not change\n')
    const portage = fs.readFileSync(path.join(SHARED_GENTOO, 'portage-a20ef27.tar.gz'))
    const repo = testRepoTarball(parent)
    const hello = Buffer.from('not the hello tarball the Manifest names\n')
    mirror = await startMirror({ '/portage-a20ef27.tar.gz': { body: portage }, '/gentoo-repo.tar.gz': { body: repo }, '/bad/hello-2.10.tar.gz': { body: hello } })
    fs.writeFileSync(path.join(recipes, 'gentoo.toml'), gentooRecipe(mirror, portage, repo))
    fs.mkdirSync(path.join(root, 'etc', 'nip'), { recursive: true })
    fs.writeFileSync(path.join(root, 'etc', 'nip', 'nip.conf'), `[build]\nbootstrap-recipe-dirs = [${JSON.stringify(recipes)}]\n`)
    besideBefore = snapshotDir(beside)
  })

  after(async () => {
    await mirror?.close()
    if (beside) assertUnchanged(beside, besideBefore, 'the directory beside the root')
    assert.deepEqual(HOST_PORTAGE_DIRS.filter((d) => fs.existsSync(d)), hostBefore, "the host's Portage directories")
    if (parent) fs.rmSync(parent, { recursive: true, force: true })
  })

  it('without the gentoo tools is ERR_NIP_TOOL_MISSING and names nip bootstrap', async () => {
    const r = await nip(['build', '--source', 'gentoo', 'app-misc/hello', '+nls', '--json'])
    assert.equal(r.json?.error?.code, 'ERR_NIP_TOOL_MISSING', r.stdout + r.stderr)
    assert.match(r.json.error.hint, /nip bootstrap install gentoo/)
    assert.deepEqual(visible('hello'), [])
  })

  it('on a terminal, a missing tool brings the bootstrap menu; Enter installs it and the build goes on', async function () {
    if ((await runNip(root, home, ['--version'])).status !== 0 || !fs.existsSync('/usr/bin/script')) {
      console.log('      (skipped: script(1) from util-linux is not installed)')
      this.skip()
    }
    const r = await runOnTerminal(root, home, ['build', '--source', 'gentoo', 'app-misc/needy', '+a', '+b', '--dry-run'], [
      { prompt: /nip do\?/, input: '\r' },
      { prompt: /Graft .*(\[Y\/n\]|\(Y\/n\))/, input: '\r' },
    ])
    assert.match(r.stdout, /Install minimal tools/)
    assert.match(r.stdout, /needy\s+1\.0~a~b/, r.stdout)
    assert.ok(fs.existsSync(path.join(root, 'Programs', 'gentoo-tools', '3.0.82', 'libexec', 'portage', 'bin', 'emerge')))
  })

  it('nip bootstrap install gentoo grafts Portage and the repository', async () => {
    const r = await nip(['bootstrap', 'install', 'gentoo', '--yes', '--json'])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.json.result.detection.status, 'nip')
  })

  it('refuses an unknown USE flag before Portage runs', async () => {
    const r = await nip(['build', '--source', 'gentoo', 'app-misc/hello@2.10', '+nsl', '--yes', '--json'])
    assert.equal(r.json?.error?.code, 'ERR_NIP_BAD_SPEC', r.stdout + r.stderr)
    assert.match(r.json.error.message, /no USE flag nsl/)
    assert.match(r.json.error.message + r.json.error.hint, /nls/)
    assert.equal(workDirs(), '')
    assert.ok(!fs.existsSync(path.join(root, 'var', 'nip', 'cache', 'build', 'gentoo', 'distfiles', 'hello-2.10.tar.gz')))
  })

  it('refuses a REQUIRED_USE violation before Portage runs, naming the clause', async () => {
    const r = await nip(['build', '--source', 'gentoo', 'app-misc/needy', '+a', '-b', '--yes', '--json'])
    assert.equal(r.json?.error?.code, 'ERR_NIP_BAD_SPEC', r.stdout + r.stderr)
    assert.match(r.json.error.message, /REQUIRED_USE|a\? \( b \)/)
    assert.deepEqual(visible('needy'), [])
    // The same package with a satisfying USE passes the check (its dry run plans it).
    const ok = await nip(['build', '--source', 'gentoo', 'app-misc/needy', '+a', '+b', '--yes', '--json', '--dry-run'])
    assert.equal(ok.status, 0, ok.stdout + ok.stderr)
    assert.equal(ok.json.result.install.plan.programs[0].version, '1.0~a~b')
  })

  it("refuses a distfile that does not match the Manifest with ERR_NIP_DISTFILE_MISMATCH", async () => {
    const conf = path.join(parent, 'mismatch.conf')
    fs.writeFileSync(conf, `[build]\nbootstrap-recipe-dirs = [${JSON.stringify(path.join(parent, 'recipes'))}]\ndistfile-mirrors = ["${mirror.urlOf('/bad')}"]\n[debian]\nhost-sources = false\n`)
    const r = await nip(['build', '--source', 'gentoo', 'app-misc/hello@2.10', '+nls', '--yes', '--json', '--config', conf])
    assert.equal(r.json?.error?.code, 'ERR_NIP_DISTFILE_MISMATCH', r.stdout + r.stderr)
    assert.ok(mirror.requestsFor('/bad/hello-2.10.tar.gz').length > 0)
    assert.deepEqual(visible('hello'), [])
    assert.ok(!fs.existsSync(path.join(root, 'var', 'nip', 'cache', 'build', 'gentoo', 'distfiles', 'hello-2.10.tar.gz')), 'the wrong distfile is not kept')
  })

  ;(long ? describe : describe.skip)('real emerge (NIP_LONG_TESTS)', function () {
    const pkgs = () => {
      const d = path.join(root, 'var', 'nip', 'cache', 'build', 'gentoo', 'packages', 'app-misc', 'hello')
      return fs.existsSync(d) ? fs.readdirSync(d).filter((n) => n.endsWith('.gpkg.tar')).sort() : []
    }
    // Run from the link farm of the temporary root (not mounted at /): the compiled-in EPREFIX
    // /Programs/hello/<version> does not exist on the host, so the messages stay English here.
    const runHello = () => execFileSync(path.join(root, 'System', 'Links', 'Executables', 'hello'), { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } })
    const locales = (version: string) => execFileSync('find', [path.join(root, 'Programs', 'hello', version), '-name', '*.mo'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean)

    before(async function () {
      if (process.getuid?.() !== 0) {
        console.log('      (skipped: gentoo builds run emerge as root in the namespace)')
        this.skip()
      }
      const mirrors = debianMirrors({})
      let ok = false
      try {
        ok = mirrors.length > 0 && (await fetch(poolUrl(mirrors[0], 'hello/hello_2.10.orig.tar.gz'), { method: 'HEAD', signal: AbortSignal.timeout(8000) })).ok
      } catch {
        ok = false
      }
      if (!ok) {
        console.log('      (skipped: the Debian mirror of the host apt sources is unreachable)')
        this.skip()
      }
    })

    it('a killed build leaves nothing visible', async () => {
      const child = spawn(process.execPath, [BIN, 'build', '--source', 'gentoo', 'app-misc/hello@2.10', '-nls', '--yes', '--json', '--root', root], { cwd: home, env: { ...process.env, HOME: home, NIP_CONFIG: '' }, stdio: 'ignore' })
      const logs = path.join(root, 'var', 'log', 'nip', 'build', 'hello')
      const deadline = Date.now() + 300_000
      const started = () => fs.existsSync(logs) && fs.readdirSync(logs).some((f) => fs.readFileSync(path.join(logs, f), 'utf8').includes('>>> Emerging'))
      while (!started() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
      assert.ok(started(), 'emerge started')
      child.kill('SIGKILL')
      await new Promise((r) => child.once('close', r))
      assert.deepEqual(visible('hello'), [])
      // --die-with-parent: emerge goes with nip (waited for, not timed).
      const alive = () => execFileSync('ps', ['-ewwo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(root) && !l.startsWith('ps '))
      const until = Date.now() + 60_000
      while (alive().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 250))
      assert.deepEqual(alive(), [])
    })

    it('builds hello 2.10 with +nls and -nls; both graft, run from the link farm and differ in locale files', async () => {
      const plus = await nip(['build', '--source', 'gentoo', 'app-misc/hello@2.10', '+nls', '--yes', '--json'])
      assert.equal(plus.status, 0, plus.stdout + plus.stderr)
      assert.equal(runHello().trim(), 'Hello, world!')
      const minus = await nip(['build', '--source', 'gentoo', 'app-misc/hello@2.10', '-nls', '--yes', '--json'])
      assert.equal(minus.status, 0, minus.stdout + minus.stderr)
      assert.equal(runHello().trim(), 'Hello, world!')
      assert.deepEqual(visible('hello'), ['2.10-r1', '2.10-r1~nls', 'Current'])
      assert.ok(locales('2.10-r1~nls').length > 10, 'the nls build has translations')
      assert.ok(fs.existsSync(path.join(root, 'Programs', 'hello', '2.10-r1~nls', 'share', 'locale', 'de', 'LC_MESSAGES', 'hello.mo')))
      assert.deepEqual(locales('2.10-r1'), [])
      assert.equal(pkgs().length >= 2, true, 'one GPKG per USE set is kept')
    })

    it('the +nls build is built for its own directory: with the root as /, hello greets in French from its own catalogue', async () => {
      const dir = path.join(root, 'Programs', 'hello', '2.10-r1~nls')
      // EPREFIX is the version directory: the locale directory compiled in is the program's own.
      const binary = fs.readFileSync(path.join(dir, 'bin', 'hello'))
      assert.ok(binary.includes(Buffer.from('/Programs/hello/2.10-r1~nls/usr/share/locale')), 'the binary names its own locale directory')
      assert.ok(!binary.includes(Buffer.from('\0/usr/share/locale')), "the binary does not name the host's locale directory")
      // usr → . makes <EPREFIX>/usr/X the grafted X; grafted by core (the database owns it).
      assert.equal(fs.readlinkSync(path.join(dir, 'usr')), '.')
      assert.equal(fs.readlinkSync(path.join(root, 'Programs', 'hello', '2.10-r1', 'usr')), '.')
      assert.ok(fs.existsSync(path.join(dir, 'usr', 'share', 'locale', 'fr', 'LC_MESSAGES', 'hello.mo')))
      const owns = await nip(['owns', path.join(dir, 'usr'), '--json'])
      assert.equal(owns.status, 0, owns.stdout + owns.stderr)
      assert.match(JSON.stringify(owns.json.result), /2\.10-r1~nls/)
      const verify = await nip(['verify', 'hello', '--json'])
      assert.equal(verify.status, 0, verify.stdout + verify.stderr)
      // The root mounted as /: the host's /usr and /lib read-only, the root's Programs and System.
      // gettext uses LANGUAGE under any locale but C; C.UTF-8 needs no generated locale.
      const run = (version: string) =>
        execFileSync('bwrap', [...hostDirArgs(['usr', 'bin', 'lib', 'lib64']), '--dev', '/dev', '--proc', '/proc', '--ro-bind', path.join(root, 'Programs'), '/Programs', '--ro-bind', path.join(root, 'System'), '/System', '--clearenv', '--setenv', 'PATH', '/System/Links/Executables:/usr/bin', '--setenv', 'LANG', 'C.UTF-8', '--setenv', 'LANGUAGE', 'fr', '--', `/Programs/hello/${version}/bin/hello`], { encoding: 'utf8' }).trim()
      // (fr.po puts a no-break space before the "!")
      assert.match(run('2.10-r1~nls'), /^Bonjour, le monde\s!$/)
      // The -nls build has no catalogue and stays English under the same environment.
      assert.equal(run('2.10-r1'), 'Hello, world!')
    })

    it('a second build with the same USE is reused (no emerge)', async () => {
      const before = pkgs()
      const again = await nip(['build', '--source', 'gentoo', 'app-misc/hello@2.10', '+nls', '--yes', '--json'])
      assert.equal(again.status, 0, again.stdout + again.stderr)
      assert.deepEqual(pkgs(), before)
      assert.equal(runHello().trim(), 'Hello, world!')
      // Removed and built again: the stored output of the fingerprint is grafted, not rebuilt.
      assert.equal((await nip(['remove', 'hello', '--yes', '--json'])).status, 0)
      const third = await nip(['build', '--source', 'gentoo', 'app-misc/hello@2.10', '-nls', '--yes', '--json'])
      assert.equal(third.status, 0, third.stdout + third.stderr)
      assert.deepEqual(pkgs(), before)
    })
  })
})
