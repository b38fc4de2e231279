import assert from 'node:assert/strict'
import { CasError, blake3Hex, treeDigest } from '../src/index.js'
import type { TreeItem } from '../src/index.js'

const K1 = '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85'
const K2 = 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262'

const TREE: TreeItem[] = [
  { path: 'bin/tool', type: 'file', mode: 0o755, key: `${K1}-x` },
  { path: 'bin', type: 'dir', mode: 0o755 },
  { path: 'lib/libz.so', type: 'symlink', mode: 0o777, target: 'libz.so.1' },
  { path: 'share/doc/README', type: 'file', mode: 0o644, key: K2 },
]

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items]
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]))
}

function isCorrupt(err: unknown): boolean {
  return err instanceof CasError && err.code === 'ERR_NIP_CAS_CORRUPT'
}

describe('treeDigest', () => {
  it('hashes the documented canonical serialisation', () => {
    const canonical =
      `dir\x00bin\x00755\x00\n` +
      `file\x00bin/tool\x00755\x00${K1}-x\n` +
      `symlink\x00lib/libz.so\x00777\x00libz.so.1\n` +
      `file\x00share/doc/README\x00644\x00${K2}\n`
    assert.equal(treeDigest(TREE), blake3Hex(Buffer.from(canonical)))
    assert.equal(treeDigest(TREE), '9dc004d4a139fe7bf094d6b7fd163d9ecc5ce1390925367ebc88eff4a0e8227b')
    assert.equal(treeDigest([]), 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262')
  })

  it('does not depend on input order', () => {
    const all = permutations(TREE)
    assert.equal(all.length, 24)
    const digests = new Set(all.map((items) => treeDigest(items)))
    assert.equal(digests.size, 1)
  })

  it('sorts by UTF-8 bytes, not UTF-16 code units', () => {
    // U+E000 sorts after U+10000 in UTF-16 (surrogates) but before it in UTF-8.
    const items: TreeItem[] = [
      { path: '\u{10000}', type: 'dir', mode: 0o755 },
      { path: '\uE000', type: 'dir', mode: 0o755 },
    ]
    assert.equal(treeDigest(items), blake3Hex(Buffer.from(`dir\x00\uE000\x00755\x00\ndir\x00\u{10000}\x00755\x00\n`, 'utf8')))
  })

  it('gives the same digest for a large tree sorted (taken as it is) and shuffled (sorted as bytes)', () => {
    // Paths below U+D800 sort the same as strings and as UTF-8; one with an astral or a U+E000+
    // character must go through the byte comparison even when the strings look sorted.
    let seed = 7
    // xorshift32: a fixed, long sequence.
    const next = (): number => {
      seed ^= seed << 13
      seed ^= seed >>> 17
      seed ^= seed << 5
      return seed >>> 0
    }
    const names = ['a', 'b', 'z', 'A', '-', '.x', 'é', 'ß', '中', '\u{1F600}', '\uE000', '\uFFFD']
    for (const alphabet of [names.slice(0, 9), names]) {
      const paths = new Set<string>()
      while (paths.size < 2000) paths.add(Array.from({ length: 1 + (next() % 4) }, () => alphabet[next() % alphabet.length] + (next() % 50)).join('/'))
      const items: TreeItem[] = [...paths].map((p, i) => ({ path: p, type: 'file', mode: 0o644, key: i % 2 ? K1 : K2 }))
      const sorted = [...items].sort((a, b) => (a.path < b.path ? -1 : 1))
      const shuffled = [...items].sort(() => (next() % 2 ? 1 : -1))
      const bytes = [...items].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
      const expected = blake3Hex(Buffer.from(bytes.map((i) => `file\x00${i.path}\x00644\x00${i.key}\n`).join(''), 'utf8'))
      assert.equal(treeDigest(sorted), expected)
      assert.equal(treeDigest(shuffled), expected)
    }
  })

  it('changes with mode, target, key, type or path', () => {
    const base = treeDigest(TREE)
    const variants: TreeItem[][] = [
      TREE.map((item) => (item.path === 'share/doc/README' ? { ...item, mode: 0o600 } : item)),
      TREE.map((item) => (item.type === 'symlink' ? { ...item, target: 'libz.so.2' } : item)),
      TREE.map((item) => (item.path === 'bin/tool' ? { ...item, key: K1 } : item)),
      TREE.map((item) => (item.path === 'share/doc/README' ? { ...item, key: K1 } : item)),
      TREE.map((item) => (item.path === 'bin' ? { ...item, type: 'symlink' as const, target: 'sbin' } : item)),
      TREE.map((item) => (item.path === 'bin/tool' ? { ...item, path: 'bin/tool2' } : item)),
      TREE.slice(1),
    ]
    const digests = new Set([base, ...variants.map((items) => treeDigest(items))])
    assert.equal(digests.size, variants.length + 1)
  })

  it('ignores file type bits above the permission bits', () => {
    const withType = TREE.map((item) => (item.type === 'file' ? { ...item, mode: item.mode | 0o100000 } : item))
    assert.equal(treeDigest(withType), treeDigest(TREE))
  })

  it('rejects malformed trees with ERR_NIP_CAS_CORRUPT', () => {
    const bad: TreeItem[][] = [
      [...TREE, { path: 'bin', type: 'dir', mode: 0o700 }],
      // sorted, with the duplicate next to the original
      [{ path: 'a', type: 'dir', mode: 0o755 }, { path: 'a', type: 'dir', mode: 0o700 }],
      [{ path: 'a\x00b', type: 'dir', mode: 0o755 }],
      [{ path: '', type: 'dir', mode: 0o755 }],
      [{ path: 'f', type: 'file', mode: 0o644 }],
      [{ path: 'f', type: 'file', mode: 0o644, key: 'abc' }],
      [{ path: 'l', type: 'symlink', mode: 0o777 }],
      [{ path: 'l', type: 'symlink', mode: 0o777, target: 'a\x00b' }],
      [{ path: 'd', type: 'fifo' as never, mode: 0o644 }],
      [{ path: 'd', type: 'dir', mode: -1 }],
    ]
    for (const items of bad) assert.throws(() => treeDigest(items), isCorrupt, JSON.stringify(items))
  })
})
