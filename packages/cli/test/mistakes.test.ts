/**
 * The executable's answers to ordinary mistakes and ordinary situations, each with its error
 * class and exit status: a --root that does not exist, a reader without write access, the
 * transaction log's command line, a size flag, a file that is no package, an unowned path, a
 * version range, an unknown source, a missing version, info's dependencies, config show and
 * source keys, switch to Current, rollback over folded links.
 *
 * The source is a local Gobo repository; every other source is disabled, so nothing here uses
 * the network.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { buildTar } from '@nip/testing'
import { BIN, sandbox, type NipRun, type Sandbox } from './helpers.js'

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

const OTHERS = ['nix', 'pkgsrc', 'pacman', 'gentoo', 'debian', 'build']

describe('nip: answers to ordinary mistakes and situations', function () {
  this.timeout(120_000)
  let sb: Sandbox
  let repo: string
  let conf: string
  const run = (...args: string[]): NipRun => sb.nip([...args, '--root', sb.root])
  const json = (...args: string[]) => {
    const r = sb.nip([...args, '--root', sb.root, '--json'])
    return { status: r.status, stderr: r.stderr, doc: sb.json(r) }
  }

  before(async () => {
    sb = sandbox()
    repo = path.join(sb.home, 'repo')
    fs.mkdirSync(repo)
    const deps = 'LibGreet >= 1.0\n'
    const pkgs: [string, Buffer][] = [
      ['Hello--1.0--noarch.tar.gz', await goboPackage('Hello', '1.0', { 'bin/hello': '#!/bin/sh\necho 1\n', 'share/hello/a': 'a1\n', 'Resources/Dependencies': deps })],
      ['Hello--2.0--noarch.tar.gz', await goboPackage('Hello', '2.0', { 'bin/hello': '#!/bin/sh\necho 2\n', 'share/hello/a': 'a2\n', 'share/hello/b': 'b\n', 'Resources/Dependencies': deps })],
      ['LibGreet--1.0--noarch.tar.gz', await goboPackage('LibGreet', '1.0', { 'lib/libgreet.so': 'x\n', 'Resources/Dependencies': '' })],
    ]
    for (const [file, tar] of pkgs) fs.writeFileSync(path.join(repo, file), tar)
    conf = `[gobo]\nrepositories = [${JSON.stringify(repo)}]\n${OTHERS.map((s) => `[${s}]\nenabled = false\n`).join('')}`
    fs.mkdirSync(path.join(sb.root, 'etc', 'nip'), { recursive: true })
    fs.writeFileSync(path.join(sb.root, 'etc', 'nip', 'nip.conf'), conf)
  })
  after(() => sb.cleanup())

  describe('a --root that does not exist', () => {
    const missing = () => path.join(sb.home, 'no-such-root')
    for (const cmd of [['list'], ['status'], ['doctor'], ['gc'], ['logs'], ['owns', 'bin/x'], ['info', 'Hello'], ['install', 'Hello', '--dry-run']]) {
      it(`is refused by ${cmd.join(' ')}, which creates nothing`, () => {
        const r = sb.nip([...cmd, '--root', missing(), '--json'])
        assert.equal(r.status, 78, r.stdout + r.stderr)
        const doc = sb.json(r)
        assert.equal(doc.error.code, 'ERR_NIP_ROOT')
        assert.equal(doc.error.message, `The root ${missing()} does not exist.`)
        if (cmd.includes('--dry-run')) assert.match(doc.error.hint, /A dry run creates nothing/)
        assert.equal(fs.existsSync(missing()), false)
      })
    }
    it('is created by a first install', () => {
      const fresh = path.join(sb.home, 'fresh-root')
      const r = sb.nip(['install', 'Hello', '--root', fresh, '--config', path.join(sb.root, 'etc', 'nip', 'nip.conf'), '--yes'])
      assert.equal(r.status, 0, r.stderr)
      assert.ok(fs.existsSync(path.join(fresh, 'System/Links/Executables/hello')))
    })
  })

  describe('on a root with Hello grafted', () => {
    before(() => {
      const r = run('install', 'Hello@1.0', '--yes')
      assert.equal(r.status, 0, r.stderr)
      const r2 = run('install', 'Hello', '--yes')
      assert.equal(r2.status, 0, r2.stderr)
    })

    it('the log records the whole command line, package names included', () => {
      const { doc } = json('logs')
      const commands = doc.result.map((l: { command: string }) => l.command)
      assert.deepEqual(commands.slice(-2), [`nip install Hello@1.0 --yes --root ${sb.root}`, `nip install Hello --yes --root ${sb.root}`])
    })

    it('gc --max-freed 1Q is a usage error naming the flag', () => {
      const { status, doc } = json('gc', '--max-freed', '1Q')
      assert.equal(status, 64)
      assert.equal(doc.error.code, 'ERR_NIP_USAGE')
      assert.equal(doc.error.message, '--max-freed: "1Q" is not a size.')
      assert.deepEqual(doc.error.data, { flag: 'max-freed', value: '1Q' })
    })

    it('a .deb that is no package is a format error, named as a path or as a bare file name', () => {
      fs.writeFileSync(path.join(sb.home, 'notes.deb'), 'just some text\n')
      for (const spec of ['./notes.deb', 'notes.deb']) {
        const { status, doc } = json('install', spec, '--yes')
        assert.equal(status, 65, spec)
        assert.equal(doc.error.code, 'ERR_NIP_BAD_PACKAGE', spec)
        assert.doesNotMatch(doc.error.hint, /spelling/)
      }
      const gone = json('install', 'gone.deb', '--yes')
      assert.equal(gone.doc.error.code, 'ERR_NIP_BAD_SPEC')
    })

    it('owns exits 1 for a path nobody owns, 0 for one that is owned', () => {
      const none = run('owns', 'System/Links/Executables/nothing')
      assert.equal(none.status, 1)
      assert.equal(none.stdout, 'System/Links/Executables/nothing is not owned by any grafted program.\n')
      assert.equal(run('owns', 'System/Links/Executables/hello').status, 0)
    })

    it('version ranges and a bare @version are refused as specs, not taken as names', () => {
      const range = json('install', 'Hello>=1.5', '--yes')
      assert.equal(range.status, 64)
      assert.equal(range.doc.error.code, 'ERR_NIP_BAD_SPEC')
      assert.deepEqual(range.doc.error.data, { spec: 'Hello>=1.5', name: 'Hello', operator: '>=', version: '1.5' })
      assert.match(range.doc.error.hint, /Hello@1\.5/)
      const at = json('info', '@1.0')
      assert.equal(at.status, 64)
      assert.equal(at.doc.error.code, 'ERR_NIP_BAD_SPEC')
      assert.match(at.doc.error.message, /no package name/)
    })

    it('info --source with an unknown source is refused, also for a grafted program', () => {
      const { status, doc } = json('info', 'Hello', '--source', 'foo')
      assert.equal(status, 64)
      assert.equal(doc.error.code, 'ERR_NIP_UNKNOWN_SOURCE')
    })

    it('a version no source has lists the versions that exist', () => {
      const { status, doc } = json('install', 'Hello@9.9', '--yes')
      assert.equal(status, 3)
      assert.equal(doc.error.code, 'ERR_NIP_NOT_FOUND')
      // Sources with nothing configured (the fleet cache without registries) are listed as such.
      assert.ok(doc.error.data.tried.filter((t: { configured?: boolean }) => t.configured === false).every((t: { outcome: string }) => t.outcome === 'is not configured'))
      assert.deepEqual(doc.error.data.tried.filter((t: { configured?: boolean }) => t.configured !== false), [{ source: 'gobo', outcome: 'has no Hello at version 9.9; it has 2.0, 1.0', versions: ['2.0', '1.0'] }])
      assert.match(doc.error.hint, /Hello@2\.0/)
    })

    it('info lists the dependencies once, marking the grafted ones', () => {
      const { doc } = json('info', 'Hello')
      assert.deepEqual(doc.result.dependencies, [{ name: 'LibGreet', constraint: '>= 1.0', grafted: true }])
      const text = run('info', 'Hello').stdout
      assert.equal(text.match(/Depends on:/g)?.length, 1)
      assert.match(text, /^Depends on: LibGreet >= 1\.0 \(grafted\)$/m)
      assert.doesNotMatch(text, /Needs:/)
    })

    it('switch to the Current version says it is already Current', () => {
      assert.equal(run('switch', 'Hello', '2.0').stdout, 'Hello 2.0 is already Current; nothing changed.\n')
      assert.equal(json('switch', 'Hello', '2.0').doc.result.alreadyCurrent, true)
    })

    it("rollback takes back folded links without calling them other programs'", () => {
      assert.ok(fs.lstatSync(path.join(sb.root, 'System/Links/Shared/hello')).isSymbolicLink(), 'share/hello is one folded link')
      const r = run('rollback', '--yes')
      assert.equal(r.status, 0, r.stderr)
      assert.doesNotMatch(r.stderr, /taken by other programs|links-skipped/)
      assert.equal(fs.readFileSync(path.join(sb.root, 'System/Links/Shared/hello/a'), 'utf8'), 'a1\n')
      assert.equal(fs.existsSync(path.join(sb.root, 'System/Links/Shared/hello/b')), false)
      assert.equal(json('doctor').doc.result.healthy, true)
    })

    it('a reader without write access to a root-owned root reads; a writer is told why it cannot write', function () {
      if (process.getuid?.() !== 0) {
        console.log('      (skipped: needs root to run the reader as nobody)')
        this.skip()
      }
      const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p))
      if (!setpriv) {
        console.log('      (skipped: setpriv not installed)')
        this.skip()
      }
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-nobody-home-'))
      fs.chmodSync(home, 0o777)
      // The sandbox directories are private (mkdtemp): open the way down to the root for reading.
      for (const d of [sb.home, sb.root]) fs.chmodSync(d, 0o755)
      const asNobody = (...args: string[]): NipRun => {
        const r = spawnSync(setpriv!, ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args, '--root', sb.root], {
          cwd: home,
          encoding: 'utf8',
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home },
        })
        return { status: r.status, stdout: r.stdout, stderr: r.stderr }
      }
      try {
        const probe = asNobody('--version')
        if (probe.status !== 0) {
          console.log(`      (skipped: nobody cannot run nip from this checkout: ${probe.stderr.trim().split('\n')[0]})`)
          this.skip()
        }
        for (const cmd of [['list'], ['info', 'Hello'], ['status'], ['owns', 'System/Links/Executables/hello'], ['doctor'], ['logs']]) {
          const r = asNobody(...cmd)
          assert.equal(r.status, 0, `${cmd.join(' ')}: ${r.stderr}`)
        }
        assert.match(asNobody('list').stdout, /^Hello +1\.0 \* /m)
        const w = asNobody('remove', 'Hello', '--yes', '--json')
        assert.equal(w.status, 74, w.stdout + w.stderr)
        const err = JSON.parse(w.stdout.trim()).error
        assert.equal(err.code, 'ERR_NIP_IO')
        assert.match(err.message, /EACCES/)
        assert.match(err.hint, /run nip as its owner/)
      } finally {
        fs.rmSync(home, { recursive: true, force: true })
      }
    })
  })

  describe('config', () => {
    it('config show prints sizes as written and every key of each source table', () => {
      const text = run('config', 'show').stdout
      assert.match(text, /^max-archive-size +64G +default$/m)
      assert.match(text, /^gobo\.repositories +\[.*\] +system /m)
      assert.match(text, /^debian\.host-sources +\(the source's default\) +default$/m)
      assert.match(text, /^nix\.substituters +\(the source's default\) +default$/m)
      const { doc } = json('config', 'show')
      assert.equal(doc.result.origins['max-archive-size'].value, 68719476736)
      assert.deepEqual(doc.result.sizeKeys, ['max-archive-size'])
    })

    it('an unknown key inside a source table is ERR_NIP_CONFIG naming the file and the nearest key', () => {
      const extra = path.join(sb.home, 'extra.conf')
      fs.writeFileSync(extra, '[gobo]\nrepositorys = []\n')
      const r = sb.nip(['list', '--root', sb.root, '--config', extra, '--json'])
      assert.equal(r.status, 78)
      const err = sb.json(r).error
      assert.equal(err.code, 'ERR_NIP_CONFIG')
      assert.equal(err.message, `${extra}: unknown key "repositorys" in the [gobo] table.`)
      assert.equal(err.data.suggestion, 'repositories')
    })
  })
})
