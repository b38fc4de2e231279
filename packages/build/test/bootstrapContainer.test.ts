/**
 * `nip bootstrap install container`: the Podman build image made by nip through Podman's API.
 *
 * Always: the registry reference of `[build] container-image` (parsed and refused with
 * ERR_NIP_CONFIG), the plan of each way (pull, debootstrap, and why neither), the recipe's
 * `[image]` table, and the detection with a socket that does not answer.
 *
 * With NIP_LONG_TESTS=1 (as root, with podman, runc, debootstrap, docker-registry and the Debian
 * mirror of the host's apt sources): a Podman store and its API service in a temporary
 * directory; one real debootstrap for the whole file (minbase + the toolchain, about a minute
 * here), imported through the API; the image is listed, runs gcc, builds GNU hello with
 * `nip build --container`; doctor reports it missing when its name is taken away; remove takes
 * the image and the record away; the image is pushed to a loopback docker-registry and pulled
 * back by `[build] container-image` (by tag over plain HTTP, by digest, and refused without
 * `[oci] insecure-registries`); `nip build --container` without the image offers the bootstrap
 * (ERR_NIP_TOOL_MISSING without --yes, the pull with it); a killed debootstrap leaves no record,
 * no image, no process, and a staging directory that doctor reports and `doctor --fix` removes.
 * Every run uses image names of its own, and nothing is written beside the root.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { NipError } from '@nip/core'
import { snapshotDir, assertUnchanged, type DirSnapshot } from '@nip/testing'
import { debianMirrors, parseBootstrapRecipe, parseImageReference, planImage, readBuildSettings, type PlanInputs } from '../src/index.js'
import { REPO, runNip, type Run } from './helpers/gentooFixtures.js'

const long = process.env.NIP_LONG_TESTS === '1'
const SHIPPED = path.join(REPO, 'bootstrap', 'container.toml')

function has(cmd: string, args: string[] = ['--version']): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0
}

function configError(f: () => unknown): NipError {
  try {
    f()
  } catch (e) {
    assert.ok(e instanceof NipError, String(e))
    return e
  }
  assert.fail('no error')
}

describe('nip bootstrap container: configuration and plan', function () {
  const recipe = parseBootstrapRecipe(SHIPPED, fs.readFileSync(SHIPPED, 'utf8'))
  const inputs = (over: Partial<PlanInputs> = {}): PlanInputs => ({
    settings: readBuildSettings({}),
    mirrors: ['http://mirror.invalid/debian'],
    oci: {},
    commands: { debootstrap: '/usr/sbin/debootstrap', unshare: '/usr/bin/unshare', setpriv: '/usr/bin/setpriv' },
    root: true,
    ...over,
  })

  it('parses registry references with a tag, a digest or both, and refuses the rest with ERR_NIP_CONFIG', () => {
    const d = `sha256:${'ab'.repeat(32)}`
    assert.deepEqual(parseImageReference('registry.example.org/nip/build:bookworm'), { text: 'registry.example.org/nip/build:bookworm', registry: 'registry.example.org', repository: 'registry.example.org/nip/build', tag: 'bookworm', pull: 'registry.example.org/nip/build:bookworm' })
    assert.equal(parseImageReference(`127.0.0.1:5000/b@${d}`).pull, `127.0.0.1:5000/b@${d}`)
    const both = parseImageReference(`localhost:5000/x/y:t@${d}`)
    assert.equal(both.registry, 'localhost:5000')
    assert.equal(both.tag, 't')
    assert.equal(both.digest, d)
    assert.equal(both.pull, `localhost:5000/x/y@${d}`)
    assert.equal(parseImageReference('myhost:5000/a:1').registry, 'myhost:5000')
    for (const bad of ['nip/build:bookworm', 'build:bookworm', 'registry.example.org/nip/build', 'registry.example.org/Nip/build:x', 'registry.example.org/nip/build@sha256:12', 'registry.example.org/nip/build:bad tag', 'https://registry.example.org/nip/build:x']) {
      const e = configError(() => parseImageReference(bad))
      assert.equal(e.code, 'ERR_NIP_CONFIG', bad)
      assert.equal(e.data?.key, 'build.container-image')
    }
    assert.equal(configError(() => readBuildSettings({ 'container-image': 'nip/build:x' })).code, 'ERR_NIP_CONFIG')
    assert.equal(readBuildSettings({ 'container-image': 'registry.example.org/nip/build:bookworm' }).containerImage?.tag, 'bookworm')
  })

  it('plans a pull when container-image is set (plain HTTP only for [oci] insecure-registries), else debootstrap from the first mirror', () => {
    const ref = parseImageReference('127.0.0.1:5000/nip/build:bookworm')
    const pull = planImage(recipe, inputs({ settings: { ...readBuildSettings({}), containerImage: ref } }))
    assert.equal(pull.available, true)
    assert.deepEqual(pull.way, { way: 'registry', reference: ref, insecure: false })
    const insecure = planImage(recipe, inputs({ settings: { ...readBuildSettings({}), containerImage: ref }, oci: { 'insecure-registries': ['127.0.0.1:5000'] }, commands: { debootstrap: null, unshare: null, setpriv: null }, root: false }))
    assert.equal(insecure.way?.way === 'registry' && insecure.way.insecure, true)
    assert.match(insecure.detail, /plain HTTP/)
    const deb = planImage(recipe, inputs({ mirrors: ['ftp://x', 'http://mirror.invalid/debian'] }))
    assert.deepEqual(deb.way, { way: 'debootstrap', suite: 'bookworm', variant: 'minbase', include: ['build-essential', 'pkg-config', 'xz-utils', 'bzip2'], mirror: 'http://mirror.invalid/debian' })
    assert.match(deb.detail, /http:\/\/mirror\.invalid\/debian/)
  })

  it('says why debootstrap cannot run: missing commands, not root, no mirror', () => {
    const noTool = planImage(recipe, inputs({ commands: { debootstrap: null, unshare: '/usr/bin/unshare', setpriv: null } }))
    assert.equal(noTool.available, false)
    assert.match(noTool.detail, /lacks debootstrap, setpriv/)
    const user = planImage(recipe, inputs({ root: false }))
    assert.equal(user.available, false)
    assert.match(user.detail, /needs root/)
    const noMirror = planImage(recipe, inputs({ mirrors: [] }))
    assert.equal(noMirror.available, false)
    assert.match(noMirror.detail, /no Debian mirror/)
  })

  it('the shipped recipe is an installable image tool; [image] needs [container] image and excludes sources', () => {
    assert.equal(recipe.installable, true)
    assert.equal(recipe.container?.image, 'localhost/nip-build:bookworm')
    assert.deepEqual(recipe.image?.check, ['gcc', '--version'])
    const base = 'name = "container"\nsummary = "s"\nversion = "bookworm"\nprogram = "nip-build-image"\n[image]\nsuite = "bookworm"\n'
    const f = '/x/container.toml'
    const e1 = configError(() => parseBootstrapRecipe(f, base))
    assert.equal(e1.code, 'ERR_NIP_RECIPE_INVALID')
    assert.match(e1.message, /container\.image/)
    const e2 = configError(() => parseBootstrapRecipe(f, `${base}include = ["Build Essential"]\n[container]\nimage = "localhost/x:y"\n`))
    assert.match(e2.message, /image\.include/)
    const e3 = configError(() => parseBootstrapRecipe(f, `${base}[container]\nimage = "Local/X"\n`))
    assert.match(e3.message, /not an image name/)
    const e4 = configError(() => parseBootstrapRecipe(f, `${base}[[package]]\nspec = "debian:x"\n[container]\nimage = "localhost/x:y"\n`))
    assert.match(e4.message, /either an image or a tree/)
  })

  describe('through the nip executable', function () {
    this.timeout(120_000)
    let parent: string
    let root: string
    let home: string
    before(() => {
      parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-ctr-short-'))
      root = path.join(parent, 'root')
      home = path.join(parent, 'home')
      fs.mkdirSync(path.join(root, 'etc', 'nip'), { recursive: true })
      fs.mkdirSync(home)
      fs.writeFileSync(path.join(root, 'etc', 'nip', 'nip.conf'), `[build]\npodman-socket = ${JSON.stringify(path.join(parent, 'none.sock'))}\ncontainer-image = "127.0.0.1:1/nip/build:bookworm"\n`)
    })
    after(() => fs.rmSync(parent, { recursive: true, force: true }))

    it('with a socket that does not answer: missing, install not available (saying how to start Podman), manual recommended', async () => {
      const r = await runNip(root, home, ['bootstrap', 'info', 'container', '--json'])
      assert.equal(r.status, 0, r.stderr)
      const d = r.json.result.detection
      assert.equal(d.status, 'missing')
      assert.deepEqual(d.choices.map((c: any) => c.id), ['install', 'manual', 'source:build'])
      const install = d.choices[0]
      assert.equal(install.available, false)
      assert.match(install.detail, /Pulls 127\.0\.0\.1:1\/nip\/build:bookworm/)
      assert.match(install.detail, /podman system service/)
      assert.equal(d.recommended, 'manual')
      assert.equal(d.image.way, 'registry')
      const y = await runNip(root, home, ['bootstrap', 'install', 'container', '--yes', '--json'])
      assert.equal(y.json.result.chosen, 'manual')
      assert.ok(y.json.result.manual.length >= 3)
      assert.equal(fs.existsSync(path.join(root, 'Programs', 'nip-build-image')), false)
    })

    it('a bad container-image is ERR_NIP_CONFIG naming the key', async () => {
      const conf = path.join(parent, 'bad.conf')
      fs.writeFileSync(conf, '[build]\ncontainer-image = "build:bookworm"\n')
      const r = await runNip(root, home, ['bootstrap', 'list', '--json', '--config', conf])
      assert.equal(r.json?.error?.code, 'ERR_NIP_CONFIG', r.stdout + r.stderr)
      assert.match(r.json.error.message, /container-image/)
    })
  })
})

/**
 * Runs nip on a pseudo-terminal (`script -qec`): at the menu types `menuKeys`, at a yes/no
 * question Enter. Returns what the terminal showed.
 */
function onTerminal(args: string[], menuKeys: string[], cwd = os.tmpdir()): Promise<string> {
  const cmd = [process.execPath, path.join(REPO, 'packages', 'cli', 'bin', 'run.js'), ...args].map((a) => `'${a}'`).join(' ')
  return new Promise<string>((resolve, reject) => {
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd, env: { ...process.env, HOME: cwd, NIP_CONFIG: '', TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let menu = false
    let confirm = false
    child.stdout.on('data', (d) => {
      out += d
      if (!menu && out.includes('What should nip do?')) {
        menu = true
        for (const k of menuKeys) child.stdin.write(k)
      }
      if (menu && !confirm && /(\[Y\/n\]|\(Y\/n\))/.test(out.slice(out.lastIndexOf('What should nip do?')))) {
        confirm = true
        child.stdin.write('\r')
      }
    })
    // A prompt that never comes must not hang the suite.
    const guard = setTimeout(() => child.kill('SIGKILL'), 300_000)
    child.on('error', reject)
    child.on('close', () => {
      clearTimeout(guard)
      resolve(out)
    })
  })
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })
}

/** Processes whose command line names `needle` (the staging directory of a killed install). */
function processesNaming(needle: string): string[] {
  const out: string[] = []
  for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')
      if (cmd.includes(needle)) out.push(`${pid}: ${cmd}`)
    } catch {
      // gone
    }
  }
  return out
}

;(long ? describe : describe.skip)('nip bootstrap install container: real Podman, debootstrap and registry (NIP_LONG_TESTS)', function () {
  this.timeout(900_000)
  const tag = randomBytes(4).toString('hex')
  const image = `localhost/nip-build-test-${tag}:bookworm`
  let parent: string
  let root: string
  let home: string
  let beside: string
  let besideBefore: DirSnapshot
  let recipes: string
  let socket: string
  let service: ChildProcess | undefined
  let registry: ChildProcess | undefined
  let registryHost = ''
  let pushedDigest = ''
  const env: Record<string, string> = {}

  const podman = (args: string[]) => spawnSync('podman', ['--root', path.join(parent, 'storage'), '--runroot', path.join(parent, 'run'), '--storage-driver', 'overlay', ...args], { env: { ...process.env, ...env }, encoding: 'utf8' })
  const imageId = (name: string): string | null => {
    const r = podman(['image', 'inspect', '--format', '{{.Id}}', name])
    return r.status === 0 ? `sha256:${r.stdout.trim().replace(/^sha256:/, '')}` : null
  }
  const nip = (args: string[], conf?: string): Promise<Run> => runNip(root, home, [...args, '--json', ...(conf ? ['--config', conf] : [])])
  /** A configuration file: the test's socket and recipes, plus `extra`. */
  const config = (name: string, extra = ''): string => {
    const f = path.join(parent, `${name}.conf`)
    fs.writeFileSync(f, `[build]\npodman-socket = ${JSON.stringify(socket)}\nimage = ${JSON.stringify(image)}\nbootstrap-recipe-dirs = [${JSON.stringify(recipes)}]\n${extra}`)
    return f
  }
  const record = () => {
    const f = path.join(root, 'Programs', 'nip-build-image', 'Current', 'image.json')
    return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : null
  }
  const containerTool = async (conf?: string) => (await nip(['bootstrap', 'list'], conf)).json.result.tools.find((t: any) => t.tool === 'container')
  const stagingParent = () => path.join(root, 'var', 'nip', 'cache', 'build', 'image')
  const staged = () => (fs.existsSync(stagingParent()) ? fs.readdirSync(stagingParent()) : [])

  before(async function () {
    const why = process.getuid?.() !== 0 ? 'not root (debootstrap and rootful Podman need it)' : !has('podman') || !has('runc') ? 'podman and runc are not installed' : !has('debootstrap', ['--version']) ? 'debootstrap is not installed' : !has('docker-registry', ['--version']) ? 'docker-registry is not installed' : !has('setpriv') || !has('unshare') ? 'setpriv and unshare (util-linux) are missing' : null
    if (why) {
      console.log(`    (skipped: ${why})`)
      this.skip()
    }
    const mirrors = debianMirrors({})
    const reachable = mirrors.length > 0 && (await fetch(`${mirrors[0]}/dists/bookworm/Release`, { method: 'HEAD', signal: AbortSignal.timeout(8000) }).then((r) => r.ok, () => false))
    if (!reachable) {
      console.log('    (skipped: the Debian mirror of the host apt sources is unreachable)')
      this.skip()
    }
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-ctr-'))
    root = path.join(parent, 'root')
    home = path.join(parent, 'home')
    beside = path.join(parent, 'beside')
    recipes = path.join(parent, 'recipes')
    for (const d of [path.join(root, 'etc', 'nip'), home, beside, recipes]) fs.mkdirSync(d, { recursive: true })
    fs.writeFileSync(path.join(beside, 'keep.txt'), 'must not change\n')
    besideBefore = snapshotDir(beside)
    // The shipped recipe under this run's own image name.
    fs.writeFileSync(path.join(recipes, 'container.toml'), fs.readFileSync(SHIPPED, 'utf8').replace('image = "localhost/nip-build:bookworm"', `image = ${JSON.stringify(image)}`))
    // runc and fixed ulimits: crun cannot set rlimits on these machines (docs/build.md).
    fs.writeFileSync(path.join(parent, 'containers.conf'), '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n')
    env.CONTAINERS_CONF = path.join(parent, 'containers.conf')
    socket = path.join(parent, 'podman.sock')
    service = spawn('podman', ['--root', path.join(parent, 'storage'), '--runroot', path.join(parent, 'run'), '--storage-driver', 'overlay', 'system', 'service', '--time=0', `unix://${socket}`], { env: { ...process.env, ...env }, stdio: 'ignore' })
    for (let i = 0; i < 100 && !fs.existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100))
    const port = await freePort()
    registryHost = `127.0.0.1:${port}`
    fs.writeFileSync(path.join(parent, 'registry.yml'), `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(parent, 'registry')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${registryHost}\n`)
    registry = spawn('docker-registry', ['serve', path.join(parent, 'registry.yml')], { stdio: 'ignore' })
    let up = false
    for (let i = 0; i < 100 && !up; i++) {
      up = await fetch(`http://${registryHost}/v2/`).then((r) => r.ok, () => false)
      if (!up) await new Promise((r) => setTimeout(r, 100))
    }
    assert.ok(up, 'docker-registry answers')
    fs.writeFileSync(path.join(root, 'etc', 'nip', 'nip.conf'), fs.readFileSync(config('main'), 'utf8'))
  })

  afterEach(() => {
    if (beside) assertUnchanged(beside, besideBefore, 'the directory beside the root')
  })

  after(async () => {
    if (service?.pid) process.kill(service.pid, 'SIGTERM')
    if (registry?.pid) process.kill(registry.pid, 'SIGTERM')
    if (parent) {
      podman(['rm', '--all', '--force'])
      podman(['system', 'reset', '--force'])
      assertUnchanged(beside, besideBefore, 'the directory beside the root')
      fs.rmSync(parent, { recursive: true, force: true })
    }
  })

  it('install --yes makes the image from debootstrap through the API: tagged, recorded, listed, runs gcc; no staging left', async () => {
    const r = await nip(['bootstrap', 'install', 'container', '--yes'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.equal(r.json.result.chosen, 'install')
    const rec = record()
    assert.equal(rec.from, 'debootstrap')
    assert.equal(rec.image, image)
    assert.equal(rec.mirror, debianMirrors({})[0])
    assert.match(rec.check.output, /^gcc /)
    assert.equal(imageId(image), rec.id, 'Podman has the image under its name, with the recorded id')
    const labels = JSON.parse(podman(['image', 'inspect', '--format', '{{json .Labels}}', image]).stdout)
    assert.equal(labels['org.nip.bootstrap'], 'container')
    const tool = await containerTool()
    assert.equal(tool.status, 'nip')
    assert.equal(tool.image.present, true)
    assert.equal(tool.image.record.id, rec.id)
    const gcc = podman(['run', '--rm', '--network', 'none', image, 'gcc', '--version'])
    assert.equal(gcc.status, 0, gcc.stderr)
    assert.match(gcc.stdout, /^gcc \(Debian/)
    assert.deepEqual(staged(), [])
    const again = await nip(['bootstrap', 'install', 'container', '--yes'])
    assert.equal(again.json.result.chosen, null)
    assert.match(again.json.result.outcome, /already installed by nip/)
  })

  it('nip build --container builds GNU hello in that image', async () => {
    const r = await nip(['build', 'hello', '-nls', '--container', '--yes'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.equal(r.json.result.build.version, '2.10~nls')
    assert.equal(execFileSync(path.join(root, 'System', 'Links', 'Executables', 'hello'), { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } }), 'Hello, world!\n')
    const log = fs.readFileSync(path.join(root, 'var', 'log', 'nip', 'build', 'hello', `2.10~nls-${r.json.result.build.fingerprint.slice(0, 16)}.log`), 'utf8')
    assert.match(log, /# executor podman/)
  })

  it('doctor lists the image, and reports it missing from Podman with a fix hint once its name is gone', async () => {
    const ok = (await nip(['doctor'])).json.result.findings.find((f: any) => f.check === 'bootstrap-tools')
    assert.equal(ok.severity, 'ok')
    assert.match(ok.paths.join('\n'), /container: nip-build-image bookworm/)
    const id = record().id
    // Someone takes the name away (the image stays under another name).
    assert.equal(podman(['tag', image, `localhost/nip-keep-${tag}:x`]).status, 0)
    assert.equal(podman(['untag', image, image]).status, 0)
    try {
      const bad = (await nip(['doctor'])).json.result.findings.find((f: any) => f.check === 'bootstrap-tools')
      assert.equal(bad.severity, 'warning')
      assert.match(bad.message, /missing from Podman/)
      assert.match(bad.message, /nip bootstrap install container/)
      assert.match(bad.paths.join('\n'), new RegExp(`no image ${image.replace(/[.:/-]/g, '\\$&')}`))
      assert.equal((await containerTool()).image.present, false)
    } finally {
      assert.equal(podman(['tag', id, image]).status, 0)
      assert.equal(podman(['untag', image, `localhost/nip-keep-${tag}:x`]).status, 0)
    }
    assert.equal((await nip(['doctor'])).json.result.findings.find((f: any) => f.check === 'bootstrap-tools').severity, 'ok')
  })

  it('remove takes the image out of Podman and the record out of the root', async () => {
    // First, keep a copy in the registry for the pull tests.
    const digestFile = path.join(parent, 'digest')
    const push = podman(['push', '--tls-verify=false', '--digestfile', digestFile, image, `${registryHost}/nip/build-${tag}:bookworm`])
    assert.equal(push.status, 0, push.stderr)
    pushedDigest = fs.readFileSync(digestFile, 'utf8').trim()
    assert.match(pushedDigest, /^sha256:[0-9a-f]{64}$/)
    const r = await nip(['bootstrap', 'remove', 'container', '--yes'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.equal(r.json.result.image.removed, true)
    assert.equal(imageId(image), null)
    assert.equal(record(), null)
    assert.equal((await containerTool()).status, 'missing')
    assert.equal((await nip(['bootstrap', 'remove', 'container'])).json.error.code, 'ERR_NIP_NOT_INSTALLED')
  })

  it('nip build --container without the image and without --yes is ERR_NIP_TOOL_MISSING offering the bootstrap', async () => {
    const r = await nip(['build', 'hello', '--container'])
    assert.equal(r.json?.error?.code, 'ERR_NIP_TOOL_MISSING', r.stdout + r.stderr)
    assert.match(r.json.error.hint, /nip bootstrap install container/)
    assert.equal(r.json.error.data.recommended, 'install')
    assert.equal(fs.existsSync(path.join(root, 'Programs', 'hello', '2.10')), false)
  })

  it('a plain-HTTP registry not in [oci] insecure-registries is refused with ERR_NIP_REGISTRY, and nothing is recorded', async () => {
    const conf = config('secure', `container-image = "${registryHost}/nip/build-${tag}:bookworm"\n`)
    const r = await nip(['bootstrap', 'install', 'container', '--yes'], conf)
    assert.equal(r.json?.error?.code, 'ERR_NIP_REGISTRY', r.stdout + r.stderr)
    assert.match(r.json.error.hint, /insecure-registries/)
    assert.equal(record(), null)
    assert.equal(imageId(image), null)
  })

  it('pulls [build] container-image by tag over plain HTTP, tags it, records its digest; an unnamed import a killed run left is removed', async () => {
    // What a run killed between import and tag leaves: an unnamed image labelled for this root.
    const tiny = path.join(parent, 'tiny')
    fs.mkdirSync(tiny)
    fs.writeFileSync(path.join(tiny, 'x'), 'x')
    const label = JSON.parse(podman(['image', 'inspect', '--format', '{{json .Labels}}', `${registryHost}/nip/build-${tag}:bookworm`]).stdout || 'null')
    assert.equal(label, null, 'the pushed name is not in the local store')
    const rootLabel = (await import('../src/index.js')).rootLabel({ root } as never)
    const leftover = spawnSync('sh', ['-c', 'tar -C "$1" -c . | podman --root "$2" --runroot "$3" --storage-driver overlay import --change "LABEL org.nip.bootstrap=container" --change "LABEL org.nip.root=$4" -', 'import', tiny, path.join(parent, 'storage'), path.join(parent, 'run'), rootLabel], { env: { ...process.env, ...env }, encoding: 'utf8' })
    assert.equal(leftover.status, 0, leftover.stderr)
    const leftoverId = `sha256:${leftover.stdout.trim().split('\n').pop()!.replace(/^sha256:/, '')}`
    assert.ok(imageId(leftoverId))
    const conf = config('pull', `container-image = "${registryHost}/nip/build-${tag}:bookworm"\n[oci]\ninsecure-registries = ["${registryHost}"]\n`)
    const r = await nip(['bootstrap', 'install', 'container', '--yes'], conf)
    assert.equal(r.status, 0, r.stdout + r.stderr)
    const rec = record()
    assert.equal(rec.from, 'registry')
    assert.equal(rec.digest, pushedDigest)
    assert.equal(imageId(image), rec.id)
    assert.equal(imageId(leftoverId), null, 'the unnamed leftover was removed')
    // Only nip's name: the registry's tag was not left in the store.
    assert.equal(imageId(`${registryHost}/nip/build-${tag}:bookworm`), null)
    assert.equal((await containerTool(conf)).image.way, 'registry')
    assert.equal((await nip(['bootstrap', 'remove', 'container', '--yes'], conf)).status, 0)
    assert.equal(imageId(image), null)
  })

  it('a digest pins the pull: the right one installs, an unknown one is refused', async () => {
    const wrong = config('wrong', `container-image = "${registryHost}/nip/build-${tag}@sha256:${'0'.repeat(64)}"\n[oci]\ninsecure-registries = ["${registryHost}"]\n`)
    const bad = await nip(['bootstrap', 'install', 'container', '--yes'], wrong)
    assert.equal(bad.json?.error?.code, 'ERR_NIP_REGISTRY', bad.stdout + bad.stderr)
    assert.equal(record(), null)
    const pinned = config('pinned', `container-image = "${registryHost}/nip/build-${tag}@${pushedDigest}"\n[oci]\ninsecure-registries = ["${registryHost}"]\n`)
    const r = await nip(['bootstrap', 'install', 'container', '--yes'], pinned)
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.equal(record().digest, pushedDigest)
    assert.equal(imageId(image), record().id)
    assert.equal((await nip(['bootstrap', 'remove', 'container', '--yes'], pinned)).status, 0)
  })

  it('on a terminal the menu offers pulling the image, the manual steps and bubblewrap; Enter pulls it', async function () {
    if (spawnSync('script', ['--version']).status !== 0) {
      console.log('      (skipped: script(1) from util-linux is not installed)')
      this.skip()
    }
    const conf = config('menu', `container-image = "${registryHost}/nip/build-${tag}:bookworm"\n[oci]\ninsecure-registries = ["${registryHost}"]\n`)
    const stdout = await onTerminal(['bootstrap', 'install', 'container', '--root', root, '--config', conf], ['\r'], home)
    const out = stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    assert.match(out, /What should nip do\?/)
    assert.match(out, /Pull the build image/)
    assert.match(out, /Show the manual steps/)
    assert.match(out, /Build in bubblewrap instead/)
    assert.equal(record()?.from, 'registry', out)
    assert.equal(imageId(image), record().id)
    assert.equal((await nip(['bootstrap', 'remove', 'container', '--yes'], conf)).status, 0)
  })

  it('nip build --container --yes without the image runs the bootstrap (a pull here), then builds in it', async () => {
    const conf = config('build-pull', `container-image = "${registryHost}/nip/build-${tag}:bookworm"\n[oci]\ninsecure-registries = ["${registryHost}"]\n`)
    const r = await nip(['build', 'hello', '--container', '--yes'], conf)
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.equal(record().from, 'registry')
    assert.equal(imageId(image), record().id)
    assert.ok(fs.statSync(path.join(root, 'Programs', 'hello', '2.10', 'share', 'locale', 'de', 'LC_MESSAGES', 'hello.mo')).isFile())
    assert.equal((await nip(['bootstrap', 'remove', 'container', '--yes'], conf)).status, 0)
  })

  it('a killed debootstrap leaves no record, no image and no process; doctor reports the staging directory and --fix removes it', async () => {
    const child = spawn(process.execPath, [path.join(REPO, 'packages', 'cli', 'bin', 'run.js'), 'bootstrap', 'install', 'container', '--yes', '--json', '--root', root], { cwd: home, env: { ...process.env, HOME: home, NIP_CONFIG: '' }, stdio: 'ignore' })
    const deadline = Date.now() + 120_000
    let dir = ''
    while (Date.now() < deadline) {
      const s = staged()[0]
      if (s && fs.existsSync(path.join(stagingParent(), s, 'debootstrap'))) {
        dir = path.join(stagingParent(), s)
        break
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    assert.ok(dir, 'debootstrap started writing into its staging directory')
    child.kill('SIGKILL')
    await new Promise((r) => child.once('close', r))
    // debootstrap and its children die with nip (their namespace's first process is killed).
    let left = processesNaming(dir)
    for (let i = 0; i < 100 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100))
      left = processesNaming(dir)
    }
    assert.deepEqual(left, [])
    assert.equal(record(), null)
    assert.equal(imageId(image), null)
    assert.equal((await containerTool()).status, 'missing')
    const doc = (await nip(['doctor'])).json.result.findings.find((f: any) => f.check === 'bootstrap-tools')
    assert.equal(doc.severity, 'warning')
    assert.deepEqual(doc.paths, [dir])
    const fixed = (await nip(['doctor', '--fix'])).json.result.findings.find((f: any) => f.check === 'bootstrap-tools')
    assert.equal(fixed.fixed, true)
    assert.deepEqual(staged(), [])
    // Nothing debootstrap mounted inside it outlived the namespace.
    assert.ok(!fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(dir))
  })

  it('nip build --container on a terminal without the image: choosing bubblewrap builds there instead', async function () {
    if (spawnSync('script', ['--version']).status !== 0 || !has('bwrap')) {
      console.log('      (skipped: script(1) or bubblewrap is not installed)')
      this.skip()
    }
    assert.equal(imageId(image), null)
    // The menu: make the image (recommended), the manual steps, bubblewrap: two down, Enter.
    const shown = (await onTerminal(['build', 'hello', '-nls', '--container', '--rebuild', '--root', root], ['\x1b[B', '\x1b[B', '\r'], home)).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    assert.match(shown, /needs the image/)
    assert.match(shown, /Build in bubblewrap instead/)
    const logs = fs.readdirSync(path.join(root, 'var', 'log', 'nip', 'build', 'hello')).map((n) => path.join(root, 'var', 'log', 'nip', 'build', 'hello', n))
    const newest = logs.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0]
    assert.match(fs.readFileSync(newest, 'utf8'), /# executor bwrap/, shown)
    assert.equal(imageId(image), null, 'no image was made')
    assert.equal(record(), null)
  })
})
