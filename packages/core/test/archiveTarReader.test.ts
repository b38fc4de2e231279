import assert from 'node:assert/strict'
import { buildTar } from '@nip/testing'
import { readTar, type TarEntry } from '../src/archive/tarReader.js'
import { DEFAULT_LIMITS } from '../src/archive/limits.js'
import { NipError } from '../src/errors.js'

const opts = { limits: DEFAULT_LIMITS }

async function text(body: AsyncIterable<Buffer> | undefined): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of body!) chunks.push(c)
  return Buffer.concat(chunks).toString()
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (e) {
    assert.ok(e instanceof NipError, String(e))
    return e.code
  }
  return 'none'
}

async function all(data: Buffer, o: Parameters<typeof readTar>[1] = opts): Promise<TarEntry[]> {
  const out: TarEntry[] = []
  for await (const e of readTar([data], o)) out.push(e)
  return out
}

describe('archive: readTar', () => {
  it('normalises names: "./", "a//b", "a/./b", trailing "/"; skips the root entry', async () => {
    const data = await buildTar([
      { path: './', type: 'dir' },
      { path: './a//b', content: 'x' },
      { path: 'a/./c/', type: 'dir' },
    ])
    assert.deepEqual((await all(data)).map((e) => [e.path, e.type]), [['a/b', 'file'], ['a/c', 'dir']])
  })

  it('yields header fields exactly', async () => {
    const mtime = new Date(1_700_000_000_000)
    const data = await buildTar([{ path: 'f', content: 'abc', mode: 0o6750, uid: 1000, gid: 100, mtime }])
    const [e] = await all(data)
    assert.deepEqual({ ...e, body: undefined, content: undefined }, {
      path: 'f', type: 'file', mode: 0o750, clearedBits: 0o6000, size: 3, mtime, uid: 1000, gid: 100, body: undefined, content: undefined,
    })
    assert.equal(e!.content?.toString(), 'abc', 'a small member comes whole')
  })

  it('skips bodies that are not read, or read only in part', async () => {
    const data = await buildTar([
      { path: 'one', content: 'A'.repeat(100_000) },
      { path: 'two', content: 'B'.repeat(100_000) },
      { path: 'three', content: 'third' },
    ])
    const seen: string[] = []
    for await (const e of readTar([data], opts)) {
      seen.push(e.path)
      if (e.path === 'two') {
        for await (const chunk of e.body!) {
          assert.equal(chunk[0], 0x42)
          break
        }
      }
      if (e.path === 'three') assert.equal(await text(e.body), 'third')
    }
    assert.deepEqual(seen, ['one', 'two', 'three'])
  })

  it('refuses to hand out a body twice', async () => {
    const data = await buildTar([{ path: 'a', content: 'x' }])
    for await (const e of readTar([data], opts)) {
      assert.equal(await text(e.body), 'x')
      assert.throws(() => e.body![Symbol.asyncIterator](), (err: unknown) => err instanceof NipError && err.code === 'ERR_NIP_INTERNAL')
    }
  })

  it('gives hardlinks their normalised target and symlinks theirs verbatim', async () => {
    const data = await buildTar([
      { path: 'd/f', content: 'x' },
      { path: 'd/h', type: 'hardlink', target: './d//f' },
      { path: 'd/s', type: 'symlink', target: './f' },
    ])
    assert.deepEqual((await all(data)).map((e) => [e.path, e.type, e.target]), [
      ['d/f', 'file', undefined],
      ['d/h', 'hardlink', 'd/f'],
      ['d/s', 'symlink', './f'],
    ])
  })

  it('allows a symlink that climbs but stays inside, refuses one level more', async () => {
    const inside = await buildTar([{ path: 'a/b/l', type: 'symlink', target: '../../x' }])
    assert.equal((await all(inside))[0].target, '../../x')
    const outside = await buildTar([{ path: 'a/b/l', type: 'symlink', target: '../../../x' }])
    assert.equal(await codeOf(all(outside)), 'ERR_NIP_UNSAFE_SYMLINK')
  })

  it('names the symlink of a chain that escapes, not the entry read last', async () => {
    // d/x -> up/.. stays in d on its own; with d/up -> .. followed it leaves the tree.
    const data = await buildTar([
      { path: 'd/up', type: 'symlink', target: '..' },
      { path: 'd/x', type: 'symlink', target: 'up/..' },
      { path: 'z/last', content: 'after the symlinks' },
    ])
    try {
      await all(data, { ...opts, archive: 'chain.tar' })
      assert.fail('expected a refusal')
    } catch (e) {
      assert.ok(e instanceof NipError)
      assert.equal(e.code, 'ERR_NIP_UNSAFE_SYMLINK')
      assert.deepEqual(e.data, { entry: 'd/x', archive: 'chain.tar' })
    }
  })

  it('does not count a symlink loop as an escape', async () => {
    const data = await buildTar([
      { path: 'a', type: 'symlink', target: 'b' },
      { path: 'b', type: 'symlink', target: 'a' },
    ])
    assert.equal((await all(data)).length, 2)
  })

  it('refuses a file that replaces a directory with contents', async () => {
    const data = await buildTar([{ path: 'd/f', content: 'x' }, { path: 'd', content: 'y' }])
    assert.equal(await codeOf(all(data)), 'ERR_NIP_UNSAFE_DUPLICATE')
  })

  it('refuses a file placed below a file', async () => {
    const data = await buildTar([{ path: 'f', content: 'x' }, { path: 'f/g', content: 'y' }])
    assert.equal(await codeOf(all(data)), 'ERR_NIP_UNSAFE_DUPLICATE')
  })

  it('refuses a hardlink that names a directory', async () => {
    const data = await buildTar([{ path: 'd', type: 'dir' }, { path: 'h', type: 'hardlink', target: 'd' }])
    assert.equal(await codeOf(all(data)), 'ERR_NIP_UNSAFE_HARDLINK')
  })

  it('refuses a file that would name the root', async () => {
    const data = await buildTar([{ path: './', content: 'x' }])
    assert.equal(await codeOf(all(data)), 'ERR_NIP_UNSAFE_NAME')
  })

  it('refuses cumulative file sizes over maxTotalSize, accepts exactly the limit', async () => {
    const data = await buildTar([{ path: 'a', content: '123' }, { path: 'b', content: '45' }])
    const limits = { ...DEFAULT_LIMITS, maxTotalSize: 4 }
    assert.equal(await codeOf(all(data, { limits })), 'ERR_NIP_ARCHIVE_TOO_LARGE')
    assert.equal((await all(data, { limits: { ...limits, maxTotalSize: 5 } })).length, 2)
  })

  it('stops reading the source when the caller stops early', async () => {
    const data = await buildTar([{ path: 'a', content: 'x' }, { path: 'b', content: 'y' }])
    let pulled = 0
    async function* source(): AsyncGenerator<Buffer> {
      for (let i = 0; i < data.length; i += 512) {
        pulled++
        yield data.subarray(i, i + 512)
      }
    }
    for await (const e of readTar(source(), opts)) {
      assert.equal(e.path, 'a')
      break
    }
    assert.ok(pulled < data.length / 512, `pulled ${pulled} of ${data.length / 512} blocks`)
  })
})
