/**
 * loadConfig: layering, origins, validation errors, and the default file's round trip.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig, renderDefaultConfig, parseSize } from '../src/config.js'
import { NipError } from '../src/errors.js'

describe('loadConfig', () => {
  let root: string
  let home: string
  const sys = () => path.join(root, 'etc', 'nip', 'nip.conf')
  const user = () => path.join(home, '.nip', 'config')
  const write = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, text)
  }
  const load = (extra: Partial<Parameters<typeof loadConfig>[0]> = {}) =>
    loadConfig({ root, userConfigPath: user(), env: {}, ...extra })
  async function configError(p: Promise<unknown>): Promise<NipError> {
    try {
      await p
    } catch (e) {
      assert.ok(e instanceof NipError, String(e))
      assert.equal(e.code, 'ERR_NIP_CONFIG')
      assert.equal(e.exitCode, 78)
      return e
    }
    assert.fail('expected ERR_NIP_CONFIG')
  }

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-config-root-'))
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-config-home-'))
  })
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true })
    fs.rmSync(home, { recursive: true, force: true })
  })

  it('gives the documented defaults with no files', async () => {
    const { config, origins, files } = await load()
    assert.deepEqual(files, [])
    assert.deepEqual(
      { ...config, sources: undefined },
      {
        root,
        programsDir: 'Programs',
        linksDir: 'System/Links',
        settingsDir: 'System/Settings',
        stateDir: 'var/nip',
        casDir: 'var/nip/cas',
        cacheDir: 'var/nip/cache',
        logDir: 'var/log/nip',
        parallelDownloads: 4,
        lockTimeout: 300,
        indexMaxAge: 86400,
        maxArchiveEntries: 1_000_000,
        maxArchiveSize: 64 * 1024 ** 3,
        sources: undefined,
      },
    )
    assert.deepEqual(
      config.sources.map((s) => [s.id, s.priority, s.enabled]),
      [['oci', 3, true], ['gobo', 5, true], ['nix', 10, true], ['pkgsrc', 20, true], ['pacman', 30, true], ['gentoo', 40, true], ['debian', 50, true], ['build', 90, true]],
    )
    assert.deepEqual(origins['programs-dir'], { value: 'Programs', origin: 'default' })
    assert.deepEqual(origins['nix.priority'], { value: 10, origin: 'default' })
  })

  it('renderDefaultConfig parses back to the defaults, commented and uncommented', async () => {
    const text = renderDefaultConfig()
    const defaults = (await load()).config
    write(sys(), text)
    const commented = await load()
    assert.deepEqual(commented.config, defaults)
    assert.deepEqual(commented.files, [sys()])
    // Uncomment every key line and table header: the values written are the defaults.
    const uncommented = text.replace(/^# (\[[a-z]+\]|[a-z-]+ = .*)$/gm, '$1')
    assert.notEqual(uncommented, text)
    write(sys(), uncommented)
    const loaded = await load()
    assert.deepEqual(
      loaded.config.sources.map((s) => ({ ...s, table: {} })),
      defaults.sources.map((s) => ({ ...s, table: {} })),
    )
    assert.deepEqual({ ...loaded.config, sources: [] }, { ...defaults, sources: [] })
    assert.deepEqual(loaded.origins['max-archive-size'], { value: 64 * 1024 ** 3, origin: 'system', file: sys() })
    assert.deepEqual(loaded.config.sources.find((s) => s.id === 'pacman')!.table, { priority: 30, enabled: true })
  })

  it('layers system < user < NIP_CONFIG < --config < flags and records origins', async () => {
    write(sys(), 'programs-dir = "/Apps"\nparallel-downloads = 2\nlock-timeout = 10\nmax-archive-entries = 7\n')
    write(user(), 'parallel-downloads = 3\nlock-timeout = 20\nmax-archive-entries = 8\n')
    const envFile = path.join(home, 'env.toml')
    write(envFile, 'lock-timeout = 30\nmax-archive-entries = 9\n')
    const flagFile = path.join(home, 'flag.toml')
    write(flagFile, 'max-archive-entries = 10\n')
    const { config, origins, files } = await load({ env: { NIP_CONFIG: envFile }, configFile: flagFile, flags: { 'cas-dir': '/store' } })
    assert.deepEqual(files, [sys(), user(), envFile, flagFile])
    assert.equal(config.programsDir, 'Apps')
    assert.equal(config.parallelDownloads, 3)
    assert.equal(config.lockTimeout, 30)
    assert.equal(config.maxArchiveEntries, 10)
    assert.equal(config.casDir, 'store')
    assert.deepEqual(origins['programs-dir'], { value: 'Apps', origin: 'system', file: sys() })
    assert.deepEqual(origins['parallel-downloads'], { value: 3, origin: 'user', file: user() })
    assert.deepEqual(origins['lock-timeout'], { value: 30, origin: 'env', file: envFile })
    assert.deepEqual(origins['max-archive-entries'], { value: 10, origin: 'flag', file: flagFile })
    assert.deepEqual(origins['cas-dir'], { value: 'store', origin: 'flag' })
    assert.deepEqual(origins['log-dir'], { value: 'var/log/nip', origin: 'default' })
  })

  it('orders sources by priority then id; tables override flat keys and are passed whole', async () => {
    write(sys(), 'nix-priority = 60\npacman-priority = 1\n[pacman]\npriority = 40\nkeyring = ["a", "b"]\n[gentoo]\nenabled = false\n')
    write(user(), 'debian-priority = 40\n[pacman]\nkeyring = ["c"]\n')
    const { config, origins } = await load()
    assert.deepEqual(
      config.sources.map((s) => [s.id, s.priority, s.enabled]),
      [['oci', 3, true], ['gobo', 5, true], ['pkgsrc', 20, true], ['debian', 40, true], ['gentoo', 40, false], ['pacman', 40, true], ['nix', 60, true], ['build', 90, true]],
    )
    assert.deepEqual(config.sources.find((s) => s.id === 'pacman')!.table, { priority: 40, keyring: ['c'] })
    assert.deepEqual(origins['pacman.priority'], { value: 40, origin: 'system', file: sys() })
    assert.deepEqual(origins['pacman.keyring'], { value: ['c'], origin: 'user', file: user() })
    assert.deepEqual(origins['debian.priority'], { value: 40, origin: 'user', file: user() })
    assert.deepEqual(origins['gentoo.enabled'], { value: false, origin: 'system', file: sys() })
  })

  it('suggests the closest key for an unknown one', async () => {
    write(user(), 'parallel-donwloads = 8\n')
    const e = await configError(load())
    assert.equal(e.message, `${user()}: unknown key "parallel-donwloads".`)
    assert.equal(e.hint, 'Did you mean "parallel-downloads"?')
    assert.deepEqual(e.data, { file: user(), origin: 'user', key: 'parallel-donwloads', suggestion: 'parallel-downloads' })
  })

  it('refuses an unknown key inside a source table, naming file, table and the nearest key', async () => {
    write(sys(), '[debian]\nhost-source = false\n')
    const e = await configError(load())
    assert.equal(e.code, 'ERR_NIP_CONFIG')
    assert.equal(e.message, `${sys()}: unknown key "host-source" in the [debian] table.`)
    assert.match(e.hint ?? '', /^Did you mean "host-sources"\?/)
    assert.deepEqual(e.data, { file: sys(), origin: 'system', key: 'debian.host-source', table: 'debian', suggestion: 'host-sources' })
    write(sys(), '[nix]\nzzzzzzzzzz = 1\n')
    const e2 = await configError(load())
    assert.equal(e2.data.key, 'nix.zzzzzzzzzz')
    assert.match(e2.hint ?? '', /^Keys of \[nix\]: priority, enabled, substituters/)
    // Every key a source's documentation names is accepted.
    write(sys(), '[debian]\nhost-sources = false\nsources = []\nrelocate = true\n[gobo]\nrepositories = []\n[build]\njobs = 2\n')
    await load()
  })

  it('names file, key and expected type for a wrong type', async () => {
    write(sys(), 'parallel-downloads = "four"\n')
    const e = await configError(load())
    assert.equal(e.message, `${sys()}: "parallel-downloads" must be an integer, not string "four".`)
    assert.deepEqual(e.data, { file: sys(), origin: 'system', key: 'parallel-downloads', expected: 'an integer' })
    write(sys(), '[nix]\nenabled = "yes"\n')
    const e2 = await configError(load())
    assert.equal(e2.data.key, 'nix.enabled')
    assert.equal(e2.data.expected, 'boolean')
    write(sys(), 'nix = 3\n')
    assert.equal((await configError(load())).data.expected, 'a table')
  })

  it('reports a TOML syntax error as file:line:column', async () => {
    write(sys(), 'lock-timeout = 5\n\ncas-dir = = "x"\n')
    const e = await configError(load())
    assert.match(e.message, new RegExp(`^${sys().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:\\d+: `))
    assert.equal(e.data.line, 3)
  })

  it('refuses directories that leave the root or name the root itself', async () => {
    for (const bad of ['../etc', '/Programs/../../x', '/', '']) {
      write(sys(), `programs-dir = ${JSON.stringify(bad)}\n`)
      const e = await configError(load())
      assert.equal(e.data.key, 'programs-dir', bad)
    }
    write(sys(), 'state-dir = "./var//nip/"\n')
    assert.equal((await load()).config.stateDir, 'var/nip')
  })

  it('refuses directory keys that overlap, naming both keys (the designed nestings excepted)', async () => {
    // The defaults nest cas-dir and cache-dir in state-dir, by design.
    const defaults = await load()
    assert.equal(defaults.config.casDir, 'var/nip/cas')
    write(sys(), 'cas-dir = "/var/nip/store"\ncache-dir = "/var/nip/downloads/nip"\n')
    assert.equal((await load()).config.cacheDir, 'var/nip/downloads/nip', 'other places inside state-dir are fine')
    const cases: [string, string, string][] = [
      ['programs-dir = "/var/nip/Programs"\n', 'programs-dir', 'state-dir'],
      ['state-dir = "/Programs/.nip"\ncas-dir = "/Programs/.nip/cas"\ncache-dir = "/Programs/.nip/cache"\n', 'state-dir', 'programs-dir'],
      ['cas-dir = "/Programs/cas"\n', 'cas-dir', 'programs-dir'],
      ['links-dir = "/Programs"\n', 'programs-dir', 'links-dir'],
      ['settings-dir = "/System/Links/Settings"\n', 'settings-dir', 'links-dir'],
      ['programs-dir = "/System"\n', 'links-dir', 'programs-dir'],
      ['log-dir = "/var/nip/log"\n', 'log-dir', 'state-dir'],
      ['cache-dir = "/var/nip/cas/cache"\n', 'cache-dir', 'cas-dir'],
      ['cas-dir = "/var/nip/cache"\n', 'cas-dir', 'cache-dir'],
      ['cas-dir = "/var/nip/trash"\n', 'cas-dir', 'state-dir'],
      ['cache-dir = "/var/nip/db/cache"\n', 'cache-dir', 'state-dir'],
      ['state-dir = "/var"\n', 'log-dir', 'state-dir'],
    ]
    for (const [text, inner, outer] of cases) {
      write(sys(), text)
      const e = await configError(load())
      assert.deepEqual([...(e.data.keys as string[])].sort(), [inner, outer].sort(), text)
      assert.ok(e.message.includes(`"${inner}"`) && e.message.includes(`"${outer}"`), e.message)
      assert.ok(e.message.includes(sys()), `names the file: ${e.message}`)
    }
    // Overlaps made across layers and by flags are found as well.
    write(sys(), 'links-dir = "/L"\n')
    const e = await configError(load({ flags: { 'settings-dir': '/L' } }))
    assert.match(e.message, /"links-dir" \(\/L, from .*nip\.conf\) and "settings-dir" \(\/L, from a command-line flag\) overlap: they are the same directory/)
  })

  it('requires files named explicitly to exist, but not the system and user files', async () => {
    const missing = path.join(home, 'missing.toml')
    const e = await configError(load({ env: { NIP_CONFIG: missing } }))
    assert.equal(e.data.file, missing)
    await configError(load({ configFile: missing }))
    assert.deepEqual((await load({ userConfigPath: null })).files, [])
  })

  it('validates flag values like file values', async () => {
    const e = await configError(load({ flags: { 'lock-timeout': -1 } }))
    assert.equal(e.message, 'a command-line flag: "lock-timeout" must not be negative (got -1).')
  })

  it('parses sizes in bytes and binary units', () => {
    assert.equal(parseSize('k', 4096), 4096)
    assert.equal(parseSize('k', '64G'), 68_719_476_736)
    assert.equal(parseSize('k', '1.5M'), 1_572_864)
    assert.equal(parseSize('k', '100KiB'), 102_400)
    assert.throws(() => parseSize('k', '12X'), (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_CONFIG')
    assert.throws(() => parseSize('k', 0), (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_CONFIG')
  })
})
