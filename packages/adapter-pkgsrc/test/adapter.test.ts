import { strict as assert } from 'node:assert'
import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs'
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { gzipSync } from 'node:zlib'
import * as openpgp from 'openpgp'
import { NipError } from '@nip/core'
import { checkConsistency, listTree, openNip, tempRoot } from '@nip/testing'
import { PkgsrcAdapter } from '../src/index.js'
import { buildPackage, summaryEntry, type FixturePackage } from './pkgBuilder.js'

const FIXTURES = new URL('./fixtures/', import.meta.url)

interface Repo {
  dir: string
  url: string
  server: Server
  requests: string[]
}

async function serve(dir: string): Promise<Repo> {
  const requests: string[] = []
  const server = createServer((req, res) => {
    requests.push(req.url!)
    const file = path.join(dir, decodeURIComponent(req.url!.split('?')[0]))
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-length': lstatSync(file).size }).end(readFileSync(file))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { dir, server, requests, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/All` }
}

async function writeRepo(dir: string, packages: FixturePackage[], built: Map<string, Buffer> = new Map()): Promise<void> {
  await mkdir(dir, { recursive: true })
  const blocks: string[] = []
  for (const p of packages) {
    const data = built.get(p.pkgname) ?? (await buildPackage(p))
    await writeFile(path.join(dir, `${p.pkgname}.tgz`), data)
    blocks.push(summaryEntry(p, data))
  }
  await writeFile(path.join(dir, 'pkg_summary.gz'), gzipSync(blocks.join('\n')))
}

const APP: FixturePackage = {
  pkgname: 'app-2.1nb3',
  depends: ['libfoo>=1.2<2', '{libbar,libbaz}-[0-9]*'],
  files: [
    { path: 'bin/app', content: '#!/bin/sh\necho app\n', mode: 0o755 },
    { path: 'bin/app-alias', symlink: 'app' },
    { path: 'etc/app.conf', content: 'level=1\n' },
    { path: 'man/man1/app.1', content: '.TH APP 1\n' },
    { path: 'share/examples/app/app.rc', content: 'rc=1\n' },
  ],
  install: '#!/bin/sh\n# FILE: etc/app.rc c share/examples/app/app.rc 0644\n',
}
const LIBS: FixturePackage[] = [
  { pkgname: 'libfoo-1.0', files: [{ path: 'lib/libfoo.so.1', content: 'foo 1.0' }] },
  { pkgname: 'libfoo-1.5nb1', files: [{ path: 'lib/libfoo.so.1', content: 'foo 1.5nb1' }] },
  { pkgname: 'libfoo-2.0', files: [{ path: 'lib/libfoo.so.2', content: 'foo 2.0' }] },
  { pkgname: 'libbaz-3.1', files: [{ path: 'lib/libbaz.so', content: 'baz' }] },
]

function pkgsrcSource(table: Record<string, unknown>) {
  return { sources: [{ id: 'pkgsrc', enabled: true, priority: 10, table }] }
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<NipError> {
  let caught: unknown
  await assert.rejects(p, (e: unknown) => {
    caught = e
    assert.ok(e instanceof NipError, `expected a NipError, got ${String(e)}`)
    assert.equal(e.code, code, e.message)
    assert.ok(e.hint)
    return true
  })
  return caught as NipError
}

describe('PkgsrcAdapter over a repository on 127.0.0.1', function () {
  this.timeout(60_000)
  let root: string
  let repo: Repo
  beforeEach(async () => {
    root = await tempRoot('nip-pkgsrc-')
    repo = await serve(path.join(root, 'srv'))
  })
  afterEach(async () => {
    await new Promise<void>((resolve) => repo.server.close(() => resolve()))
    await rm(root, { recursive: true, force: true })
  })

  it('nip update refreshes the summary (a result per repository); a fresh local summary is read without the network', async () => {
    await writeRepo(path.join(repo.dir, 'All'), [APP, ...LIBS])
    const r = path.join(root, 'r')
    const table = { repositories: [repo.url], 'machine-arch': 'x86_64' }
    {
      const { nip } = await openNip(r, [new PkgsrcAdapter()], pkgsrcSource(table))
      try {
        const u = await nip.update()
        assert.deepEqual(u.sources.map((s) => [s.source, s.status, s.parts?.map((p) => `${p.name} ${p.status} ${p.detail}`)]), [['pkgsrc', 'updated', [`${repo.url} updated 5 packages`]]])
      } finally {
        nip.close()
      }
    }
    const seen = repo.requests.length
    {
      const { nip } = await openNip(r, [new PkgsrcAdapter()], pkgsrcSource(table))
      try {
        assert.equal((await nip.info('app')).candidates[0]?.version, '2.1nb3')
        assert.equal(repo.requests.length, seen, 'the local summary answered')
      } finally {
        nip.close()
      }
    }
    // Gone: nip update fails for it, saying the cached summary stays in use; queries still answer.
    await new Promise<void>((resolve) => repo.server.close(() => resolve()))
    const { nip } = await openNip(r, [new PkgsrcAdapter()], pkgsrcSource({ ...table, timeout: 1, retries: 0 }))
    try {
      const u = await nip.update()
      assert.equal(u.ok, false)
      assert.deepEqual(u.sources[0]!.parts!.map((p) => p.status), ['failed'])
      assert.match(u.sources[0]!.parts![0]!.detail, /\(the cached pkg_summary\.gz stays in use\)$/)
      assert.equal((await nip.info('app')).candidates[0]?.version, '2.1nb3')
    } finally {
      nip.close()
    }
  })

  it('installs a dependency chain resolved through dewey and {a,b} patterns', async () => {
    await writeRepo(path.join(repo.dir, 'All'), [APP, ...LIBS])
    const { nip } = await openNip(path.join(root, 'r'), [new PkgsrcAdapter()], pkgsrcSource({ repositories: [repo.url], 'machine-arch': 'x86_64' }))
    try {
      const result = await nip.install(['app'])
      assert.deepEqual(result.grafted.map((g: { name: string; version: string }) => `${g.name}-${g.version}`).sort(), ['app-2.1nb3', 'libbaz-3.1', 'libfoo-1.5nb1'])
      // pkgin's compression order: .zst, .xz, .bz2 are asked for and missing, then .gz.
      assert.deepEqual(repo.requests.slice(0, 4), ['/All/pkg_summary.zst', '/All/pkg_summary.xz', '/All/pkg_summary.bz2', '/All/pkg_summary.gz'])
      const r = path.join(root, 'r')
      assert.equal(readFileSync(path.join(r, 'System/Links/Executables/app'), 'utf8'), '#!/bin/sh\necho app\n')
      assert.equal(readlinkSync(path.join(r, 'Programs/app/2.1nb3/bin/app-alias')), 'app')
      assert.equal(readFileSync(path.join(r, 'Programs/app/Settings/app.conf'), 'utf8'), 'level=1\n')
      // CONF_FILES from +INSTALL: the example becomes a configuration file.
      assert.equal(readFileSync(path.join(r, 'Programs/app/Settings/app.rc'), 'utf8'), 'rc=1\n')
      assert.ok(existsSync(path.join(r, 'System/Links/Manuals/man1/app.1')))
      assert.equal(readFileSync(path.join(r, 'Programs/libfoo/Current/lib/libfoo.so.1'), 'utf8'), 'foo 1.5nb1')
      assert.deepEqual((await checkConsistency(nip)).problems, [])
    } finally {
      nip.close()
    }
  })

  it('keeps a user-edited configuration file on reinstall (CONF_FILES)', async () => {
    await writeRepo(path.join(repo.dir, 'All'), [APP, ...LIBS])
    const r = path.join(root, 'r')
    const { nip } = await openNip(r, [new PkgsrcAdapter()], pkgsrcSource({ repositories: [repo.url], 'machine-arch': 'x86_64' }))
    try {
      await nip.install(['app'])
      await writeFile(path.join(r, 'Programs/app/Settings/app.conf'), 'level=9\n')
      await nip.install(['app'], { reinstall: true })
      assert.equal(readFileSync(path.join(r, 'Programs/app/Settings/app.conf'), 'utf8'), 'level=9\n')
    } finally {
      nip.close()
    }
  })

  it('refuses a package whose CONFLICTS match a grafted program', async () => {
    const other: FixturePackage = { pkgname: 'app-ng-1.0', conflicts: ['app-[0-9]*'], files: [{ path: 'bin/app-ng', content: 'ng' }] }
    await writeRepo(path.join(repo.dir, 'All'), [APP, ...LIBS, other])
    const r = path.join(root, 'r')
    const { nip } = await openNip(r, [new PkgsrcAdapter()], pkgsrcSource({ repositories: [repo.url], 'machine-arch': 'x86_64' }))
    try {
      await nip.install(['app'])
      const e = await rejectsWith(nip.install(['app-ng']), 'ERR_NIP_PACKAGE_CONFLICT')
      assert.deepEqual(e.data, { package: 'app-ng-1.0', grafted: 'app-2.1nb3', pattern: 'app-[0-9]*' })
      assert.equal(existsSync(path.join(r, 'Programs/app-ng')), false)
      assert.deepEqual((await checkConsistency(nip)).problems, [])
    } finally {
      nip.close()
    }
  })

  it('refuses a package whose file does not match its MD5, grafting nothing', async () => {
    const bad: FixturePackage = { pkgname: 'corrupt-1.0', files: [{ path: 'bin/ok', content: 'ok' }, { path: 'bin/bad', content: 'evil' }], wrongMd5For: 'bin/bad' }
    await writeRepo(path.join(repo.dir, 'All'), [bad])
    const r = path.join(root, 'r')
    const { nip } = await openNip(r, [new PkgsrcAdapter()], pkgsrcSource({ repositories: [repo.url], 'machine-arch': 'x86_64' }))
    try {
      const e = await rejectsWith(nip.install(['corrupt']), 'ERR_NIP_HASH_MISMATCH')
      assert.equal(e.data.entry, 'bin/bad')
      assert.equal(e.data.expected, createHash('md5').update('something else').digest('hex'))
      assert.equal(existsSync(path.join(r, 'Programs/corrupt')), false)
      assert.deepEqual(nip.list(), [])
    } finally {
      nip.close()
    }
  })

  it('refuses an unsigned package when signatures are required, and verifies signed ones', async () => {
    const plain: FixturePackage = { pkgname: 'tool-1.0', files: [{ path: 'bin/tool', content: 'tool', mode: 0o755 }] }
    const data = await buildPackage(plain)
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name: 'pkgsrc test', email: 'test@example.org' }], format: 'armored' })
    const other = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name: 'mallory' }], format: 'armored' })
    await writeFile(path.join(root, 'keys.asc'), publicKey)
    const dir = path.join(repo.dir, 'All')
    await writeRepo(dir, [plain])
    const r = path.join(root, 'r')
    const table = { repositories: [repo.url], 'machine-arch': 'x86_64', 'verified-installation': 'always', 'gpg-keyring': path.join(root, 'keys.asc') }
    {
      const { nip } = await openNip(r, [new PkgsrcAdapter()], pkgsrcSource(table))
      try {
        await rejectsWith(nip.install(['tool']), 'ERR_NIP_SIGNATURE_MISSING')
        assert.deepEqual(nip.list(), [])
      } finally {
        nip.close()
      }
    }
    // Signed by a key that is not in the keyring.
    await writeRepo(dir, [plain], new Map([['tool-1.0', await signPackage(data, 'tool-1.0', other.privateKey)]]))
    {
      const { nip } = await openNip(r, [new PkgsrcAdapter()], pkgsrcSource(table))
      try {
        await nip.update() // the repository changed: refresh the local index
        const e = await assert.rejects(nip.install(['tool']), (err: unknown) => err instanceof NipError && ['ERR_NIP_KEY_UNKNOWN', 'ERR_NIP_SIGNATURE_INVALID'].includes(err.code))
        void e
        assert.deepEqual(nip.list(), [])
      } finally {
        nip.close()
      }
    }
    // Signed properly, then tampered with after signing.
    const signed = await signPackage(data, 'tool-1.0', privateKey)
    const tampered = Buffer.from(signed)
    tampered[tampered.length - 20] ^= 0xff
    await writeRepo(dir, [plain], new Map([['tool-1.0', tampered]]))
    {
      const { nip } = await openNip(r, [new PkgsrcAdapter()], pkgsrcSource(table))
      try {
        await nip.update() // the repository changed: refresh the local index
        await rejectsWith(nip.install(['tool']), 'ERR_NIP_HASH_MISMATCH')
        assert.deepEqual(nip.list(), [])
      } finally {
        nip.close()
      }
    }
    await writeRepo(dir, [plain], new Map([['tool-1.0', signed]]))
    {
      const { nip } = await openNip(r, [new PkgsrcAdapter()], pkgsrcSource(table))
      try {
        await nip.update() // the repository changed: refresh the local index
        await nip.install(['tool'])
        assert.equal(readFileSync(path.join(r, 'System/Links/Executables/tool'), 'utf8'), 'tool')
      } finally {
        nip.close()
      }
    }
  })

  it('refuses misordered metadata, an entry not in the packing list, and a missing file', async () => {
    const base: FixturePackage = { pkgname: 'shape-1.0', files: [{ path: 'bin/a', content: 'a' }, { path: 'bin/b', content: 'b' }] }
    const cases: Array<[string, FixturePackage, RegExp]> = [
      ['misordered', { ...base, mutate: (e) => [e[1], e[0], ...e.slice(2)] }, /start with \+CONTENTS|misordered/],
      ['extra', { ...base, mutate: (e) => [...e, { path: 'bin/hidden', content: 'x' }] }, /not in its packing list/],
      ['swapped', { ...base, mutate: (e) => [...e.slice(0, -2), e[e.length - 1], e[e.length - 2]] }, /don't match/],
      ['missing', { ...base, mutate: (e) => e.slice(0, -1) }, /lacks 1 file/],
      ['duplicate', { ...base, mutate: (e) => [e[0], e[1], e[1], ...e.slice(2)] }, /duplicate entry/],
    ]
    for (const [label, p, message] of cases) {
      const file = path.join(root, `${label}`, 'shape-1.0.tgz')
      await mkdir(path.dirname(file), { recursive: true })
      await writeFile(file, await buildPackage(p))
      const r = path.join(root, `r-${label}`)
      const { nip } = await openNip(r, [new PkgsrcAdapter()], pkgsrcSource({ 'machine-arch': 'x86_64' }))
      try {
        const e = await rejectsWith(nip.install([file]), 'ERR_NIP_BAD_PACKAGE')
        assert.match(e.message, message, label)
        assert.deepEqual(nip.list(), [], label)
      } finally {
        nip.close()
      }
    }
  })

  it('reads a file:// repository and searches and describes it', async () => {
    const dir = path.join(root, 'local', 'All')
    await writeRepo(dir, [APP, ...LIBS])
    const adapter = new PkgsrcAdapter()
    const { nip } = await openNip(path.join(root, 'r'), [adapter], pkgsrcSource({ repositories: [pathToFileURL(dir).href], 'machine-arch': 'x86_64' }))
    try {
      const hits = await nip.search('libfoo')
      assert.deepEqual(hits.map((h) => `${h.ref.name}-${h.ref.version}`), ['libfoo-2.0'])
      const info = await nip.info('app')
      assert.equal(JSON.stringify(info).includes('libfoo>=1.2<2'), true)
      const plan = await nip.install(['app'], { dryRun: true })
      assert.deepEqual(plan.plan.programs.map((p) => `${p.name}-${p.version}`).sort(), ['app-2.1nb3', 'libbaz-3.1', 'libfoo-1.5nb1'])
      assert.equal(existsSync(path.join(root, 'r', 'Programs')), false)
    } finally {
      nip.close()
    }
  })

  it('installs the real ghostscript-9.05nb27.tgz meta-package with its dependency from the repository', async () => {
    const agpl: FixturePackage = { pkgname: 'ghostscript-agpl-9.55.0nb2', files: [{ path: 'bin/gs', content: 'gs', mode: 0o755 }] }
    await writeRepo(path.join(repo.dir, 'All'), [agpl])
    const file = path.join(root, 'ghostscript-9.05nb27.tgz')
    await copyFile(new URL('ghostscript-9.05nb27.tgz', FIXTURES), file)
    const r = path.join(root, 'r')
    const { nip } = await openNip(r, [new PkgsrcAdapter()], pkgsrcSource({ repositories: [repo.url], 'machine-arch': 'x86_64' }))
    try {
      const result = await nip.install([file])
      assert.deepEqual(result.grafted.map((g: { name: string; version: string }) => `${g.name}-${g.version}`).sort(), ['ghostscript-9.05nb27', 'ghostscript-agpl-9.55.0nb2'])
      assert.deepEqual(listTree(path.join(r, 'Programs/ghostscript/9.05nb27')), [])
      assert.deepEqual((await checkConsistency(nip)).problems, [])
    } finally {
      nip.close()
    }
  })
})

/** pkg_sign's layout: ar(+PKG_HASH, +PKG_GPG_SIGNATURE, <pkgname>.tgz). */
async function signPackage(data: Buffer, pkgname: string, armoredKey: string, blockSize = 65536): Promise<Buffer> {
  const blocks: string[] = []
  for (let off = 0; off < data.length; off += blockSize) blocks.push(createHash('sha512').update(data.subarray(off, off + blockSize)).digest('hex'))
  const hash = `pkgsrc signature\n\nversion: 1\npkgname: ${pkgname}\nalgorithm: SHA512\nblock size: ${blockSize}\nfile size: ${data.length}\n\n${blocks.join('\n')}\nend pkgsrc signature\n`
  const privateKey = await openpgp.readPrivateKey({ armoredKey })
  const signature = await openpgp.sign({ message: await openpgp.createMessage({ binary: Buffer.from(hash) }), signingKeys: privateKey, detached: true, format: 'binary' })
  return ar([
    ['+PKG_HASH', Buffer.from(hash)],
    ['+PKG_GPG_SIGNATURE', Buffer.from(signature as Uint8Array)],
    [`${pkgname}.tgz`, data],
  ])
}

function ar(members: Array<[string, Buffer]>): Buffer {
  const parts: Buffer[] = [Buffer.from('!<arch>\n')]
  for (const [name, content] of members) {
    // BSD long names (libarchive's ar_bsd writer, which pkg_sign uses): "#1/<len>", name first.
    const data = Buffer.concat([Buffer.from(name), content])
    const header = `${`#1/${name.length}`.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${String(data.length).padEnd(10)}\`\n`
    parts.push(Buffer.from(header, 'latin1'), data)
    if (data.length % 2) parts.push(Buffer.from('\n'))
  }
  return Buffer.concat(parts)
}

