/**
 * Folded link-farm directories (GoboLinux's LinkOrExpand, linkFold.ts): a directory one program
 * fills is one symlink; a second program expands it; removals and switches keep the farm equal
 * to the DB's rows; doctor tells folds from foreign symlinks and leftovers; a kill mid-expansion
 * is recovered.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { NipError, type Nip } from '@nip/core'
import { MemoryAdapter, openNip, tempRoot, checkConsistency, type MemoryPackage } from '@nip/testing'

const pkg = (name: string, version: string, files: Record<string, string>): MemoryPackage => ({ name, version, files })

/** What the farm shows under `dir`: every file reachable through links and folds, with its content. */
function shown(root: string, dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (abs: string, rel: string): void => {
    for (const name of fs.readdirSync(abs).sort()) {
      const p = path.join(abs, name)
      const st = fs.statSync(p)
      if (st.isDirectory()) walk(p, `${rel}${name}/`)
      else out[`${rel}${name}`] = fs.readFileSync(p, 'utf8')
    }
  }
  const abs = path.join(root, dir)
  if (fs.existsSync(abs)) walk(abs, '')
  return out
}

function kind(root: string, rel: string): string {
  const abs = path.join(root, rel)
  const st = fs.lstatSync(abs, { throwIfNoEntry: false })
  if (st === undefined) return 'absent'
  if (st.isSymbolicLink()) return `-> ${fs.readlinkSync(abs)}`
  return st.isDirectory() ? 'dir' : 'file'
}

async function consistent(nip: Nip): Promise<void> {
  assert.deepEqual((await checkConsistency(nip)).problems, [])
}

describe('link farm: folded directories', () => {
  let root: string
  let nip: Nip
  const source = new MemoryAdapter([
    pkg('alpha', '1.0', { 'bin/alpha': 'a1\n', 'share/alpha/x': 'x1\n', 'share/alpha/sub/deep/y': 'y1\n', 'share/doc/alpha/README': 'alpha doc\n' }),
    pkg('alpha', '2.0', { 'bin/alpha': 'a2\n', 'share/alpha/x': 'x2\n', 'share/doc/alpha/README': 'alpha doc 2\n' }),
    pkg('beta', '1.0', { 'bin/beta': 'b\n', 'share/doc/beta/README': 'beta doc\n', 'share/alpha/sub/deep/z': 'beta in alpha\n' }),
    pkg('gamma', '1.0', { 'share/alpha/x': 'gamma wants x\n' }),
  ])
  beforeEach(async () => {
    root = await tempRoot()
    ;({ nip } = await openNip(root, [source]))
  })
  afterEach(async () => {
    nip.close()
    await fs.promises.rm(root, { recursive: true, force: true })
  })

  it('links a directory one program fills as one symlink, and expands it (recursively) when a second program needs it', async () => {
    const r = await nip.install(['alpha@1.0'])
    assert.equal(r.links.added, 4, 'added counts the files made visible, folded or not')
    assert.equal(kind(root, 'System/Links/Shared/alpha'), '-> ../../../Programs/alpha/Current/share/alpha')
    assert.equal(kind(root, 'System/Links/Shared/doc'), '-> ../../../Programs/alpha/Current/share/doc')
    assert.equal(kind(root, 'System/Links/Executables/alpha'), '-> ../../../Programs/alpha/Current/bin/alpha')
    assert.deepEqual(nip.owns(path.join(root, 'System/Links/Shared/alpha')), {
      path: 'System/Links/Shared/alpha',
      kind: 'link',
      owner: { name: 'alpha', version: '1.0' },
      target: '../../../Programs/alpha/Current/share/alpha',
    })
    await consistent(nip)

    await nip.install(['beta'])
    // Shared/doc: expanded one level, each program's subdirectory folded.
    assert.equal(kind(root, 'System/Links/Shared/doc'), 'dir')
    assert.equal(kind(root, 'System/Links/Shared/doc/alpha'), '-> ../../../../Programs/alpha/Current/share/doc/alpha')
    assert.equal(kind(root, 'System/Links/Shared/doc/beta'), '-> ../../../../Programs/beta/Current/share/doc/beta')
    // Shared/alpha/sub/deep: expanded three levels down to where beta's file goes.
    assert.equal(kind(root, 'System/Links/Shared/alpha'), 'dir')
    assert.equal(kind(root, 'System/Links/Shared/alpha/x'), '-> ../../../../Programs/alpha/Current/share/alpha/x')
    assert.equal(kind(root, 'System/Links/Shared/alpha/sub'), 'dir')
    assert.equal(kind(root, 'System/Links/Shared/alpha/sub/deep'), 'dir')
    assert.equal(kind(root, 'System/Links/Shared/alpha/sub/deep/y'), '-> ../../../../../../Programs/alpha/Current/share/alpha/sub/deep/y')
    assert.equal(kind(root, 'System/Links/Shared/alpha/sub/deep/z'), '-> ../../../../../../Programs/beta/Current/share/alpha/sub/deep/z')
    assert.deepEqual(shown(root, 'System/Links/Shared'), {
      'alpha/sub/deep/y': 'y1\n',
      'alpha/sub/deep/z': 'beta in alpha\n',
      'alpha/x': 'x1\n',
      'doc/alpha/README': 'alpha doc\n',
      'doc/beta/README': 'beta doc\n',
    })
    assert.equal(nip.owns(path.join(root, 'System/Links/Shared/doc/alpha/README')).owner?.name, 'alpha')
    assert.equal(nip.owns(path.join(root, 'System/Links/Shared/alpha/sub/deep/z')).owner?.name, 'beta')
    await consistent(nip)

    // Removing beta leaves alpha's links as they are (what was expanded stays expanded).
    await nip.remove(['beta'])
    assert.deepEqual(shown(root, 'System/Links/Shared'), { 'alpha/sub/deep/y': 'y1\n', 'alpha/x': 'x1\n', 'doc/alpha/README': 'alpha doc\n' })
    assert.equal(kind(root, 'System/Links/Shared/doc/beta'), 'absent')
    await consistent(nip)

    await nip.remove(['alpha'])
    assert.deepEqual(fs.readdirSync(path.join(root, 'System/Links/Shared')), [])
    await consistent(nip)
  })

  it('removing a program whose directory is folded removes the fold, and rollback brings it back', async () => {
    await nip.install(['alpha@1.0'])
    await nip.remove(['alpha'])
    assert.equal(kind(root, 'System/Links/Shared/alpha'), 'absent')
    assert.equal(kind(root, 'System/Links/Shared/doc'), 'absent')
    await consistent(nip)
    await nip.rollback()
    assert.equal(kind(root, 'System/Links/Shared/alpha'), '-> ../../../Programs/alpha/Current/share/alpha')
    assert.deepEqual(shown(root, 'System/Links/Shared/alpha'), { 'sub/deep/y': 'y1\n', x: 'x1\n' })
    await consistent(nip)
  })

  it('a fold follows Current: switching versions shows the other version\'s files, and only those', async () => {
    await nip.install(['alpha@1.0'])
    await nip.install(['alpha@2.0'])
    assert.equal(kind(root, 'System/Links/Shared/alpha'), '-> ../../../Programs/alpha/Current/share/alpha')
    assert.deepEqual(shown(root, 'System/Links/Shared'), { 'alpha/x': 'x2\n', 'doc/alpha/README': 'alpha doc 2\n' })
    await consistent(nip)
    await nip.switch('alpha', '1.0')
    assert.deepEqual(shown(root, 'System/Links/Shared'), { 'alpha/sub/deep/y': 'y1\n', 'alpha/x': 'x1\n', 'doc/alpha/README': 'alpha doc\n' })
    await consistent(nip)
  })

  it('a path another program owns inside a fold is a conflict, and the fold stays', async () => {
    await nip.install(['alpha@1.0'])
    await assert.rejects(nip.install(['gamma']), (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_LINK_CONFLICT')
    assert.equal(kind(root, 'System/Links/Shared/alpha'), '-> ../../../Programs/alpha/Current/share/alpha')
    assert.deepEqual(nip.list().map((p) => p.name), ['alpha'])
    await consistent(nip)
  })

  it('a symlink the user put in the farm is not a fold: never expanded or replaced', async () => {
    const elsewhere = await tempRoot('nip-elsewhere-')
    try {
      fs.mkdirSync(path.join(root, 'System/Links/Shared'), { recursive: true })
      fs.symlinkSync(elsewhere, path.join(root, 'System/Links/Shared/doc'))
      await assert.rejects(nip.install(['alpha@1.0']), (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_LINK_OCCUPIED' && /System\/Links\/Shared\/doc: occupied/.test(e.message))
      assert.equal(fs.readlinkSync(path.join(root, 'System/Links/Shared/doc')), elsewhere)
      assert.deepEqual(fs.readdirSync(elsewhere), [])
    } finally {
      await fs.promises.rm(elsewhere, { recursive: true, force: true })
    }
  })

  it('doctor: a missing fold is a broken link and --fix restores it; a stale fold and an interrupted expansion are removed', async () => {
    await nip.install(['alpha@1.0'])
    fs.unlinkSync(path.join(root, 'System/Links/Shared/alpha'))
    let report = await nip.doctor()
    const broken = report.findings.find((f) => f.check === 'broken-links')!
    assert.equal(broken.severity, 'error')
    assert.deepEqual(broken.paths, ['System/Links/Shared/alpha/sub/deep/y', 'System/Links/Shared/alpha/x'])
    await nip.doctor({ fix: true })
    assert.equal(kind(root, 'System/Links/Shared/alpha'), '-> ../../../Programs/alpha/Current/share/alpha')
    await consistent(nip)

    // A fold no row stands under, and the half-made twin of an expansion killed mid-way.
    fs.symlinkSync('../../../Programs/alpha/Current/share/doc', path.join(root, 'System/Links/Shared/stale'))
    fs.mkdirSync(path.join(root, 'System/Links/Shared/doc.nip-expand'))
    fs.symlinkSync('../../../../Programs/alpha/Current/share/doc/alpha', path.join(root, 'System/Links/Shared/doc.nip-expand/alpha'))
    report = await nip.doctor()
    const unowned = report.findings.find((f) => f.check === 'unowned-links')!
    assert.deepEqual(unowned.paths, ['System/Links/Shared/doc.nip-expand', 'System/Links/Shared/stale'])
    assert.equal(unowned.fixable, true)
    await nip.doctor({ fix: true })
    assert.deepEqual(fs.readdirSync(path.join(root, 'System/Links/Shared')).sort(), ['alpha', 'doc'])
    await consistent(nip)
  })
})

describe('link farm: a kill while a fold is expanded', function () {
  this.timeout(120000)
  const runner = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'crashRunner.mjs')
  for (const step of ['reconcile:expanding', 'reconcile:linking', 'reconcile:linked']) {
    it(`is recovered by the next writer (killed at ${step})`, async () => {
      const root = await tempRoot()
      try {
        const ok = spawnSync(process.execPath, [runner, root, 'install', 'hello@2.0'], { encoding: 'utf8' })
        assert.equal(ok.status, 0, ok.stderr)
        assert.equal(kind(root, 'System/Links/Shared/hello'), '-> ../../../Programs/hello/Current/share/hello')
        const r = spawnSync(process.execPath, [runner, root, 'install', 'hello-extras'], { env: { ...process.env, NIP_CRASH_AT: step }, encoding: 'utf8' })
        assert.equal(r.signal, 'SIGKILL', `not killed at ${step}: ${r.stderr}`)
        // packages() as the runner has them
        const { packages } = (await import('./fixtures/crashPackages.mjs')) as { packages: () => MemoryPackage[] }
        const { nip } = await openNip(root, [new MemoryAdapter(packages())])
        try {
          await nip.doctor({ fix: true })
          assert.deepEqual((await checkConsistency(nip)).problems, [])
          assert.deepEqual(nip.list().map((p) => p.name), ['hello', 'hello-extras', 'libgreet'])
          assert.equal(kind(root, 'System/Links/Shared/hello'), 'dir')
          const files = shown(root, 'System/Links/Shared/hello')
          assert.equal(Object.keys(files).length, 41)
          assert.equal(files['extras.txt'], 'extras\n')
          assert.equal(files['data-7.txt'], 'data 7 of 2.0\n')
        } finally {
          nip.close()
        }
      } finally {
        await fs.promises.rm(root, { recursive: true, force: true })
      }
    })
  }
})
