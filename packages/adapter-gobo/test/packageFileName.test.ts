import { strict as assert } from 'node:assert'
import { parsePackageFileName, versionWithRevision } from '../src/packageFileName.js'

describe('parsePackageFileName', () => {
  it('parses name, version, arch and compression', () => {
    assert.deepEqual(parsePackageFileName('Gimp--2.0.5--x86_64.tar.bz2'), {
      name: 'Gimp',
      version: '2.0.5',
      revision: null,
      arch: 'x86_64',
      compression: 'bz2',
    })
    assert.equal(parsePackageFileName('Hello--1.0--noarch.tar.gz')?.compression, 'gz')
    assert.equal(parsePackageFileName('Hello--1.0--noarch.tar.xz')?.compression, 'xz')
    assert.equal(parsePackageFileName('Hello--1.0--noarch.tar.zst')?.compression, 'zst')
  })

  it('splits the revision forms -rN and -rNpM off the version', () => {
    const r1 = parsePackageFileName('GCC--4.2.1-r1--i686.tar.bz2')
    assert.deepEqual([r1?.version, r1?.revision], ['4.2.1', 'r1'])
    const r2 = parsePackageFileName('GCC--4.2.1-r12p3--x86_64.tar.bz2')
    assert.deepEqual([r2?.version, r2?.revision], ['4.2.1', 'r12p3'])
    assert.equal(versionWithRevision(r2!), '4.2.1-r12p3')
    // Not a revision: a dash inside the version, "-rc1", "-r" without digits.
    assert.deepEqual(
      ['A--1.0-rc1--x86_64.tar.gz', 'A--1.0-r--x86_64.tar.gz', 'A--1.0-r1x--x86_64.tar.gz'].map((n) => {
        const p = parsePackageFileName(n)
        return [p?.version, p?.revision]
      }),
      [
        ['1.0-rc1', null],
        ['1.0-r', null],
        ['1.0-r1x', null],
      ],
    )
  })

  it('treats a name without an arch part as i686', () => {
    assert.deepEqual(parsePackageFileName('Bash--3.0-r2.tar.bz2'), {
      name: 'Bash',
      version: '3.0',
      revision: 'r2',
      arch: 'i686',
      compression: 'bz2',
    })
  })

  it('rejects names that are not packages', () => {
    for (const n of [
      'Hello-1.0.tar.gz',
      'Hello--1.0--x86_64.tar',
      'Hello--1.0--x86_64.zip',
      'SHA256SUMS',
      'A--1--x86_64--extra.tar.gz',
      '--1.0--x86_64.tar.gz',
      'A----x86_64.tar.gz',
      'A--1.0--x8 6.tar.gz',
    ]) {
      assert.equal(parsePackageFileName(n), null, n)
    }
  })

  it('rejects hostile names that are not safe path components', () => {
    for (const n of [
      '../x--1--x86_64.tar.gz',
      'x--../1--x86_64.tar.gz',
      '..--1--x86_64.tar.gz',
      'x--..--x86_64.tar.gz',
      '.hidden--1--x86_64.tar.gz',
      'x--.1--x86_64.tar.gz',
      'Current--1--x86_64.tar.gz',
      'x--Settings--x86_64.tar.gz',
      'a/b--1--x86_64.tar.gz',
      'a\\b--1--x86_64.tar.gz',
      'a\0b--1--x86_64.tar.gz',
      'x--1--../x86_64.tar.gz',
    ]) {
      assert.equal(parsePackageFileName(n), null, JSON.stringify(n))
    }
  })
})
