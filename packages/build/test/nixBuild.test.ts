/**
 * nip build --source nix through the nip executable: nix-build of a local derivation (no nixpkgs:
 * two derivations, one referring to the other) in a bubblewrap namespace with the root's own
 * /nix, the closure copied to a signed file:// cache and grafted by the Nix adapter; the program
 * runs from the link farm; nothing is written to the host's /nix or beside the root.
 *
 * nix-build comes from the host (Debian's nix-bin) or, with NIP_LONG_TESTS=1 and the Debian
 * mirror of the host's apt sources reachable, from `nip bootstrap install nix`, which grafts
 * nix-bin from the Debian source into the root; the build then runs the grafted tools.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { snapshotDir, assertUnchanged, type DirSnapshot } from '@nip/testing'
import { debianMirrors } from '../src/index.js'
import { runNip } from './helpers/gentooFixtures.js'

const GREET = `let
  data = derivation { name = "greeting-data-1.0"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "export PATH=/usr/bin:/bin; mkdir -p $out/share && echo Hello from nix > $out/share/greeting" ]; };
in derivation {
  name = "greet-1.0"; system = builtins.currentSystem; builder = "/bin/sh";
  args = [ "-c" "export PATH=/usr/bin:/bin; mkdir -p $out/bin && printf '#!/bin/sh\\\\ncat \${data}/share/greeting\\\\n' > $out/bin/greet && chmod +x $out/bin/greet" ];
}
`

const has = (cmd: string) => {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

describe('nip build --source nix', function () {
  this.timeout(600_000)
  let parent: string
  let root: string
  let beside: string
  let home: string
  let src: string
  let besideBefore: DirSnapshot
  const hostStore = () => (fs.existsSync('/nix/store') ? fs.readdirSync('/nix/store').filter((n) => n.includes('greet')).sort() : [])
  let storeBefore: string[]
  const nip = (args: string[]) => runNip(root, home, args)

  before(function () {
    if (!has('bwrap')) {
      console.log('    (skipped: bubblewrap is not installed)')
      this.skip()
    }
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-nixbuild-'))
    root = path.join(parent, 'root')
    beside = path.join(parent, 'beside')
    home = path.join(parent, 'home')
    src = path.join(parent, 'src')
    for (const d of [root, beside, home, src]) fs.mkdirSync(d)
    fs.writeFileSync(path.join(beside, 'keep.txt'), 'must not change\n')
    fs.writeFileSync(path.join(src, 'greet.nix'), GREET)
    besideBefore = snapshotDir(beside)
    storeBefore = hostStore()
  })

  after(() => {
    if (beside) assertUnchanged(beside, besideBefore, 'the directory beside the root')
    if (storeBefore) assert.deepEqual(hostStore(), storeBefore, "the host's /nix/store")
    if (parent) fs.rmSync(parent, { recursive: true, force: true })
  })

  it('a missing expression is ERR_NIP_NOT_FOUND, variant words are a usage error', async function () {
    if (!has('nix-build')) this.skip()
    assert.equal((await nip(['build', '--source', 'nix', path.join(src, 'nope.nix'), '--yes', '--json'])).json?.error?.code, 'ERR_NIP_NOT_FOUND')
    assert.equal((await nip(['build', '--source', 'nix', path.join(src, 'greet.nix'), '+x', '--yes', '--json'])).json?.error?.code, 'ERR_NIP_USAGE')
  })

  it("builds a local derivation with the host's nix-build and grafts its closure through the nix source", async function () {
    if (!has('nix-build')) {
      console.log('      (skipped: nix-build is not on the host; the long test installs it with nip bootstrap)')
      this.skip()
    }
    const r = await nip(['build', '--source', 'nix', path.join(src, 'greet.nix'), '--yes', '--json'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.equal(r.json.result.tools, 'host')
    const grafted = r.json.result.install.grafted.map((g: any) => `${g.name} ${g.version} ${g.source}`).sort()
    assert.deepEqual(grafted, ['greet 1.0 nix', 'greeting-data 1.0 nix'])
    assert.equal(execFileSync(path.join(root, 'System', 'Links', 'Executables', 'greet'), { encoding: 'utf8' }), 'Hello from nix\n')
  })

  ;(process.env.NIP_LONG_TESTS === '1' ? it : it.skip)('nip bootstrap install nix grafts nix-bin from the Debian source; the build runs the grafted tools (NIP_LONG_TESTS)', async function () {
    const mirrors = debianMirrors({})
    let ok = false
    try {
      ok = mirrors.length > 0 && (await fetch(`${mirrors[0]}/dists/`, { method: 'HEAD', signal: AbortSignal.timeout(8000) })).status < 500
    } catch {
      ok = false
    }
    if (!ok) {
      console.log('      (skipped: the Debian mirror of the host apt sources is unreachable)')
      this.skip()
    }
    const inst = await nip(['bootstrap', 'install', 'nix', '--force', '--yes', '--json'])
    assert.equal(inst.status, 0, inst.stdout + inst.stderr)
    assert.equal(inst.json.result.detection.nip.installed, true)
    const bin = path.join(root, 'Programs', 'nix-bin', 'Current', 'bin', 'nix-build')
    assert.match(execFileSync(bin, ['--version'], { encoding: 'utf8' }), /nix-build \(Nix\) 2\./)
    fs.writeFileSync(path.join(src, 'greet.nix'), GREET.replace('Hello from nix', 'Hello again from nix').replace(/-1\.0"/g, '-1.1"'))
    const r = await nip(['build', '--source', 'nix', path.join(src, 'greet.nix'), '--yes', '--json'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.match(r.json.result.tools, /Programs\/nix-bin\//)
    assert.equal(execFileSync(path.join(root, 'System', 'Links', 'Executables', 'greet'), { encoding: 'utf8' }), 'Hello again from nix\n')
    const doc = await nip(['doctor', '--json'])
    assert.match(doc.json.result.findings.find((f: any) => f.check === 'bootstrap-tools').paths.join('\n'), /nix: nix-bin/)
  })
})
