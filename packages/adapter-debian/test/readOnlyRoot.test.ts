/**
 * A user who may read a root but not write it (a plain user on a root-owned root) asks the
 * Debian source: its local index database cannot be kept in the root's state directory, so it
 * is built in memory for the command, and info, search and a dry run answer as they do for root.
 * The reader runs as nobody (setpriv); the test skips, saying why, when that is not possible.
 */
import { strict as assert } from 'node:assert'
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildDeb, hasTool, killAgent, makeGpgKey, packagesStanza, serve, writeSuite, type DebSpec, type GpgKey } from './debRepository.js'

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../cli/bin/run.js')
const TOOL: DebSpec = { name: 'rotool', version: '1.0', files: { 'usr/bin/rotool': '#!/bin/sh\necho ro\n' } }

/** Runs a command without blocking this process (the repository is served from it). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

describe('debian: a reader without write access to the root', function () {
  this.timeout(120000)
  let dir: string
  let key: GpgKey
  let server: Awaited<ReturnType<typeof serve>>
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p))

  before(async function () {
    for (const tool of ['dpkg-deb', 'gpg', 'xz']) {
      if (!hasTool(tool)) {
        console.log(`  (skipped: ${tool} not installed)`)
        this.skip()
      }
    }
    if (process.getuid?.() !== 0 || setpriv === undefined) {
      console.log(`  (skipped: ${setpriv === undefined ? 'setpriv not installed' : 'needs root to run the reader as nobody'})`)
      this.skip()
    }
    dir = mkdtempSync(path.join(os.tmpdir(), 'nip-debian-ro-'))
    const repo = path.join(dir, 'repo')
    key = makeGpgKey(dir)
    writeSuite(repo, { suite: 'stable', stanzas: [packagesStanza(repo, TOOL, buildDeb(dir, TOOL))], key })
    server = await serve(repo)
  })

  after(async () => {
    await server?.close()
    if (key) killAgent(key)
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('info, search and a dry run answer from an index built in memory; nothing is written', async function () {
    const root = path.join(dir, 'root')
    mkdirSync(path.join(root, 'etc/nip'), { recursive: true })
    const others = ['nix', 'pkgsrc', 'pacman', 'gentoo', 'gobo', 'build'].map((s) => `[${s}]\nenabled = false\n`).join('')
    writeFileSync(
      path.join(root, 'etc/nip/nip.conf'),
      `[debian]\nhost-sources = false\nsources = [{ uri = ${JSON.stringify(server.url)}, suite = "stable", components = ["main"], signed-by = ${JSON.stringify(key.keyring)} }]\narchitecture = "amd64"\n${others}`,
    )
    const installed = await run(process.execPath, [BIN, 'install', 'rotool', '--yes', '--root', root], { ...process.env, HOME: dir })
    assert.equal(installed.status, 0, installed.stderr)
    // Readable by others, as a root-owned root is: the way down, the keyring, the state.
    chmodSync(dir, 0o755)
    chmodSync(key.home, 0o755)
    const home = mkdtempSync(path.join(os.tmpdir(), 'nip-debian-ro-home-'))
    chmodSync(home, 0o777)
    const asNobody = (...args: string[]) => run(setpriv!, ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args, '--root', root], { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home })
    try {
      const probe = await asNobody('--version')
      if (probe.status !== 0) {
        console.log(`      (skipped: nobody cannot run nip from this checkout: ${probe.stderr.trim().split('\n')[0]})`)
        this.skip()
      }
      const state = () => readdirSync(path.join(root, 'var/nip'), { recursive: true }).map(String).sort()
      const before = state()
      const info = await asNobody('info', 'rotool', '--json')
      assert.equal(info.status, 0, info.stderr)
      assert.equal(JSON.parse(info.stdout).result.candidates[0].version, '1.0')
      const search = await asNobody('search', 'rotoo', '--json')
      assert.equal(search.status, 0, search.stderr)
      assert.deepEqual(JSON.parse(search.stdout).result.map((h: { ref: { name: string } }) => h.ref.name), ['rotool'])
      const dry = await asNobody('install', 'rotool', '--reinstall', '--dry-run', '--json')
      assert.equal(dry.status, 0, dry.stderr)
      assert.deepEqual(state(), before)
    } finally {
      rmSync(home, { recursive: true, force: true })
    }
  })
})
