import { strict as assert } from 'node:assert'
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { vercmp } from '../src/vercmp.js'

const rows = readFileSync(fileURLToPath(new URL('./fixtures/vercmp-pacman.tsv', import.meta.url)), 'utf8')
  .split('\n')
  .slice(1)
  .filter((l) => l !== '')
  .map((l) => l.split('\t'))

describe('vercmp (pacman vectors)', () => {
  it('has every upstream row', () => assert.equal(rows.length, 112))
  for (const [a, b, expected] of rows) {
    it(`vercmp(${a}, ${b}) = ${expected}`, () => assert.equal(vercmp(a, b), Number(expected)))
  }
})

function hasVercmp(): boolean {
  return spawnSync('sh', ['-c', 'command -v vercmp'], { encoding: 'utf8' }).status === 0
}

/** Deterministic pseudo-random version strings from pacman's alphabet of trouble. */
function generatePairs(n: number): [string, string][] {
  let seed = 12345
  const rnd = (k: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % k
  }
  const parts = ['0', '1', '2', '10', '01', '007', 'a', 'b', 'alpha', 'beta', 'rc', 'pre', 'p', 'A', 'Z']
  const seps = ['.', '.', '.', '_', '+', '~', '..', '-']
  const one = (): string => {
    let s = rnd(4) === 0 ? `${rnd(3)}:` : ''
    const len = 1 + rnd(4)
    for (let i = 0; i < len; i++) s += (i > 0 ? seps[rnd(seps.length)] : '') + parts[rnd(parts.length)]
    if (rnd(2) === 0) s += `-${1 + rnd(3)}`
    return s
  }
  const out: [string, string][] = []
  for (let i = 0; i < n; i++) {
    const a = one()
    out.push([a, rnd(5) === 0 ? a.replace(/-\d+$/, '') : one()])
  }
  return out
}

describe('vercmp against the real vercmp binary', function () {
  before(function () {
    if (!hasVercmp()) {
      console.log('  (skipped: vercmp not installed)')
      this.skip()
    }
  })
  it('agrees on 600 generated pairs', () => {
    const pairs = generatePairs(600)
    // One shell for all pairs: vercmp costs a process each.
    const script = pairs.map(([a, b]) => `vercmp '${a}' '${b}'`).join('\n')
    const real = execFileSync('sh', ['-c', script], { encoding: 'utf8' }).trim().split('\n').map(Number)
    assert.equal(real.length, pairs.length)
    const diffs = pairs.filter(([a, b], i) => vercmp(a, b) !== real[i]).map(([a, b]) => `${a} vs ${b}`)
    assert.deepEqual(diffs, [])
  })
})
