/**
 * Confinement (docs/security.md): nothing nip does writes, truncates or deletes outside its root.
 *
 * - From the package side: trees whose placement would go through a symlink of the same tree
 *   (etc/ ↔ Settings/ included) are refused for every source by core.
 * - From the planted-root side: a symlink to a directory beside the root is planted at every
 *   state path and program/farm directory in turn, and every write command is run; the
 *   directory beside the root never changes, and whatever fails, fails with a NipError.
 * - State read back: journal, program, link and file rows that name unsafe paths are refused
 *   and reported by doctor, never followed.
 * - Modes: no world-writable or sticky directory, no world-writable file, no setuid/setgid.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { MemoryAdapter, openNip, snapshotDir, assertUnchanged, type MemoryPackage } from '@nip/testing'
import { ConfinedFs, Database, NipError } from '@nip/core'

const HELLO_1: MemoryPackage = {
  name: 'Hello',
  version: '1.0',
  files: { 'bin/hello': '#!/bin/sh\necho 1\n', 'share/hello/data': 'one\n', 'Settings/hello.conf': { content: 'a=1\n', settings: true }, 'Settings/deep/x.conf': { content: 'x\n', settings: true } },
}
const HELLO_2: MemoryPackage = {
  name: 'Hello',
  version: '2.0',
  files: { 'bin/hello': '#!/bin/sh\necho 2\n', 'share/hello/data': 'two\n', 'Settings/hello.conf': { content: 'a=2\n', settings: true }, 'Settings/deep/x.conf': { content: 'y\n', settings: true } },
}
const LIB: MemoryPackage = { name: 'Lib', version: '1.0', files: { 'lib/libx.so': 'x\n', 'include/x.h': 'h\n' } }

describe('confinement', () => {
  let parent: string
  let root: string
  let outside: string
  beforeEach(() => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-confine-'))
    root = path.join(parent, 'root')
    outside = path.join(parent, 'outside')
    fs.mkdirSync(root)
    fs.mkdirSync(outside)
    // What a hostile write or delete would hit: a file, a nested one, a link.
    fs.writeFileSync(path.join(outside, 'precious'), 'keep me\n')
    fs.mkdirSync(path.join(outside, 'sub'))
    fs.writeFileSync(path.join(outside, 'sub', 'file'), 'keep me too\n')
  })
  afterEach(() => fs.rmSync(parent, { recursive: true, force: true }))

  describe('the confined layer', () => {
    it('walks from the root and refuses a symlink on the way, before any byte is written', () => {
      const cfs = new ConfinedFs(root)
      fs.mkdirSync(path.join(root, 'a'))
      fs.symlinkSync(outside, path.join(root, 'a', 'b'))
      const before = snapshotDir(outside)
      for (const op of [
        () => cfs.mkdirp(path.join(root, 'a/b/c')),
        () => cfs.writeFile(path.join(root, 'a/b/new'), 'x'),
        () => cfs.rm(path.join(root, 'a/b/precious'), { force: true }),
        () => cfs.unlink(path.join(root, 'a/b/precious')),
        () => cfs.symlink('x', path.join(root, 'a/b/l')),
        () => cfs.rename(path.join(root, 'a'), path.join(root, 'a/b/moved')),
        () => cfs.chmod(path.join(root, 'a/b'), 0o777),
      ]) {
        assert.throws(op, (e: unknown) => (e as { code?: string }).code === 'ERR_NIP_CONFINED')
      }
      assertUnchanged(outside, before, 'confined layer')
    })

    it('never follows the name it acts on: O_NOFOLLOW on writes, unlink and rm of a link remove the link', () => {
      const cfs = new ConfinedFs(root)
      fs.symlinkSync(path.join(outside, 'precious'), path.join(root, 'f'))
      fs.symlinkSync(outside, path.join(root, 'd'))
      const before = snapshotDir(outside)
      assert.throws(() => cfs.writeFile(path.join(root, 'f'), 'x'), (e: unknown) => (e as { code?: string }).code === 'ERR_NIP_CONFINED')
      assert.throws(() => cfs.appendFile(path.join(root, 'f'), 'x'), (e: unknown) => (e as { code?: string }).code === 'ERR_NIP_CONFINED')
      cfs.rm(path.join(root, 'd'), { recursive: true, force: true })
      cfs.unlink(path.join(root, 'f'))
      assert.deepEqual(fs.readdirSync(root), [])
      assertUnchanged(outside, before, 'final component')
    })

    it('refuses paths that are not normal paths inside the root', () => {
      const cfs = new ConfinedFs(root)
      for (const p of [path.join(root, '..', 'outside', 'x'), `${root}/a/../../outside`, `${root}//x`, `${root}/./x`, outside, '/etc/passwd']) {
        assert.throws(() => cfs.writeFile(p, 'x'), (e: unknown) => (e as { code?: string }).code === 'ERR_NIP_CONFINED', p)
      }
    })
  })

  describe('hostile packages (every source: checked by core on the mapped tree)', () => {
    const hostile: [string, MemoryPackage, string][] = [
      [
        'nested Settings symlinks and a later symlink beside them',
        {
          name: 'Evil',
          version: '1.0',
          files: {
            'Settings/a': { symlink: '.' },
            'Settings/b': { symlink: 'a/a/a/a/../../../../..' },
            'Settings/b/escape/pwned.conf': { content: 'pwned\n', settings: true },
          },
        },
        'ERR_NIP_UNSAFE_THROUGH_SYMLINK',
      ],
      ['a file below a symlink of the same tree', { name: 'Evil', version: '1.0', files: { 'lib/x': { symlink: '../share' }, 'lib/x/y': 'y\n' } }, 'ERR_NIP_UNSAFE_THROUGH_SYMLINK'],
      ['a file below a file of the same tree', { name: 'Evil', version: '1.0', files: { 'lib/x': 'x\n', 'lib/x/y': 'y\n' } }, 'ERR_NIP_BAD_PACKAGE'],
    ]
    for (const [label, pkg, code] of hostile) {
      it(`${label} → ${code}, nothing grafted, nothing outside touched`, async () => {
        const before = snapshotDir(outside)
        const { nip } = await openNip(root, [new MemoryAdapter([pkg])])
        try {
          await assert.rejects(nip.install([pkg.name], { yes: true }), (e: unknown) => e instanceof NipError && e.code === code)
          assert.deepEqual(nip.list(), [])
          assert.deepEqual(fs.readdirSync(path.join(root, 'Programs')), [])
        } finally {
          nip.close()
        }
        assertUnchanged(outside, before, label)
        assert.deepEqual(fs.readdirSync(parent).sort(), ['outside', 'root'])
      })
    }

    it('a shipped Settings symlink from an earlier version is never written through by the next one', async () => {
      const v1: MemoryPackage = { name: 'Evil', version: '1.0', files: { 'Settings/conf': { symlink: '../../../../outside' }, 'bin/e': 'e\n' } }
      const v2: MemoryPackage = { name: 'Evil', version: '2.0', files: { 'Settings/conf/pwned': { content: 'pwned\n', settings: true }, 'bin/e': 'e2\n' } }
      const before = snapshotDir(outside)
      const { nip } = await openNip(root, [new MemoryAdapter([v1, v2])])
      try {
        // The escaping link itself is refused at install (its target leaves the tree).
        await assert.rejects(nip.install(['Evil@1.0'], { yes: true }), (e: unknown) => e instanceof NipError)
        // Planted by hand instead (as a tampered backup would): 2.0's settings are refused.
        fs.mkdirSync(path.join(root, 'Programs', 'Evil', 'Settings'), { recursive: true })
        fs.symlinkSync(outside, path.join(root, 'Programs', 'Evil', 'Settings', 'conf'))
        await assert.rejects(nip.install(['Evil@2.0'], { yes: true }), (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_CONFINED')
      } finally {
        nip.close()
      }
      assertUnchanged(outside, before, 'Settings symlink')
    })

    it('modes: no world-writable or sticky directory, no world-writable file, no setuid/setgid', async () => {
      const pkg: MemoryPackage = {
        name: 'Modes',
        version: '1.0',
        files: {
          share: { dir: true, mode: 0o1777 },
          'share/w': { content: 'w\n', mode: 0o666 },
          'bin/s': { content: '#!/bin/sh\n', mode: 0o6777 },
          'Settings/open.conf': { content: 'c\n', mode: 0o666, settings: true },
        },
      }
      const { nip } = await openNip(root, [new MemoryAdapter([pkg])])
      try {
        await nip.install(['Modes'], { yes: true })
      } finally {
        nip.close()
      }
      const walk = (dir: string): string[] =>
        fs.readdirSync(dir).flatMap((n) => {
          const p = path.join(dir, n)
          const st = fs.lstatSync(p)
          if (st.isSymbolicLink()) return []
          const bad = (st.mode & 0o7002) !== 0 ? [`${path.relative(root, p)} ${(st.mode & 0o7777).toString(8)}`] : []
          return st.isDirectory() ? [...bad, ...walk(p)] : bad
        })
      assert.deepEqual(walk(path.join(root, 'Programs', 'Modes')), [])
    })
  })

  describe('planted symlinks inside the root, for every write command', () => {
    const plants: [string, (r: string) => string][] = [
      ['var/nip/trash', () => 'var/nip/trash'],
      ['var/nip/reserve', () => 'var/nip/reserve'],
      ['var/nip/reserve.tmp', () => 'var/nip/reserve.tmp'],
      ['var/nip/lock', () => 'var/nip/lock'],
      ['var/nip/db', () => 'var/nip/db'],
      ['var/nip/db/nip.sqlite-wal', () => 'var/nip/db/nip.sqlite-wal'],
      ['var/nip/cas', () => 'var/nip/cas'],
      ['a CAS bucket', () => 'var/nip/cas/00'],
      ['var/nip/cas/tmp', () => 'var/nip/cas/tmp'],
      ['the transaction log', () => 'var/log/nip/transactions.jsonl'],
      ['var/log/nip', () => 'var/log/nip'],
      ['Programs', () => 'Programs'],
      ['Programs/Hello', () => 'Programs/Hello'],
      ['Programs/Hello/Settings', () => 'Programs/Hello/Settings'],
      ['Programs/Hello/2.0/bin', () => 'Programs/Hello/2.0/bin'],
      ['System/Links', () => 'System/Links'],
      ['System/Links/Executables', () => 'System/Links/Executables'],
      ['System/Links/Libraries', () => 'System/Links/Libraries'],
    ]
    const commands: [string, (nip: Awaited<ReturnType<typeof openNip>>['nip']) => Promise<unknown>][] = [
      ['install', (nip) => nip.install(['Lib'], { yes: true })],
      ['remove', (nip) => nip.remove(['Hello'], { yes: true } as never)],
      ['switch', (nip) => nip.switch('Hello', '1.0')],
      ['rollback', (nip) => nip.rollback()],
      ['gc', async (nip) => {
        await nip.remove(['Hello@1.0'], { yes: true } as never).catch(() => undefined)
        await nip.generationsDelete({ keep: 1 } as never).catch(() => undefined)
        return nip.gc()
      }],
      ['verify --repair', (nip) => nip.verify([], { repair: true })],
      ['doctor --fix', (nip) => nip.doctor({ fix: true })],
      ['autoremove', (nip) => nip.autoremove()],
    ]

    /** A root with Hello 1.0 and 2.0 (Current) and Lib available; then `rel` becomes a link to `outside` (its content moved there). */
    async function setup(rel: string): Promise<void> {
      const { nip } = await openNip(root, [new MemoryAdapter([HELLO_1, HELLO_2, LIB])])
      try {
        await nip.install(['Hello@1.0'], { yes: true })
        await nip.install(['Hello@2.0'], { yes: true })
      } finally {
        nip.close()
      }
      const at = path.join(root, rel)
      const st = fs.lstatSync(at, { throwIfNoEntry: false })
      const planted = path.join(outside, 'planted')
      if (st !== undefined) fs.renameSync(at, planted)
      else fs.mkdirSync(planted, { recursive: true })
      fs.mkdirSync(path.dirname(at), { recursive: true })
      fs.symlinkSync(planted, at)
    }

    for (const [label, relOf] of plants) {
      for (const [command, run] of commands) {
        it(`${label} planted as a link, then ${command}: nothing outside changes`, async () => {
          const rel = relOf(root)
          await setup(rel)
          const before = snapshotDir(outside)
          const { nip } = await openNip(root, [new MemoryAdapter([HELLO_1, HELLO_2, LIB])])
          try {
            await run(nip).catch((e: unknown) => {
              assert.ok(e instanceof NipError, `${command} failed with ${String(e)}`)
              assert.notEqual(e.code, 'ERR_NIP_INTERNAL', e.message)
            })
          } finally {
            nip.close()
          }
          assertUnchanged(outside, before, `${label} / ${command}`)
          // The planted link is still a link (nip neither followed nor "repaired" it by writing
          // through), except the lock: a lock nip cannot read is a stale lock, and goes (by name).
          // And a version's own directory replaced by a link is what verify --repair repairs (by
          // name), and doctor --fix with it.
          const repaired = rel === 'Programs/Hello/2.0/bin' && (command === 'verify --repair' || command === 'doctor --fix')
          if (rel !== 'var/nip/lock' && !repaired) assert.ok(fs.lstatSync(path.join(root, rel)).isSymbolicLink(), `${rel} was replaced`)
        })
      }
    }

    it('System/Links planted before the first command: start-up makes no farm directory outside', async () => {
      fs.mkdirSync(path.join(root, 'System'), { recursive: true })
      fs.symlinkSync(outside, path.join(root, 'System', 'Links'))
      const before = snapshotDir(outside)
      const { nip } = await openNip(root, [new MemoryAdapter([LIB])])
      try {
        await assert.rejects(nip.install(['Lib'], { yes: true }), (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_CONFINED')
        const report = await nip.doctor()
        const f = report.findings.find((x) => x.check === 'unsafe-paths')
        assert.equal(f?.severity, 'error')
        assert.ok(f?.paths?.some((p) => p.startsWith('System/Links ')), JSON.stringify(f))
      } finally {
        nip.close()
      }
      assertUnchanged(outside, before, 'System/Links')
    })
  })

  describe('state read back is validated', () => {
    async function grafted(): Promise<void> {
      const { nip } = await openNip(root, [new MemoryAdapter([HELLO_1, HELLO_2])])
      try {
        await nip.install(['Hello@1.0'], { yes: true })
        await nip.install(['Hello@2.0'], { yes: true })
      } finally {
        nip.close()
      }
    }
    const dbPath = (): string => path.join(root, 'var/nip/db/nip.sqlite')
    // A directory the bad row names (relative to the root, it climbs into `outside`).
    const victim = (): string => path.join(outside, 'sub')

    it('a journal row naming ../../x: recovery refuses it, doctor reports it, --fix drops it without deleting anything', async () => {
      await grafted()
      const db = Database.openWriter(dbPath())
      db.insertJournal({ id: 'abc-0123', kind: 'install', state: 'staging', pid: 999999, command: 'install x', started_at: new Date().toISOString(), payload: JSON.stringify({ names: ['x'], dirs: ['Programs/../../outside/sub'], links: [], previousCurrent: {} }) })
      db.close()
      const before = snapshotDir(outside)
      const { nip } = await openNip(root, [new MemoryAdapter([HELLO_1, HELLO_2, LIB])])
      try {
        await assert.rejects(nip.install(['Lib'], { yes: true }), (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_STATE_INVALID')
        const report = await nip.doctor()
        assert.equal(report.findings.find((f) => f.check === 'unsafe-state')?.severity, 'error')
        const fixed = await nip.doctor({ fix: true })
        assert.equal(fixed.findings.find((f) => f.check === 'unsafe-state')?.fixed, true)
        await nip.install(['Lib'], { yes: true })
      } finally {
        nip.close()
      }
      assert.ok(fs.existsSync(victim()))
      assertUnchanged(outside, before, 'journal row')
    })

    it('a programs row named ../../x: gc refuses it and deletes nothing outside', async () => {
      await grafted()
      const db = Database.openWriter(dbPath())
      db.stmt("UPDATE programs SET name = '../../outside', version = 'sub', active = 0, refs = 0 WHERE version = '1.0'").run()
      db.close()
      const before = snapshotDir(outside)
      const { nip } = await openNip(root, [new MemoryAdapter([HELLO_1, HELLO_2])])
      try {
        await nip.gc().catch((e: unknown) => assert.ok(e instanceof NipError && e.code !== 'ERR_NIP_INTERNAL', String(e)))
        const report = await nip.doctor()
        assert.equal(report.findings.find((f) => f.check === 'unsafe-state')?.severity, 'error')
      } finally {
        nip.close()
      }
      assertUnchanged(outside, before, 'programs row')
    })

    it('a links row outside the farm: remove does not unlink it', async () => {
      await grafted()
      fs.symlinkSync('x', path.join(outside, 'alink'))
      const db = Database.openWriter(dbPath())
      db.stmt("UPDATE links SET path = '../outside/alink', target = 'x' WHERE path LIKE '%Executables/hello'").run()
      db.close()
      const before = snapshotDir(outside)
      const { nip } = await openNip(root, [new MemoryAdapter([HELLO_1, HELLO_2])])
      try {
        await nip.remove(['Hello'], { yes: true } as never).catch((e: unknown) => assert.ok(e instanceof NipError && e.code !== 'ERR_NIP_INTERNAL', String(e)))
      } finally {
        nip.close()
      }
      assertUnchanged(outside, before, 'links row')
    })

    it('a file row ../../x and verify --repair: nothing outside is replaced', async () => {
      await grafted()
      const db = Database.openWriter(dbPath())
      db.stmt("UPDATE files SET path = '../../../outside/precious' WHERE path = 'share/hello/data'").run()
      db.close()
      const before = snapshotDir(outside)
      const { nip } = await openNip(root, [new MemoryAdapter([HELLO_1, HELLO_2])])
      try {
        await nip.verify([], { repair: true }).catch((e: unknown) => assert.ok(e instanceof NipError && e.code !== 'ERR_NIP_INTERNAL', String(e)))
      } finally {
        nip.close()
      }
      assertUnchanged(outside, before, 'files row')
    })

    it('a version bin/ replaced by a link, then verify --repair: the link is replaced by a directory, nothing outside deleted', async () => {
      await grafted()
      const bin = path.join(root, 'Programs/Hello/2.0/bin')
      fs.cpSync(bin, path.join(outside, 'bin'), { recursive: true })
      fs.rmSync(bin, { recursive: true, force: true })
      fs.symlinkSync(path.join(outside, 'bin'), bin)
      const before = snapshotDir(outside)
      const { nip } = await openNip(root, [new MemoryAdapter([HELLO_1, HELLO_2])])
      try {
        await nip.verify([], { repair: true })
      } finally {
        nip.close()
      }
      assertUnchanged(outside, before, 'bin link')
      assert.ok(fs.lstatSync(bin).isDirectory())
      assert.equal(fs.readFileSync(path.join(bin, 'hello'), 'utf8'), '#!/bin/sh\necho 2\n')
    })
  })
})
