/**
 * The nip executable end to end: startup cost, the --json envelope, exit codes, configuration
 * commands, and the read-only commands on a fresh root.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { CLI_DIR, sandbox, type Sandbox } from './helpers.js'
import { COMMANDS } from '../src/commandIndex.js'

describe('nip executable', function () {
  this.timeout(30_000)
  let sb: Sandbox
  beforeEach(() => {
    sb = sandbox()
  })
  afterEach(() => sb.cleanup())

  const version = JSON.parse(fs.readFileSync(path.join(CLI_DIR, 'package.json'), 'utf8')).version as string

  /** The module URLs a run resolved, recorded by a loader hook. */
  function loadsOf(args: string[]): { run: ReturnType<Sandbox['nip']>; urls: string[] } {
    const log = path.join(sb.home, `loads-${args.join('_').replace(/\W/g, '')}.log`)
    const run = sb.nip(args, { env: { NIP_TEST_LOAD_LOG: log }, nodeArgs: ['--import', path.join(CLI_DIR, 'test', 'fixtures', 'recordLoads.mjs')] })
    return { run, urls: fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : [] }
  }
  const heavy = (urls: string[]) => urls.filter((u) => /better-sqlite3|\/packages\/core\/dist\/|\/packages\/adapter-|\/dist\/bundle\/(core|adapter-\w+)\.js$|zstd-napi|lzma-native/.test(u))

  it('--version and --help load neither core, SQLite nor adapters', () => {
    const v = loadsOf(['--version'])
    assert.equal(v.run.status, 0, v.run.stderr)
    assert.match(v.run.stdout, new RegExp(`^nip/${version.replace(/\./g, '\\.')} `))
    assert.ok(v.urls.some((u) => u.endsWith('/dist/bundle/argv.js')), 'the hook records loads')
    // Answered by bin/run.js from package.json: not even oclif (the bundle's main) is loaded.
    assert.deepEqual(v.urls.filter((u) => /@oclif|\/dist\/bundle\/(main|commands)\.js$/.test(u)), [])
    assert.deepEqual(heavy(v.urls), [])

    const h = loadsOf(['--help'])
    assert.equal(h.run.status, 0, h.run.stderr)
    for (const cmd of ['install', 'graft', 'remove', 'switch', 'list', 'info', 'owns', 'search', 'sources', 'status', 'logs', 'doctor']) {
      assert.match(h.run.stdout, new RegExp(`^  ${cmd} `, 'm'), cmd)
    }
    assert.deepEqual(heavy(h.urls), [])

    const ih = loadsOf(['install', '--help'])
    assert.equal(ih.run.status, 0, ih.run.stderr)
    assert.match(ih.run.stdout, /--dry-run/)
    assert.match(ih.run.stdout, /--root=DIR/)
    assert.deepEqual(heavy(ih.urls), [])
  })

  it('a real command does load core and SQLite (the check above can fail)', () => {
    const l = loadsOf(['list', '--root', sb.root, '--json'])
    assert.equal(l.run.status, 0, l.run.stderr)
    assert.ok(heavy(l.urls).some((u) => u.includes('better-sqlite3')), l.urls.join('\n'))
    // From the bundle (scripts/bundle.mjs): core is its own file there, no adapter is loaded.
    assert.ok(l.urls.some((u) => u.endsWith('/dist/bundle/core.js')), l.urls.join('\n'))
    assert.deepEqual(l.urls.filter((u) => /\/packages\/(core|cas|adapter-\w+)\/dist\/|\/dist\/bundle\/adapter-/.test(u)), [])
  })

  it('commandIndex lists every command module (oclif runs commands from it)', () => {
    const ids: string[] = []
    const walk = (dir: string, prefix: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(dir, e.name), `${prefix}${e.name}:`)
        else if (e.name.endsWith('.ts')) ids.push(prefix + e.name.slice(0, -3))
      }
    }
    walk(path.join(CLI_DIR, 'src', 'commands'), '')
    assert.deepEqual(Object.keys(COMMANDS).sort(), ids.sort())
    const manifest = JSON.parse(fs.readFileSync(path.join(CLI_DIR, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, unknown> }
    assert.deepEqual(Object.keys(manifest.commands).sort(), ids.sort())
  })

  it('config init writes the commented defaults; config show --json reports them with origins', () => {
    const init = sb.nip(['config', 'init', '--root', sb.root, '--json'])
    assert.equal(init.status, 0, init.stderr)
    const file = path.join(sb.root, 'etc', 'nip', 'nip.conf')
    assert.deepEqual(sb.json(init), { ok: true, command: 'config init', result: { path: file, scope: 'system', overwritten: false } })
    assert.match(fs.readFileSync(file, 'utf8'), /^# programs-dir = "\/Programs"$/m)

    fs.appendFileSync(file, '\nparallel-downloads = 8\n[pacman]\npriority = 3\n')
    const show = sb.nip(['config', 'show', '--root', sb.root, '--json'])
    assert.equal(show.status, 0, show.stderr)
    const env = sb.json(show)
    assert.equal(env.ok, true)
    assert.equal(env.command, 'config show')
    assert.equal(env.result.root, sb.root)
    assert.deepEqual(env.result.files, [file])
    assert.equal(env.result.config.programsDir, 'Programs')
    assert.equal(env.result.config.parallelDownloads, 8)
    assert.deepEqual(env.result.config.sources.map((s: { id: string }) => s.id), ['oci', 'pacman', 'gobo', 'nix', 'pkgsrc', 'gentoo', 'debian', 'build'])
    assert.deepEqual(env.result.origins['programs-dir'], { value: 'Programs', origin: 'default' })
    assert.deepEqual(env.result.origins['parallel-downloads'], { value: 8, origin: 'system', file })
    assert.deepEqual(env.result.origins['pacman.priority'], { value: 3, origin: 'system', file })
  })

  it('config init refuses to overwrite without --force (exit 64), and overwrites with it', () => {
    assert.equal(sb.nip(['config', 'init', '--root', sb.root]).status, 0)
    const file = path.join(sb.root, 'etc', 'nip', 'nip.conf')
    fs.writeFileSync(file, 'lock-timeout = 1\n')
    const again = sb.nip(['config', 'init', '--root', sb.root, '--json'])
    assert.equal(again.status, 64)
    const env = sb.json(again)
    assert.equal(env.error.code, 'ERR_NIP_USAGE')
    assert.equal(env.exitCode, 64)
    assert.match(env.error.hint, /--force/)
    assert.equal(fs.readFileSync(file, 'utf8'), 'lock-timeout = 1\n')
    const forced = sb.nip(['config', 'init', '--root', sb.root, '--force', '--json'])
    assert.equal(forced.status, 0, forced.stderr)
    assert.equal(sb.json(forced).result.overwritten, true)
    assert.match(fs.readFileSync(file, 'utf8'), /^# lock-timeout = 300$/m)
  })

  it('the user config (~/.nip/config) wins over the system one, and --config over both', () => {
    fs.mkdirSync(path.join(sb.root, 'etc', 'nip'), { recursive: true })
    fs.writeFileSync(path.join(sb.root, 'etc', 'nip', 'nip.conf'), 'lock-timeout = 10\nlog-dir = "/logs"\nmax-archive-size = "1G"\n')
    const userInit = sb.nip(['config', 'init', '--user', '--root', sb.root, '--json'])
    const userFile = path.join(sb.home, '.nip', 'config')
    assert.deepEqual(sb.json(userInit).result, { path: userFile, scope: 'user', overwritten: false })
    fs.appendFileSync(userFile, 'lock-timeout = 20\nmax-archive-size = "2G"\n')
    const extra = path.join(sb.home, 'extra.toml')
    fs.writeFileSync(extra, 'max-archive-size = 4096\n')
    const env = sb.json(sb.nip(['config', 'show', '--root', sb.root, '--config', extra, '--json']))
    assert.deepEqual(env.result.origins['lock-timeout'], { value: 20, origin: 'user', file: userFile })
    assert.deepEqual(env.result.origins['log-dir'], { value: 'logs', origin: 'system', file: path.join(sb.root, 'etc', 'nip', 'nip.conf') })
    assert.deepEqual(env.result.origins['max-archive-size'], { value: 4096, origin: 'flag', file: extra })
  })

  it('a bad key exits 78 with an ERR_NIP_CONFIG envelope suggesting the right key', () => {
    fs.mkdirSync(path.join(sb.root, 'etc', 'nip'), { recursive: true })
    const file = path.join(sb.root, 'etc', 'nip', 'nip.conf')
    fs.writeFileSync(file, 'cas-dri = "/store"\n')
    const r = sb.nip(['list', '--root', sb.root, '--json'])
    assert.equal(r.status, 78)
    assert.deepEqual(sb.json(r), {
      ok: false,
      command: 'list',
      error: {
        code: 'ERR_NIP_CONFIG',
        message: `${file}: unknown key "cas-dri".`,
        hint: 'Did you mean "cas-dir"?',
        data: { file, origin: 'system', key: 'cas-dri', suggestion: 'cas-dir' },
      },
      exitCode: 78,
    })
    const human = sb.nip(['status', '--root', sb.root])
    assert.equal(human.status, 78)
    assert.equal(human.stdout, '')
    assert.equal(human.stderr, `error[ERR_NIP_CONFIG]: ${file}: unknown key "cas-dri".\nhint: Did you mean "cas-dir"?\n`)
  })

  it('an unknown command or a bad flag exits 64 (ERR_NIP_USAGE)', () => {
    const cmd = sb.nip(['frobnicate', '--json'])
    assert.equal(cmd.status, 64)
    assert.deepEqual(sb.json(cmd), {
      ok: false,
      command: 'frobnicate',
      error: { code: 'ERR_NIP_USAGE', message: 'Unknown command "frobnicate".', hint: 'Run "nip --help" for the list of commands.', data: { command: 'frobnicate' } },
      exitCode: 64,
    })
    const flag = sb.nip(['list', '--root', sb.root, '--frob'])
    assert.equal(flag.status, 64)
    assert.match(flag.stderr, /^error\[ERR_NIP_USAGE\]: Nonexistent flag: --frob\nhint: Run "nip list --help" for usage\.\n$/)
    const jsonFlag = sb.nip(['remove', '--root', sb.root, '--frob', '--json'])
    assert.equal(jsonFlag.status, 64)
    assert.equal(sb.json(jsonFlag).error.code, 'ERR_NIP_USAGE')
    const missingArg = sb.nip(['switch', 'hello', '--root', sb.root, '--json'])
    assert.equal(missingArg.status, 64)
    assert.equal(sb.json(missingArg).exitCode, 64)
    const badLines = sb.nip(['logs', 'many', '--root', sb.root, '--json'])
    assert.equal(badLines.status, 64)
    assert.equal(sb.json(badLines).error.data.lines, 'many')
  })

  it('list, status and sources on a fresh root return their envelopes and write nothing', () => {
    const list = sb.nip(['list', '--root', sb.root, '--json'])
    assert.equal(list.status, 0, list.stderr)
    assert.deepEqual(sb.json(list), { ok: true, command: 'list', result: [] })

    const status = sb.nip(['status', '--root', sb.root, '--json'])
    assert.equal(status.status, 0, status.stderr)
    assert.deepEqual(sb.json(status), {
      ok: true,
      command: 'status',
      result: { root: sb.root, programs: 0, versions: 0, links: 0, blobs: 0, casBytes: 0, lock: { held: false }, interruptedTransactions: [] },
    })

    const sources = sb.nip(['sources', '--root', sb.root, '--json'])
    assert.equal(sources.status, 0, sources.stderr)
    const env = sb.json(sources)
    assert.equal(env.ok, true)
    assert.deepEqual(
      env.result.map((s: { id: string; priority: number; enabled: boolean }) => [s.id, s.priority, s.enabled]),
      [['oci', 3, true], ['gobo', 5, true], ['nix', 10, true], ['pkgsrc', 20, true], ['pacman', 30, true], ['gentoo', 40, true], ['debian', 50, true], ['build', 90, true]],
    )
    for (const s of env.result) assert.equal(typeof s.configured, 'boolean')
    assert.deepEqual(fs.readdirSync(sb.root), [])
  })

  it('NIP_ROOT stands for --root, and --root wins over it', () => {
    const s = sb.json(sb.nip(['status', '--json'], { env: { NIP_ROOT: sb.root } }))
    assert.equal(s.result.root, sb.root)
    const other = path.join(sb.home, 'other-root')
    // A --root that does not exist is refused by status (nothing creates it): make it first.
    fs.mkdirSync(other)
    const o = sb.json(sb.nip(['status', '--json', '--root', other], { env: { NIP_ROOT: sb.root } }))
    assert.equal(o.result.root, other)
  })
})
