import { strict as assert } from 'node:assert'
import { spawnSync } from 'node:child_process'
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Cas } from '@nip/cas'
import { DEFAULT_LIMITS, Layout, RecordingReporter } from '@nip/core'
import { buildTar, type FixtureEntry } from '@nip/testing'
import { GoboAdapter } from '../src/index.js'

/** The bundled demo programs (demo/<Name>/<Version>/), which scripts/demo.mjs packs. */
const demoDir = fileURLToPath(new URL('../../../demo/', import.meta.url))

async function entriesOf(name: string, version: string): Promise<FixtureEntry[]> {
  const out: FixtureEntry[] = [{ path: `${name}/`, type: 'dir' }, { path: `${name}/${version}/`, type: 'dir' }]
  const walk = async (rel: string): Promise<void> => {
    for (const child of (await readdir(path.join(demoDir, name, version, rel))).sort()) {
      const r = rel ? `${rel}/${child}` : child
      const abs = path.join(demoDir, name, version, r)
      if ((await stat(abs)).isDirectory()) {
        out.push({ path: `${name}/${version}/${r}/`, type: 'dir' })
        await walk(r)
      } else {
        out.push({ path: `${name}/${version}/${r}`, content: await readFile(abs), mode: r.startsWith('bin/') ? 0o755 : 0o644 })
      }
    }
  }
  await walk('')
  return out
}

describe('the bundled demo', () => {
  let root: string
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'nip-gobo-demo-'))
  })
  afterEach(async () => {
    await rm(root, { recursive: true, force: true })
  })

  it('packs into Gobo packages whose dependencies and settings nip reads', async () => {
    const repo = path.join(root, 'repo')
    await mkdir(repo)
    for (const [name, version] of [
      ['Hello', '1.0'],
      ['Hello', '2.0'],
      ['HelloData', '1.0'],
    ]) {
      await writeFile(path.join(repo, `${name}--${version}--noarch.tar.gz`), await buildTar(await entriesOf(name, version), { compression: 'gzip' }))
    }
    const layout = new Layout({ root, programsDir: 'Programs', linksDir: 'System/Links', settingsDir: 'System/Settings', stateDir: 'var/nip', casDir: 'var/nip/cas', cacheDir: 'var/nip/cache', logDir: 'var/log/nip' })
    const cas = new Cas(layout.casDir)
    await cas.init()
    const ctx = { layout, cas, reporter: new RecordingReporter(), config: { repositories: ['repo'] }, cacheDir: layout.adapterCacheDir('gobo'), limits: DEFAULT_LIMITS }
    const adapter = new GoboAdapter()
    const [best] = await adapter.resolve({ name: 'hello', raw: 'hello' }, ctx)
    assert.deepEqual([best.name, best.version], ['Hello', '2.0'])
    const manifest = await adapter.describe(best, ctx)
    assert.deepEqual(manifest.dependencies, [{ name: 'HelloData', constraint: '>= 1.0', raw: 'HelloData >= 1.0' }])
    assert.equal(manifest.ref.summary, 'Prints a friendly greeting.')
    const [data] = await adapter.resolve({ name: 'HelloData', raw: 'HelloData' }, ctx)
    assert.equal(adapter.satisfies(manifest.dependencies[0], data.version), true)
    const fetched = await adapter.fetch(best, ctx)
    assert.deepEqual(
      fetched.entries.filter((e) => e.type !== 'dir').map((e) => [e.path, e.mode, e.settings ?? false]),
      [
        ['Resources/Dependencies', 0o644, false],
        ['Resources/Description', 0o644, false],
        ['Settings/hello.conf', 0o644, true],
        ['bin/hello', 0o755, false],
        ['share/hello/message.txt', 0o644, false],
      ],
    )
  })

  it('hello prints the HelloData greeting when run through the link farm', async function () {
    const programs = path.join(root, 'Programs')
    await cp(path.join(demoDir, 'Hello', '2.0'), path.join(programs, 'Hello', '2.0'), { recursive: true })
    await cp(path.join(demoDir, 'HelloData', '1.0'), path.join(programs, 'HelloData', '1.0'), { recursive: true })
    await symlink('2.0', path.join(programs, 'Hello', 'Current'))
    await mkdir(path.join(programs, 'Hello', 'Settings'))
    await writeFile(path.join(programs, 'Hello', 'Settings', 'hello.conf'), 'name = Gobo\n')
    await mkdir(path.join(root, 'System', 'Links', 'Executables'), { recursive: true })
    await mkdir(path.join(root, 'System', 'Links', 'Shared'), { recursive: true })
    await symlink('../../../Programs/Hello/Current/bin/hello', path.join(root, 'System', 'Links', 'Executables', 'hello'))
    await symlink('../../../Programs/HelloData/1.0/share/hello-data', path.join(root, 'System', 'Links', 'Shared', 'hello-data'))
    const exe = path.join(root, 'System', 'Links', 'Executables', 'hello')
    const r = spawnSync('sh', [exe], { encoding: 'utf8', cwd: os.tmpdir() })
    assert.deepEqual([r.status, r.stdout, r.stderr], [0, 'Hello, Gobo! This is Hello 2.0.\n', ''])
    await rm(path.join(root, 'System', 'Links', 'Shared', 'hello-data'))
    const missing = spawnSync('sh', [exe], { encoding: 'utf8', cwd: os.tmpdir() })
    assert.equal(missing.status, 1)
    assert.match(missing.stderr, /HelloData is not installed/)
  })
})
