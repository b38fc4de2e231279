/**
 * The shipped gentoo bootstrap recipe (no test recipe) with the ebuild repository as a configured
 * source, through the nip executable:
 *
 * - without a configured repository, install is not available (the manual steps are recommended);
 * - a directory that is not a repository is refused (ERR_NIP_BAD_PACKAGE), nothing grafted;
 * - `[build] bootstrap-mirrors`: a loopback mirror with wrong bytes is passed over (SHA-256), a
 *   local directory mirror serves Portage's archive;
 * - `[build] gentoo-repository = DIR` (and `--repository DIR`): the repository is copied into the
 *   tool with its tree digest; changing it and installing again changes the digest and the
 *   fingerprint of a gentoo build (planned with --dry-run, nothing built);
 * - a snapshot URL verified by signature (emerge-webrsync's way) with a key made here and a
 *   loopback mirror: no key is ERR_NIP_CONFIG, a bad signature ERR_NIP_SIGNATURE_INVALID with
 *   nothing grafted, a good one installs;
 * - NIP_LONG_TESTS=1 (as root, bubblewrap, the Debian mirror of the host's apt sources reachable):
 *   the documented sequence — a config naming the shared gentoo folder as bootstrap mirror and
 *   repository, `bootstrap install gentoo --yes`, `build --source gentoo app-misc/hello +nls
 *   --yes` — and hello runs from the link farm; the same build again is reused.
 * Nothing beside the root changes, nor the shared folder.
 *
 * Uses the project's shared gentoo fixtures (`../shared/gentoo` beside the checkout); skips
 * visibly without them.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { snapshotDir, assertUnchanged, startMirror, type DirSnapshot, type Mirror } from '@nip/testing'
import { bootstrapSourceUrls, debianMirrors, parseBootstrapRecipe, poolUrl, readBuildSettings } from '../src/index.js'
import { SHARED_GENTOO, runNip, sha256 } from './helpers/gentooFixtures.js'

const long = process.env.NIP_LONG_TESTS === '1'
const PORTAGE = 'portage-a20ef27.tar.gz'

describe('bootstrap repository settings and recipe', () => {
  it('reads the repository settings and refuses bad ones with ERR_NIP_CONFIG', () => {
    const s = readBuildSettings({ 'gentoo-repository': '/srv/repo', 'bootstrap-mirrors': ['/srv/m/', 'http://127.0.0.1:1/x/'] })
    assert.deepEqual(s.repositories.gentoo, { location: '/srv/repo', kind: 'directory' })
    assert.deepEqual(s.bootstrapMirrors, ['/srv/m', 'http://127.0.0.1:1/x'])
    const u = readBuildSettings({ 'gentoo-repository': 'http://127.0.0.1:1/gentoo-latest.tar.xz', 'gentoo-repository-key': '/k.asc' })
    assert.deepEqual(u.repositories.gentoo, { location: 'http://127.0.0.1:1/gentoo-latest.tar.xz', kind: 'snapshot', key: '/k.asc' })
    const code = (f: () => unknown) => {
      try {
        f()
      } catch (e) {
        return (e as { code?: string }).code
      }
      return 'none'
    }
    assert.equal(code(() => readBuildSettings({ 'gentoo-repository': 'rsync://127.0.0.1/gentoo' })), 'ERR_NIP_CONFIG')
    assert.equal(code(() => readBuildSettings({ 'gentoo-repository-key': '/k.asc' })), 'ERR_NIP_CONFIG')
    assert.equal(code(() => readBuildSettings({ 'gentoo-repository': '' })), 'ERR_NIP_CONFIG')
  })

  it('parses the shipped recipe\'s [repository] and refuses unknown keys in it', () => {
    const shipped = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..', 'bootstrap', 'gentoo.toml')
    const r = parseBootstrapRecipe(shipped, fs.readFileSync(shipped, 'utf8'))
    assert.equal(r.installable, true)
    assert.deepEqual({ ...r.repository }, { into: 'libexec/repo', strip: 1, signatureSuffix: '.gpgsig', marker: 'profiles/repo_name' })
    const bad = fs.readFileSync(shipped, 'utf8').replace('marker = ', 'markr = ')
    assert.throws(() => parseBootstrapRecipe(shipped, bad), (e: { code?: string; message: string }) => e.code === 'ERR_NIP_RECIPE_INVALID' && /markr/.test(e.message))
  })

  it('orders bootstrap mirrors (URLs and directories) before the recipe URL', () => {
    const src = { role: 'portage', url: 'https://example.org/p.tar.gz', file: 'p.tar.gz', sha256: '0'.repeat(64), strip: 1, into: 'libexec/p' }
    assert.deepEqual(bootstrapSourceUrls(src, ['http://127.0.0.1:1/m/', '/srv/mirror']), ['http://127.0.0.1:1/m/p.tar.gz', '/srv/mirror/p.tar.gz', 'https://example.org/p.tar.gz'])
  })
})

describe('bootstrap gentoo with a configured repository (shipped recipe)', function () {
  this.timeout(600_000)
  let parent: string
  let root: string
  let beside: string
  let home: string
  let besideBefore: DirSnapshot
  let sharedBefore: DirSnapshot
  let myRepo: string
  let mirror: Mirror | undefined
  const nip = (args: string[]) => runNip(root, home, args)
  const programs = () => (fs.existsSync(path.join(root, 'Programs')) ? fs.readdirSync(path.join(root, 'Programs')).filter((n) => !n.startsWith('.')).sort() : [])
  const conf = (lines: string[]) => fs.writeFileSync(path.join(root, 'etc', 'nip', 'nip.conf'), `[build]\n${lines.join('\n')}\n`)
  const record = () => JSON.parse(fs.readFileSync(path.join(root, 'Programs', 'gentoo-tools', 'Current', 'libexec', 'repo.source.json'), 'utf8'))
  const gentooDetection = async () => (await nip(['bootstrap', 'info', 'gentoo', '--json'])).json.result.detection

  before(async function () {
    if (!fs.existsSync(path.join(SHARED_GENTOO, PORTAGE))) {
      console.log(`    (skipped: the shared gentoo fixtures are absent at ${SHARED_GENTOO})`)
      this.skip()
    }
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-gentoo-repo-'))
    root = path.join(parent, 'root')
    beside = path.join(parent, 'beside')
    home = path.join(parent, 'home')
    for (const d of [root, beside, home]) fs.mkdirSync(d)
    fs.mkdirSync(path.join(root, 'etc', 'nip'), { recursive: true })
    fs.writeFileSync(path.join(beside, 'keep.txt'), 'must not change\n')
    // A writable copy of the repository, changed by a test below.
    myRepo = path.join(parent, 'my-repo')
    fs.cpSync(path.join(SHARED_GENTOO, 'repo'), myRepo, { recursive: true })
    execFileSync('chmod', ['-R', 'u+w', myRepo])
    besideBefore = snapshotDir(beside)
    sharedBefore = snapshotDir(SHARED_GENTOO)
  })

  after(async () => {
    await mirror?.close()
    if (parent) {
      assertUnchanged(beside, besideBefore, 'the directory beside the root')
      assertUnchanged(SHARED_GENTOO, sharedBefore, 'the shared gentoo folder')
      fs.rmSync(parent, { recursive: true, force: true })
    }
  })

  it('without a configured repository, install is not available and --yes shows the manual steps', async () => {
    conf([`bootstrap-mirrors = [${JSON.stringify(SHARED_GENTOO)}]`])
    const d = await gentooDetection()
    const install = d.choices.find((c: any) => c.id === 'install')
    assert.equal(install.available, false)
    assert.match(install.detail, /gentoo-repository/)
    const r = await nip(['bootstrap', 'install', 'gentoo', '--yes', '--json'])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.json.result.chosen, 'manual')
    assert.match(r.json.result.manual.join('\n'), /gentoo-repository/)
    assert.deepEqual(programs(), [])
  })

  it('refuses --repository for a tool without a [repository], and a directory that is not an ebuild repository; grafts nothing', async () => {
    assert.equal((await nip(['bootstrap', 'install', 'pkgsrc', '--yes', '--json', '--repository', myRepo])).json?.error?.code, 'ERR_NIP_USAGE')
    assert.equal((await nip(['bootstrap', 'info', 'gentoo', '--json', '--repository', myRepo])).json?.error?.code, 'ERR_NIP_USAGE')
    const r = await nip(['bootstrap', 'install', 'gentoo', '--yes', '--json', '--repository', path.join(myRepo, 'app-misc')])
    assert.equal(r.json?.error?.code, 'ERR_NIP_BAD_PACKAGE', r.stdout + r.stderr)
    assert.match(r.json.error.message, /profiles\/repo_name/)
    assert.deepEqual(programs(), [])
  })

  it('--repository DIR installs from a directory mirror past a mirror with wrong bytes; the repository is recorded with its digest', async () => {
    mirror = await startMirror({ [`/m/${PORTAGE}`]: { body: Buffer.from('not portage\n') } })
    conf([`bootstrap-mirrors = [${JSON.stringify(mirror.urlOf('/m'))}, ${JSON.stringify(SHARED_GENTOO)}]`])
    const repoBefore = snapshotDir(myRepo)
    const r = await nip(['bootstrap', 'install', 'gentoo', '--yes', '--json', '--repository', myRepo])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.equal(r.json.result.detection.status, 'nip')
    assert.equal(mirror.requestsFor(`/m/${PORTAGE}`).length > 0, true, 'the first mirror was asked')
    const dir = path.join(root, 'Programs', 'gentoo-tools', '3.0.82', 'libexec')
    assert.ok(fs.existsSync(path.join(dir, 'portage', 'bin', 'emerge')))
    assert.ok(fs.existsSync(path.join(dir, 'repo', 'app-misc', 'hello', 'hello-2.10-r1.ebuild')))
    assert.equal(record().kind, 'directory')
    assert.equal(record().location, myRepo)
    assert.match(record().digest, /^[0-9a-f]{64}$/)
    assertUnchanged(myRepo, repoBefore, 'the repository directory')
  })

  it('a changed repository installed again changes its digest and the fingerprint of a build', async () => {
    conf([`bootstrap-mirrors = [${JSON.stringify(SHARED_GENTOO)}]`, `gentoo-repository = ${JSON.stringify(myRepo)}`])
    const planned = async () => {
      const r = await nip(['build', '--source', 'gentoo', 'app-misc/hello@2.10', '+nls', '--dry-run', '--json'])
      assert.equal(r.status, 0, r.stdout + r.stderr)
      return r.json.result.install.plan.programs[0].packageId as string
    }
    const before = { digest: record().digest, id: await planned() }
    assert.match(before.id, /^gentoo:app-misc\/hello-2\.10-r1#[0-9a-f]{64}$/)
    // The same repository installed again: the same digest and fingerprint.
    const same = await nip(['bootstrap', 'install', 'gentoo', '--yes', '--force', '--json'])
    assert.equal(same.status, 0, same.stdout + same.stderr)
    assert.equal(record().digest, before.digest)
    assert.equal(await planned(), before.id)
    // A change elsewhere in the repository (not in hello's ebuild or Manifest).
    fs.writeFileSync(path.join(myRepo, 'profiles', 'package.mask'), '# masked nothing\n')
    // --repository on an installed tool installs it again (no --force needed).
    const again = await nip(['bootstrap', 'install', 'gentoo', '--yes', '--repository', myRepo, '--json'])
    assert.equal(again.status, 0, again.stdout + again.stderr)
    assert.notEqual(record().digest, before.digest)
    assert.ok(fs.existsSync(path.join(root, 'Programs', 'gentoo-tools', 'Current', 'libexec', 'repo', 'profiles', 'package.mask')))
    assert.notEqual(await planned(), before.id)
    assert.equal((await nip(['bootstrap', 'remove', 'gentoo', '--yes', '--json'])).status, 0)
  })

  it('a snapshot URL is verified by its signature with the configured key', async function () {
    if (spawnSync('gpg', ['--version']).status !== 0) {
      console.log('      (skipped: gpg is not installed)')
      this.skip()
    }
    const gnupg = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-gpg-'))
    const gpg = (args: string[]) => spawnSync('gpg', ['--homedir', gnupg, '--batch', '--yes', ...args], { encoding: 'utf8' })
    try {
      assert.equal(gpg(['--passphrase', '', '--quick-gen-key', 'Snapshots <snapshots@localhost>', 'ed25519', 'sign', 'never']).status, 0)
      const keyFile = path.join(parent, 'snapshots.asc')
      fs.writeFileSync(keyFile, gpg(['--armor', '--export', 'snapshots@localhost']).stdout)
      // A daily snapshot's layout: one top directory gentoo-YYYYMMDD/.
      const tree = path.join(parent, 'snap')
      fs.cpSync(path.join(SHARED_GENTOO, 'repo'), path.join(tree, 'gentoo-20260101'), { recursive: true })
      const snapshot = path.join(parent, 'gentoo-latest.tar.xz')
      execFileSync('tar', ['-C', tree, '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-cJf', snapshot, 'gentoo-20260101'])
      const sign = (file: string) => {
        assert.equal(gpg(['--detach-sign', '--armor', '-o', `${file}.asc`, file]).status, 0)
        return fs.readFileSync(`${file}.asc`)
      }
      const other = path.join(parent, 'other')
      fs.writeFileSync(other, 'another file\n')
      mirror!.setRoute('/snapshots/gentoo-latest.tar.xz', { body: fs.readFileSync(snapshot) })
      mirror!.setRoute('/snapshots/gentoo-latest.tar.xz.gpgsig', { body: sign(other) })
      const url = mirror!.urlOf('/snapshots/gentoo-latest.tar.xz')
      const base = [`bootstrap-mirrors = [${JSON.stringify(SHARED_GENTOO)}]`, `gentoo-repository = ${JSON.stringify(url)}`]
      conf(base)
      const noKey = await nip(['bootstrap', 'install', 'gentoo', '--yes', '--force', '--json'])
      assert.equal(noKey.json?.error?.code, 'ERR_NIP_CONFIG', noKey.stdout + noKey.stderr)
      assert.match(noKey.json.error.hint, /gentoo-repository-key/)
      conf([...base, `gentoo-repository-key = ${JSON.stringify(keyFile)}`])
      const bad = await nip(['bootstrap', 'install', 'gentoo', '--yes', '--force', '--json'])
      assert.equal(bad.json?.error?.code, 'ERR_NIP_SIGNATURE_INVALID', bad.stdout + bad.stderr)
      assert.equal((await gentooDetection()).status, 'missing')
      mirror!.setRoute('/snapshots/gentoo-latest.tar.xz.gpgsig', { body: sign(snapshot) })
      const good = await nip(['bootstrap', 'install', 'gentoo', '--yes', '--force', '--json'])
      assert.equal(good.status, 0, good.stdout + good.stderr)
      assert.equal(good.json.result.detection.status, 'nip')
      const rec = record()
      assert.equal(rec.kind, 'snapshot')
      assert.equal(rec.location, url)
      assert.equal(rec.sha256, sha256(fs.readFileSync(snapshot)))
      assert.match(rec.signedBy, /^[0-9a-f]{40}$/i)
      assert.ok(fs.existsSync(path.join(root, 'Programs', 'gentoo-tools', 'Current', 'libexec', 'repo', 'profiles', 'repo_name')))
      assert.equal((await nip(['bootstrap', 'remove', 'gentoo', '--yes', '--json'])).status, 0)
    } finally {
      spawnSync('gpgconf', ['--homedir', gnupg, '--kill', 'gpg-agent'])
      fs.rmSync(gnupg, { recursive: true, force: true })
    }
  })

  describe('the documented sequence (NIP_LONG_TESTS=1)', function () {
    let seqRoot: string
    const runSeq = (args: string[]) => runNip(seqRoot, home, args)

    before(async function () {
      if (!long) {
        console.log('      (skipped: set NIP_LONG_TESTS=1 to run a real emerge)')
        this.skip()
      }
      if (process.getuid?.() !== 0) {
        console.log('      (skipped: gentoo builds run emerge as root in the namespace)')
        this.skip()
      }
      if (spawnSync('bwrap', ['--version']).status !== 0) {
        console.log('      (skipped: bubblewrap is not installed)')
        this.skip()
      }
      const mirrors = debianMirrors({})
      let ok = false
      try {
        ok = mirrors.length > 0 && (await fetch(poolUrl(mirrors[0], 'hello/hello_2.12.3.orig.tar.gz'), { method: 'HEAD', signal: AbortSignal.timeout(8000) })).ok
      } catch {
        ok = false
      }
      if (!ok) {
        console.log('      (skipped: the Debian mirror of the host apt sources is unreachable)')
        this.skip()
      }
      seqRoot = path.join(parent, 'seq')
      fs.mkdirSync(path.join(seqRoot, 'etc', 'nip'), { recursive: true })
      fs.writeFileSync(path.join(seqRoot, 'etc', 'nip', 'nip.conf'), `[build]\nbootstrap-mirrors = [${JSON.stringify(SHARED_GENTOO)}]\ngentoo-repository = ${JSON.stringify(path.join(SHARED_GENTOO, 'repo'))}\n`)
    })

    it('bootstrap install gentoo, build --source gentoo app-misc/hello +nls; hello runs from the link farm; again is reused', async () => {
      const inst = await runSeq(['bootstrap', 'install', 'gentoo', '--yes', '--json'])
      assert.equal(inst.status, 0, inst.stdout + inst.stderr)
      assert.equal(inst.json.result.chosen, 'install')
      const built = await runSeq(['build', '--source', 'gentoo', 'app-misc/hello', '+nls', '--yes', '--json'])
      assert.equal(built.status, 0, built.stdout + built.stderr)
      const hello = path.join(seqRoot, 'System', 'Links', 'Executables', 'hello')
      assert.equal(execFileSync(hello, { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } }).trim(), 'Hello, world!')
      const version = fs.readlinkSync(path.join(seqRoot, 'Programs', 'hello', 'Current'))
      assert.match(version, /~nls$/)
      assert.ok(fs.existsSync(path.join(seqRoot, 'Programs', 'hello', version, 'share', 'locale', 'de', 'LC_MESSAGES', 'hello.mo')))
      const pkgDir = path.join(seqRoot, 'var', 'nip', 'cache', 'build', 'gentoo', 'packages', 'app-misc', 'hello')
      const gpkgs = fs.readdirSync(pkgDir).sort()
      // Removed and built again: the stored output of the fingerprint is grafted, not rebuilt.
      assert.equal((await runSeq(['remove', 'hello', '--yes', '--json'])).status, 0)
      const again = await runSeq(['build', '--source', 'gentoo', 'app-misc/hello', '+nls', '--yes', '--json'])
      assert.equal(again.status, 0, again.stdout + again.stderr)
      assert.deepEqual(fs.readdirSync(pkgDir).sort(), gpkgs, 'no second emerge')
      assert.equal(execFileSync(hello, { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } }).trim(), 'Hello, world!')
      assertUnchanged(beside, besideBefore, 'the directory beside the root')
    })
  })
})
