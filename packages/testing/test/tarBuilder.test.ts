import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { gunzipSync } from 'node:zlib'
import { ERROR_CODES } from '@nip/core'
import { buildHostileArchives, buildTar } from '../src/tarBuilder.js'

function field(block: Buffer, offset: number, length: number): string {
  return block.subarray(offset, offset + length).toString('latin1').replace(/\0.*$/s, '')
}

describe('testing: buildTar', () => {
  it('writes ustar headers byte for byte', async () => {
    const tar = await buildTar([{ path: 'bin/tool', content: 'tool\n', mode: 0o4755, uid: 7, gid: 8 }])
    assert.equal(tar.length, 512 + 512 + 1024)
    assert.equal(field(tar, 0, 100), 'bin/tool')
    assert.equal(field(tar, 100, 8), '004755 ')
    assert.equal(field(tar, 108, 8), '000007 ')
    assert.equal(field(tar, 116, 8), '000010 ')
    assert.equal(field(tar, 124, 12), '00000000005 ')
    assert.equal(field(tar, 136, 12), '00000000000 ')
    assert.equal(String.fromCharCode(tar[156]), '0')
    assert.equal(tar.subarray(257, 265).toString('latin1'), 'ustar\x0000')
    assert.equal(tar.subarray(512, 517).toString(), 'tool\n')
    assert.deepEqual(tar.subarray(1024), Buffer.alloc(1024))
  })

  it('writes hostile names verbatim and device/fifo/link type flags', async () => {
    const tar = await buildTar([
      { path: '/etc/x', content: 'x' },
      { path: '../y', type: 'symlink', target: '/etc/passwd' },
      { path: 'c', type: 'char' },
      { path: 'b', type: 'block' },
      { path: 'p', type: 'fifo' },
      { path: 'h', type: 'hardlink', target: '/etc/x' },
    ])
    const blocks = [0, 1024, 1536, 2048, 2560, 3072].map((o) => tar.subarray(o, o + 512))
    assert.deepEqual(blocks.map((b) => field(b, 0, 100)), ['/etc/x', '../y', 'c', 'b', 'p', 'h'])
    assert.deepEqual(blocks.map((b) => String.fromCharCode(b[156])), ['0', '2', '3', '4', '6', '1'])
    assert.equal(field(blocks[1], 157, 100), '/etc/passwd')
    assert.equal(field(blocks[2], 329, 8), '000001 ')
    assert.equal(field(blocks[2], 337, 8), '000003 ')
  })

  it('puts a NUL-containing name in a pax record', async () => {
    const tar = await buildTar([{ path: 'a\0b', content: '' }])
    assert.equal(String.fromCharCode(tar[156]), 'x')
    assert.match(tar.subarray(512, 1024).toString('latin1'), /path=a\0b\n/)
  })

  it('compresses with the right magic', async () => {
    const magics = { gzip: '1f8b', xz: 'fd377a585a00', zstd: '28b52ffd', bzip2: '425a6839' } as const
    for (const [compression, magic] of Object.entries(magics)) {
      const data = await buildTar([{ path: 'a', content: 'x' }], { compression: compression as keyof typeof magics })
      assert.equal(data.subarray(0, magic.length / 2).toString('hex'), magic, compression)
    }
    const gz = await buildTar([{ path: 'a', content: 'x' }], { compression: 'gzip' })
    assert.deepEqual(gunzipSync(gz), await buildTar([{ path: 'a', content: 'x' }]))
  })

  it('is read back by the system tar when present', async function () {
    if (spawnSync('tar', ['--version']).status !== 0) this.skip()
    const data = await buildTar([{ path: 'd/f', content: 'x', mode: 0o640 }, { path: 'd/l', type: 'symlink', target: 'f' }])
    const listed = spawnSync('tar', ['-tvf', '-'], { input: data, encoding: 'utf8' })
    assert.equal(listed.status, 0, listed.stderr)
    const lines = listed.stdout.trim().split('\n').map((l) => l.replace(/\s+/g, ' '))
    assert.match(lines[0], /^-rw-r----- 0\/0 1 1970-01-01 00:00 d\/f$/)
    assert.match(lines[1], /^lrwxrwxrwx 0\/0 0 1970-01-01 00:00 d\/l -> f$/)
  })
})

describe('testing: buildHostileArchives', () => {
  it('names a known unpacking code for every archive and covers every refusal code', () => {
    const archives = buildHostileArchives()
    const codes = new Set(Object.values(archives).map((a) => a.code))
    for (const code of codes) assert.ok(Object.hasOwn(ERROR_CODES, code), code)
    assert.deepEqual([...codes].sort(), [
      'ERR_NIP_UNSAFE_ABSOLUTE_PATH',
      'ERR_NIP_UNSAFE_DEVICE',
      'ERR_NIP_UNSAFE_DUPLICATE',
      'ERR_NIP_UNSAFE_HARDLINK',
      'ERR_NIP_UNSAFE_NAME',
      'ERR_NIP_UNSAFE_PARENT_PATH',
      'ERR_NIP_UNSAFE_SYMLINK',
      'ERR_NIP_UNSAFE_THROUGH_SYMLINK',
    ])
  })

  it('builds every hostile archive', async () => {
    for (const [name, { entries }] of Object.entries(buildHostileArchives())) {
      const tar = await buildTar(entries)
      assert.equal(field(tar, 0, 100), 'bin/ok', name)
    }
  })
})
