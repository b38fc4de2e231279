/** The link-owner lookup that conflict checks and reconcile rely on, against a plain scan. */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Database } from '../src/db/database.js'

describe('database: link owners', () => {
  let dir: string
  let db: Database
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-db-'))
    db = Database.openWriter(path.join(dir, 'nip.sqlite'))
  })
  afterEach(() => {
    db.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('finds the owner of every path that has one, however many paths and directories are asked', () => {
    const ids = ['alpha', 'beta'].map((name) =>
      db.insertProgram({ name, version: '1', source: 'test', packageId: name, treeDigest: 'd', explicit: true, size: 0, txn: 't', entries: [], dependencies: [] }),
    )
    const owned = new Map<string, string>()
    db.transaction(() => {
      const rows = []
      // alpha owns links in Executables and under Shared/a; beta one in Shared/b/deep/er, one at the top.
      for (let i = 0; i < 300; i += 3) rows.push({ path: `System/Links/Executables/x${i}`, program: 'alpha', program_id: ids[0], entry: `bin/x${i}`, target: 't' })
      for (let i = 0; i < 50; i++) rows.push({ path: `System/Links/Shared/a/f${i}`, program: 'alpha', program_id: ids[0], entry: `share/a/f${i}`, target: 't' })
      db.replaceLinks('alpha', rows)
      const beta = [
        { path: 'System/Links/Shared/b/deep/er/file', program: 'beta', program_id: ids[1], entry: 'share/b/deep/er/file', target: 't' },
        { path: 'top-level', program: 'beta', program_id: ids[1], entry: 'x', target: 't' },
      ]
      db.replaceLinks('beta', beta)
      for (const r of [...rows, ...beta]) owned.set(r.path, r.program)
    })
    const asked: string[] = ['top-level', 'System/Links/Shared/b/deep/er/file', 'System/Links/Shared/b/deep/other', 'System/Links/Shared/b/file']
    for (let i = 0; i < 300; i++) asked.push(`System/Links/Executables/x${i}`)
    for (let i = 0; i < 100; i++) asked.push(`System/Links/Shared/a/f${i}`)
    for (let i = 0; i < 400; i++) asked.push(`System/Links/Shared/fresh/d${i % 9}/f${i}`)
    for (const paths of [asked, asked.slice(0, 200)]) {
      const expected = new Map(paths.filter((p) => owned.has(p)).map((p) => [p, owned.get(p)!]))
      assert.deepEqual(db.linkOwners(paths), expected, `${paths.length} paths`)
    }
    assert.equal(db.linkOwners(asked).size, 100 + 50 + 2)
    assert.deepEqual(db.linkOwners([]), new Map())
  })
})
