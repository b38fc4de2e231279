// Large trees go through the worker-thread paths of staging and the link farm (FsPool): the
// same results as the sequential paths, including what is already in the way.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Cas, POOL_MIN_OPS } from '@nip/cas'
import { Layout } from '../src/layout.js'
import { createLinksParallel, desiredLinks } from '../src/linkFarm.js'
import { stageTree } from '../src/stage.js'
import type { TreeEntry } from '../src/adapter.js'
import type { FileRow } from '../src/db/database.js'

const N = POOL_MIN_OPS + 100

function layoutAt(root: string): Layout {
  return new Layout({ root, programsDir: '/Programs', linksDir: '/System/Links', settingsDir: '/System/Settings', stateDir: '/var/nip', casDir: '/var/nip/cas', cacheDir: '/var/cache/nip', logDir: '/var/log/nip' })
}

describe('parallel staging and linking (large trees)', () => {
  let root: string
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-parallel-'))
  })
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true })
  })

  it('stages every file as a hardlink of its blob and every symlink', async () => {
    const layout = layoutAt(root)
    const cas = new Cas(layout.casDir)
    await cas.init()
    const entries: TreeEntry[] = [{ path: 'share', type: 'dir', mode: 0o755 }]
    for (let d = 0; d < 10; d++) entries.push({ path: `share/d${d}`, type: 'dir', mode: 0o755 })
    for (let i = 0; i < N; i++) {
      const info = cas.addBufferSync(Buffer.from(`file ${i}\n`))
      entries.push({ path: `share/d${i % 10}/f${i}`, type: 'file', mode: 0o644, blob: info.key, size: info.size })
    }
    entries.push({ path: 'share/d0/link', type: 'symlink', mode: 0o777, target: 'f0' })
    const dir = path.join(layout.programsDir, 'Big', '.1.tmp-x')
    await stageTree(cas, entries, dir, layout.cfs)
    for (const i of [0, 1, N - 1]) {
      const p = path.join(dir, `share/d${i % 10}/f${i}`)
      assert.equal(fs.readFileSync(p, 'utf8'), `file ${i}\n`)
      assert.equal(fs.statSync(p).nlink, 2)
    }
    assert.equal(fs.readlinkSync(path.join(dir, 'share/d0/link')), 'f0')
  })

  it('creates every link, keeps a right one, replaces a stale one of ours, refuses a file', async () => {
    const layout = layoutAt(root)
    const files: FileRow[] = []
    for (let i = 0; i < N; i++) files.push({ program_id: 1, path: `share/big/d${i % 10}/f${i}`, type: 'file', mode: 0o644, blob: null, size: 0, target: null, settings: 0 })
    const rows = desiredLinks(layout, { id: 1, name: 'Big' }, files)
    const right = rows[5]
    const stale = rows[N - 3]
    for (const r of [right, stale]) fs.mkdirSync(path.dirname(layout.abs(r.path)), { recursive: true })
    fs.symlinkSync(right.target, layout.abs(right.path))
    fs.symlinkSync('elsewhere', layout.abs(stale.path))
    const created = await createLinksParallel(layout, rows)
    assert.equal(created, N - 1)
    for (const r of [rows[0], right, stale, rows[N - 1]]) assert.equal(fs.readlinkSync(layout.abs(r.path)), r.target)

    const again = layoutAt(fs.mkdtempSync(path.join(root, 'again-')))
    const rows2 = desiredLinks(again, { id: 1, name: 'Big' }, files)
    const occupied = rows2[N - 7]
    fs.mkdirSync(path.dirname(again.abs(occupied.path)), { recursive: true })
    fs.writeFileSync(again.abs(occupied.path), 'a user file')
    await assert.rejects(createLinksParallel(again, rows2))
    assert.equal(fs.readFileSync(again.abs(occupied.path), 'utf8'), 'a user file')
  })
})
