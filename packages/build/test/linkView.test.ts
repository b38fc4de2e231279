import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { planLinkView } from '../src/linkView.js'

describe('the dependency link view', () => {
  let dir: string
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-view-'))
    const prog = (name: string, version: string, files: Record<string, string | { link: string }>) => {
      const base = path.join(dir, name, version)
      for (const [rel, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(base, rel)), { recursive: true })
        if (typeof content === 'string') fs.writeFileSync(path.join(base, rel), content)
        else fs.symlinkSync(content.link, path.join(base, rel))
      }
      fs.symlinkSync(version, path.join(dir, name, 'Current'))
    }
    // Debian's split: the -dev package's libonig.so points at the runtime package's file.
    prog('libonig-dev', '6.9.8-1', { 'include/oniguruma.h': 'h', 'lib/libonig.so': { link: 'libonig.so.5.3.0' }, 'lib/pkgconfig/oniguruma.pc': 'pc', 'share/doc/x': 'doc' })
    prog('libonig5', '6.9.8-1', { 'lib/libonig.so.5.3.0': 'elf', 'lib/libonig.so.5': { link: 'libonig.so.5.3.0' } })
    prog('undeclared', '1', { 'include/other.h': 'h' })
  })
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('links the declared programs’ headers, libraries and pkg-config files, resolving links across programs', () => {
    assert.deepEqual(planLinkView(dir, ['libonig-dev', 'libonig5']), [
      { path: 'include/oniguruma.h', target: '/Programs/libonig-dev/6.9.8-1/include/oniguruma.h' },
      { path: 'lib/libonig.so', target: '/Programs/libonig5/6.9.8-1/lib/libonig.so.5.3.0' },
      { path: 'lib/libonig.so.5', target: '/Programs/libonig5/6.9.8-1/lib/libonig.so.5.3.0' },
      { path: 'lib/libonig.so.5.3.0', target: '/Programs/libonig5/6.9.8-1/lib/libonig.so.5.3.0' },
      { path: 'lib/pkgconfig/oniguruma.pc', target: '/Programs/libonig-dev/6.9.8-1/lib/pkgconfig/oniguruma.pc' },
    ])
  })

  it('shows nothing of programs that were not declared, and nothing for no dependencies', () => {
    assert.deepEqual(planLinkView(dir, []), [])
    assert.ok(planLinkView(dir, ['libonig-dev']).every((l) => !l.target.includes('undeclared')))
    // Alone, the -dev package's library link cannot be resolved and is left out.
    assert.deepEqual(planLinkView(dir, ['libonig-dev']).map((l) => l.path), ['include/oniguruma.h', 'lib/pkgconfig/oniguruma.pc'])
  })
})
