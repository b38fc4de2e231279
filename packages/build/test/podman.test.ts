/**
 * Real builds of GNU hello in the Podman executor (NIP_LONG_TESTS=1): a build image is made from
 * a debootstrap root file system (minbase + build-essential, from the Debian mirror of the host's
 * apt sources; or the directory NIP_BUILD_ROOTFS names, to save the three minutes), imported into
 * a Podman store inside the test's temporary directory, and served by `podman system service` on
 * a socket there; nip drives it through dockerode. Skips visibly without podman, runc,
 * debootstrap or the mirror.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { debianMirrors, poolUrl } from '../src/index.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const BIN = path.resolve(HERE, '..', '..', 'cli', 'bin', 'run.js')
const long = process.env.NIP_LONG_TESTS === '1'

function has(cmd: string, args: string[] = ['--version']): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

;(long ? describe : describe.skip)('nip build --container: real builds in Podman (NIP_LONG_TESTS)', function () {
  this.timeout(900_000)
  let parent: string
  let root: string
  let service: ChildProcess | undefined
  const env: Record<string, string> = {}

  const podman = (args: string[]) => spawnSync('podman', ['--root', path.join(parent, 'storage'), '--runroot', path.join(parent, 'run'), '--storage-driver', 'overlay', ...args], { env: { ...process.env, ...env } })
  const nip = (args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, ...args, '--root', root, '--json', '--yes'], { encoding: 'utf8', cwd: parent, env: { ...process.env, HOME: parent, NIP_CONFIG: '' } })
    const last = r.stdout.trim().split('\n').pop() ?? ''
    return { status: r.status, stderr: r.stderr, json: last ? JSON.parse(last) : null }
  }
  const runHello = () => execFileSync(path.join(root, 'System', 'Links', 'Executables', 'hello'), { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } })

  before(async function () {
    if (!has('podman') || !has('runc')) {
      console.log('    (skipped: podman and runc are not installed; apt-get install podman runc)')
      this.skip()
    }
    const mirrors = debianMirrors({})
    const reachable = mirrors.length > 0 && (await fetch(poolUrl(mirrors[0], 'hello/hello_2.10.orig.tar.gz'), { method: 'HEAD', signal: AbortSignal.timeout(8000) }).then((r) => r.ok, () => false))
    if (!reachable) {
      console.log('    (skipped: the Debian mirror of the host apt sources is unreachable)')
      this.skip()
    }
    let rootfs = process.env.NIP_BUILD_ROOTFS
    if (!rootfs && !has('debootstrap', ['--version'])) {
      console.log('    (skipped: debootstrap is not installed and NIP_BUILD_ROOTFS is not set)')
      this.skip()
    }
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-podman-'))
    root = path.join(parent, 'root')
    fs.mkdirSync(path.join(root, 'etc', 'nip'), { recursive: true })
    // runc and fixed ulimits: crun cannot set rlimits on these machines (see docs/build.md).
    fs.writeFileSync(path.join(parent, 'containers.conf'), '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n')
    env.CONTAINERS_CONF = path.join(parent, 'containers.conf')
    if (!rootfs) {
      rootfs = path.join(parent, 'rootfs')
      execFileSync('debootstrap', ['--variant=minbase', '--include=build-essential', 'bookworm', rootfs, mirrors[0]], { stdio: 'ignore' })
    }
    const imported = spawnSync('sh', ['-c', 'tar -C "$1" -c . | podman --root "$2" --runroot "$3" --storage-driver overlay import - localhost/nip-build-test:bookworm', 'import', rootfs, path.join(parent, 'storage'), path.join(parent, 'run')], { env: { ...process.env, ...env }, encoding: 'utf8' })
    assert.equal(imported.status, 0, imported.stderr)
    const socket = path.join(parent, 'podman.sock')
    service = spawn('podman', ['--root', path.join(parent, 'storage'), '--runroot', path.join(parent, 'run'), '--storage-driver', 'overlay', 'system', 'service', '--time=0', `unix://${socket}`], { env: { ...process.env, ...env }, stdio: 'ignore' })
    for (let i = 0; i < 100 && !fs.existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100))
    fs.writeFileSync(path.join(root, 'etc', 'nip', 'nip.conf'), `[build]\nexecutor = "podman"\npodman-socket = ${JSON.stringify(socket)}\nimage = "localhost/nip-build-test:bookworm"\n`)
  })

  after(() => {
    if (service?.pid) process.kill(service.pid, 'SIGTERM')
    if (parent) {
      podman(['rm', '--all', '--force'])
      podman(['system', 'reset', '--force'])
      fs.rmSync(parent, { recursive: true, force: true })
    }
  })

  it('builds hello with and without nls in Podman; both run from System/Links/Executables; the files differ as they should', () => {
    const off = nip(['build', 'hello', '-nls'])
    assert.equal(off.status, 0, off.stderr)
    assert.equal(off.json.result.build.version, '2.10~nls')
    assert.equal(runHello(), 'Hello, world!\n')
    const on = nip(['build', 'hello'])
    assert.equal(on.status, 0, on.stderr)
    assert.equal(runHello(), 'Hello, world!\n')
    const prog = path.join(root, 'Programs', 'hello')
    assert.ok(fs.statSync(path.join(prog, '2.10', 'share', 'locale', 'de', 'LC_MESSAGES', 'hello.mo')).isFile())
    assert.equal(fs.existsSync(path.join(prog, '2.10~nls', 'share', 'locale')), false)
    const log = fs.readFileSync(path.join(root, 'var', 'log', 'nip', 'build', 'hello', `2.10-${on.json.result.build.fingerprint.slice(0, 16)}.log`), 'utf8')
    assert.match(log, /# executor podman \(podman /)
  })

  it('the executor is part of the fingerprint, and the same fingerprint builds nothing', () => {
    const again = nip(['build', 'hello', '-nls'])
    assert.equal(again.status, 0, again.stderr)
    assert.equal(again.json.result.build.cached, true)
    assert.deepEqual(again.json.result.install.grafted, [])
    fs.writeFileSync(path.join(parent, 'bwrap.conf'), '[build]\nexecutor = "bwrap"\n')
    const viaBwrap = spawnSync(process.execPath, [BIN, 'build', 'hello', '-nls', '--dry-run', '--root', root, '--json', '--config', path.join(parent, 'bwrap.conf')], { encoding: 'utf8', cwd: parent, env: { ...process.env, HOME: parent } })
    const fp = JSON.parse(viaBwrap.stdout.trim().split('\n').pop()!).result.build.fingerprint
    assert.notEqual(fp, again.json.result.build.fingerprint)
  })
})
