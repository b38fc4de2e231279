/**
 * FFmpeg 5.1.9 built from its release tarball (from the Debian pool) in bubblewrap, in the
 * reduced `small` configuration: `+vaapi +lto` must give an ffmpeg whose -hwaccels lists vaapi
 * and whose -buildconf shows LTO, built against libva grafted from Debian; without them it must
 * not. Both run from System/Links/Executables with no LD_LIBRARY_PATH. Several minutes per build: NIP_LONG_TESTS=1; skips visibly without bwrap or the mirror.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { debianMirrors, poolUrl } from '../src/index.js'

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'bin', 'run.js')
const long = process.env.NIP_LONG_TESTS === '1'

;(long ? describe : describe.skip)('nip build ffmpeg +vaapi +lto (NIP_LONG_TESTS)', function () {
  this.timeout(3_600_000)
  let parent: string
  let root: string

  const nip = (args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, ...args, '--root', root, '--json', '--yes'], { encoding: 'utf8', cwd: parent, env: { ...process.env, HOME: parent, NIP_CONFIG: '' } })
    const last = r.stdout.trim().split('\n').pop() ?? ''
    return { status: r.status, stderr: r.stderr, json: last ? JSON.parse(last) : null }
  }
  // Run from the link farm with no LD_LIBRARY_PATH: libva comes from the grafted Debian packages,
  // found through the RUNPATH nip gives built programs. `version` is the build that must be Current.
  const ffmpeg = (version: string, args: string[]) => {
    assert.equal(fs.readlinkSync(path.join(root, 'Programs', 'ffmpeg', 'Current')), version)
    return execFileSync(path.join(root, 'System', 'Links', 'Executables', 'ffmpeg'), ['-hide_banner', ...args], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } })
  }

  before(async function () {
    try {
      execFileSync('bwrap', ['--version'], { stdio: 'ignore' })
    } catch {
      console.log('    (skipped: bubblewrap is not installed)')
      this.skip()
    }
    const mirrors = debianMirrors({})
    const ok = mirrors.length > 0 && (await fetch(poolUrl(mirrors[0], 'ffmpeg/ffmpeg_5.1.9.orig.tar.xz'), { method: 'HEAD', signal: AbortSignal.timeout(8000) }).then((r) => r.ok, () => false))
    if (!ok) {
      console.log('    (skipped: the Debian mirror of the host apt sources is unreachable)')
      this.skip()
    }
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-ffmpeg-'))
    root = path.join(parent, 'root')
    fs.mkdirSync(root)
  })
  after(() => {
    if (parent) fs.rmSync(parent, { recursive: true, force: true })
  })

  it('+vaapi +lto: -hwaccels lists vaapi and -buildconf shows LTO', () => {
    const r = nip(['build', 'ffmpeg', '+vaapi+lto', '+small'])
    assert.equal(r.status, 0, r.stderr)
    const version = r.json.result.build.version
    assert.equal(version, '5.1.9+lto+small+vaapi')
    assert.match(ffmpeg(version, ['-hwaccels']), /^vaapi$/m)
    assert.match(ffmpeg(version, ['-buildconf']), /--enable-lto/)
    assert.ok(fs.existsSync(path.join(root, 'Programs', 'libva-dev')), 'libva-dev was grafted from Debian')
    // The loader finds Debian's libva through the farm (not a host copy), with no LD_LIBRARY_PATH.
    const ldd = execFileSync('ldd', [path.join(root, 'System', 'Links', 'Executables', 'ffmpeg')], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } })
    assert.doesNotMatch(ldd, /not found/, ldd)
    if (fs.existsSync(path.join(root, 'Programs', 'libva2'))) assert.match(ldd, new RegExp(`libva\\.so\\.2 => ${root}/System/Links/`), ldd)
  })

  it('without +vaapi and +lto: neither', () => {
    const r = nip(['build', 'ffmpeg', '+small'])
    assert.equal(r.status, 0, r.stderr)
    const version = r.json.result.build.version
    assert.equal(version, '5.1.9+small')
    assert.doesNotMatch(ffmpeg(version, ['-hwaccels']), /vaapi/)
    const conf = ffmpeg(version, ['-buildconf'])
    assert.doesNotMatch(conf, /--enable-lto/)
    assert.match(conf, /--disable-vaapi/)
  })
})
