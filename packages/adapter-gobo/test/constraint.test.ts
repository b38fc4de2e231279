import { strict as assert } from 'node:assert'
import { parseConstraint, satisfies } from '../src/constraint.js'

const dep = (constraint?: string) => ({ name: 'GCC', raw: `GCC ${constraint ?? ''}`, ...(constraint !== undefined ? { constraint } : {}) })

describe('satisfies', () => {
  it('requires every clause to hold', () => {
    const d = dep('>= 3.0.0, < 4.0.0, != 3.1.0')
    assert.deepEqual(
      ['2.95', '3.0.0', '3.0', '3.1.0', '3.1.1', '3.4.6', '4.0.0', '4.0.0rc1'].map((v) => satisfies(d, v)),
      // 3.0 < 3.0.0 in GuessLatest's order; 4.0.0rc1 sorts below 4.0.0.
      [false, true, false, false, true, true, false, true],
    )
  })
  it('supports every operator', () => {
    const cases: [string, string, boolean][] = [
      ['> 1.0', '1.0', false],
      ['> 1.0', '1.0-r1', true],
      ['<= 1.0', '1.0', true],
      ['<= 1.0', '1.0.1', false],
      ['< 2', '1.99', true],
      ['= 1.2', '1.2', true],
      ['= 1.2', '1.2.0', false],
      ['== 1.2', '1.2', true],
      ['!= 1.2', '1.3', true],
      ['1.5', '1.10', true],
      ['1.5', '1.4', false],
    ]
    for (const [c, v, want] of cases) assert.equal(satisfies(dep(c), v), want, `${v} ${c}`)
  })
  it('is satisfied by any version when there is no constraint', () => {
    assert.equal(satisfies(dep(), '0.1'), true)
    assert.equal(satisfies(dep(''), 'git'), true)
  })
  it('is satisfied by nothing when the constraint is malformed', () => {
    assert.equal(satisfies(dep('>> 1'), '2'), false)
    assert.equal(parseConstraint('>= 1,'), null)
    assert.deepEqual(parseConstraint(' >=1.0 ,<2 '), [
      { op: '>=', version: '1.0' },
      { op: '<', version: '2' },
    ])
  })
})
