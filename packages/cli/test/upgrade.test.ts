/**
 * nip outdated / upgrade, and what a plan does to Current, across two real sources served by one
 * loopback mirror: a Debian suite (dpkg-deb, InRelease clear-signed by a throw-away key) and a
 * pacman repository (makepkg, repo-add), each in an old and a new state, as a mirror that syncs.
 *
 * Debian: uptool 1.0 → 1.1 (Depends: uplib (>= 1.1), upnew), uplib 1.0 → 1.1 (a dependency),
 * upnew 1.0 (a new dependency of uptool 1.1), nip-tool 0.9 (a program pacman has too).
 * pacman: nip-tool 1.0 → 2.0. pacman is asked first (priority 10), Debian second (20).
 */
import { strict as assert } from 'node:assert'
import { spawnSync } from 'node:child_process'
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { DebianAdapter } from '@nip/adapter-debian'
import { createAdapter as createPacman } from '@nip/adapter-pacman'
import { isNipError, type Nip } from '@nip/core'
import { checkConsistency, listTree, openNip, startMirror, tempRoot, type Mirror } from '@nip/testing'
import { buildDeb, hasTool, killAgent, makeGpgKey, packagesStanza, writeSuite, type DebSpec, type GpgKey } from '../../adapter-debian/test/debRepository.js'
import { BUILD_USER, missingTools } from '../../adapter-pacman/test/helpers/realRepo.js'

const STATUS = new URL('../../adapter-debian/test/fixtures/dpkg-status', import.meta.url).pathname
type State = 'old' | 'new'

const deb = (name: string, version: string, depends?: string): DebSpec => ({
  name,
  version,
  files: { [`usr/bin/${name}`]: `#!/bin/sh\necho ${name} ${version}\n` },
  ...(depends ? { fields: { Depends: depends } } : {}),
})

function pacmanPackage(dir: string, version: string): string {
  const build = path.join(dir, `pkg-${version}`)
  mkdirSync(build, { recursive: true })
  writeFileSync(
    path.join(build, 'PKGBUILD'),
    `pkgname=nip-tool\npkgver=${version}\npkgrel=1\npkgdesc='A tool in two versions'\narch=('x86_64')\nlicense=('MIT')\nsource=()\n` +
      `package() {\n  install -Dm755 /dev/stdin "$pkgdir/usr/bin/nip-tool" <<<'echo nip-tool ${version}'\n}\n`,
  )
  const uid = Number(spawnSync('id', ['-u', BUILD_USER], { encoding: 'utf8' }).stdout.trim())
  const gid = Number(spawnSync('id', ['-g', BUILD_USER], { encoding: 'utf8' }).stdout.trim())
  chownSync(build, uid, gid)
  chownSync(path.join(build, 'PKGBUILD'), uid, gid)
  const r = spawnSync('runuser', ['-u', BUILD_USER, '--', 'env', 'PKGEXT=.pkg.tar.zst', 'PACKAGER=Nip Test <test@example.invalid>', 'makepkg', '-f', '--nodeps'], { cwd: build, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`makepkg failed: ${r.stderr}`)
  return path.join(build, readdirSync(build).find((f) => f.endsWith('.pkg.tar.zst'))!)
}

describe('nip outdated and upgrade across a pacman and a Debian repository', function () {
  this.timeout(180000)
  let dir: string
  let key: GpgKey
  let mirror: Mirror
  const files: Record<State, Map<string, Buffer>> = { old: new Map(), new: new Map() }
  const roots: string[] = []

  before(async function () {
    const missing = missingTools() ?? ['dpkg-deb', 'xz'].filter((t) => !hasTool(t)).map((t) => `${t} not installed`)[0]
    if (missing) {
      console.log(`  (skipped: ${missing})`)
      this.skip()
    }
    if (spawnSync('id', [BUILD_USER]).status !== 0) spawnSync('useradd', ['-m', BUILD_USER])
    dir = mkdtempSync(path.join(os.tmpdir(), 'nip-upgrade-'))
    chmodSync(dir, 0o755)
    key = makeGpgKey(dir)
    const debian: Record<State, DebSpec[]> = {
      old: [deb('uptool', '1.0', 'uplib (>= 1.0)'), deb('uplib', '1.0'), deb('nip-tool', '0.9')],
      new: [deb('uptool', '1.1', 'uplib (>= 1.1), upnew'), deb('uplib', '1.1'), deb('upnew', '1.0'), deb('nip-tool', '0.9')],
    }
    const pacman: Record<State, string> = { old: pacmanPackage(dir, '1.0'), new: pacmanPackage(dir, '2.0') }
    for (const state of ['old', 'new'] as const) {
      const repo = path.join(dir, `debian-${state}`)
      writeSuite(repo, { suite: 'up', stanzas: debian[state].map((s) => packagesStanza(repo, s, buildDeb(dir, s))), key })
      for (const rel of listTree(repo)) if (statSync(path.join(repo, rel)).isFile()) files[state].set(`/debian/${rel}`, readFileSync(path.join(repo, rel)))
      const prepo = path.join(dir, `pacman-${state}`)
      mkdirSync(prepo)
      const pkg = path.join(prepo, path.basename(pacman[state]))
      writeFileSync(pkg, readFileSync(pacman[state]))
      const r = spawnSync('repo-add', ['-q', path.join(prepo, 'uptest.db.tar.gz'), pkg], { encoding: 'utf8' })
      if (r.status !== 0) throw new Error(`repo-add failed: ${r.stderr}`)
      for (const f of readdirSync(prepo)) files[state].set(`/pacman/${f}`, readFileSync(path.join(prepo, f))) // uptest.db is a symlink: read through it
    }
    mirror = await startMirror()
  })
  after(async () => {
    await mirror?.close()
    if (key) killAgent(key)
    if (dir) rmSync(dir, { recursive: true, force: true })
    for (const r of roots) rmSync(r, { recursive: true, force: true })
  })

  /** The mirror serves that state of both repositories. */
  function serve(state: State): void {
    for (const p of new Set([...files.old.keys(), ...files.new.keys()])) {
      const body = files[state].get(p)
      mirror.setRoute(p, body === undefined ? undefined : { body })
    }
  }

  async function newRoot(): Promise<string> {
    const parent = await tempRoot('nip-upgrade-root-')
    roots.push(parent)
    const root = path.join(parent, 'root')
    mkdirSync(root)
    return root
  }

  /** A new Nip on `root`, as a new command would open it. */
  async function open(root: string): Promise<Nip> {
    const debianTable = { 'host-sources': false, sources: [{ uri: `${mirror.url}/debian`, suite: 'up', components: ['main'], 'signed-by': key.keyring }], architecture: 'amd64', 'dpkg-status': STATUS }
    const pacmanTable = { 'use-host-config': false, architecture: 'x86_64', repositories: [{ name: 'uptest', servers: [`${mirror.url}/pacman`], siglevel: 'Never' }] }
    const { nip } = await openNip(root, [createPacman(), new DebianAdapter()], {
      sources: [
        { id: 'pacman', enabled: true, priority: 10, table: pacmanTable },
        { id: 'debian', enabled: true, priority: 20, table: debianTable },
      ],
    })
    return nip
  }

  async function withNip<T>(root: string, fn: (nip: Nip) => Promise<T>): Promise<T> {
    const nip = await open(root)
    try {
      return await fn(nip)
    } finally {
      nip.close()
    }
  }

  const current = (nip: Nip): Record<string, string> => Object.fromEntries(nip.list().filter((p) => p.current).map((p) => [p.name, `${p.version} ${p.source}${p.explicit ? '' : ' (dependency)'}`]))
  const currentLink = (root: string, name: string): string => readlinkSync(path.join(root, 'Programs', name, 'Current'))

  it('lists what is out of date, plans the upgrade with its marks (dry run), then upgrades in one transaction and one generation', async () => {
    const root = await newRoot()
    serve('old')
    await withNip(root, (nip) => nip.install(['debian:uptool', 'pacman:nip-tool'], { yes: true } as never))
    serve('new')
    await withNip(root, async (nip) => {
      // The Debian suite's local index is a day fresh: nip update reads the synced mirror.
      assert.deepEqual((await nip.update()).sources.map((s) => `${s.source} ${s.status}`), ['pacman updated', 'debian updated'])
      assert.deepEqual(current(nip), { uptool: '1.0 debian', uplib: '1.0 debian (dependency)', 'nip-tool': '1.0-1 pacman' })
      const outdated = await nip.outdated()
      assert.deepEqual(
        outdated.programs.map((p) => `${p.name} ${p.installed} → ${p.available ?? '-'} ${p.source} ${p.status}`),
        ['nip-tool 1.0-1 → 2.0-1 pacman upgrade', 'uplib 1.0 → 1.1 debian upgrade', 'uptool 1.0 → 1.1 debian upgrade'],
      )
      const generations = nip.generations().length
      const dry = await nip.upgrade([], { dryRun: true })
      assert.equal(dry.dryRun, true)
      const marks = Object.fromEntries(dry.plan.programs.map((p) => [p.name, `${p.change} ${p.from?.version ?? '-'}→${p.version}${p.sourceChange ? ' source-change' : ''}`]))
      assert.deepEqual(marks, { 'nip-tool': 'upgrade 1.0-1→2.0-1', uplib: 'upgrade 1.0→1.1', upnew: 'new-dependency -→1.0', uptool: 'upgrade 1.0→1.1' })
      assert.deepEqual(current(nip), { uptool: '1.0 debian', uplib: '1.0 debian (dependency)', 'nip-tool': '1.0-1 pacman' }, 'a dry run changes nothing')
      assert.equal(nip.generations().length, generations)
    })
    await withNip(root, async (nip) => {
      const generations = nip.generations()
      const r = await nip.upgrade([], {})
      assert.ok(r.transaction)
      assert.deepEqual(r.grafted.map((p) => `${p.name} ${p.version}`).sort(), ['nip-tool 2.0-1', 'uplib 1.1', 'upnew 1.0', 'uptool 1.1'])
      const after = nip.generations()
      assert.equal(after.length, generations.length + 1, 'one generation')
      assert.equal(after.at(-1)!.kind, 'upgrade')
      assert.deepEqual(current(nip), { uptool: '1.1 debian', uplib: '1.1 debian (dependency)', upnew: '1.0 debian (dependency)', 'nip-tool': '2.0-1 pacman' })
      assert.equal(currentLink(root, 'uptool'), '1.1')
      assert.deepEqual((await nip.outdated()).programs.map((p) => p.status), ['up-to-date', 'up-to-date', 'up-to-date', 'up-to-date'])
      assert.deepEqual((await checkConsistency(nip)).problems, [])
    })
    assert.deepEqual(readdirSync(path.dirname(root)), ['root'], 'nothing was written beside the root')
  })

  it('respects pins, and upgrades a named program with the programs it depends on', async () => {
    const root = await newRoot()
    serve('old')
    await withNip(root, (nip) => nip.install(['debian:uptool', 'pacman:nip-tool'], { yes: true } as never))
    await withNip(root, (nip) => nip.pin('nip-tool'))
    serve('new')
    await withNip(root, async (nip) => {
      await nip.update()
      const r = await nip.upgrade(['nip-tool'], {})
      assert.deepEqual(r.grafted, [])
      assert.deepEqual(r.held.map((h) => `${h.name} ${h.reason}`), ['nip-tool pinned'])
      const u = await nip.upgrade(['uptool'], {})
      assert.deepEqual(u.grafted.map((p) => `${p.name} ${p.version}`).sort(), ['uplib 1.1', 'upnew 1.0', 'uptool 1.1'])
      assert.deepEqual(current(nip), { uptool: '1.1 debian', uplib: '1.1 debian (dependency)', upnew: '1.0 debian (dependency)', 'nip-tool': '1.0-1 pacman' })
    })
    // Both sources answer from their local index (refreshed by nip update above): no request.
    const seen = mirror.requests.length
    await withNip(root, async (nip) => {
      assert.equal((await nip.info('pacman:nip-tool')).candidates[0]?.version, '2.0-1')
      assert.equal((await nip.info('debian:uptool')).candidates[0]?.version, '1.1')
      assert.deepEqual((await nip.outdated()).programs.filter((p) => p.status !== 'up-to-date').map((p) => `${p.name} ${p.status}`), ['nip-tool upgrade'])
    })
    assert.equal(mirror.requests.length, seen)
  })

  it('a downgrade needs --allow-downgrade: upgrade holds it, install refuses it', async () => {
    const root = await newRoot()
    serve('new')
    await withNip(root, (nip) => nip.install(['pacman:nip-tool'], { yes: true } as never))
    serve('old') // the repository now offers only 1.0-1
    await withNip(root, async (nip) => {
      assert.equal((await nip.update()).sources.find((s) => s.source === 'pacman')?.status, 'updated')
      const held = await nip.upgrade([], {})
      assert.deepEqual(held.grafted, [])
      assert.deepEqual(held.held.map((h) => `${h.name} ${h.reason} ${h.available}`), ['nip-tool downgrade 1.0-1'])
      assert.match(held.plan.warnings.join('\n'), /nip-tool 2\.0-1: its source offers only 1\.0-1, a lower version/)
      await assert.rejects(nip.install(['nip-tool'], {}), (e) => isNipError(e, 'ERR_NIP_CHANGE_REFUSED') && /nip-tool: Current would move from 2\.0-1 \(pacman\) to 1\.0-1 \(pacman\): a lower version/.test((e as Error).message))
      const dry = await nip.install(['nip-tool'], { dryRun: true })
      assert.equal(dry.plan.programs[0]!.change, 'downgrade')
      assert.match(dry.plan.warnings.join('\n'), /refused without being told to: nip-tool/)
      assert.deepEqual(current(nip), { 'nip-tool': '2.0-1 pacman' })
      const r = await nip.upgrade([], { allowDowngrade: true })
      assert.deepEqual(r.grafted.map((p) => `${p.name} ${p.version}`), ['nip-tool 1.0-1'])
      assert.deepEqual(current(nip), { 'nip-tool': '1.0-1 pacman' })
      assert.equal(nip.generations().at(-1)!.kind, 'upgrade')
    })
  })

  it('a change of source needs a source: spec, and the plan says where Current moves', async () => {
    const root = await newRoot()
    serve('new')
    await withNip(root, (nip) => nip.install(['debian:nip-tool'], { yes: true } as never))
    await withNip(root, async (nip) => {
      assert.deepEqual(current(nip), { 'nip-tool': '0.9 debian' })
      // pacman is asked first and has nip-tool 2.0-1: taking it would move Current to another source.
      await assert.rejects(
        nip.install(['nip-tool'], {}),
        (e) => isNipError(e, 'ERR_NIP_CHANGE_REFUSED') && /nip-tool: Current would move from 0\.9 \(debian\) to 2\.0-1 \(pacman\): another source \(debian → pacman\)/.test((e as Error).message) && /pacman:nip-tool/.test((e as { hint?: string }).hint ?? ''),
      )
      assert.deepEqual(current(nip), { 'nip-tool': '0.9 debian' })
      // Grafting beside Current is no move: allowed, and marked so.
      const beside = await nip.install(['nip-tool'], { dryRun: true, noSwitch: true })
      assert.deepEqual(beside.plan.programs.map((p) => [p.change, p.sourceChange, p.movesCurrent]), [['upgrade', true, false]])
      // nip upgrade stays with the program's own source: Debian has nothing newer.
      const stay = await nip.upgrade([], {})
      assert.deepEqual(stay.held.map((h) => `${h.name} ${h.reason}`), ['nip-tool up-to-date'])
      // Named: the source change is the user's, and the plan says it.
      const r = await nip.upgrade(['pacman:nip-tool'], {})
      assert.deepEqual(r.plan.programs.map((p) => `${p.name} ${p.change} from ${p.from?.version} ${p.from?.source}${p.sourceChange ? ' source-change' : ''}`), ['nip-tool upgrade from 0.9 debian source-change'])
      assert.match(r.plan.warnings.join('\n'), /nip-tool: Current moves from 0\.9 \(debian\) to 2\.0-1 \(pacman\) — from debian to pacman/)
      assert.deepEqual(current(nip), { 'nip-tool': '2.0-1 pacman' })
      // Debian's 0.9 is still grafted beside it: asking for it again grafts nothing and leaves Current alone.
      const again = await nip.install(['debian:nip-tool'], {})
      assert.deepEqual(again.skipped.map((s) => `${s.name} ${s.version}`), ['nip-tool 0.9'])
      assert.deepEqual(current(nip), { 'nip-tool': '2.0-1 pacman' })
    })
  })
})
