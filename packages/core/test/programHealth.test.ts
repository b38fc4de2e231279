/**
 * A source's own health checks (SourceAdapter.checkProgram) show up in nip doctor as the
 * program-health finding, and make the report unhealthy.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { MemoryAdapter, openNip, tempRoot } from '@nip/testing'

/** Reports every current program whose bin/tool lost its library, as the Nix adapter does for ELF files. */
class CheckingAdapter extends MemoryAdapter {
  async checkProgram(versionDir: string): Promise<string[]> {
    return fs.existsSync(path.join(versionDir, 'lib/libtool.so.1')) ? [] : ['bin/tool: library libtool.so.1 does not resolve']
  }
}

describe('doctor: source-specific program health', () => {
  it('is ok while the program is whole, and names the program and problem when it is not', async () => {
    const root = await tempRoot('nip-health-')
    const { nip } = await openNip(root, [new CheckingAdapter([{ name: 'tool', version: '1.0', files: { 'bin/tool': '#!/bin/sh\n', 'lib/libtool.so.1': 'lib' } }])])
    try {
      await nip.install(['tool'])
      let report = await nip.doctor()
      const ok = report.findings.find((f) => f.check === 'program-health')
      assert.equal(ok?.severity, 'ok')
      assert.equal(report.healthy, true)
      const lib = path.join(root, 'Programs/tool/1.0/lib/libtool.so.1')
      fs.chmodSync(path.dirname(lib), 0o755)
      fs.rmSync(lib)
      report = await nip.doctor()
      const bad = report.findings.find((f) => f.check === 'program-health')
      assert.equal(bad?.severity, 'error')
      assert.deepEqual(bad?.paths, ['tool 1.0: bin/tool: library libtool.so.1 does not resolve'])
      assert.equal(report.healthy, false)
    } finally {
      nip.close()
      fs.rmSync(root, { recursive: true, force: true })
    }
  })
})
