import { strict as assert } from 'node:assert'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { LONG_TESTS } from '@nip/testing'
import { compareDewey, deweyMatch, parseDewey } from '../src/dewey.js'
import { expandAlternatives, patternName, pkgMatch } from '../src/pattern.js'

function rows(file: string): string[][] {
  const lines = readFileSync(new URL(`./fixtures/${file}`, import.meta.url), 'utf8').split('\n').filter((l) => l !== '')
  return lines.slice(1).map((l) => l.split('\t'))
}

describe('dewey (vercmp-pkgsrc.tsv)', () => {
  const table = rows('vercmp-pkgsrc.tsv')
  it('has the 435 pairwise rows', () => assert.equal(table.length, 435))
  it('orders every row as pkg_install dewey.c does (the flagged rows by dewey.c)', () => {
    const failures: string[] = []
    let flagged = 0
    for (const [a, b, expected, agrees] of table) {
      const m = /^no\(pkg_install=(-?\d+)\)$/.exec(agrees)
      if (m) flagged++
      const want = m ? Number(m[1]) : Number(expected)
      const got = compareDewey(a, b)
      if (got !== want) failures.push(`${a} vs ${b}: got ${got}, want ${want}`)
      if (compareDewey(b, a) !== -want) failures.push(`${b} vs ${a}: not antisymmetric`)
    }
    assert.equal(flagged, 6)
    assert.deepEqual(failures, [])
  })
  it('parses components as dewey.c mkcomponent does', () => {
    assert.deepEqual(parseDewey('1.0a'), { components: [1, 0, 0, 0, 1], revision: 0 })
    assert.deepEqual(parseDewey('1.0alpha'), { components: [1, 0, 0, -3], revision: 0 })
    assert.deepEqual(parseDewey('pl1'), { components: [0, 1], revision: 0 })
    assert.deepEqual(parseDewey('2.0RC1nb3'), { components: [2, 0, 0, -1, 1], revision: 3 })
    assert.deepEqual(parseDewey('1nb2nb'), { components: [1], revision: 0 })
    assert.equal(compareDewey('5.5', '5.005'), 0)
    assert.equal(compareDewey('1.0nb9', '1.0.1'), -1)
    assert.equal(compareDewey('1.0a', '1.0.2'), -1)
  })
})

describe('patterns (pkgsrc-pattern-match.tsv)', () => {
  const table = rows('pkgsrc-pattern-match.tsv')
  it('has 108 rows', () => assert.equal(table.length, 108))
  it('matches every row as pkg_install pkg_match does', () => {
    const failures = table.filter(([pattern, pkg, expected]) => pkgMatch(pattern, pkg) !== (expected === 'match'))
    assert.deepEqual(failures.map(([p, k, e]) => `${p} ${k} ${e}`), [])
  })
  it('expands alternatives and names patterns', () => {
    assert.deepEqual(expandAlternatives('{gtk2,gtk3}-[0-9]*'), ['gtk2-[0-9]*', 'gtk3-[0-9]*'])
    assert.deepEqual(expandAlternatives('a-{b,c}-{d{e,f},g}-h'), ['a-b-{d{e,f},g}-h', 'a-c-{d{e,f},g}-h'])
    assert.deepEqual(expandAlternatives('perl-5.30{,nb[0-9]*}'), ['perl-5.30', 'perl-5.30nb[0-9]*'])
    assert.throws(() => expandAlternatives('foo{a,b'), /Malformed alternate/)
    assert.equal(patternName('perl>=5.30<6'), 'perl')
    assert.equal(patternName('foo-1.[0-9]*'), 'foo')
    assert.equal(patternName('foo-bar'), 'foo-bar')
    assert.equal(patternName('foo-1.0'), 'foo')
    assert.equal(patternName('py3*-foo-[0-9]*'), null)
    assert.equal(pkgMatch('foo-bar', 'foo-bar-2.1'), true)
    assert.equal(pkgMatch('foo-1.[0-9]*', 'foo-1.12nb1'), true)
    assert.equal(pkgMatch('foo-1.[0-9]*', 'foo-2.0'), false)
    assert.equal(pkgMatch('perl>=5.30<6', 'perl-5.36.0nb1'), true)
    assert.equal(pkgMatch('perl>=5.30<6', 'perl-6.0'), false)
  })
})

describe('dewey_match: the second operator where dewey.c looks for it', () => {
  // Derived by reading pkg_install lib/dewey.c dewey_match(): only after `>`/`>=` is a `<`/`<=`
  // searched for; otherwise the rest of the pattern is one version (unknown characters skipped).
  const cases: [string, string, boolean][] = [
    ['foo>=1<2', 'foo-1.5', true],
    ['foo>=1<2', 'foo-2', false],
    ['foo>=1<=2', 'foo-2', true],
    ['foo>=1<=2', 'foo-2.1', false],
    ['foo>1<2', 'foo-1', false],
    ['foo>=1.0<2', 'foo-0.5', false],
    // `<` first: "2<3" is the single version [2, 3] (the `<` skipped, no dot component), above
    // every 2.x ([2, 0, x]) and below 3.
    ['foo<2<3', 'foo-2.2', true],
    ['foo<2<3', 'foo-2.5', true],
    ['foo<2<3', 'foo-3', false],
    ['foo<=2<3', 'foo-2.99', true],
    // `>=` then `>`: "1>2" is the single version [1, 2].
    ['foo>=1>2', 'foo-2', true],
    ['foo>=1>2', 'foo-1.5', false],
    ['foo>1>2', 'foo-1.2', false],
  ]
  for (const [pattern, pkg, expected] of cases) {
    it(`${pattern} ${expected ? 'matches' : 'does not match'} ${pkg}`, () => assert.equal(deweyMatch(pattern, pkg), expected))
  }
})

describe('dewey_match against an answer table from pkg_install lib/dewey.c (dewey-match.tsv.gz)', () => {
  const table = gunzipSync(readFileSync(new URL('./fixtures/dewey-match.tsv.gz', import.meta.url)))
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split('\t'))
  // The documented exception (docs/pkgsrc.md): dewey.c's C ints overflow past 2^31 - 1; nip's
  // numbers do not. Rows with a number above 999,999,999 are where the two may part.
  const overflows = (s: string) => (s.match(/[0-9]+/g) ?? []).some((d) => Number(d) > 999_999_999)
  const n = LONG_TESTS ? table.length : 500
  it(`agrees on ${n} generated pattern/package pairs (rows with C int overflow excepted)`, () => {
    assert.equal(table.length, 22_500)
    let excepted = 0
    const disagreements: string[] = []
    for (const [pattern, pkg, expected] of table.slice(0, n)) {
      if (overflows(pattern) || overflows(pkg)) {
        excepted++
        continue
      }
      if (deweyMatch(pattern, pkg) !== (expected === '1')) disagreements.push(`${pattern} ${pkg}: dewey.c ${expected}, nip ${deweyMatch(pattern, pkg)}`)
    }
    console.log(`      ${n} pairs, ${excepted} with numbers past the C int range excepted: ${disagreements.length} disagreements`)
    assert.deepEqual(disagreements.slice(0, 20), [])
  })
})
