import assert from 'node:assert/strict'
import { createHash, createPrivateKey, sign } from 'node:crypto'
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { isNipError } from '@nip/core'
import {
  compareVersions,
  decodeNix32,
  encodeNix32,
  fingerprint,
  formatHashNix32,
  hashNar,
  parseDrvName,
  parseHash,
  parseNarInfo,
  parsePublicKey,
  parseStorePath,
  readNar,
  requireSignature,
  writeNarNode,
  type NarNode,
} from '../src/index.js'

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures')
function tsv(name: string): string[][] {
  return readFileSync(path.join(fixtures, name), 'utf8').split('\n').slice(1).filter((l) => l !== '').map((l) => l.split('\t'))
}

describe('nix32 and hash strings (nix-hash-encodings.tsv)', () => {
  for (const [algo, hex, nix32, b64] of tsv('nix-hash-encodings.tsv')) {
    it(`${algo} ${hex.slice(0, 12)}…`, () => {
      assert.equal(encodeNix32(Buffer.from(hex, 'hex')), nix32)
      assert.equal(decodeNix32(nix32, hex.length / 2).toString('hex'), hex)
      for (const text of [`${algo}:${hex}`, `${algo}:${hex.toUpperCase()}`, `${algo}:${nix32}`, `${algo}:${b64}`, `${algo}-${b64}`, `${algo}-${b64.replace(/=+$/, '')}`]) {
        assert.equal(parseHash(text).digest.toString('hex'), hex, text)
      }
    })
  }
  it('refuses non-canonical and foreign characters', () => {
    assert.throws(() => decodeNix32('z' + '0'.repeat(51), 32), (e) => isNipError(e, 'ERR_NIP_BAD_PACKAGE'))
    assert.throws(() => decodeNix32('e' + '0'.repeat(51), 32), (e) => isNipError(e, 'ERR_NIP_BAD_PACKAGE'))
    assert.throws(() => parseHash('sha257:00'), (e) => isNipError(e, 'ERR_NIP_BAD_PACKAGE'))
  })
})

describe('store path names (nix-store-path-names.tsv)', () => {
  for (const [p, expected] of tsv('nix-store-path-names.tsv')) {
    it(`${JSON.stringify(p)} → ${expected.split(':')[0]}`, () => {
      const parsed = parseStorePath(p)
      if (expected.startsWith('ok(name=')) assert.equal(parsed?.name, expected.slice('ok(name='.length, -1))
      else assert.equal(parsed, null) // errors and non-canonical forms: nip parses canonical paths only
    })
  }
})

describe('parseDrvName (nix-drvname.tsv) and compareVersions (vercmp-nix.tsv)', () => {
  for (const [input, name, version] of tsv('nix-drvname.tsv')) {
    it(`parseDrvName ${input}`, () => assert.deepEqual(parseDrvName(input), { name, version }))
  }
  for (const [a, b, expected] of tsv('vercmp-nix.tsv')) {
    it(`compareVersions ${a} ${b} = ${expected}`, () => {
      assert.equal(compareVersions(a, b), Number(expected))
      assert.equal(compareVersions(b, a), -Number(expected) || 0)
    })
  }
  it('derived cases: pre, 32-bit overflow, separators', () => {
    assert.equal(compareVersions('1.0-rc1', '1.0'), 1)
    assert.equal(compareVersions('2.3pre1', '2.3-pre1'), 0)
    assert.equal(compareVersions('20230101123456', '9'), -1)
    assert.equal(compareVersions('1.0alpha', '1.0'), 1)
  })
})

/** Parse a NAR into an in-memory node (so it can be written back). */
async function parseToNode(data: Buffer): Promise<{ node: NarNode; consumed: number }> {
  const nodes = new Map<string, NarNode>()
  const attach = (p: string, n: NarNode) => {
    nodes.set(p, n)
    if (p === '') return
    const parent = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : ''
    const dir = nodes.get(parent) as Extract<NarNode, { type: 'directory' }>
    dir.entries[p.slice(p.lastIndexOf('/') + 1)] = n
  }
  const consumed = await readNar([data], {
    directory: (p) => attach(p, { type: 'directory', entries: {} }),
    file: async (p, { executable, contents }) => {
      const parts: Buffer[] = []
      for await (const c of contents) parts.push(c)
      attach(p, { type: 'regular', executable, contents: Buffer.concat(parts) })
    },
    symlink: (p, target) => attach(p, { type: 'symlink', target }),
  })
  return { node: nodes.get('')!, consumed }
}

describe('NAR reader and writer (nix-nars/MANIFEST.tsv)', () => {
  const rows = tsv('nix-nars/MANIFEST.tsv')
  it('covers every fixture', () => {
    assert.deepEqual(rows.map((r) => r[0]).sort(), readdirSync(path.join(fixtures, 'nix-nars')).filter((f) => f.endsWith('.nar')).sort())
  })
  for (const [file, bytes, expected, detail, , sha] of rows) {
    const data = readFileSync(path.join(fixtures, 'nix-nars', file))
    it(`${file}: ${expected}`, async () => {
      assert.equal(data.length, Number(bytes))
      assert.equal(`sha256:${encodeNix32(createHash('sha256').update(data).digest())}`, sha)
      // Without Nix's case hack (nip does not rename entries) case-collision.nar is a valid NAR;
      // unnormalized.nar is refused everywhere, as if on a normalising filesystem.
      const ok = expected === 'ok' || expected === 'error-with-case-hack'
      if (ok) {
        const { node, consumed } = await parseToNode(Buffer.concat([data, Buffer.from('trailing')]))
        assert.equal(consumed, data.length, 'stops right after the NAR')
        assert.ok(Buffer.concat([...writeNarNode(node)]).equals(data), 'writer reproduces the NAR byte for byte')
      } else {
        await assert.rejects(parseToNode(data), (e: unknown) => {
          assert.ok(isNipError(e), String(e))
          if (/non-zero padding|EndOfFile|expected tag/.test(detail)) assert.equal(e.code, 'ERR_NIP_ARCHIVE_CORRUPT')
          if (/'\.\.?'/.test(detail)) assert.equal(e.code, 'ERR_NIP_UNSAFE_PARENT_PATH')
          if (/'x\/y'|name ''|NUL/.test(detail)) assert.equal(e.code, 'ERR_NIP_UNSAFE_NAME')
          if (/duplicate|normalize/.test(detail)) assert.equal(e.code, 'ERR_NIP_UNSAFE_DUPLICATE')
          return true
        })
      }
    })
  }
})

describe('NAR hashes (nix-nar-hashes.tsv)', () => {
  const trees: Record<string, NarNode | Buffer> = {
    "directory{hello: regular 'Hello World\\n'}": { type: 'directory', entries: { hello: { type: 'regular', contents: Buffer.from('Hello World\n') } } },
    "directory{hello: executable regular 'Hello World\\n'}": { type: 'directory', entries: { hello: { type: 'regular', executable: true, contents: Buffer.from('Hello World\n') } } },
    "directory{hello: symlink -> 'x'}": { type: 'directory', entries: { hello: { type: 'symlink', target: 'x' } } },
    "regular 'hi\\n' (root is a file)": { type: 'regular', contents: Buffer.from('hi\n') },
    "symlink -> '/non-existent-48cujwe8ndf4as0bne' (root is a symlink)": { type: 'symlink', target: '/non-existent-48cujwe8ndf4as0bne' },
    "symlink -> '/bin' (root is a symlink)": { type: 'symlink', target: '/bin' },
    "flat (not NAR) bytes 'SMASH THE STATE'": Buffer.from('SMASH THE STATE'),
    "regular 'foo\\n' (nix store add-file)": { type: 'regular', contents: Buffer.from('foo\n') },
    "regular 'bar\\n' (nix store add-file)": { type: 'regular', contents: Buffer.from('bar\n') },
  }
  for (const [tree, kind, expected] of tsv('nix-nar-hashes.tsv')) {
    it(tree, async () => {
      const t = trees[tree.replace(/\n/g, '\\n')]
      assert.ok(t, `no tree for ${tree}`)
      const algo = kind.startsWith('md5') ? 'md5' : 'sha256'
      const digest = Buffer.isBuffer(t) ? createHash(algo).update(t).digest() : (await hashNar(writeNarNode(t), algo)).digest
      if (kind === 'md5') assert.equal(digest.toString('hex'), expected)
      else if (kind === 'sha256-nix32') assert.equal(encodeNix32(digest), expected)
      else assert.equal(`sha256-${digest.toString('base64')}`, expected)
    })
  }
})

describe('narinfo and signatures (nix-narinfo-signature.txt)', () => {
  const text = readFileSync(path.join(fixtures, 'nix-narinfo-signature.txt'), 'utf8')
  const section = (name: string) => text.split(`--- ${name}`)[1].split('\n--- ')[0].split('\n').slice(1).filter((l) => l !== '')
  const narinfo = section('NARINFO').join('\n') + '\n'
  const pk = section('PUBLIC-KEY')[0]
  const sk = section('SECRET-KEY')[0]
  const fp = section('FINGERPRINT')[0]
  const sig = section('SIG')[0].replace(/^Sig: /, '')

  it('parses every field', () => {
    const info = parseNarInfo(narinfo)
    assert.equal(info.storePath.name, 'foo')
    assert.equal(info.compression, 'xz')
    assert.equal(info.fileSize, 4029176)
    assert.equal(info.narSize, 34878)
    assert.equal(formatHashNix32(info.narHash), 'sha256:09ymwqf5i9q7d4dm7x4pjjcqqj0qrcp5lnznbh42gfsci5hcbqqm')
    assert.deepEqual(info.references, ['g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-bar', 'n5wkd9frr45pa74if5gpz9j7mifg27fh-foo'])
    assert.equal(info.deriver, 'g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-bar.drv')
    assert.equal(info.sigs.length, 2)
  })
  it('computes the fingerprint and reproduces the derived signature', () => {
    const info = parseNarInfo(narinfo)
    assert.equal(fingerprint(info), fp)
    const seed = Buffer.from(sk.split(':')[1], 'base64').subarray(0, 32)
    const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' })
    assert.equal(`test-key:${sign(null, Buffer.from(fp), key).toString('base64')}`, sig)
  })
  it('require-sigs: verifies, and refuses missing, untrusted and invalid signatures with distinct codes', () => {
    const keys = [parsePublicKey(pk)]
    const body = narinfo.replace(/^Sig: .*\n/gm, '')
    assert.equal(requireSignature(parseNarInfo(body + `Sig: ${sig}\n`), keys), 'test-key')
    assert.throws(() => requireSignature(parseNarInfo(body), keys), (e) => isNipError(e, 'ERR_NIP_SIGNATURE_MISSING'))
    assert.throws(() => requireSignature(parseNarInfo(narinfo), keys), (e) => isNipError(e, 'ERR_NIP_KEY_UNKNOWN') && /asdf, qwer/.test(e.message))
    const tampered = (body + `Sig: ${sig}\n`).replace('NarSize: 34878', 'NarSize: 34879')
    assert.throws(() => requireSignature(parseNarInfo(tampered), keys), (e) => isNipError(e, 'ERR_NIP_SIGNATURE_INVALID'))
  })
  it('treats a missing Compression as bzip2 and refuses malformed files', () => {
    assert.equal(parseNarInfo(narinfo.replace('Compression: xz\n', '')).compression, 'bzip2')
    assert.throws(() => parseNarInfo(narinfo.trimEnd()), (e) => isNipError(e, 'ERR_NIP_BAD_PACKAGE'))
    assert.throws(() => parseNarInfo(narinfo + 'References: \n'), (e) => isNipError(e, 'ERR_NIP_BAD_PACKAGE'))
    assert.throws(() => parseNarInfo(narinfo.replace('NarSize: 34878', 'NarSize: 0')), (e) => isNipError(e, 'ERR_NIP_BAD_PACKAGE'))
  })
})
