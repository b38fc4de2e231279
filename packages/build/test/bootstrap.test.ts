/**
 * nip bootstrap through the nip executable: the shipped recipes and the detection chain, the
 * choices as data (--json), the recommended one (--yes), the menu on a pseudo-terminal
 * (`script -qec`), installing Portage and an ebuild repository from a local loopback mirror into
 * the root (owned in the DB, listed by doctor, removable), a wrong hash and a killed install
 * leaving nothing visible, update-recipes with a hash-checked index, and nothing written beside
 * the root.
 *
 * The gentoo part uses Portage's source snapshot and the minimal ebuild repository in the
 * project's shared fixtures (`../shared/gentoo` beside the checkout); it skips visibly without them.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { snapshotDir, assertUnchanged, startMirror, type DirSnapshot, type Mirror } from '@nip/testing'
import { SHARED_GENTOO, gentooRecipe, repoTarball, runAsync, runNip, sha256 } from './helpers/gentooFixtures.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const REPO = path.resolve(HERE, '..', '..', '..')
const BIN = path.join(REPO, 'packages', 'cli', 'bin', 'run.js')

describe('nip bootstrap', function () {
  this.timeout(300_000)
  let parent: string
  let root: string
  let beside: string
  let home: string
  let recipes: string
  let besideBefore: DirSnapshot
  let mirror: Mirror | undefined
  const nip = (args: string[]) => runNip(root, home, args)
  /** Version directories and Current links visible under Programs/NAME (staging is hidden). */
  const visible = (name: string) => (fs.existsSync(path.join(root, 'Programs', name)) ? fs.readdirSync(path.join(root, 'Programs', name)).filter((n) => !n.startsWith('.')).sort() : [])
  const programs = () => (fs.existsSync(path.join(root, 'Programs')) ? fs.readdirSync(path.join(root, 'Programs')).filter((n) => !n.startsWith('.')).sort() : [])

  before(() => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-bootstrap-'))
    root = path.join(parent, 'root')
    beside = path.join(parent, 'beside')
    home = path.join(parent, 'home')
    recipes = path.join(parent, 'recipes')
    for (const d of [root, beside, home, recipes]) fs.mkdirSync(d)
    fs.writeFileSync(path.join(beside, 'keep.txt'), 'must not change\n')
    fs.mkdirSync(path.join(root, 'etc', 'nip'), { recursive: true })
    fs.writeFileSync(path.join(root, 'etc', 'nip', 'nip.conf'), `[build]\nbootstrap-recipe-dirs = [${JSON.stringify(recipes)}]\n`)
    besideBefore = snapshotDir(beside)
  })

  after(async () => {
    await mirror?.close()
    if (beside) assertUnchanged(beside, besideBefore, 'the directory beside the root')
    if (parent) fs.rmSync(parent, { recursive: true, force: true })
  })

  it('lists the shipped tools with where each was found', async () => {
    const r = (await nip(['bootstrap', 'list', '--json']))
    assert.equal(r.status, 0, r.stderr)
    const tools = new Map<string, any>(r.json.result.tools.map((t: any) => [t.tool, t]))
    assert.deepEqual([...tools.keys()].sort(), ['container', 'gentoo', 'nix', 'pkgsrc'])
    // pkgsrc cannot be installed by nip here: the recommended way is the manual one.
    const pkgsrc = tools.get('pkgsrc')
    assert.equal(pkgsrc.choices.find((c: any) => c.id === 'install').available, false)
    if (pkgsrc.status === 'missing') assert.equal(pkgsrc.recommended, 'manual')
    assert.deepEqual(pkgsrc.choices.map((c: any) => c.id), ['install', 'container', 'manual', 'source:pkgsrc', 'source:build'])
    for (const t of tools.values()) assert.ok(['host', 'nip', 'container', 'missing'].includes(t.status))
  })

  it('refuses an unknown tool and a missing TOOL with their codes', async () => {
    const r = (await nip(['bootstrap', 'info', 'gentu', '--json']))
    assert.equal(r.json.error.code, 'ERR_NIP_NOT_FOUND')
    assert.match(r.json.error.hint, /gentoo/)
    assert.equal((await nip(['bootstrap', 'install', '--json'])).json.error.code, 'ERR_NIP_USAGE')
    assert.equal((await nip(['bootstrap', 'remove', 'pkgsrc', '--json'])).json.error.code, 'ERR_NIP_NOT_INSTALLED')
  })

  it('shows the manual steps with --yes where nothing can be installed, and changes nothing', async () => {
    const r = (await nip(['bootstrap', 'install', 'pkgsrc', '--yes', '--json']))
    assert.equal(r.status, 0, r.stderr)
    if (r.json.result.detection.status !== 'missing') return
    assert.equal(r.json.result.chosen, 'manual')
    assert.ok(r.json.result.manual.length >= 2)
    assert.deepEqual(programs(), [])
    assert.equal((await nip(['bootstrap', 'install', 'pkgsrc', '--choice', 'install', '--json'])).json.error.code, 'ERR_NIP_NOT_AVAILABLE')
  })

  describe('gentoo from a loopback mirror', function () {
    let portage: Buffer
    let repo: Buffer

    before(async function () {
      if (!fs.existsSync(path.join(SHARED_GENTOO, 'portage-a20ef27.tar.gz'))) {
        console.log(`    (skipped: the shared gentoo fixtures are absent at ${SHARED_GENTOO})`)
        this.skip()
      }
      portage = fs.readFileSync(path.join(SHARED_GENTOO, 'portage-a20ef27.tar.gz'))
      repo = repoTarball(parent)
      mirror = await startMirror({ '/portage-a20ef27.tar.gz': { body: portage }, '/gentoo-repo.tar.gz': { body: repo } })
      fs.writeFileSync(path.join(recipes, 'gentoo.toml'), gentooRecipe(mirror, portage, repo))
    })

    it('with --json only reports the choices (install recommended) and installs nothing', async () => {
      const r = (await nip(['bootstrap', 'install', 'gentoo', '--json']))
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.json.result.chosen, null)
      assert.equal(r.json.result.detection.status, 'missing')
      assert.equal(r.json.result.detection.recommended, 'install')
      assert.deepEqual(programs(), [])
      assert.equal(mirror!.requests.length, 0)
    })

    it('a wrong hash is refused with ERR_NIP_HASH_MISMATCH and nothing is grafted', async () => {
      const bad = path.join(parent, 'bad-recipes')
      fs.mkdirSync(bad, { recursive: true })
      fs.writeFileSync(path.join(bad, 'gentoo.toml'), gentooRecipe(mirror!, portage, repo, { badHash: true }))
      const conf = path.join(parent, 'bad.conf')
      fs.writeFileSync(conf, `[build]\nbootstrap-recipe-dirs = [${JSON.stringify(bad)}]\n`)
      const r = (await nip(['bootstrap', 'install', 'gentoo', '--yes', '--json', '--config', conf]))
      assert.equal(r.json?.error?.code, 'ERR_NIP_HASH_MISMATCH', r.stdout + r.stderr)
      assert.deepEqual(programs(), [])
    })

    it('a killed install leaves nothing visible', async () => {
      mirror!.setRoute('/gentoo-repo.tar.gz', { body: repo, fault: { type: 'stall', after: 1000 } })
      const child = spawn(process.execPath, [BIN, 'bootstrap', 'install', 'gentoo', '--yes', '--json', '--root', root], { cwd: home, env: { ...process.env, HOME: home, NIP_CONFIG: '' }, stdio: 'ignore' })
      const deadline = Date.now() + 120_000
      while (mirror!.requestsFor('/gentoo-repo.tar.gz').length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
      assert.ok(mirror!.requestsFor('/gentoo-repo.tar.gz').length > 0, 'the install reached the repository download')
      child.kill('SIGKILL')
      await new Promise((r) => child.once('close', r))
      mirror!.setRoute('/gentoo-repo.tar.gz', { body: repo })
      assert.deepEqual(visible('gentoo-tools'), [])
      const list = (await nip(['bootstrap', 'list', '--json']))
      assert.equal(list.json.result.tools.find((t: any) => t.tool === 'gentoo').status, 'missing')
    })

    it('--yes installs Portage and the repository into the root; doctor lists it; remove takes it away', async () => {
      const r = (await nip(['bootstrap', 'install', 'gentoo', '--yes', '--json']))
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.json.result.chosen, 'install')
      assert.equal(r.json.result.detection.status, 'nip')
      const dir = path.join(root, 'Programs', 'gentoo-tools', '3.0.82')
      assert.ok(fs.existsSync(path.join(dir, 'libexec', 'portage', 'bin', 'emerge')))
      assert.ok(fs.existsSync(path.join(dir, 'libexec', 'repo', 'app-misc', 'hello', 'hello-2.10-r1.ebuild')))
      // Portage's helpers are not linked onto the root's PATH.
      assert.ok(!fs.existsSync(path.join(root, 'System', 'Links', 'Executables', 'emerge')))
      const info = (await nip(['bootstrap', 'info', 'gentoo', '--json']))
      assert.equal(info.json.result.detection.nip.version, '3.0.82')
      const doc = (await nip(['doctor', '--json']))
      const finding = doc.json.result.findings.find((f: any) => f.check === 'bootstrap-tools')
      assert.equal(finding.severity, 'ok')
      assert.match(finding.paths.join('\n'), /gentoo: gentoo-tools 3\.0\.82/)
      const again = (await nip(['bootstrap', 'install', 'gentoo', '--yes', '--json']))
      assert.equal(again.json.result.chosen, null)
      assert.match(again.json.result.outcome, /already installed by nip/)
      const rm = (await nip(['bootstrap', 'remove', 'gentoo', '--yes', '--json']))
      assert.equal(rm.status, 0, rm.stderr)
      // Removed like any program: no Current, no links; its tree is kept for rollback until nip gc.
      assert.ok(!visible('gentoo-tools').includes('Current'))
      assert.equal((await nip(['bootstrap', 'list', '--json'])).json.result.tools.find((t: any) => t.tool === 'gentoo').status, 'missing')
    })

    it('on a terminal offers the menu; Enter takes the recommended choice', async function () {
      if (spawnSync('script', ['--version']).status !== 0) {
        console.log('      (skipped: script(1) from util-linux is not installed)')
        this.skip()
      }
      const cmd = [process.execPath, BIN, 'bootstrap', 'install', 'gentoo', '--root', root].map((a) => `'${a}'`).join(' ')
      // Answers are typed when the prompts appear: Enter on the menu, Enter on the confirmation.
      const r = await new Promise<{ stdout: string }>((resolve, reject) => {
        const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: home, env: { ...process.env, HOME: home, NIP_CONFIG: '', TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] })
        let stdout = ''
        let menu = false
        let confirm = false
        child.stdout.on('data', (d) => {
          stdout += d
          if (!menu && stdout.includes('What should nip do?')) {
            menu = true
            child.stdin.write('\r')
          }
          if (!confirm && /Graft .*[[(]Y\/n[\])]/.test(stdout)) {
            confirm = true
            child.stdin.write('\r')
          }
        })
        child.on('error', reject)
        child.on('close', () => resolve({ stdout }))
      })
      const out = r.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
      assert.match(out, /What should nip do\?/)
      assert.match(out, /Install minimal tools/)
      assert.match(out, /Show the manual steps/)
      assert.ok(fs.existsSync(path.join(root, 'Programs', 'gentoo-tools', '3.0.82', 'libexec', 'portage', 'bin', 'emerge')), out)
      assert.equal((await nip(['bootstrap', 'remove', 'gentoo', '--yes', '--json'])).status, 0)
    })
  })

  describe('update-recipes', function () {
    let server: Mirror
    before(async () => {
      server = await startMirror({})
    })
    after(async () => server?.close())

    it('refuses a file whose hash differs from the index and changes nothing; then installs the good ones', async () => {
      const text = fs.readFileSync(path.join(REPO, 'bootstrap', 'pkgsrc.toml'), 'utf8').replace('version = "2025Q4"', 'version = "2026Q1"')
      server.setRoute('/r/pkgsrc.toml', { body: text })
      server.setRoute('/r/index.json', { body: JSON.stringify({ files: [{ path: 'pkgsrc.toml', sha256: sha256(Buffer.from(text + ' ')) }] }) })
      const conf = path.join(parent, 'update.conf')
      fs.writeFileSync(conf, `[build]\nbootstrap-recipes-url = "${server.urlOf('/r')}"\n`)
      const bad = (await nip(['bootstrap', 'update-recipes', '--json', '--config', conf]))
      assert.equal(bad.json?.error?.code, 'ERR_NIP_HASH_MISMATCH', bad.stdout + bad.stderr)
      assert.equal((await nip(['bootstrap', 'info', 'pkgsrc', '--json'])).json.result.detection.version, '2025Q4')
      server.setRoute('/r/index.json', { body: JSON.stringify({ files: [{ path: 'pkgsrc.toml', sha256: sha256(Buffer.from(text)) }] }) })
      const good = (await nip(['bootstrap', 'update-recipes', '--json', '--config', conf]))
      assert.equal(good.status, 0, good.stderr)
      assert.equal(good.json.result.files.length, 1)
      assert.ok(good.json.result.dir.startsWith(root))
      assert.equal((await nip(['bootstrap', 'info', 'pkgsrc', '--json'])).json.result.detection.version, '2026Q1')
      const none = (await nip(['bootstrap', 'update-recipes', '--json']))
      assert.equal(none.json.error.code, 'ERR_NIP_CONFIG')
    })

    it('with a signing key, requires index.json.sig by that key', async function () {
      if (spawnSync('gpg', ['--version']).status !== 0) {
        console.log('      (skipped: gpg is not installed)')
        this.skip()
      }
      const gnupg = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-gpg-'))
      const gpg = (args: string[], input?: string) => spawnSync('gpg', ['--homedir', gnupg, '--batch', '--yes', ...args], { encoding: 'utf8', ...(input !== undefined ? { input } : {}) })
      try {
        assert.equal(gpg(['--passphrase', '', '--quick-gen-key', 'Recipes <recipes@localhost>', 'ed25519', 'sign', 'never']).status, 0)
        const keyFile = path.join(parent, 'recipes-key.asc')
        fs.writeFileSync(keyFile, gpg(['--armor', '--export', 'recipes@localhost']).stdout)
        const text = fs.readFileSync(path.join(REPO, 'bootstrap', 'pkgsrc.toml'), 'utf8').replace('version = "2025Q4"', 'version = "2026Q2"')
        const index = JSON.stringify({ files: [{ path: 'pkgsrc.toml', sha256: sha256(Buffer.from(text)) }] })
        const sign = (data: string) => {
          const f = path.join(gnupg, 'data')
          fs.writeFileSync(f, data)
          assert.equal(gpg(['--detach-sign', '--armor', '-o', `${f}.asc`, f]).status, 0)
          return fs.readFileSync(`${f}.asc`)
        }
        server.setRoute('/s/pkgsrc.toml', { body: text })
        server.setRoute('/s/index.json', { body: index })
        server.setRoute('/s/index.json.sig', { body: sign(index.replace('pkgsrc', 'pkgsrx')) })
        const conf = path.join(parent, 'signed.conf')
        fs.writeFileSync(conf, `[build]\nbootstrap-recipes-url = "${server.urlOf('/s')}"\nbootstrap-recipes-key = ${JSON.stringify(keyFile)}\n`)
        const bad = await nip(['bootstrap', 'update-recipes', '--json', '--config', conf])
        assert.equal(bad.json?.error?.code, 'ERR_NIP_SIGNATURE_INVALID', bad.stdout + bad.stderr)
        assert.notEqual((await nip(['bootstrap', 'info', 'pkgsrc', '--json'])).json.result.detection.version, '2026Q2')
        server.setRoute('/s/index.json.sig', { body: sign(index) })
        const good = await nip(['bootstrap', 'update-recipes', '--json', '--config', conf])
        assert.equal(good.status, 0, good.stdout + good.stderr)
        assert.equal(good.json.result.signed, true)
        assert.equal((await nip(['bootstrap', 'info', 'pkgsrc', '--json'])).json.result.detection.version, '2026Q2')
      } finally {
        spawnSync('gpgconf', ['--homedir', gnupg, '--kill', 'gpg-agent'])
        fs.rmSync(gnupg, { recursive: true, force: true })
      }
    })
  })
})
