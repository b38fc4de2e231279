/**
 * Atom validity under each EAPI against an answer table generated once with Portage's own `Atom`
 * class (fixtures/vectors/portage-atoms-eapi.tsv.gz; provenance in fixtures/PROVENANCE.md): 20,000
 * seeded random atoms × (no EAPI, EAPI 0–8). The first 500 rows in `npm test`, all with
 * NIP_LONG_TESTS=1.
 */
import { strict as assert } from 'node:assert'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { LONG_TESTS } from '@nip/testing'
import { isValidAtom, parseAtom } from '../src/atom.js'
import { useReduce } from '../src/depString.js'

const EAPIS = [undefined, '0', '1', '2', '3', '4', '5', '6', '7', '8']
const rows = gunzipSync(readFileSync(new URL('./fixtures/vectors/portage-atoms-eapi.tsv.gz', import.meta.url)))
  .toString('utf8')
  .split('\n')
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => l.split('\t'))

describe('Gentoo atoms by EAPI (Portage answer table)', () => {
  it('has the 20,000 generated atoms', () => assert.equal(rows.length, 20_000))

  it('the rules one by one', () => {
    assert.equal(isValidAtom('a/f:1/2', { eapi: '4' }), false)
    assert.equal(isValidAtom('a/f:1/2', { eapi: '5' }), true)
    assert.equal(isValidAtom('a/f:=', { eapi: '4' }), false)
    assert.equal(isValidAtom('a/f:1', { eapi: '0' }), false)
    assert.equal(isValidAtom('a/f::gentoo', { eapi: '8' }), false)
    assert.equal(isValidAtom('a/f::gentoo'), true)
    assert.equal(isValidAtom('a/f[x(+)]', { eapi: '3' }), false)
    assert.equal(isValidAtom('a/f[x(+)]', { eapi: '4' }), true)
    assert.equal(isValidAtom('!!a/f', { eapi: '1', allowBlockers: true }), false)
    assert.equal(isValidAtom('!!a/f', { eapi: '2', allowBlockers: true }), true)
    assert.deepEqual(parseAtom('a/f[x,x]')?.useDeps?.map((d) => d.flag), ['x', 'x'])
  })

  const n = LONG_TESTS ? rows.length : 500
  it(`agrees with Portage on ${n} atoms under each of 10 EAPI settings`, () => {
    const disagreements: string[] = []
    for (const [atom, answers] of rows.slice(0, n)) {
      EAPIS.forEach((eapi, k) => {
        // Portage's Atom() allows build ids by default exactly when no EAPI is given.
        const nip = isValidAtom(atom, { eapi, allowBlockers: true, allowBuildId: eapi === undefined })
        if (nip !== (answers[k] === '1')) disagreements.push(`${atom} EAPI ${eapi ?? 'none'}: Portage ${answers[k] === '1'}, nip ${nip}`)
      })
    }
    console.log(`      ${n} atoms × 10 EAPI settings: ${disagreements.length} disagreements`)
    assert.deepEqual(disagreements.slice(0, 25), [])
  })
})

describe('use_reduce with evaluated conditional USE deps', () => {
  // Answers of Portage's use_reduce(depstr, uselist=['x'], token_class=Atom) at the commit named in
  // fixtures/PROVENANCE.md: Atom.evaluate_conditionals rebuilds the atom from remove_slot(), so a
  // `::repo` is dropped exactly when a conditional was evaluated.
  const cases: [string, string[]][] = [
    ['a/f:1/2=::r[x?,y] b/g::r[x?] >=c/h-1::r[!x?] d/i::r[x]', ['a/f:1/2=[x,y]', 'b/g[x]', '>=c/h-1', 'd/i::r[x]']],
    ['!a/f:*::r[!x=] e/j:2::r[x?]', ['!a/f:*[-x]', 'e/j:2[x]']],
  ]
  for (const [depstr, expected] of cases) {
    it(depstr, () => assert.deepEqual(useReduce(depstr, { use: ['x'], tokenClass: 'atom' }), expected))
  }
})
