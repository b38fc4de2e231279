/**
 * Layout.abs joins by concatenation when the relative path is normal (the link farm's and the
 * DB's paths): it must give exactly what path.join gives, for every root.
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import { Layout } from '../src/layout.js'
import { isNormalRelative } from '../src/archive/entryPath.js'

const dirs = { programsDir: 'Programs', linksDir: 'System/Links', settingsDir: 'System/Settings', stateDir: 'var/nip', casDir: 'var/nip/store', cacheDir: 'var/cache/nip', logDir: 'var/log/nip' }

describe('layout', () => {
  it('knows normal relative paths', () => {
    const normal = ['a', 'a/b', 'System/Links/Shared/x', 'a/.b', 'a/..b', 'a/b.', '...']
    const not = ['', '/a', 'a/', 'a//b', '.', '..', './a', 'a/.', 'a/..', 'a/./b', 'a/../b', '../a']
    assert.deepEqual(normal.filter((p) => !isNormalRelative(p)), [])
    assert.deepEqual(not.filter(isNormalRelative), [])
  })

  it('abs(rel) is path.join(root, rel), normal or not, under / and under a directory', () => {
    const rels = ['a', 'a/b', 'System/Links/Shared/x', 'a/.b', '...', '', 'a/', 'a//b', '.', '..', './a', 'a/../b', '../../etc/x', '/abs/x']
    for (const root of ['/', '/tmp/nip-root', '/tmp/nip-root/']) {
      const layout = new Layout({ root, ...dirs })
      for (const rel of rels) assert.equal(layout.abs(rel), path.join(layout.root, rel), `root ${root}, rel ${JSON.stringify(rel)}`)
    }
  })
})
