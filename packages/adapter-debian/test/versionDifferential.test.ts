/**
 * Differential test of dpkg version validity and ordering against the real `dpkg`
 * (`--validate-version`, `--compare-versions`) on seeded random inputs aimed at the hard cases:
 * signed epochs, whitespace other than space and tab, non-ASCII, tildes, leading zeros, huge digit
 * runs. A few hundred inputs in the normal suite; NIP_LONG_TESTS=1 tries 20,000 pairs. Skipped
 * (visibly) where dpkg is not installed.
 */
import { strict as assert } from 'node:assert'
import { compareVersions, isValidVersion, parseDpkgVersion } from '../src/versionCompare.js'
import { LONG_TESTS as LONG, hasTool, runBatched, seeded, shq } from '@nip/testing'
import { nearVersion, versionGenerator } from './helpers/versionGen.js'

const N = LONG ? 20_000 : 300
const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0)

describe(`dpkg versions against the real dpkg (${N} generated pairs)`, function () {
  this.timeout(LONG ? 1_800_000 : 120_000)
  before(function () {
    if (!hasTool('dpkg', ['--version'])) {
      console.log('      (skipped: dpkg is not installed)')
      this.skip()
    }
  })

  const gen = versionGenerator(20261207)
  const r = seeded(17)
  const pairs: [string, string][] = []
  for (let k = 0; k < N; k++) {
    const a = gen()
    pairs.push([a, nearVersion(r, a, gen)])
  }

  it('the known cases: signed epochs, odd whitespace, UTF-8 bytes, leading non-digits', () => {
    assert.equal(compareVersions('+1:0', '1:0'), 0)
    assert.equal(compareVersions('-0:6', '6'), 0)
    assert.ok(compareVersions('1é', '1.') < 0)
    assert.equal(isValidVersion('\n1:0'), true)
    assert.equal(isValidVersion('1.0\n'), false)
    assert.equal(isValidVersion('1.0\v'), false)
    assert.equal(isValidVersion(' 1.0\t'), true)
    assert.equal(isValidVersion('a'), false)
    assert.equal(isValidVersion('~1'), false)
    assert.equal(isValidVersion('-1:0'), false)
    assert.ok(compareVersions('1.0\n', '1.0') > 0)
    assert.ok(compareVersions('', '~') < 0)
    assert.equal(compareVersions('<unknown>', ''), 0)
  })

  it('agrees with dpkg --validate-version and --compare-versions on every generated pair', () => {
    const snippets = pairs.map(([a, b]) => {
      const A = shq(a)
      const B = shq(b)
      return (
        `dpkg --validate-version -- ${A} 2>/dev/null; v=$?; ` +
        `dpkg --compare-versions -- ${A} lt ${B} 2>/dev/null; c=$?; ` +
        `if [ $c = 0 ]; then c=-1; elif [ $c = 1 ]; then dpkg --compare-versions -- ${A} eq ${B} 2>/dev/null; c=$?; [ $c = 1 ] && c=1 || { [ $c = 0 ] && c=0 || c=err; }; else c=err; fi; ` +
        `echo "$v $c"`
      )
    })
    const answers = runBatched(snippets)
    const disagreements: string[] = []
    let compared = 0
    let refused = 0
    pairs.forEach(([a, b], k) => {
      const [v, c] = answers[k].split(' ')
      const valid = isValidVersion(a)
      if (valid !== (v === '0')) disagreements.push(`validate ${JSON.stringify(a)}: dpkg ${v === '0'}, nip ${valid}`)
      if (c === 'err') {
        refused++
        // dpkg refuses to compare: nip must find an error-level problem in one of them.
        const blank = (s: string) => s === '' || s === '<unknown>'
        const nipRefuses = (!blank(a) && parseDpkgVersion(a).version === undefined) || (!blank(b) && parseDpkgVersion(b).version === undefined)
        if (!nipRefuses) disagreements.push(`compare ${JSON.stringify(a)} ${JSON.stringify(b)}: dpkg refuses, nip compares`)
      } else {
        compared++
        const nip = sign(compareVersions(a, b))
        if (nip !== Number(c)) disagreements.push(`compare ${JSON.stringify(a)} ${JSON.stringify(b)}: dpkg ${c}, nip ${nip}`)
      }
    })
    console.log(`      ${N} pairs: ${compared} compared by dpkg, ${refused} refused; ${disagreements.length} disagreements`)
    assert.deepEqual(disagreements.slice(0, 20), [])
    assert.ok(compared > N / 3, 'the generator must produce mostly comparable pairs')
  })
})
