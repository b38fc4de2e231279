/**
 * Help and discovery through the executable: nip help [COMMAND], -h/--help on every command,
 * -v/--version, a suggestion for a mistyped command, the completion scripts (bash run for real;
 * zsh and fish checked by their own parser where installed), `files`, `why`, `list --explicit |
 * --deps | --orphans`, `cache clean [--all]`, and "did you mean" for a package from a local Gobo
 * repository, with the sources that have nothing configured named as such.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { assertUnchanged, buildTar, snapshotDir } from '@nip/testing'
import { COMMANDS } from '../src/commandIndex.js'
import { BIN, CLI_DIR, sandbox, type Sandbox } from './helpers.js'

const version = (JSON.parse(fs.readFileSync(path.join(CLI_DIR, 'package.json'), 'utf8')) as { version: string }).version

async function goboPackage(name: string, version: string, files: Record<string, string>): Promise<Buffer> {
  const dirs = new Set<string>([`${name}/`, `${name}/${version}/`])
  const entries: { path: string; content?: string; mode?: number }[] = []
  for (const [p, content] of Object.entries(files)) {
    const parts = p.split('/')
    for (let i = 1; i < parts.length; i++) dirs.add(`${name}/${version}/${parts.slice(0, i).join('/')}/`)
    entries.push({ path: `${name}/${version}/${p}`, content, mode: p.startsWith('bin/') ? 0o755 : 0o644 })
  }
  return buildTar([...[...dirs].sort().map((d) => ({ path: d, type: 'dir' as const })), ...entries], { compression: 'gzip' })
}

const hasShell = (sh: string): boolean => spawnSync('sh', ['-c', `command -v ${sh}`]).status === 0

describe('help and discovery', function () {
  this.timeout(120_000)
  let sb: Sandbox
  let beside: string
  let binDir: string
  const run = (...args: string[]) => sb.nip([...args, '--root', sb.root])
  const json = (...args: string[]) => {
    const r = sb.nip([...args, '--root', sb.root, '--json'])
    return { status: r.status, env: sb.json(r), stderr: r.stderr }
  }

  before(async () => {
    sb = sandbox()
    beside = path.join(sb.home, 'beside')
    fs.mkdirSync(beside)
    fs.writeFileSync(path.join(beside, 'keep'), 'keep\n')
    const repo = path.join(sb.home, 'repo')
    fs.mkdirSync(repo)
    fs.writeFileSync(path.join(repo, 'Hello--1.0--noarch.tar.gz'), await goboPackage('Hello', '1.0', { 'bin/hello': '#!/bin/sh\necho hello\n', 'Resources/Dependencies': 'HelloData >= 1.0\n' }))
    fs.writeFileSync(path.join(repo, 'HelloData--1.0--noarch.tar.gz'), await goboPackage('HelloData', '1.0', { 'share/hello/data': 'data\n', 'Resources/Dependencies': '' }))
    fs.mkdirSync(path.join(sb.root, 'etc', 'nip'), { recursive: true })
    // Only the local repository is asked (no network): the other sources are disabled, except
    // pacman and pkgsrc, which stay enabled with nothing configured (and the build source is off:
    // its recipes are no packages of this test).
    fs.writeFileSync(
      path.join(sb.root, 'etc', 'nip', 'nip.conf'),
      `[gobo]\nrepositories = [${JSON.stringify(repo)}]\n[nix]\nenabled = false\n[debian]\nenabled = false\n[gentoo]\nenabled = false\n[build]\nenabled = false\n`,
    )
    // `nip` on PATH for the completion scripts.
    binDir = path.join(sb.home, 'bin')
    fs.mkdirSync(binDir)
    fs.writeFileSync(path.join(binDir, 'nip'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`, { mode: 0o755 })
  })
  after(() => sb?.cleanup())

  it('nip help, nip help COMMAND, -h, -v', () => {
    const h = sb.nip(['help'])
    assert.equal(h.status, 0, h.stderr)
    for (const cmd of ['install', 'files', 'why', 'cache', 'completion', 'help']) assert.match(h.stdout, new RegExp(`^  ${cmd} `, 'm'), cmd)
    const hi = sb.nip(['help', 'install'])
    assert.equal(hi.status, 0, hi.stderr)
    assert.match(hi.stdout, /^USAGE\n {2}\$ nip install SPEC/m)
    const rooted = sb.nip(['--root', sb.root, 'help', 'list'])
    assert.equal(rooted.status, 0, rooted.stderr)
    assert.match(rooted.stdout, /^USAGE\n {2}\$ nip list/m)
    const unknown = sb.nip(['help', 'lisst'])
    assert.equal(unknown.status, 64)
    assert.match(unknown.stderr, /^error\[ERR_NIP_USAGE\]: Unknown command "lisst"\.\nhint: Did you mean "nip list"\?/m)
    const short = sb.nip(['-h'])
    assert.equal(short.status, 0, short.stderr)
    assert.match(short.stdout, /^COMMANDS$/m)
    const lh = sb.nip(['list', '-h'])
    assert.equal(lh.status, 0, lh.stderr)
    for (const f of ['--explicit', '--deps', '--orphans']) assert.match(lh.stdout, new RegExp(f))
    assert.doesNotMatch(lh.stdout, /--names/, 'the completion helper flag is hidden')
    for (const v of ['-v', '--version']) {
      const r = sb.nip([v])
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, new RegExp(`^nip/${version.replace(/\./g, '\\.')} `))
    }
  })

  it('every command has -h and --help', () => {
    for (const id of Object.keys(COMMANDS)) {
      const words = id.split(':')
      for (const flag of ['-h', '--help']) {
        const r = sb.nip([...words, flag])
        assert.equal(r.status, 0, `${words.join(' ')} ${flag}: ${r.stderr}`)
        assert.match(r.stdout, new RegExp(`^USAGE\\n {2}\\$ nip ${words.join(' ')}`, 'm'), `${words.join(' ')} ${flag}`)
      }
    }
  })

  it('a mistyped command gets a suggestion (exit 64)', () => {
    const r = sb.nip(['instal', 'hello', '--json'])
    assert.equal(r.status, 64)
    const e = sb.json(r).error
    assert.deepEqual([e.code, e.message, e.data.suggestions], ['ERR_NIP_USAGE', 'Unknown command "instal".', ['install']])
    assert.match(e.hint, /^Did you mean "nip install"\?/)
    const plain = sb.nip(['lsit'])
    assert.equal(plain.status, 64)
    assert.match(plain.stderr, /error\[ERR_NIP_USAGE\]: Unknown command "lsit"\.\nhint: Did you mean "nip list"\?/)
  })

  it('a package no source has: did you mean, from the local index; unconfigured sources are named as such', () => {
    const r = json('install', 'hell', '--dry-run')
    assert.equal(r.status, 3, r.stderr)
    const e = r.env.error
    assert.equal(e.code, 'ERR_NIP_NOT_FOUND')
    assert.deepEqual(e.data.suggestions, [
      { name: 'Hello', source: 'gobo' },
      { name: 'HelloData', source: 'gobo' },
    ])
    assert.deepEqual(
      e.data.tried.map((t: { source: string; outcome: string }) => `${t.source}: ${t.outcome}`),
      ['oci: is not configured', 'gobo: has no package named hell', 'pkgsrc: is not configured', 'pacman: is not configured'],
    )
    assert.match(e.hint, /^Did you mean Hello \(gobo\), HelloData \(gobo\)\? .*configure oci, pkgsrc, pacman/)
  })

  it('a typo of a package name (two letters swapped, one missing) is suggested by edit distance', () => {
    const swapped = json('install', 'hlelo', '--dry-run')
    assert.equal(swapped.status, 3, swapped.stderr)
    assert.deepEqual(swapped.env.error.data.suggestions, [{ name: 'Hello', source: 'gobo' }])
    assert.match(swapped.env.error.hint, /^Did you mean Hello \(gobo\)\?/)
    const missing = json('install', 'HeloData', '--dry-run')
    assert.deepEqual(missing.env.error.data.suggestions, [{ name: 'HelloData', source: 'gobo' }])
    // Too far from every name: no suggestion rather than a wild one.
    const far = json('install', 'xyzzy', '--dry-run')
    assert.equal(far.env.error.data.suggestions, undefined)
  })

  it('files, why and list --explicit | --deps | --orphans', () => {
    const outside = snapshotDir(beside)
    assert.equal(run('install', 'hello').status, 0)
    const f = json('files', 'Hello').env.result
    assert.equal(f.version, '1.0')
    assert.ok(f.files.includes(path.join(sb.root, 'Programs/Hello/1.0/bin/hello')), f.files.join('\n'))
    assert.ok(f.files.includes(path.join(sb.root, 'Programs/Hello/1.0/bin/')), 'directories end in /')
    assert.deepEqual(f.links, [path.join(sb.root, 'System/Links/Executables/hello')])
    const human = run('files', 'Hello')
    assert.match(human.stdout, new RegExp(`^${path.join(sb.root, 'Programs/Hello/1.0/bin/hello')}$`, 'm'))

    assert.deepEqual(json('why', 'HelloData').env.result, { name: 'HelloData', version: '1.0', explicit: false, chains: [[{ name: 'Hello', version: '1.0' }, { name: 'HelloData', version: '1.0' }]] })
    assert.match(run('why', 'HelloData').stdout, /Hello 1\.0 → HelloData 1\.0/)
    assert.deepEqual(json('why', 'Hello').env.result.chains, [])
    assert.match(run('why', 'Hello').stdout, /Hello 1\.0 was asked for \(explicit\)\./)
    assert.equal(json('why', 'nothing').env.error.code, 'ERR_NIP_NOT_INSTALLED')
    // A grafted name mistyped: the grafted names a typo away, in every command that names a program.
    for (const args of [['why', 'Helo'], ['files', 'hello-data'], ['remove', 'Helo', '--yes'], ['verify', 'Hlelo'], ['list', 'Helo'], ['pin', 'Helo'], ['upgrade', 'Helo'], ['switch', 'Helo', '1.0']]) {
      const e = json(...args).env.error
      assert.equal(e.code, 'ERR_NIP_NOT_INSTALLED', args.join(' '))
      assert.match(e.hint, /^Did you mean Hello(Data)?\? /, args.join(' '))
    }
    assert.deepEqual(json('why', 'Helo').env.error.data.suggestions, ['Hello'])
    assert.equal(json('why', 'zzzzzz').env.error.data.suggestions, undefined)

    const names = (...flags: string[]) => (json('list', ...flags).env.result as { name: string }[]).map((p) => p.name)
    assert.deepEqual(names('--explicit'), ['Hello'])
    assert.deepEqual(names('--deps'), ['HelloData'])
    assert.deepEqual(names('--orphans'), [])
    assert.equal(run('list', '--explicit', '--deps').status, 64)
    assert.equal(run('list', '--names').stdout, 'Hello\nHelloData\n')
    assert.equal(run('remove', 'Hello').status, 0)
    assert.deepEqual(names('--orphans'), ['HelloData'])
    assert.match(run('why', 'HelloData').stdout, /nothing needs any more/)
    assertUnchanged(beside, outside, 'files/why/list')
  })

  it('cache clean deletes downloaded archives; --all also indexes; stored build outputs stay', () => {
    const cache = path.join(sb.root, 'var', 'nip', 'cache')
    const put = (rel: string, size: number) => {
      fs.mkdirSync(path.dirname(path.join(cache, rel)), { recursive: true })
      fs.writeFileSync(path.join(cache, rel), Buffer.alloc(size))
    }
    put('debian/debs/a.deb', 1000)
    put('pacman/pkg/b.pkg.tar.zst', 500)
    put('debian/lists/mirror/Packages', 300)
    put('build/outputs/f/out', 10)
    put('build/sources/hello-2.10.tar.gz', 20)
    const outside = snapshotDir(beside)
    const r = json('cache', 'clean').env.result
    assert.deepEqual(r, {
      all: false,
      removed: [
        { path: 'build/sources', bytes: 20, files: 1 },
        { path: 'debian/debs', bytes: 1000, files: 1 },
        { path: 'pacman/pkg', bytes: 500, files: 1 },
      ],
      bytes: 1520,
      files: 3,
    })
    assert.ok(fs.existsSync(path.join(cache, 'debian/lists/mirror/Packages')))
    assert.match(run('cache', 'clean').stdout, /^No downloaded archive is cached\.$/m)
    const all = json('cache', 'clean', '--all').env.result
    assert.deepEqual(all.removed, [{ path: 'debian/lists', bytes: 300, files: 1 }])
    assert.ok(fs.existsSync(path.join(cache, 'build/outputs/f/out')), 'build outputs stay')
    assertUnchanged(beside, outside, 'cache clean')
  })

  it('bash completion: commands, sub-commands, flags, flag values and grafted programs (in the --root given)', function () {
    if (!hasShell('bash')) this.skip() // bash is needed to run the bash completion
    assert.equal(run('install', 'hello').status, 0)
    const script = sb.nip(['completion', 'bash'])
    assert.equal(script.status, 0, script.stderr)
    const file = path.join(sb.home, 'nip.bash')
    fs.writeFileSync(file, script.stdout)
    const complete = (line: string): string[] => {
      const r = spawnSync('bash', ['-c', `source "$1"; COMP_WORDS=($2); [[ "$2" == *' ' ]] && COMP_WORDS+=(''); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _nip_complete; printf '%s\\n' "\${COMPREPLY[@]}"`, 'complete', file, line], {
        encoding: 'utf8',
        env: { ...process.env, PATH: `${binDir}:${process.env.PATH}`, HOME: sb.home },
      })
      assert.equal(r.status, 0, r.stderr)
      return r.stdout.split('\n').filter(Boolean)
    }
    assert.deepEqual(complete('nip rem'), ['remove'])
    assert.deepEqual(complete('nip ca'), ['cache'])
    assert.deepEqual(complete('nip cache '), ['clean', 'keygen', 'list', 'push'])
    assert.deepEqual(complete('nip config '), ['init', 'show'])
    assert.deepEqual(complete('nip generations d'), ['delete', 'diff'])
    assert.deepEqual(complete('nip list --e'), ['--explicit'])
    assert.deepEqual(complete('nip completion '), ['bash', 'zsh', 'fish'])
    assert.deepEqual(complete(`nip remove --root ${sb.root} `), ['Hello', 'HelloData'])
    assert.deepEqual(complete(`nip why --root=${sb.root} HelloD`), ['HelloData'])
    // Commands that take no program name offer none.
    assert.deepEqual(complete(`nip gc --root ${sb.root} `), [])
  })

  it('zsh and fish completion scripts', function () {
    const zsh = sb.nip(['completion', 'zsh'])
    assert.equal(zsh.status, 0, zsh.stderr)
    assert.match(zsh.stdout, /^autoload -U \+X bashcompinit && bashcompinit$/m)
    assert.match(zsh.stdout, /^complete -o default -F _nip_complete nip$/m)
    const fish = sb.nip(['completion', 'fish'])
    assert.equal(fish.status, 0, fish.stderr)
    assert.match(fish.stdout, /^complete -c nip -n __fish_use_subcommand -a files -d 'List the files of a grafted program/m)
    assert.match(fish.stdout, /^complete -c nip -n '__fish_seen_subcommand_from list' -l orphans -d /m)
    assert.match(fish.stdout, /^complete -c nip -n '__fish_seen_subcommand_from remove' -a '\(__nip_programs\)'$/m)
    assert.match(fish.stdout, /^complete -c nip -n '__fish_seen_subcommand_from cache; and not __fish_seen_subcommand_from clean keygen list push' -a clean /m)
    const checked: string[] = []
    for (const [shell, text] of [['zsh', zsh.stdout], ['fish', fish.stdout]] as const) {
      if (!hasShell(shell)) continue
      const file = path.join(sb.home, `nip.${shell}`)
      fs.writeFileSync(file, text)
      const r = spawnSync(shell, ['-n', file], { encoding: 'utf8' })
      assert.equal(r.status, 0, `${shell} -n: ${r.stderr}`)
      checked.push(shell)
    }
    if (checked.includes('fish')) {
      // fish completes for real: sub-commands with their summaries, flags, grafted programs.
      const file = path.join(sb.home, 'nip.fish')
      const complete = (line: string): string[] => {
        const r = spawnSync('fish', ['-c', 'source $argv[1]; complete -C $argv[2]', file, line], { encoding: 'utf8', env: { ...process.env, PATH: `${binDir}:${process.env.PATH}`, HOME: sb.home } })
        assert.equal(r.status, 0, r.stderr)
        return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0])
      }
      assert.deepEqual(complete('nip cache '), ['clean', 'keygen', 'list', 'push'])
      assert.deepEqual(complete('nip list --or'), ['--orphans'])
      assert.deepEqual(complete(`nip remove --root ${sb.root} `), ['Hello', 'HelloData'])
    }
    if (checked.length < 2) console.log(`    (not parsed by the shell, not installed: ${['zsh', 'fish'].filter((s) => !checked.includes(s)).join(', ')})`)
    const bad = sb.nip(['completion', 'tcsh'])
    assert.notEqual(bad.status, 0)
  })
})
