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

  it('abs(rel) is path.join(root, rel) for a normal relative path (and the root for "" and "."), under / and under a directory', () => {
    const rels = ['a', 'a/b', 'System/Links/Shared/x', 'a/.b', '...', '', '.']
    for (const root of ['/', '/tmp/nip-root', '/tmp/nip-root/']) {
      const layout = new Layout({ root, ...dirs })
      for (const rel of rels) assert.equal(layout.abs(rel), path.join(layout.root, rel), `root ${root}, rel ${JSON.stringify(rel)}`)
    }
  })

  it('abs(rel) refuses a path read back from the state that is not normal (ERR_NIP_STATE_INVALID)', () => {
    const layout = new Layout({ root: '/tmp/nip-root', ...dirs })
    for (const rel of ['a/', 'a//b', '..', './a', 'a/../b', '../../etc/x', '/abs/x']) {
      assert.throws(() => layout.abs(rel), (e: unknown) => (e as { code?: string }).code === 'ERR_NIP_STATE_INVALID', rel)
    }
  })

  it('names and versions are checked where they become path components (ERR_NIP_BAD_NAME)', () => {
    const layout = new Layout({ root: '/tmp/nip-root', ...dirs })
    for (const [n, v] of [['..', '1'], ['a/b', '1'], ['x', '..'], ['x', '.hidden'], ['Current', '1'], ['x', 'Settings']]) {
      assert.throws(() => layout.versionDir(n, v), (e: unknown) => (e as { code?: string }).code === 'ERR_NIP_BAD_NAME', `${n} ${v}`)
    }
    assert.equal(layout.versionDir('Hello', '2.0'), '/tmp/nip-root/Programs/Hello/2.0')
  })
})
