/**
 * Differential test of relationship-field parsing against dpkg's own C parser: each generated
 * field goes into a one-package status file read by the real `dpkg-query`, which either refuses
 * the file or prints the field as it parsed it (`${Depends}` is re-serialised from dpkg's
 * structures). nip must refuse the same fields and read the others the same way. A few hundred
 * fields in `npm test`, 20,000 with NIP_LONG_TESTS=1; skipped (visibly) without dpkg-query.
 */
import { strict as assert } from 'node:assert'
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { LONG_TESTS, hasTool, runBatched, seeded, shq } from '@nip/testing'
import { parseRelations, type RelationFieldKind, type RelationGroup } from '../src/relation.js'
import { parseDpkgVersion } from '../src/versionCompare.js'

const N = LONG_TESTS ? 20_000 : 300

const GOOD_NAMES = ['f', 'libc6', 'foo-bar', 'foo_bar', 'F', 'Foo.Bar+1', 'g++', '0ad']
const GOOD_ARCHES = ['any', 'ANY', 'amd64', 'native', 'all']
const GOOD_OPS = ['<<', '<=', '=', '>=', '>>', '<', '>', '']
const GOOD_VERSIONS = ['1.0', '1', '2:1.0-1', '+1:0', '-0:6', 'a1', '1~rc1', '0:1:2', '1-2-3', '1é']
const NAMES = ['f', 'libc6', 'foo-bar', 'foo_bar', 'F', 'Foo.Bar+1', 'x', '0ad', 'é', '-x', '.x', 'a[b]', 'a\u00a0b', 'a/b', 'g++']
const ARCHES = ['any', 'ANY', 'Any', 'amd64', 'all', 'native', '', 'a:b', 'x_y', '-x', 'i386', 'é', 'arm-64']
const OPS = ['<<', '<=', '=', '>=', '>>', '<', '>', '', '<>', '><', '==', '=<', '>>>', '<=<']
const VERSIONS = ['1.0', '1', '2:1.0-1', '+1:0', '-0:6', '-1', '', 'a1', '1 2', '1~rc1', '1.0-', ':1', '1:', '1é', '\u00a0', '~', '0:1:2', '1-2-3', '1)', '1(']
const SPACES = ['', ' ', ' ', '  ', '\t', '\n ', '\u00a0', '\v', '\r']
const EXTRAS = ['[amd64]', '[!i386]', '[]', '<!nocheck>', '<stage1>', ')', '(', ':', '|', ',']
const FIELDS: [string, RelationFieldKind][] = [
  ['Depends', 'depends'],
  ['Depends', 'depends'],
  ['Depends', 'depends'],
  ['Pre-Depends', 'depends'],
  ['Conflicts', 'conflicts'],
  ['Breaks', 'breaks'],
  ['Provides', 'provides'],
]

function generator(seed: number): () => [string, RelationFieldKind, string] {
  const r = seeded(seed)
  const sp = () => (r.chance(0.85) ? r.pick([' ', '']) : r.pick(SPACES))
  const either = (good: string[], all: string[]) => (r.chance(0.88) ? r.pick(good) : r.pick(all))
  const item = () => {
    let s = either(GOOD_NAMES, NAMES)
    if (r.chance(0.25)) s += ':' + either(GOOD_ARCHES, ARCHES)
    if (r.chance(0.55)) s += sp() + '(' + sp() + either(GOOD_OPS, OPS) + sp() + either(GOOD_VERSIONS, VERSIONS) + sp() + ')'
    if (r.chance(0.03)) s += sp() + r.pick(EXTRAS)
    return s
  }
  return () => {
    const [field, kind] = r.pick(FIELDS)
    let v = item()
    for (let k = r.int(4); k > 0; k--) v += sp() + (r.chance(0.35) ? '|' : ',') + sp() + item()
    if (r.chance(0.02)) v += r.pick([',', '|', ' ,'])
    if (r.chance(0.01)) v = r.pick([',', '|']) + v
    return [field, kind, v]
  }
}

/** dpkg's serialisation of parsed relations (`varbufdependency`, versions `vdew_nonambig`). */
function serialise(groups: RelationGroup[]): string {
  return groups
    .map((g) =>
      g
        .map((rel) => {
          let s = rel.name + (rel.archQualifier === undefined ? '' : `:${rel.archQualifier}`)
          if (rel.op !== undefined) {
            const v = parseDpkgVersion(rel.version ?? '').version
            if (v === undefined) return `${s} (${rel.op} ?)`
            const epoch = v.epoch !== 0 || v.upstream.includes(':') || v.revision.includes(':') ? `${v.epoch}:` : ''
            s += ` (${rel.op} ${epoch}${v.upstream}${v.revision === '' ? '' : `-${v.revision}`})`
          }
          return s
        })
        .join(' | '),
    )
    .join(', ')
}

describe(`dpkg relationship fields against dpkg's parser (${N} generated fields)`, function () {
  this.timeout(LONG_TESTS ? 1_800_000 : 120_000)
  let dir = ''
  before(function () {
    if (!hasTool('dpkg-query', ['--version'])) {
      console.log('      (skipped: dpkg-query is not installed)')
      this.skip()
    }
    dir = mkdtempSync(path.join(tmpdir(), 'nip-dpkg-rel-'))
    mkdirSync(path.join(dir, 'info'))
    mkdirSync(path.join(dir, 'updates'))
  })
  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true })
  })

  it('the known cases', () => {
    assert.throws(() => parseRelations('f [amd64]'), /syntax error/)
    assert.throws(() => parseRelations('f <!nocheck>'), /syntax error/)
    assert.throws(() => parseRelations('f (>> -1)'), /version/)
    assert.throws(() => parseRelations('f (<< )'), /version/)
    assert.throws(() => parseRelations('a | b', 'x', 'conflicts'), /alternatives/)
    assert.equal(serialise(parseRelations('f ( 1.0)')), 'f (= 1.0)')
    assert.equal(serialise(parseRelations('foo_bar, x:ANY, F (> 1)')), 'foo_bar, x:ANY, f (>= 1)')
  })

  it('refuses what dpkg refuses and reads the rest as dpkg does', () => {
    const gen = generator(20261207)
    const cases = Array.from({ length: N }, gen)
    const status = path.join(dir, 'status')
    const answers = runBatched(
      cases.map(([field, , value]) => {
        const stanza = `Package: p\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\nMaintainer: m\nDescription: d\n${field}: ${value}\n`
        return `printf '%s' ${shq(stanza)} > ${shq(status)}; out=$(dpkg-query --admindir=${shq(dir)} -W -f='\${${field}}' p 2>/dev/null); rc=$?; printf '%s\\t%s\\n' "$rc" "$out"`
      }),
    )
    const disagreements: string[] = []
    let accepted = 0
    cases.forEach(([field, kind, value], k) => {
      const tab = answers[k].indexOf('\t')
      const rc = answers[k].slice(0, tab)
      const out = answers[k].slice(tab + 1)
      let nip: string | null
      try {
        nip = serialise(parseRelations(value, field, kind))
      } catch {
        nip = null
      }
      if (rc === '0') accepted++
      if (rc !== '0' && nip !== null) disagreements.push(`${field}: ${JSON.stringify(value)}: dpkg refuses, nip reads ${JSON.stringify(nip)}`)
      else if (rc === '0' && nip === null) disagreements.push(`${field}: ${JSON.stringify(value)}: dpkg reads ${JSON.stringify(out)}, nip refuses`)
      else if (rc === '0' && nip !== out) disagreements.push(`${field}: ${JSON.stringify(value)}: dpkg reads ${JSON.stringify(out)}, nip ${JSON.stringify(nip)}`)
    })
    console.log(`      ${N} fields: ${accepted} accepted by dpkg, ${N - accepted} refused; ${disagreements.length} disagreements`)
    assert.deepEqual(disagreements.slice(0, 25), [])
    assert.ok(accepted > N / 5 && accepted < N, 'the generator must produce both accepted and refused fields')
  })
})
