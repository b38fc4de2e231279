import { strict as assert } from 'node:assert'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { compareVersions, isValidVersion } from '../src/versionCompare.js'
import { parseRelations, versionSatisfies } from '../src/relation.js'

const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0)
const rows = readFileSync(new URL('./fixtures/vercmp-dpkg.tsv', import.meta.url), 'utf8')
  .split('\n')
  .slice(1)
  .filter((l) => l !== '')
  .map((l) => l.split('\t'))

function hasDpkg(): boolean {
  return spawnSync('dpkg', ['--version']).status === 0
}

describe('dpkg version comparison', () => {
  it(`agrees with every row of vercmp-dpkg.tsv (${rows.length} rows)`, () => {
    assert.equal(rows.length, 107)
    for (const [a, b, expected] of rows) assert.equal(sign(compareVersions(a, b)), Number(expected), `${a} vs ${b}`)
  })

  it('orders the documented examples', () => {
    assert.ok(compareVersions('1.0~rc1', '1.0') < 0)
    assert.ok(compareVersions('1~', '1') < 0)
    assert.equal(compareVersions('1.0', '1.0-0'), 0)
    assert.ok(compareVersions('1:0.4', '10.3') > 0)
    assert.ok(compareVersions('1.0', '1.0a') < 0 && compareVersions('1.0a', '1.0+b1') < 0)
    assert.equal(isValidVersion('1.0-'), false)
    assert.equal(isValidVersion(':1.0'), false)
    assert.equal(isValidVersion('1:2.3-4'), true)
  })

  it('agrees with dpkg --compare-versions on 300 generated pairs', function () {
    if (!hasDpkg()) {
      console.log('  (skipped: dpkg not installed)')
      this.skip()
    }
    let seed = 7
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n)
    const atoms = ['0', '1', '01', '9', '10', 'a', 'b', 'Z', '~', '~~', '+', '.', '~rc1', 'beta', '00', '2a']
    const gen = () => {
      let up = String(rand(3))
      for (let i = rand(4); i > 0; i--) up += atoms[rand(atoms.length)]
      const epoch = rand(4) === 0 ? `${rand(3)}:` : ''
      const rev = rand(2) === 0 ? `-${atoms[rand(atoms.length)].replace(/^\.$/, '1')}${rand(3)}` : ''
      return `${epoch}${up}${rev}`
    }
    const pairs: [string, string][] = []
    while (pairs.length < 300) {
      const a = gen()
      const b = rand(5) === 0 ? a : gen()
      if (isValidVersion(a) && isValidVersion(b)) pairs.push([a, b])
    }
    // One shell for all pairs: dpkg prints lt/eq/gt per line.
    const script = pairs
      .map(([a, b]) => `if dpkg --compare-versions '${a}' lt '${b}'; then echo -1; elif dpkg --compare-versions '${a}' eq '${b}'; then echo 0; else echo 1; fi`)
      .join('\n')
    const out = spawnSync('sh', ['-c', script], { encoding: 'utf8' })
    const results = out.stdout.trim().split('\n').map(Number)
    assert.equal(results.length, pairs.length)
    pairs.forEach(([a, b], i) => assert.equal(sign(compareVersions(a, b)), results[i], `${a} vs ${b}`))
  })
})

describe('relationship fields', () => {
  it('parses alternatives, operators, arch qualifiers and free whitespace', () => {
    const groups = parseRelations('libc6 (>= 2.34), libjq1 (= 1.6-2.1) | jq-lib, python3:any,libglib2.0-0  (  >= 2.12.9), foo (<< 2), bar (> 1)')
    assert.deepEqual(
      groups.map((g) => g.map((r) => [r.name, r.archQualifier ?? '', r.op ?? '', r.version ?? ''])),
      [
        [['libc6', '', '>=', '2.34']],
        [['libjq1', '', '=', '1.6-2.1'], ['jq-lib', '', '', '']],
        [['python3', 'any', '', '']],
        [['libglib2.0-0', '', '>=', '2.12.9']],
        [['foo', '', '<<', '2']],
        [['bar', '', '>=', '1']],
      ],
    )
  })

  it('applies << <= = >= >> like dpkg', () => {
    assert.equal(versionSatisfies('1.0', '<<', '1.0'), false)
    assert.equal(versionSatisfies('1.0~rc1', '<<', '1.0'), true)
    assert.equal(versionSatisfies('1.0', '<=', '1.0-0'), true)
    assert.equal(versionSatisfies('1:1.0', '>>', '9.9'), true)
    assert.equal(versionSatisfies('2.0', '=', '2.0'), true)
    assert.equal(versionSatisfies('2.0', '>=', '2.0.1'), false)
  })
})
