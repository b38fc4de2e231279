/**
 * A whole life cycle through the executable, with a local Gobo repository as the source:
 * install (dry run, then for real), list, owns, status, logs, remove.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { buildTar } from '@nip/testing'
import { sandbox, type Sandbox } from './helpers.js'

describe('nip install/list/owns/remove with a Gobo repository', function () {
  this.timeout(60_000)
  let sb: Sandbox
  let repo: string
  before(async () => {
    sb = sandbox()
    repo = path.join(sb.home, 'repo')
    fs.mkdirSync(repo)
    const tar = await buildTar(
      [
        { path: 'Hello/', type: 'dir' },
        { path: 'Hello/1.0/', type: 'dir' },
        { path: 'Hello/1.0/bin/', type: 'dir' },
        { path: 'Hello/1.0/bin/hello', content: '#!/bin/sh\necho hello\n', mode: 0o755 },
        { path: 'Hello/1.0/Resources/', type: 'dir' },
        { path: 'Hello/1.0/Resources/Dependencies', content: '' },
      ],
      { compression: 'gzip' },
    )
    fs.writeFileSync(path.join(repo, 'Hello--1.0--noarch.tar.gz'), tar)
    fs.mkdirSync(path.join(sb.root, 'etc', 'nip'), { recursive: true })
    fs.writeFileSync(path.join(sb.root, 'etc', 'nip', 'nip.conf'), `[gobo]\nrepositories = [${JSON.stringify(repo)}]\n`)
  })
  after(() => sb.cleanup())

  it('a dry run plans Hello 1.0 from gobo and changes nothing', () => {
    const r = sb.nip(['install', 'Hello', '--dry-run', '--root', sb.root, '--json'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    const env = sb.json(r)
    assert.equal(env.command, 'install')
    assert.equal(env.result.dryRun, true)
    assert.deepEqual(env.result.plan.programs.map((p: { name: string; version: string; source: string; reason: string }) => [p.name, p.version, p.source, p.reason]), [['Hello', '1.0', 'gobo', 'explicit']])
    assert.equal(fs.existsSync(path.join(sb.root, 'Programs')), false)
  })

  it('graft grafts it, links it, and the read commands see it', () => {
    const r = sb.nip(['graft', 'gobo:Hello', '--root', sb.root, '--json'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    const env = sb.json(r)
    assert.equal(env.command, 'graft')
    assert.deepEqual(env.result.grafted.map((p: { name: string; version: string; current: boolean }) => [p.name, p.version, p.current]), [['Hello', '1.0', true]])
    assert.equal(fs.readlinkSync(path.join(sb.root, 'Programs', 'Hello', 'Current')), '1.0')
    assert.equal(fs.statSync(path.join(sb.root, 'System', 'Links', 'Executables', 'hello')).mode & 0o777, 0o555, 'CAS blobs are read-only')

    const list = sb.json(sb.nip(['list', '--root', sb.root, '--json']))
    assert.deepEqual(list.result.map((p: { name: string; version: string; source: string }) => [p.name, p.version, p.source]), [['Hello', '1.0', 'gobo']])
    const owns = sb.json(sb.nip(['owns', 'System/Links/Executables/hello', '--root', sb.root, '--json']))
    assert.deepEqual({ kind: owns.result.kind, owner: owns.result.owner }, { kind: 'link', owner: { name: 'Hello', version: '1.0' } })
    const status = sb.json(sb.nip(['status', '--root', sb.root, '--json']))
    assert.equal(status.result.programs, 1)
    const human = sb.nip(['list', '--root', sb.root, '--no-color'])
    assert.match(human.stdout, /^Hello\s+1\.0 \*\s+gobo\s/m)
  })

  it('remove removes it and its links; logs records both transactions', () => {
    const r = sb.nip(['remove', 'Hello', '--root', sb.root, '--json'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.deepEqual(sb.json(r).result.removed, [{ name: 'Hello', version: '1.0' }])
    // Removed from the current generation (no Current, no links); the tree stays for rollback until gc.
    assert.equal(fs.existsSync(path.join(sb.root, 'Programs', 'Hello', 'Current')), false)
    assert.equal(fs.existsSync(path.join(sb.root, 'System', 'Links', 'Executables', 'hello')), false)
    // nip list shows the current generation; --all also shows the version kept for rollback.
    assert.deepEqual(sb.json(sb.nip(['list', '--root', sb.root, '--json'])).result, [])
    const listed = sb.json(sb.nip(['list', '--all', '--root', sb.root, '--json'])).result as { name: string; active: boolean }[]
    assert.deepEqual(listed.map((p) => `${p.name}:${p.active}`), ['Hello:false'])
    // An older generation still references it, so gc keeps it; once only the current generation is kept, gc frees it.
    assert.equal(sb.nip(['gc', '--root', sb.root, '--json']).status, 0)
    assert.equal(fs.existsSync(path.join(sb.root, 'Programs', 'Hello', '1.0')), true)
    const del = sb.nip(['generations', 'delete', '--keep', '1', '--root', sb.root, '--json'])
    assert.equal(del.status, 0, del.stdout + del.stderr)
    const gc = sb.nip(['gc', '--root', sb.root, '--json'])
    assert.equal(gc.status, 0, gc.stdout + gc.stderr)
    assert.equal(fs.existsSync(path.join(sb.root, 'Programs', 'Hello', '1.0')), false)
    const logs = sb.json(sb.nip(['logs', '--root', sb.root, '--json']))
    assert.deepEqual(logs.result.map((l: { outcome: string }) => l.outcome).slice(0, 2), ['ok', 'ok'])
    const again = sb.nip(['remove', 'Hello', '--root', sb.root, '--json'])
    assert.equal(again.status, 3)
    assert.equal(sb.json(again).error.code, 'ERR_NIP_NOT_INSTALLED')
  })
})
