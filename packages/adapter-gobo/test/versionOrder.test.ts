import { strict as assert } from 'node:assert'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { compareVersions, guessLatest, isUnstableVersion, sortLatestFirst, splitRevision } from '../src/versionOrder.js'

const fixture = fileURLToPath(new URL('./fixtures/gobolinux-guesslatest.tsv', import.meta.url))
const rows = readFileSync(fixture, 'utf8')
  .split('\n')
  .slice(1)
  .filter((l) => l.trim() !== '')
  .map((l) => l.split('\t'))

describe('compareVersions (GuessLatest vectors)', () => {
  it('has the reference rows', () => {
    assert.equal(rows.length, 21)
  })
  for (const [inputs, expected] of rows) {
    const list = inputs.endsWith(' (with -l)')
    const args = inputs.replace(/ \(with -l\)$/, '').split(' ')
    if (list) {
      it(`GuessLatest -l ${args.join(' ')} = ${expected}`, () => {
        assert.deepEqual(sortLatestFirst(args), expected.split(' '))
        // Either argument order gives the same list.
        assert.deepEqual(sortLatestFirst([...args].reverse()), expected.split(' '))
      })
    } else {
      it(`GuessLatest ${args.join(' ')} = ${expected}`, () => {
        assert.equal(guessLatest(args), expected)
        assert.equal(guessLatest([...args].reverse()), expected)
      })
    }
  }
})

describe('compareVersions', () => {
  it('is antisymmetric and returns a sign', () => {
    assert.equal(compareVersions('1.10', '1.9'), 1)
    assert.equal(compareVersions('1.9', '1.10'), -1)
    assert.equal(compareVersions('1.0', '1.0'), 0)
  })
  it('orders unstable markers rc > pre > beta > alpha, all below the release', () => {
    const sorted = sortLatestFirst(['2.0alpha', '2.0', '2.0pre', '2.0beta', '2.0rc1', '1.9'])
    assert.deepEqual(sorted, ['2.0', '2.0rc1', '2.0pre', '2.0beta', '2.0alpha', '1.9'])
    assert.equal(isUnstableVersion('2.0rc1'), true)
    assert.equal(isUnstableVersion('2.0-rc2'), true)
    assert.equal(isUnstableVersion('2.0-r1'), false)
  })
  it('puts version-control snapshots below every release', () => {
    for (const v of ['svn', 'cvs', 'git', 'bzr', 'hg', 'GIT', 'foo-git']) assert.equal(compareVersions(v, '0.0.1'), -1, v)
  })
  it('breaks ties with the revision only', () => {
    assert.equal(compareVersions('1.0-r1', '1.0'), 1)
    assert.equal(compareVersions('1.0-r1p1', '1.0-r1'), 1)
    assert.equal(compareVersions('1.1', '1.0-r9'), 1)
    assert.deepEqual(splitRevision('1.0-r3p2'), { version: '1.0', revision: [3, 2] })
    assert.deepEqual(splitRevision('1.0-rc3'), { version: '1.0-rc3', revision: [0, 0] })
  })
  it('keeps the first of equal versions (GuessLatest argument order)', () => {
    assert.equal(guessLatest(['1.0', '01.0']), '1.0')
    assert.equal(guessLatest(['01.0', '1.0']), '01.0')
    assert.equal(guessLatest([]), '')
  })
})
