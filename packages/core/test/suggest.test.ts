import assert from 'node:assert/strict'
import { closest, editDistance } from '../src/suggest.js'

describe('suggest: edit distance and closest', () => {
  it('counts insertions, deletions, substitutions and neighbouring swaps as one each', () => {
    assert.equal(editDistance('hello', 'hello'), 0)
    assert.equal(editDistance('hlelo', 'hello'), 1)
    assert.equal(editDistance('helo', 'hello'), 1)
    assert.equal(editDistance('hellox', 'hello'), 1)
    assert.equal(editDistance('jello', 'hello'), 1)
    assert.equal(editDistance('kitten', 'sitting'), 3)
    assert.equal(editDistance('', 'abc'), 3)
    // Optimal string alignment: no edit of a swapped pair (ca → abc is 3, not Damerau's unrestricted 2).
    assert.equal(editDistance('ca', 'abc'), 3)
  })

  it('stops early past the bound and says so with bound + 1', () => {
    assert.equal(editDistance('a', 'abcdefgh', 2), 3)
    assert.equal(editDistance('abcdef', 'uvwxyz', 2), 3)
    assert.equal(editDistance('hlelo', 'hello', 2), 1)
  })

  it('closest: nearest first, then by name; the allowance follows the word length', () => {
    assert.deepEqual(closest('lisst', ['list', 'lost', 'install', 'last']), ['list'])
    assert.deepEqual(closest('instal', ['install', 'uninstall', 'list']), ['install'])
    assert.deepEqual(closest('xyz', ['abc']), [])
    assert.deepEqual(closest('vaapo', ['vaapi', 'vdpau', 'opus'], { maxDistance: (n) => Math.max(2, Math.floor(n / 3)) }), ['vaapi'])
    assert.deepEqual(closest('ssl', ['openssl', 'gnutls'], { substrings: true, maxDistance: () => 2 }), ['openssl'])
    assert.deepEqual(closest('ssl', ['openssl', 'gnutls'], { maxDistance: () => 2 }), [])
    assert.deepEqual(closest('A', ['a', 'b', 'c', 'd'], { limit: 2 }), ['a', 'b'])
  })
})
