import assert from 'node:assert/strict'
import { hoistGlobalFlags } from '../src/argv.js'

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
