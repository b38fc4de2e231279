/**
 * Differential test of `vercmp` against pacman's real `vercmp` on seeded random version strings
 * with non-ASCII characters (separator runs count UTF-8 bytes), epochs, releases, leading zeros and
 * letter/digit changes. A few hundred pairs normally, 20,000 with NIP_LONG_TESTS=1; skipped
 * (visibly) without `vercmp`.
 */
import { strict as assert } from 'node:assert'
import { LONG_TESTS, hasTool, runBatched, seeded, shq } from '@nip/testing'
import { vercmp } from '../src/vercmp.js'

const N = LONG_TESTS ? 20_000 : 400

const PIECES = ['0', '1', '2', '10', '01', '007', '99999999999999999999', 'a', 'b', 'alpha', 'rc', 'pre', 'A', 'Z', 'é', 'ÿ', '€', '😀', '\u00a0', 'ß', 'Ā', 'x', '']
const SEPS = ['.', '_', '+', '~', '..', '-', ':', 'é', '€', '😀', '.é', '__', '\u00a0', '']

function generator(seed: number): () => string {
  const r = seeded(seed)
  return () => {
    let s = r.chance(0.2) ? `${r.pick(['', '0', '1', '2', '01'])}:` : ''
    for (let k = 1 + r.int(4); k > 0; k--) s += (s === '' || r.chance(0.2) ? '' : r.pick(SEPS)) + r.pick(PIECES)
    if (r.chance(0.3)) s += `-${r.pick(['1', '2', '0', 'é', '1.é', '1é'])}`
    return s
  }
}

describe(`pacman vercmp against the real vercmp (${N} generated pairs)`, function () {
  this.timeout(LONG_TESTS ? 1_200_000 : 120_000)
  before(function () {
    if (!hasTool('sh', ['-c', 'command -v vercmp >/dev/null'])) {
      console.log('      (skipped: vercmp is not installed)')
      this.skip()
    }
  })

  it('counts separator runs in UTF-8 bytes', () => {
    assert.equal(vercmp('1é2', '1.2'), 1)
    assert.equal(vercmp('1.2', '1é2'), -1)
  })

  it('agrees on every generated pair, non-ASCII included', () => {
    const gen = generator(4242)
    const r = seeded(99)
    const pairs: [string, string][] = []
    for (let k = 0; k < N; k++) {
      const a = gen()
      pairs.push([a, r.chance(0.2) ? a.replace(/[.é]/, r.pick(['_', 'éé', '€', '.'])) : gen()])
    }
    const answers = runBatched(pairs.map(([a, b]) => `vercmp ${shq(a)} ${shq(b)}`))
    const disagreements: string[] = []
    pairs.forEach(([a, b], k) => {
      if (vercmp(a, b) !== Number(answers[k])) disagreements.push(`${JSON.stringify(a)} vs ${JSON.stringify(b)}: vercmp ${answers[k]}, nip ${vercmp(a, b)}`)
    })
    const nonAscii = pairs.filter(([a, b]) => /[^\x00-\x7f]/.test(a + b)).length
    console.log(`      ${N} pairs (${nonAscii} with non-ASCII): ${disagreements.length} disagreements`)
    assert.deepEqual(disagreements.slice(0, 20), [])
    assert.ok(nonAscii > N / 4)
  })
})
