/**
 * The fleet cache end to end, through the nip executable: two roots are two machines. One grafts
 * (or builds) and pushes to a real registry (Debian's docker-registry on loopback, htpasswd
 * auth); the other installs from the registry with verification, and builds nothing when the
 * fingerprint is cached. Skipped, visibly, without docker-registry or htpasswd.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { assertUnchanged, buildTar, snapshotDir, type DirSnapshot } from '@nip/testing'
import { sandbox, type Sandbox } from './helpers.js'
import { startRegistry, which, type Registry } from '../../oci/test/registryServer.js'

const HAVE = which('docker-registry') && which('htpasswd')

async function goboPackage(name: string, version: string, files: Record<string, string>): Promise<Buffer> {
  const dirs = new Set<string>([`${name}/`, `${name}/${version}/`])
  const entries: { path: string; type?: 'dir'; content?: string; mode?: number }[] = []
  for (const [p, content] of Object.entries(files)) {
    const parts = p.split('/')
    for (let i = 1; i < parts.length; i++) dirs.add(`${name}/${version}/${parts.slice(0, i).join('/')}/`)
    entries.push({ path: `${name}/${version}/${p}`, content, mode: p.startsWith('bin/') ? 0o755 : 0o644 })
  }
  return buildTar([...[...dirs].sort().map((d) => ({ path: d, type: 'dir' as const })), ...entries], { compression: 'gzip' })
}

const HELLO = '#!/bin/sh\necho hello from the fleet\n'

describe('nip cache / [oci]: two roots as two machines of a fleet', function () {
  this.timeout(180_000)
  let reg: Registry
  let a: Sandbox
  let b: Sandbox
  let beside: string
  let besideBefore: DirSnapshot
  let publicKey: string
  let url: string

  const conf = (sb: Sandbox, text: string) => {
    fs.mkdirSync(path.join(sb.root, 'etc', 'nip'), { recursive: true })
    fs.writeFileSync(path.join(sb.root, 'etc', 'nip', 'nip.conf'), text)
  }
  const run = (sb: Sandbox, args: string[]) => sb.nip([...args, '--root', sb.root, '--json', '--yes'])

  before(async function () {
    if (!HAVE) {
      console.log('    (skipped: docker-registry (Debian package docker-registry) or htpasswd (apache2-utils) is not installed)')
      return this.skip()
    }
    reg = await startRegistry({ users: { builder: 'b-secret', reader: 'r-secret' } })
    url = `oci://${reg.host}/team/nip`
    a = sandbox()
    b = sandbox()
    beside = path.join(path.dirname(a.root), `${path.basename(a.root)}-beside`)
    fs.mkdirSync(beside)
    fs.writeFileSync(path.join(beside, 'keep'), 'x')
    besideBefore = snapshotDir(beside)
    const repo = path.join(a.home, 'repo')
    fs.mkdirSync(repo)
    fs.writeFileSync(path.join(repo, 'Hello--1.0--noarch.tar.gz'), await goboPackage('Hello', '1.0', { 'bin/hello': HELLO, 'share/doc/README': 'read me\n', 'Resources/Dependencies': '' }))
    const key = run(a, ['cache', 'keygen', 'team-1', '--out', path.join(a.home, 'keys', 'team-1.secret')])
    assert.equal(key.status, 0, key.stderr)
    publicKey = a.json(key).result.publicKey
    assert.match(publicKey, /^team-1:[A-Za-z0-9+/]{43}=$/)
    assert.equal(fs.statSync(path.join(a.home, 'keys', 'team-1.secret')).mode & 0o777, 0o600)
    // Machine A: credentials in nip's configuration. Machine B: in ~/.docker/config.json.
    conf(a, `[gobo]\nrepositories = [${JSON.stringify(repo)}]\n\n[oci]\nregistries = [${JSON.stringify(url)}]\ninsecure-registries = [${JSON.stringify(reg.host)}]\nsecret-key-files = [${JSON.stringify(path.join(a.home, 'keys', 'team-1.secret'))}]\ntrusted-public-keys = [${JSON.stringify(publicKey)}]\n\n[oci.credentials.${JSON.stringify(reg.host)}]\nusername = "builder"\npassword = "b-secret"\n`)
    conf(b, `[gobo]\nenabled = false\n\n[oci]\nregistries = [${JSON.stringify(url)}]\ninsecure-registries = [${JSON.stringify(reg.host)}]\ntrusted-public-keys = [${JSON.stringify(publicKey)}]\n`)
    fs.mkdirSync(path.join(b.home, '.docker'))
    fs.writeFileSync(path.join(b.home, '.docker', 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('reader:r-secret').toString('base64') } } }))
  })

  after(async () => {
    if (beside) {
      assertUnchanged(beside, besideBefore, 'beside the roots')
      fs.rmSync(beside, { recursive: true, force: true })
    }
    a?.cleanup()
    b?.cleanup()
    await reg?.stop()
  })

  it('A grafts and pushes; B lists, searches and installs it from the registry, verified', () => {
    const inst = run(a, ['install', 'gobo:Hello'])
    assert.equal(inst.status, 0, inst.stderr + inst.stdout)
    const push = run(a, ['cache', 'push', 'Hello'])
    assert.equal(push.status, 0, push.stderr)
    const pushed = a.json(push).result
    assert.equal(pushed.registry, url)
    assert.equal(pushed.programs.length, 1)
    assert.match(pushed.programs[0].tag, /^Hello-1\.0-[0-9a-f]{16}$/)
    assert.equal(pushed.programs[0].signedBy, 'team-1')

    const list = run(b, ['cache', 'list'])
    assert.equal(list.status, 0, list.stderr)
    assert.deepEqual(b.json(list).result.registries[0].programs.map((p: { name: string; version: string; tag: string }) => [p.name, p.version, p.tag]), [['Hello', '1.0', pushed.programs[0].tag]])
    const search = run(b, ['search', 'hell'])
    assert.equal(search.status, 0, search.stderr)
    assert.ok(JSON.stringify(b.json(search).result).includes('"source":"oci"'))

    const got = run(b, ['install', 'Hello'])
    assert.equal(got.status, 0, got.stderr)
    const file = path.join(b.root, 'Programs', 'Hello', '1.0', 'bin', 'hello')
    assert.equal(fs.readFileSync(file, 'utf8'), HELLO)
    assert.equal(fs.statSync(file).mode & 0o111, 0o111)
    assert.equal(fs.realpathSync(path.join(b.root, 'System', 'Links', 'Executables', 'hello')), fs.realpathSync(file))
    const listed = b.json(run(b, ['list'])).result
    assert.deepEqual(listed.map((p: { name: string; source: string }) => [p.name, p.source]), [['Hello', 'oci']])
  })

  it('a root that does not trust the signing key refuses the artifact and grafts nothing', () => {
    const c = sandbox()
    try {
      const other = run(c, ['cache', 'keygen', 'team-1', '--out', path.join(c.home, 'k.secret')])
      conf(c, `[gobo]\nenabled = false\n\n[oci]\nregistries = [${JSON.stringify(url)}]\ninsecure-registries = [${JSON.stringify(reg.host)}]\ntrusted-public-keys = [${JSON.stringify(c.json(other).result.publicKey)}]\n\n[oci.credentials.${JSON.stringify(reg.host)}]\nusername = "reader"\npassword = "r-secret"\n`)
      const r = run(c, ['install', 'Hello'])
      assert.equal(r.status, 65, r.stderr)
      assert.match(r.stderr + r.stdout, /ERR_NIP_ARTIFACT_SIGNATURE/)
      assert.ok(!fs.existsSync(path.join(c.root, 'Programs', 'Hello')))
    } finally {
      c.cleanup()
    }
  })

  it('wrong credentials fail with ERR_NIP_REGISTRY_AUTH (exit 77), naming the user and where they came from', () => {
    const c = sandbox()
    try {
      conf(c, `[oci]\nregistries = [${JSON.stringify(url)}]\ninsecure-registries = [${JSON.stringify(reg.host)}]\n\n[oci.credentials.${JSON.stringify(reg.host)}]\nusername = "reader"\npassword = "wrong"\n`)
      const r = run(c, ['cache', 'list'])
      assert.equal(r.status, 77, r.stderr)
      assert.match(r.stderr + r.stdout, /ERR_NIP_REGISTRY_AUTH/)
      assert.match(r.stderr + r.stdout, /reader/)
      assert.doesNotMatch(r.stderr + r.stdout, /wrong/)
    } finally {
      c.cleanup()
    }
  })

  it('nip build --push on A; nip build on B grafts the cached fingerprint and builds nothing', async function () {
    try {
      execFileSync('bwrap', ['--ro-bind', '/', '/', 'true'], { stdio: 'ignore' })
    } catch {
      console.log('    (skipped: bubblewrap is not installed or cannot run here: nip build needs it on the pushing machine)')
      return this.skip()
    }
    // A tiny recipe: a local source archive and one custom step.
    const work = path.join(a.home, 'tiny')
    fs.mkdirSync(work)
    const tarball = await buildTar([{ path: 'tiny-1.0/', type: 'dir' }, { path: 'tiny-1.0/greeting', content: 'built once\n', mode: 0o644 }], { compression: 'gzip' })
    fs.writeFileSync(path.join(work, 'tiny-1.0.tar.gz'), tarball)
    const recipes = path.join(path.dirname(a.root), `${path.basename(a.root)}-recipes`)
    fs.mkdirSync(recipes)
    fs.writeFileSync(path.join(recipes, 'tiny.toml'), `name = "tiny"\nversion = "1.0"\nsummary = "a tiny test program"\n\n[[source]]\nurl = "file://${path.join(work, 'tiny-1.0.tar.gz')}"\nsha256 = "${createHash('sha256').update(tarball).digest('hex')}"\n\n[build]\nsystem = "custom"\n\n[[build.step]]\nname = "install"\nrun = ["sh", "-c", "mkdir -p \\"$DESTDIR$PREFIX/share\\" && cp greeting \\"$DESTDIR$PREFIX/share/greeting\\""]\n`)
    for (const sb of [a, b]) fs.appendFileSync(path.join(sb.root, 'etc', 'nip', 'nip.conf'), `\n[build]\nrecipe-dirs = [${JSON.stringify(recipes)}]\n`)
    try {
      const built = run(a, ['build', 'tiny', '--push'])
      assert.equal(built.status, 0, built.stderr)
      const ra = a.json(built).result
      assert.equal(ra.pushed.programs[0].name, 'tiny')
      // The source is gone: B cannot build, only graft what the cache holds.
      fs.rmSync(path.join(work, 'tiny-1.0.tar.gz'))
      const got = run(b, ['build', 'tiny'])
      assert.equal(got.status, 0, got.stderr)
      const rb = b.json(got).result
      assert.equal(rb.build.fingerprint, ra.build.fingerprint)
      assert.equal(rb.fleet.registry, url)
      assert.equal(rb.fleet.tag, ra.pushed.programs[0].tag)
      assert.equal(fs.readFileSync(path.join(b.root, 'Programs', 'tiny', '1.0', 'share', 'greeting'), 'utf8'), 'built once\n')
    } finally {
      fs.rmSync(recipes, { recursive: true, force: true })
    }
  })
})
