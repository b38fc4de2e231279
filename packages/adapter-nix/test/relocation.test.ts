import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Cas } from '@nip/cas'
import { isNipError } from '@nip/core'
import { narToCas, parseStorePath, programNameOf, Relocation, writeNarNode } from '../src/index.js'

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures')
const sp = (s: string) => parseStorePath(s)!
const glibc = sp('/nix/store/a3a37ncl0r6s2ysb5m1l0nvhcqrag4xc-glibc-2.36')
const hello = sp('/nix/store/5bkxwpp4s45fji6p3dp412dmnk0g6x56-hello-2.12')

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = []
  for await (const c of it) out.push(c)
  return Buffer.concat(out)
}

async function* chunks(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size)
}

describe('program names of store paths', () => {
  const cases: [string, string, string][] = [
    ['hello-2.12', 'hello', '2.12'],
    ['openssl-3.0.12-dev', 'openssl-dev', '3.0.12'],
    ['openssl-3.0.12-bin', 'openssl-bin', '3.0.12'],
    ['hello-2.12.1-man', 'hello-man', '2.12.1'],
    ['glibc-2.37-8', 'glibc', '2.37-8'],
    ['xf86-video-i810-1.7.4', 'xf86-video-i810', '1.7.4'],
    ['source', 'source', '0000000z'],
    ['settings-1.0', 'nix-settings', '1.0'],
  ]
  for (const [name, pname, version] of cases) {
    it(`${name} → ${pname} ${version}`, () => {
      const got = programNameOf({ hashPart: '0000000z00000000000000000000000a', name })
      assert.deepEqual([got.name, got.version], [pname, version])
    })
  }
})

describe('same-length relocation', () => {
  const reloc = new Relocation({ storeDir: '/nix/store', programsDir: '/Programs' }, [hello, glibc])
  const text = Buffer.from(`#!/nix/store/${'a3a37ncl0r6s2ysb5m1l0nvhcqrag4xc'}-glibc-2.36/lib/ld.so\nX=/nix/store/5bkxwpp4s45fji6p3dp412dmnk0g6x56-hello-2.12/share\n/nix/store/00000000000000000000000000000000-other-1\n/nix/store/`)

  it('rewrites closure paths to padded version directories, the same length, at any chunk boundary', async () => {
    const want = text
      .toString()
      .replace('/nix/store/a3a37ncl0r6s2ysb5m1l0nvhcqrag4xc-glibc-2.36', '/Programs' + '/'.repeat(44 + 'glibc-2.36'.length - '/Programs/glibc/2.36'.length + 1) + 'glibc/2.36')
      .replace('/nix/store/5bkxwpp4s45fji6p3dp412dmnk0g6x56-hello-2.12', '/Programs' + '/'.repeat(44 + 'hello-2.12'.length - '/Programs/hello/2.12'.length + 1) + 'hello/2.12')
    for (const size of [1, 3, 7, 16, 64, 1000]) {
      const out = await collect(reloc.relocateContents(chunks(Buffer.from(text), size)))
      assert.equal(out.length, text.length)
      assert.equal(out.toString(), want, `chunk size ${size}`)
      assert.ok((await collect(reloc.reverseContents(chunks(out, size)))).equals(text), `reverse, chunk size ${size}`)
    }
  })

  it('refuses a root too long for same-length rewriting (ERR_NIP_ROOT)', () => {
    assert.throws(() => new Relocation({ storeDir: '/nix/store', programsDir: '/a/very/long/root/directory/name/that/does/not/fit/Programs' }, [hello]), (e) => isNipError(e, 'ERR_NIP_ROOT'))
  })

  it('classifies links: inside, into the closure, outside', () => {
    assert.deepEqual(reloc.classifyTarget(hello, 'bin/x', '/nix/store/5bkxwpp4s45fji6p3dp412dmnk0g6x56-hello-2.12/lib/y'), { kind: 'inside', target: '../lib/y', sub: 'lib/y' })
    assert.deepEqual(reloc.classifyTarget(hello, 'bin/x', '../lib/y'), { kind: 'inside', target: '../lib/y', sub: 'lib/y' })
    assert.deepEqual(reloc.classifyTarget(hello, 'lib/z', '/nix/store/a3a37ncl0r6s2ysb5m1l0nvhcqrag4xc-glibc-2.36/lib/libc.so.6'), { kind: 'closure', storePath: glibc, sub: 'lib/libc.so.6' })
    assert.deepEqual(reloc.classifyTarget(hello, 'bin/sh', '/bin/sh'), { kind: 'outside' })
    assert.deepEqual(reloc.classifyTarget(hello, 'x', '../../../etc/passwd'), { kind: 'outside' })
  })
})

describe('narToCas', () => {
  let dir = ''
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'nip-nar-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('stores files as blobs, keeps inner links relative, defers closure links and drops host links', async () => {
    const cas = new Cas(path.join(dir, 'cas'))
    const reloc = new Relocation({ storeDir: '/nix/store', programsDir: '/Programs' }, [hello, glibc])
    const nar = Buffer.concat([
      ...writeNarNode({
        type: 'directory',
        entries: {
          bin: { type: 'directory', entries: { hello: { type: 'regular', executable: true, contents: Buffer.from('#!/nix/store/a3a37ncl0r6s2ysb5m1l0nvhcqrag4xc-glibc-2.36/bin/sh\n') } } },
          self: { type: 'symlink', target: '/nix/store/5bkxwpp4s45fji6p3dp412dmnk0g6x56-hello-2.12/bin/hello' },
          libc: { type: 'symlink', target: '/nix/store/a3a37ncl0r6s2ysb5m1l0nvhcqrag4xc-glibc-2.36/lib/libc.so.6' },
          sh: { type: 'symlink', target: '/bin/sh' },
        },
      }),
    ])
    const r = await narToCas(chunks(nar, 5), { cas, self: hello, relocation: reloc })
    assert.deepEqual(
      r.entries.map((e) => [e.path, e.type, e.mode, e.target ?? e.size]),
      [
        ['bin', 'dir', 0o755, 0],
        ['bin/hello', 'file', 0o755, 64],
        ['self', 'symlink', 0o777, 'bin/hello'],
      ].map((x) => (x[3] === 0 ? [x[0], x[1], x[2], undefined] : x)),
    )
    const blob = r.entries.find((e) => e.path === 'bin/hello')!.blob!
    assert.match(readFileSync(cas.pathOf(blob), 'utf8'), /^#!\/Programs\/+glibc\/2\.36\/bin\/sh\n$/)
    assert.deepEqual(r.pending.map((p) => [p.path, p.storePath.name, p.sub]), [['libc', 'glibc-2.36', 'lib/libc.so.6']])
    assert.deepEqual(r.dropped, [{ path: 'sh', original: '/bin/sh' }])
    assert.deepEqual(r.record, { self: '/nix/store/5bkxwpp4s45fji6p3dp412dmnk0g6x56-hello-2.12/bin/hello' })
    assert.equal(r.size, nar.length)
  })

  it('re-roots a selected subtree (a closure member materialised for a link)', async () => {
    const cas = new Cas(path.join(dir, 'cas'))
    const reloc = new Relocation({ storeDir: '/nix/store', programsDir: '/Programs' }, [glibc])
    const nar = Buffer.concat([...writeNarNode({ type: 'directory', entries: { lib: { type: 'directory', entries: { 'libc.so.6': { type: 'regular', contents: Buffer.from('elf') } } }, x: { type: 'regular', contents: Buffer.from('x') } } })])
    for (const [sub, want] of [['', ['share/g', 'share/g/lib', 'share/g/lib/libc.so.6', 'share/g/x']], ['lib', ['share/g', 'share/g/libc.so.6']], ['lib/libc.so.6', ['share/g']], ['nope', []]] as const) {
      const r = await narToCas(chunks(nar, 7), { cas, self: glibc, relocation: reloc, select: { sub, at: 'share/g' } })
      assert.deepEqual(r.entries.map((e) => e.path), want, sub)
      assert.equal(r.selected, sub !== 'nope')
    }
  })

  it('refuses a hostile NAR (dotdot.nar) with its code', async () => {
    const cas = new Cas(path.join(dir, 'cas'))
    const reloc = new Relocation({ storeDir: '/nix/store', programsDir: '/Programs' }, [hello])
    await assert.rejects(narToCas(chunks(readFileSync(path.join(fixtures, 'nix-nars/dotdot.nar')), 16), { cas, self: hello, relocation: reloc }), (e) => isNipError(e, 'ERR_NIP_UNSAFE_PARENT_PATH'))
  })
})
