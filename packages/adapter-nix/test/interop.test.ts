/**
 * Interop with the real Nix (nix-bin): fixtures are built with nix-build in a chroot store,
 * published with `nix copy` to signed file:// binary caches (xz and zstd), served on 127.0.0.1,
 * and grafted by nip. Skips itself when Nix is not installed.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { isNipError } from '@nip/core'
import { compareVersions as compareVersionsOf } from '../src/index.js'
import { openNip, checkConsistency } from '@nip/testing'
import { checkElfTree, readElf, createAdapter, dumpPath, narDumpOptions, narHashOfProgram, NixAdapter, parseNarInfo, parseStorePath, programNameOf, readProgramRecord } from '../src/index.js'

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0

describe('interop with the real Nix', function () {
  this.timeout(120000)
  let work = ''
  let env: NodeJS.ProcessEnv = {}
  let store = ''
  let server: http.Server | undefined
  let base = ''
  let pk = ''
  const paths: Record<string, string> = {}
  let withElf = false
  const roots: string[] = []

  const nix = (cmd: string, args: string[], input?: Buffer) => execFileSync(cmd, args, { env, cwd: work, input, maxBuffer: 1 << 28, stdio: ['pipe', 'pipe', 'pipe'] })
  const storeArg = () => `local?root=${store}`

  before(function () {
    if (!has('nix-build') || !has('nix-store') || !has('nix')) {
      console.log('  (skipped: nix-bin not installed)')
      this.skip()
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'nipnix-'))
    store = path.join(work, 'store')
    fs.mkdirSync(path.join(work, 'conf'))
    fs.writeFileSync(path.join(work, 'conf', 'nix.conf'), 'build-users-group =\nsandbox = false\nexperimental-features = nix-command\nsubstituters =\n')
    env = { PATH: process.env.PATH, HOME: work, NIX_CONF_DIR: path.join(work, 'conf'), XDG_CACHE_HOME: path.join(work, 'cache') }
    fs.mkdirSync(path.join(work, 'bbdir'))
    fs.copyFileSync(fs.realpathSync(execFileSync('sh', ['-c', 'command -v busybox']).toString().trim()), path.join(work, 'bbdir', 'busybox'))
    fs.chmodSync(path.join(work, 'bbdir', 'busybox'), 0o755)
    const bb = `bbd = builtins.path { path = ./bbdir; name = "bb"; }; bb = "\${bbd}/busybox";`
    fs.writeFileSync(
      path.join(work, 'hello.nix'),
      `let ${bb}
  data = derivation { name = "greeting-data-1.0"; system = builtins.currentSystem; builder = bb; args = ["sh" "-c" "\${bb} mkdir -p $out/share && echo 'hello from data' > $out/share/greeting.txt"]; };
in derivation { name = "hello-2.12"; system = builtins.currentSystem; builder = bb; args = ["sh" "-c" "\${bb} mkdir -p $out/bin && printf '#!\${bb} sh\\\\n\${bb} cat \${data}/share/greeting.txt\\\\n' > $out/bin/hello && \${bb} chmod +x $out/bin/hello && \${bb} ln -s \${data}/share/greeting.txt $out/greeting"]; }\n`,
    )
    paths.hello = nix('nix-build', ['--store', storeArg(), 'hello.nix', '--no-out-link']).toString().trim()
    // One closure holding two store paths that map to one program name (synth 0-1.0 and synth 1-1.1).
    const synth = (name: string, text: string) =>
      `derivation { name = "${name}"; system = builtins.currentSystem; builder = bb; args = ["sh" "-c" "\${bb} mkdir -p $out/share && echo '${text}' > $out/share/synth.txt"]; }`
    fs.writeFileSync(
      path.join(work, 'synth.nix'),
      `let ${bb}
  s0 = ${synth('synth-0-1.0', 'synth zero')};
  s1 = ${synth('synth-1-1.1', 'synth one')};
in derivation { name = "synthapp-1.0"; system = builtins.currentSystem; builder = bb; args = ["sh" "-c" "\${bb} mkdir -p $out/bin && printf '#!\${bb} sh\\\\n\${bb} cat \${s0}/share/synth.txt \${s1}/share/synth.txt\\\\n' > $out/bin/synthapp && \${bb} chmod +x $out/bin/synthapp"]; }\n`,
    )
    paths.synthapp = nix('nix-build', ['--store', storeArg(), 'synth.nix', '--no-out-link']).toString().trim()
    const toCopy = [paths.hello, paths.synthapp]
    const ld = ['/lib64/ld-linux-x86-64.so.2', '/lib/x86_64-linux-gnu/libc.so.6']
    withElf = has('gcc') && ld.every((f) => fs.existsSync(f))
    if (withElf) {
      fs.mkdirSync(path.join(work, 'glibc-2.36', 'lib'), { recursive: true })
      for (const f of ld) fs.copyFileSync(fs.realpathSync(f), path.join(work, 'glibc-2.36', 'lib', path.basename(f)))
      const glibc = nix('nix-store', ['--store', storeArg(), '--add', './glibc-2.36']).toString().trim()
      fs.mkdirSync(path.join(work, 'elfsrc'))
      fs.writeFileSync(path.join(work, 't.c'), '#include <stdio.h>\nint main(void){puts("elf ok");return 0;}\n')
      execFileSync('gcc', ['-o', path.join(work, 'elfsrc', 'tool'), `-Wl,--dynamic-linker=${glibc}/lib/ld-linux-x86-64.so.2`, `-Wl,-rpath,${glibc}/lib`, path.join(work, 't.c')])
      fs.writeFileSync(
        path.join(work, 'tool.nix'),
        `let ${bb}
  glibc = builtins.path { path = ./glibc-2.36; name = "glibc-2.36"; };
  src = builtins.path { path = ./elfsrc; name = "tool-src"; };
in derivation { name = "tool-1.0"; system = builtins.currentSystem; builder = bb; inherit glibc; args = ["sh" "-c" "\${bb} mkdir -p $out/bin && \${bb} cp \${src}/tool $out/bin/tool && \${bb} chmod 555 $out/bin/tool"]; }\n`,
      )
      paths.tool = nix('nix-build', ['--store', storeArg(), 'tool.nix', '--no-out-link']).toString().trim()
      toCopy.push(paths.tool)
    } else console.log('  (ELF relocation part skipped: gcc or the host glibc not found)')
    nix('nix-store', ['--generate-binary-cache-key', 'nip-test-1', path.join(work, 'sk'), path.join(work, 'pk')])
    pk = fs.readFileSync(path.join(work, 'pk'), 'utf8').trim()
    nix('nix', ['copy', '--store', storeArg(), '--to', `file://${work}/bc?secret-key=${work}/sk&compression=xz`, ...toCopy])
    nix('nix', ['copy', '--store', storeArg(), '--to', `file://${work}/bcz?secret-key=${work}/sk&compression=zstd`, ...toCopy])
  })

  before(async function () {
    if (!work) return
    server = http.createServer((req, res) => {
      const file = path.join(work, decodeURIComponent((req.url ?? '/').split('?')[0]))
      if (!file.startsWith(work + '/') || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
        res.statusCode = 404
        res.end()
        return
      }
      res.end(fs.readFileSync(file))
    })
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  })

  after(async () => {
    if (server) await new Promise<void>((r) => server!.close(() => r()))
    for (const r of roots) fs.rmSync(r, { recursive: true, force: true })
    if (work) {
      spawnSync('chmod', ['-R', 'u+w', work])
      fs.rmSync(work, { recursive: true, force: true })
    }
  })

  /** A short root, so same-length relocation fits (see docs/nix.md). */
  const newRoot = () => {
    const r = fs.mkdtempSync('/tmp/nr-')
    roots.push(r)
    return r
  }
  const table = (cache: string, extra: Record<string, unknown> = {}) => ({ substituters: [cache], 'trusted-public-keys': [pk], channel: '', ...extra })
  const open = (root: string, t: Record<string, unknown>) => openNip(root, [createAdapter()], { sources: [{ id: 'nix', enabled: true, priority: 10, table: t }] })

  for (const [label, dir] of [['xz over HTTP', 'bc'], ['zstd over file://', 'bcz']] as const) {
    it(`grafts a closure (${label}): files equal nix-store --restore after relocation is undone, and programs run from the link farm`, async () => {
      const cache = dir === 'bc' ? `${base}/bc` : `file://${work}/bcz`
      const root = newRoot()
      const { nip } = await open(root, table(cache))
      const specs = [`nix:${paths.hello}`, ...(withElf ? [`nix:${paths.tool}`] : [])]
      await nip.install(specs, {})
      const closure = new Map<string, string>()
      for (const top of specs) {
        for (const sp of nix('nix-store', ['--store', storeArg(), '-qR', top.slice(4)]).toString().trim().split('\n')) {
          const n = programNameOf(parseStorePath(sp)!)
          closure.set(`${n.name} ${n.version}`, sp)
        }
      }
      assert.deepEqual(nip.list().map((p) => `${p.name} ${p.version}`).sort(), [...closure.keys()].sort())
      assert.ok(closure.has('hello 2.12') && closure.has('greeting-data 1.0'))
      // The store copies are not on this host: the grafted programs run from /System/Links.
      const out = execFileSync(path.join(root, 'System/Links/Executables/hello'), { env: { PATH: '/nonexistent' } }).toString()
      assert.equal(out, 'hello from data\n')
      if (withElf) {
        assert.equal(execFileSync(path.join(root, 'System/Links/Executables/tool'), { env: {} }).toString(), 'elf ok\n')
        const elf = await readElf(path.join(root, 'Programs/tool/1.0/bin/tool'))
        assert.match(elf!.interpreter!, new RegExp(`^${root}/Programs/+glibc/2\\.36/lib/ld-linux-x86-64\\.so\\.2$`))
        assert.deepEqual(elf!.needed, ['libc.so.6'])
        assert.match(elf!.runpath[0], new RegExp(`^${root}/Programs/+glibc/2\\.36/lib$`))
        const { checked, problems } = await checkElfTree(path.join(root, 'Programs/tool/1.0'))
        assert.equal(checked, 1)
        assert.deepEqual(problems, [])
        // With its glibc gone, the check names what no longer resolves.
        fs.renameSync(path.join(root, 'Programs/glibc/2.36/lib'), path.join(root, 'Programs/glibc/2.36/lib.away'))
        assert.deepEqual(await new NixAdapter().checkProgram(path.join(root, 'Programs/tool/1.0')), [
          `bin/tool: interpreter ${elf!.interpreter} does not resolve`,
          'bin/tool: library libc.so.6 does not resolve',
        ])
        fs.renameSync(path.join(root, 'Programs/glibc/2.36/lib.away'), path.join(root, 'Programs/glibc/2.36/lib'))
      }
      // Every grafted program's NAR, with relocation undone, is byte-identical to nix-store --dump.
      const adapter = new NixAdapter()
      for (const p of nip.list()) {
        const storePath = closure.get(`${p.name} ${p.version}`)
        assert.ok(storePath, `store path of ${p.name}`)
        const ref = { source: 'nix', name: p.name, version: p.version, id: storePath! }
        const ctx = nip.dispatcher.context('nix')
        const { relocation } = await adapter.relocationOf(ref, ctx)
        const versionDir = path.join(root, 'Programs', p.name, p.version)
        const record = await readProgramRecord(versionDir)
        const dumped = Buffer.concat(await collect(dumpPath(versionDir, narDumpOptions(record, relocation))))
        const original = nix('nix-store', ['--dump', path.join(store, storePath!)])
        assert.ok(dumped.equals(original), `NAR of grafted ${p.name} equals nix-store --dump`)
        const info = parseNarInfo(fs.readFileSync(path.join(work, dir, `${parseStorePath(storePath!)!.hashPart}.narinfo`), 'utf8'))
        assert.ok((await narHashOfProgram(versionDir, relocation)).digest.equals(info.narHash.digest))
      }
      // Files without store references are byte-identical to what nix-store --restore unpacks.
      const restored = path.join(work, `restored-${dir}`)
      nix('nix-store', ['--restore', restored], nix('nix-store', ['--dump', path.join(store, closure.get('greeting-data 1.0')!)]))
      assert.equal(fs.readFileSync(path.join(restored, 'share/greeting.txt'), 'utf8'), fs.readFileSync(path.join(root, 'Programs/greeting-data/1.0/share/greeting.txt'), 'utf8'))
      // hello's link into greeting-data was replaced by the file it points at.
      assert.equal(fs.readFileSync(path.join(root, 'Programs/hello/2.12/greeting'), 'utf8'), 'hello from data\n')
      const report = await checkConsistency(nip)
      assert.deepEqual(report.problems, [])
      nip.close()
    })
  }

  const refusal = async (t: Record<string, unknown>, mutate: (cacheDir: string) => void, code: string) => {
    const copy = path.join(work, `bad-${code}-${Math.random().toString(36).slice(2)}`)
    fs.cpSync(path.join(work, 'bc'), copy, { recursive: true })
    mutate(copy)
    const root = newRoot()
    const { nip } = await open(root, { ...table(`file://${copy}`), ...t })
    await assert.rejects(nip.install([`nix:${paths.hello}`], {}), (e: unknown) => {
      assert.ok(isNipError(e), String(e))
      assert.equal(e.code, code, e.message)
      return true
    })
    assert.deepEqual(nip.list(), [])
    assert.deepEqual(fs.existsSync(path.join(root, 'Programs')) ? fs.readdirSync(path.join(root, 'Programs')) : [], [])
    nip.close()
  }
  const helloInfo = (dir: string) => path.join(dir, `${parseStorePath(paths.hello)!.hashPart}.narinfo`)

  it('refuses a tampered narinfo (ERR_NIP_SIGNATURE_INVALID)', () =>
    refusal({}, (d) => fs.writeFileSync(helloInfo(d), fs.readFileSync(helloInfo(d), 'utf8').replace(/NarSize: (\d+)/, (_m, n) => `NarSize: ${Number(n) + 8}`)), 'ERR_NIP_SIGNATURE_INVALID'))
  it('refuses a tampered NAR (ERR_NIP_HASH_MISMATCH)', () =>
    refusal({}, (d) => {
      const url = /URL: (.*)/.exec(fs.readFileSync(helloInfo(d), 'utf8'))![1]
      const f = path.join(d, url)
      const b = fs.readFileSync(f)
      b[b.length - 20] ^= 1
      fs.writeFileSync(f, b)
    }, 'ERR_NIP_HASH_MISMATCH'))
  it('refuses a path signed by a key that is not trusted, naming it (ERR_NIP_KEY_UNKNOWN)', () =>
    refusal({ 'trusted-public-keys': ['other-1:rAWTx0noOtf7tqHO5iDnsH7gGNVdQYl99oaJk2gydic='] }, () => {}, 'ERR_NIP_KEY_UNKNOWN'))
  it('refuses an unsigned path (ERR_NIP_SIGNATURE_MISSING)', () =>
    refusal({}, (d) => fs.writeFileSync(helloInfo(d), fs.readFileSync(helloInfo(d), 'utf8').replace(/^Sig: .*\n/gm, '')), 'ERR_NIP_SIGNATURE_MISSING'))

  it('names come from a channel\'s store-paths.xz: install hello, hello@2.12, search', async function () {
    if (!has('xz')) {
      console.log('  (skipped: xz not installed)')
      this.skip()
    }
    const chan = path.join(work, 'channel')
    fs.mkdirSync(chan, { recursive: true })
    const list = nix('nix-store', ['--store', storeArg(), '-qR', paths.hello]).toString()
    fs.writeFileSync(path.join(chan, 'store-paths.xz'), execFileSync('xz', ['-c'], { input: list + '/nix/store/00000000000000000000000000000000-hello-2.10\n' }))
    const root = newRoot()
    const { nip } = await open(root, table(`${base}/bc`, { channel: `${base}/channel` }))
    const status = await createAdapter().probe(nip.dispatcher.context('nix'))
    assert.deepEqual(status, { id: 'nix', configured: true, reachable: true, detail: `substituters: ${base}/bc` })
    const hits: string[] = []
    for await (const h of createAdapter().search('greet', nip.dispatcher.context('nix'))) hits.push(`${h.ref.name} ${h.ref.version}`)
    assert.deepEqual(hits, ['greeting-data 1.0'])
    const refs = await createAdapter().resolve({ raw: 'hello', name: 'hello' }, nip.dispatcher.context('nix'))
    assert.deepEqual(refs.map((r) => r.version), ['2.12', '2.10'])
    await nip.install(['nix:hello@2.12'], {})
    assert.deepEqual(nip.list().map((p) => p.name).sort(), ['bb', 'greeting-data', 'hello'])
    await assert.rejects(nip.install(['nix:hello@9.9'], {}), (e: unknown) => isNipError(e, 'ERR_NIP_NOT_FOUND'))
    // nip update: the channel's name index (bb, greeting-data, hello) is the source's local index, with its own result.
    const u = await nip.update({ source: 'nix' })
    assert.deepEqual(u.sources.map((s) => [s.source, s.parts?.map((p) => `${p.name} ${p.detail}`)]), [['nix', [`${base}/channel/store-paths.xz 3 names`]]])
    // The channel gone: the cached name index stays in use, and the update says so.
    fs.rmSync(path.join(chan, 'store-paths.xz'))
    const gone = await nip.update({ source: 'nix' })
    assert.equal(gone.sources[0]!.status, 'failed')
    assert.match(gone.sources[0]!.parts![0]!.detail, /\(the cached name index stays in use\)$/)
    const again = await createAdapter().resolve({ raw: 'hello', name: 'hello' }, nip.dispatcher.context('nix'))
    assert.deepEqual(again.map((r) => r.version), ['2.12', '2.10'])
    nip.close()
  })

  it('grafts a closure holding two versions of one name side by side, each dependent wired to its own', async () => {
    const refs = nix('nix-store', ['--store', storeArg(), '-qR', paths.synthapp]).toString().trim().split('\n')
    assert.deepEqual(refs.map((sp) => programNameOf(parseStorePath(sp)!)).filter((n) => n.name === 'synth').map((n) => n.version).sort(), ['0-1.0', '1-1.1'])
    const root = newRoot()
    const { nip } = await open(root, table(`${base}/bc`))
    await nip.install([`nix:${paths.synthapp}`], {})
    assert.deepEqual(nip.list().filter((p) => p.name === 'synth').map((p) => p.version).sort(), ['0-1.0', '1-1.1'])
    for (const v of ['0-1.0', '1-1.1']) assert.ok(fs.existsSync(path.join(root, 'Programs/synth', v, 'share/synth.txt')))
    // Current is the highest version (neither was asked for); only its files are linked.
    assert.equal(fs.readlinkSync(path.join(root, 'Programs/synth/Current')), '1-1.1')
    assert.equal(fs.readFileSync(path.join(root, 'System/Links/Shared/synth.txt'), 'utf8'), 'synth one\n')
    // The dependent reads each exact version it references.
    const out = execFileSync(path.join(root, 'System/Links/Executables/synthapp'), { env: { PATH: '/nonexistent' } }).toString()
    assert.equal(out, 'synth zero\nsynth one\n')
    assert.deepEqual((await checkConsistency(nip)).problems, [])
  })

  it('fails over to the next substituter when one does not have the path', async () => {
    const root = newRoot()
    const { nip } = await open(root, table(`${base}/missing`, { substituters: [`${base}/missing`, `file://${work}/bcz`] }))
    await nip.install([`nix:${paths.hello}`], {})
    assert.ok(nip.list().some((p) => p.name === 'hello' && p.version === '2.12'))
    nip.close()
  })

  it('compareVersions agrees with builtins.compareVersions on generated pairs', function () {
    const parts = ['0', '1', '2', '10', 'pre', 'a', 'rc1', '', '2147483648', 'git']
    const pairs: [string, string][] = []
    let seed = 7
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n)
    const gen = () => Array.from({ length: 1 + rnd(4) }, () => parts[rnd(parts.length)]).join(['.', '-', ''][rnd(3)])
    for (let i = 0; i < 150; i++) pairs.push([gen(), gen()])
    const expr = `[ ${pairs.map(([a, b]) => `(builtins.compareVersions ${JSON.stringify(a)} ${JSON.stringify(b)})`).join(' ')} ]`
    const out = nix('nix-instantiate', ['--eval', '--strict', '-E', expr]).toString().trim()
    const theirs = out.replace(/^\[|\]$/g, '').trim().split(/\s+/).map(Number)
    const ours = pairs.map(([a, b]) => compareVersionsOf(a, b))
    assert.deepEqual(ours, theirs)
  })
})

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = []
  for await (const c of it) out.push(c)
  return out
}

