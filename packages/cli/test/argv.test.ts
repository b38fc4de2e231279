import assert from 'node:assert/strict'
import { asksForVersion, hoistGlobalFlags, versionLine } from '../src/argv.js'

describe('global flags before the command', () => {
  it('moves leading global flags (with values) after the command tokens', () => {
    assert.deepEqual(hoistGlobalFlags(['--root', 'R', 'install', 'hello']), ['install', 'hello', '--root', 'R'])
    assert.deepEqual(hoistGlobalFlags(['--json', '--root=R', '-y', 'config', 'show']), ['config', 'show', '--json', '--root=R', '-y'])
    assert.deepEqual(hoistGlobalFlags(['--config', 'c.toml', '--quiet', 'remove', 'x', '--cascade']), ['remove', 'x', '--cascade', '--config', 'c.toml', '--quiet'])
  })
  it('keeps them before a "--" so later words stay arguments', () => {
    assert.deepEqual(hoistGlobalFlags(['--root', 'R', 'info', 'ffmpeg', '--', '-gpl', '+vaapi']), ['info', 'ffmpeg', '--root', 'R', '--', '-gpl', '+vaapi'])
  })
  it('drops leading global flags before help (help is the same for every root)', () => {
    assert.deepEqual(hoistGlobalFlags(['--root', 'R', '--json', 'help', 'list']), ['help', 'list'])
  })

  it('leaves everything else alone', () => {
    assert.deepEqual(hoistGlobalFlags(['install', '--root', 'R', 'hello']), ['install', '--root', 'R', 'hello'])
    assert.deepEqual(hoistGlobalFlags(['--version']), ['--version'])
    assert.deepEqual(hoistGlobalFlags(['--root', 'R']), ['--root', 'R'])
    assert.deepEqual(hoistGlobalFlags(['--dry-run', 'install']), ['--dry-run', 'install'])
  })
})

describe('nip --version without oclif', () => {
  const linux = { platform: 'linux', arch: 'x64', release: '6.1.0-18-amd64', node: 'v20.20.2' }
  it('asks for the version as oclif decides it: the first token', () => {
    assert.equal(asksForVersion(['--version']), true)
    assert.equal(asksForVersion(hoistGlobalFlags(['--json', '--version'])), true)
    assert.equal(asksForVersion(['list', '--version']), false)
    assert.equal(asksForVersion(['-v']), false)
    assert.equal(asksForVersion(['-v'], ['-v']), true)
    assert.equal(asksForVersion([]), false)
  })
  it("prints oclif's user agent line", () => {
    assert.equal(versionLine({ name: 'nip', version: '1.2.3' }, linux), 'nip/1.2.3 linux-x64 node-v20.20.2')
    assert.equal(versionLine({ name: 'nip', version: '1.2.3' }, { ...linux, arch: 'ia32' }), 'nip/1.2.3 linux-x86 node-v20.20.2')
    assert.equal(versionLine({ name: 'nip' }, linux), 'nip/0.0.0 linux-x64 node-v20.20.2')
  })
  it('leaves to oclif what only oclif can answer: WSL, an init hook', () => {
    assert.equal(versionLine({ name: 'nip', version: '1' }, { ...linux, release: '5.15.90.1-microsoft-standard-WSL2' }), null)
    assert.equal(versionLine({ name: 'nip', version: '1', oclif: { hooks: { init: './dist/hooks/init.js' } } }, linux), null)
  })
})
