/**
 * FFmpeg 5.1.9 built from its release tarball (from the Debian pool) in bubblewrap, in the
 * reduced `small` configuration: `+vaapi +lto` must give an ffmpeg whose -hwaccels lists vaapi
 * and whose -buildconf shows LTO, built against libva grafted from Debian; without them it must
 * not. Several minutes per build: NIP_LONG_TESTS=1; skips visibly without bwrap or the mirror.
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
  // libva comes from the grafted Debian packages: the farm's Libraries is the library path.
  const ffmpeg = (version: string, args: string[]) =>
    execFileSync(path.join(root, 'Programs', 'ffmpeg', version, 'bin', 'ffmpeg'), ['-hide_banner', ...args], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LD_LIBRARY_PATH: path.join(root, 'System', 'Links', 'Libraries') } })

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
