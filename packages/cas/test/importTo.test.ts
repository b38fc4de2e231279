import assert from 'node:assert/strict'
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Cas, CasError, IMPORT_METHODS_FILE } from '../src/index.js'
import type { ImportMethod } from '../src/index.js'
import { listNames, makeTempDir } from './tempDir.js'

const ABC = '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85'

async function deviceOf(path: string): Promise<string> {
  return (await stat(path, { bigint: true })).dev.toString()
}

function modeOf(st: { mode: number }): number {
  return st.mode & 0o7777
}

describe('Cas.importTo', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let casDir: string
  let programs: string

  beforeEach(async () => {
    ;({ dir, cleanup } = await makeTempDir())
    casDir = join(dir, 'cas')
    programs = join(dir, 'Programs')
    await mkdir(programs)
  })
  afterEach(async () => cleanup())

  /** A store whose remembered method for the Programs filesystem is `method`, with "abc" in it (plain and executable). */
  async function storeRemembering(method: ImportMethod): Promise<Cas> {
    await mkdir(casDir, { recursive: true })
    await writeFile(join(casDir, IMPORT_METHODS_FILE), JSON.stringify({ [await deviceOf(programs)]: method }))
    const cas = new Cas(casDir)
    await cas.init()
    await cas.addBuffer(Buffer.from('abc'))
    await cas.addBuffer(Buffer.from('abc'), { executable: true })
    return cas
  }

  it('probes once per filesystem and remembers the result in import-methods.json', async () => {
    const cas = new Cas(casDir)
    await cas.init()
    const method = await cas.importMethod(programs)
    assert.ok(method === 'reflink' || method === 'hardlink', `same-filesystem probe gave ${method}`)
    const table = JSON.parse(await readFile(join(casDir, IMPORT_METHODS_FILE), 'utf8'))
    assert.deepEqual(table, { [await deviceOf(programs)]: method })
    // The probe leaves nothing behind, in the destination or the store's tmp.
    assert.deepEqual(await listNames(programs), [])
    assert.deepEqual(await listNames(join(casDir, 'tmp')), [])
    // A new instance reads the remembered method instead of probing.
    await writeFile(join(casDir, IMPORT_METHODS_FILE), JSON.stringify({ [await deviceOf(programs)]: 'copy' }))
    assert.equal(await new Cas(casDir).importMethod(programs), 'copy')
    // The first instance remembers in memory.
    assert.equal(await cas.importMethod(programs), method)
  })

  it('hardlink shares the blob inode and its read-only mode', async () => {
    const cas = await storeRemembering('hardlink')
    const dest = join(programs, 'abc.txt')
    assert.equal(await cas.importTo(ABC, dest), 'hardlink')
    const blob = await stat(cas.pathOf(ABC))
    const placed = await stat(dest)
    assert.equal(placed.ino, blob.ino)
    assert.equal(placed.nlink, 2)
    assert.equal(modeOf(placed), 0o444)
    assert.equal(await cas.importTo(`${ABC}-x`, join(programs, 'abc'), {}), 'hardlink')
    assert.equal(modeOf(await stat(join(programs, 'abc'))), 0o555)
  })

  it('copy makes a private inode with a writable mode', async () => {
    const cas = await storeRemembering('copy')
    assert.equal(await cas.importTo(ABC, join(programs, 'a')), 'copy')
    assert.equal(await cas.importTo(`${ABC}-x`, join(programs, 'b')), 'copy')
    assert.equal(await cas.importTo(ABC, join(programs, 'c'), { mode: 0o600 }), 'copy')
    const blob = await stat(cas.pathOf(ABC))
    const a = await stat(join(programs, 'a'))
    assert.notEqual(a.ino, blob.ino)
    assert.equal(modeOf(a), 0o644)
    assert.equal(modeOf(await stat(join(programs, 'b'))), 0o755)
    assert.equal(modeOf(await stat(join(programs, 'c'))), 0o600)
    assert.equal(await readFile(join(programs, 'a'), 'utf8'), 'abc')
    assert.equal(blob.nlink, 1)
  })

  it('copy: true gives a private writable copy even where hardlinks work', async () => {
    const cas = await storeRemembering('hardlink')
    const dest = join(programs, 'nip.conf')
    assert.equal(await cas.importTo(ABC, dest, { copy: true }), 'copy')
    const placed = await stat(dest)
    assert.notEqual(placed.ino, (await stat(cas.pathOf(ABC))).ino)
    assert.equal(modeOf(placed), 0o644)
    await writeFile(dest, 'edited')
    assert.equal(await readFile(cas.pathOf(ABC), 'utf8'), 'abc')
    assert.equal(await cas.verify(ABC), true)
  })

  for (const method of ['hardlink', 'copy', 'reflink'] as const) {
    it(`refuses an existing destination and never follows a symlink there (${method})`, async () => {
      const cas = await storeRemembering(method)
      const file = join(programs, 'taken')
      await writeFile(file, 'mine')
      for (const opts of [{}, { copy: true }]) {
        await assert.rejects(cas.importTo(ABC, file, opts), (err: unknown) => {
          return err instanceof CasError && err.code === 'ERR_NIP_IO' && err.data.errno === 'EEXIST'
        })
        assert.equal(await readFile(file, 'utf8'), 'mine')
      }
      const link = join(programs, 'dangling')
      const target = join(dir, 'outside')
      await symlink(target, link)
      for (const opts of [{}, { copy: true }]) {
        await assert.rejects(cas.importTo(ABC, link, opts), (err: unknown) => err instanceof CasError && err.data.errno === 'EEXIST')
      }
      assert.equal(await readlink(link), target)
      assert.ok((await lstat(link)).isSymbolicLink())
      await assert.rejects(lstat(target), { code: 'ENOENT' })
    })
  }

  it('a missing blob is ERR_NIP_CAS_CORRUPT', async () => {
    const cas = await storeRemembering('hardlink')
    await assert.rejects(cas.importTo('0'.repeat(64), join(programs, 'x')), (err: unknown) => {
      return err instanceof CasError && err.code === 'ERR_NIP_CAS_CORRUPT'
    })
    assert.deepEqual(await listNames(programs), [])
  })

  it('falls back from reflink to hardlink where the filesystem cannot clone', async function () {
    const probe = new Cas(join(dir, 'probe'))
    if ((await probe.importMethod(programs)) !== 'hardlink') this.skip()
    const cas = await storeRemembering('reflink')
    assert.equal(await cas.importTo(ABC, join(programs, 'a')), 'hardlink')
    assert.equal((await stat(join(programs, 'a'))).ino, (await stat(cas.pathOf(ABC))).ino)
    const table = JSON.parse(await readFile(join(casDir, IMPORT_METHODS_FILE), 'utf8'))
    assert.deepEqual(table, { [await deviceOf(programs)]: 'hardlink' })
  })

  it('falls back to copy and remembers it when hardlinks fail across filesystems', async function () {
    // Needs a second filesystem (a tmpfs at /dev/shm) to make link(2) fail with EXDEV.
    let other: string
    try {
      other = await mkdtemp(join('/dev/shm', 'nip-cas-'))
    } catch {
      this.skip()
    }
    try {
      if ((await deviceOf(other)) === (await deviceOf(dir))) this.skip()
      await mkdir(casDir, { recursive: true })
      await writeFile(join(casDir, IMPORT_METHODS_FILE), JSON.stringify({ [await deviceOf(other)]: 'hardlink' }))
      const cas = new Cas(casDir)
      await cas.addBuffer(Buffer.from('abc'))
      assert.equal(await cas.importTo(ABC, join(other, 'abc')), 'copy')
      assert.equal(await readFile(join(other, 'abc'), 'utf8'), 'abc')
      assert.equal(modeOf(await stat(join(other, 'abc'))), 0o644)
      const table = JSON.parse(await readFile(join(casDir, IMPORT_METHODS_FILE), 'utf8'))
      assert.equal(table[await deviceOf(other)], 'copy')
      assert.equal(await cas.importMethod(other), 'copy')
    } finally {
      await rm(other, { recursive: true, force: true })
    }
  })
})
