/**
 * Core relocation (src/relocate/): ELF files built in the test with the host's C compiler are
 * grafted through the whole engine, by a source that runs relocateTree in its fetch, and run
 * from <root>/System/Links/Executables with their libraries only in System/Links/Libraries and
 * no LD_LIBRARY_PATH. nip's own ELF editor does the work (patchelf is hidden: `patchelf: null`,
 * or a PATH without it); where patchelf is installed, the editor's results are compared with
 * patchelf's. Skips visibly when there is no C compiler (or no patchelf, for the comparison).
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { MemoryAdapter, openNip, tempRoot, type MemoryPackage } from '@nip/testing'
import {
  Layout,
  RecordingReporter,
  findPatchelf,
  mergedRunpath,
  isNipError,
  readElfDynamic,
  readElfDynamicBuffer,
  relocateTree,
  setElfRunpath,
  relocatedRunpath,
  type AdapterContext,
  type FetchResult,
  type PackageRef,
  type TreeEntry,
} from '@nip/core'
import { Cas } from '@nip/cas'

function which(tool: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, tool)
    try {
      fs.accessSync(p, fs.constants.X_OK)
      return p
    } catch {
      // next
    }
  }
  return null
}

/** A MemoryAdapter whose fetch relocates what it stores, as the Debian adapter does. */
class RelocatingAdapter extends MemoryAdapter {
  constructor(
    packages: MemoryPackage[],
    readonly relocate: boolean,
    readonly patchelf?: string | null,
  ) {
    super(packages)
  }
  override async fetch(ref: PackageRef, ctx: AdapterContext): Promise<FetchResult> {
    const r = await super.fetch(ref, ctx)
    if (!this.relocate) return r
    const { entries, replacedBlobs } = await relocateTree(r.entries, {
      cas: ctx.cas,
      layout: ctx.layout,
      reporter: ctx.reporter,
      label: `${ref.name} ${ref.version}`,
      ...(this.patchelf !== undefined ? { patchelf: this.patchelf } : {}),
    })
    return { ...r, entries, scratchBlobs: replacedBlobs }
  }
}

/** The environment of the grafted programs: the host's, without LD_LIBRARY_PATH. */
function bareEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.LD_LIBRARY_PATH
  delete env.LD_PRELOAD
  return env
}

function run(file: string, env = bareEnv()): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(file, [], { encoding: 'utf8', env })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('relocation: RUNPATH strings', () => {
  const layout = new Layout({ root: '/r', programsDir: 'Programs', linksDir: 'System/Links', settingsDir: 'System/Settings', stateDir: 'var/nip', casDir: 'var/nip/cas', cacheDir: 'var/nip/cache', logDir: 'var/log/nip' })

  it('climbs from the file to the root, through the link farm for libraries', () => {
    // Executables: the real path (exec), then the link's directory (`ldd <link>`).
    assert.deepEqual(relocatedRunpath('bin/jq', layout, { ownLibs: false }), ['$ORIGIN/../../../../System/Links/Libraries', '$ORIGIN/../Libraries'])
    assert.deepEqual(relocatedRunpath('bin/jq', layout, { ownLibs: true }), ['$ORIGIN/../lib', '$ORIGIN/../../../../System/Links/Libraries', '$ORIGIN/../Libraries'])
    assert.deepEqual(relocatedRunpath('sbin/sub/tool', layout, { ownLibs: false }), ['$ORIGIN/../../../../../System/Links/Libraries', '$ORIGIN/../../Libraries'])
    assert.deepEqual(relocatedRunpath('libexec/x/helper', layout, { ownLibs: false }), ['$ORIGIN/../../../../../System/Links/Libraries'])
    // Libraries: `$ORIGIN` is the link's directory when found through the farm, their own lib
    // directory when found by real path; the second entry serves the real path.
    assert.deepEqual(relocatedRunpath('lib/libjq.so.1.0.4', layout, { ownLibs: true }), ['$ORIGIN', '$ORIGIN/../../../../System/Links/Libraries'])
    assert.deepEqual(relocatedRunpath('lib/gconv/UTF-16.so', layout, { ownLibs: true }), ['$ORIGIN/..', '$ORIGIN/../../../../../System/Links/Libraries'])
    assert.deepEqual(relocatedRunpath('lib64/libx.so', layout, { ownLibs: false }), ['$ORIGIN', '$ORIGIN/../../../../System/Links/Libraries'])
  })

  it('follows a configured layout', () => {
    const other = new Layout({ root: '/r', programsDir: 'Apps', linksDir: 'Links', settingsDir: 'S', stateDir: 'v', casDir: 'v/c', cacheDir: 'v/k', logDir: 'v/l' })
    assert.deepEqual(relocatedRunpath('bin/jq', other, { ownLibs: false }), ['$ORIGIN/../../../../Links/Libraries', '$ORIGIN/../Libraries'])
  })

  it('keeps existing directories after nip’s, and is idempotent', () => {
    const ours = ['$ORIGIN', '$ORIGIN/../../../../System/Links/Libraries']
    assert.equal(mergedRunpath(ours, undefined), ours.join(':'))
    assert.equal(mergedRunpath(ours, '/usr/lib/foo:$ORIGIN'), `${ours.join(':')}:/usr/lib/foo`)
    assert.equal(mergedRunpath(ours, ours.join(':')), null)
    assert.equal(mergedRunpath(ours, `${ours.join(':')}:/opt/x`), null)
  })
})

describe('relocation: grafted ELF files find grafted libraries', function () {
  this.timeout(120000)
  const cc = which('cc') ?? which('gcc')
  let patchelf: string | null = null
  let work: string
  let files: { greet: Buffer; shout: Buffer; hello: Buffer; staticHello: Buffer | null }
  const roots: string[] = []

  before(async function () {
    if (cc === null) {
      console.log('      (skipped: no C compiler on this machine)')
      this.skip()
    }
    patchelf = await findPatchelf()
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-relocate-build-'))
    const src = (name: string, text: string): string => {
      fs.writeFileSync(path.join(work, name), text)
      return path.join(work, name)
    }
    const ccRun = (...args: string[]): void => {
      execFileSync(cc!, args, { cwd: work, stdio: 'pipe' })
    }
    src('greet.c', 'int greet_value(void) { return 40; }\n')
    src('shout.c', 'int greet_value(void);\nint shout_value(void) { return greet_value() + 2; }\n')
    src('hello.c', '#include <stdio.h>\nint shout_value(void);\nint main(void) { printf("hello %d\\n", shout_value()); return 0; }\n')
    src('static.c', '#include <stdio.h>\nint main(void) { puts("static"); return 0; }\n')
    // Names no host library has, so only the grafted ones can satisfy the loader.
    ccRun('-shared', '-fPIC', '-o', 'libnipgreet.so.1', '-Wl,-soname,libnipgreet.so.1', 'greet.c')
    ccRun('-shared', '-fPIC', '-o', 'libnipshout.so.1', '-Wl,-soname,libnipshout.so.1', 'shout.c', '-L.', '-l:libnipgreet.so.1')
    ccRun('-o', 'hello', 'hello.c', '-L.', '-l:libnipshout.so.1', '-Wl,-rpath-link,.')
    let staticHello: Buffer | null = null
    try {
      ccRun('-static', '-o', 'static-hello', 'static.c')
      staticHello = fs.readFileSync(path.join(work, 'static-hello'))
    } catch {
      console.log('      (no static libc: the static-binary case is not checked)')
    }
    const read = (f: string): Buffer => fs.readFileSync(path.join(work, f))
    files = { greet: read('libnipgreet.so.1'), shout: read('libnipshout.so.1'), hello: read('hello'), staticHello }
  })

  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true })
    for (const r of roots) fs.rmSync(r, { recursive: true, force: true })
  })

  function packages(): MemoryPackage[] {
    const hello: MemoryPackage = {
      name: 'hello',
      version: '1.0',
      dependencies: ['libnipshout'],
      files: {
        'bin/hello': { content: files.hello, mode: 0o755 },
        'bin/hello-script': { content: '#!/bin/sh\necho script\n', mode: 0o755 },
        'share/doc/hello/README': 'not an ELF file\n',
      },
    }
    if (files.staticHello) hello.files['bin/static-hello'] = { content: files.staticHello, mode: 0o755 }
    return [
      hello,
      {
        name: 'libnipshout',
        version: '1.0',
        dependencies: ['libnipgreet'],
        files: {
          // Debian ships shared libraries 0644.
          'lib/libnipshout.so.1': { content: files.shout, mode: 0o644 },
          // A linker script named like a library: text, never handed to patchelf.
          'lib/libnipshout.so': { content: 'INPUT(libnipshout.so.1)\n', mode: 0o644 },
        },
      },
      { name: 'libnipgreet', version: '1.0', files: { 'lib/libnipgreet.so.1': { content: files.greet, mode: 0o644 } } },
    ]
  }

  async function graft(relocate: boolean, patchelfPath?: string | null): Promise<{ root: string; reporter: RecordingReporter; nip: import('@nip/core').Nip }> {
    const root = await tempRoot('nip-relocate-')
    roots.push(root)
    const { nip, reporter } = await openNip(root, [new RelocatingAdapter(packages(), relocate, patchelfPath)])
    await nip.install(['hello'], { yes: true })
    return { root, reporter, nip }
  }

  it('runs from System/Links/Executables without LD_LIBRARY_PATH once relocated, and not before (no patchelf)', async function () {
    const plain = await graft(false)
    plain.nip.close()
    const before = run(path.join(plain.root, 'System/Links/Executables/hello'))
    assert.notEqual(before.status, 0)
    assert.match(before.stderr, /libnipshout\.so\.1: cannot open shared object file/)
    // The documented fallback still works for an unrelocated graft.
    const withPath = run(path.join(plain.root, 'System/Links/Executables/hello'), { ...bareEnv(), LD_LIBRARY_PATH: path.join(plain.root, 'System/Links/Libraries') })
    assert.equal(withPath.stdout, 'hello 42\n')

    const { root, nip, reporter } = await graft(true, null)
    assert.deepEqual(reporter.warnings().filter((w) => w.code.startsWith('relocation')), [])
    const after = run(path.join(root, 'System/Links/Executables/hello'))
    assert.equal(after.stderr, '')
    assert.equal(after.stdout, 'hello 42\n')
    // ldd hands the loader the link's path; the RUNPATH serves that too.
    if (which('ldd') !== null) {
      const ldd = execFileSync('ldd', [path.join(root, 'System/Links/Executables/hello')], { encoding: 'utf8', env: bareEnv() })
      assert.match(ldd, new RegExp(`libnipshout\\.so\\.1 => ${root}/System/Links/[^ ]*/libnipshout\\.so\\.1`))
      assert.doesNotMatch(ldd, /not found/)
    }
    // Through Current and by real path alike ($ORIGIN of the main program is its real path).
    assert.equal(run(path.join(root, 'Programs/hello/Current/bin/hello')).stdout, 'hello 42\n')
    // The DB records the patched blobs: verify sees what is on disk.
    const verified = await nip.verify([])
    assert.ok(verified.programs.every((p) => p.state === 'VERIFIED'), JSON.stringify(verified.programs))
    // The unpatched originals were scratch: deleted once the transaction registered, not left
    // for gc --verify to find.
    const drift = (await nip.gc({ verify: true, dryRun: true })).drift
    assert.deepEqual(drift?.orphanBlobs, [])
    nip.close()

    // The RUNPATH is relative: a moved root still runs.
    const moved = `${root}-moved`
    fs.renameSync(root, moved)
    roots.push(moved)
    assert.equal(run(path.join(moved, 'System/Links/Executables/hello')).stdout, 'hello 42\n')
    const elf = await readElfDynamic(path.join(moved, 'Programs/libnipshout/1.0/lib/libnipshout.so.1'))
    assert.equal(elf?.runpath, '$ORIGIN:$ORIGIN/../../../../System/Links/Libraries')
  })

  it('leaves scripts, text .so files, static binaries and other files byte for byte', async function () {
    const { root, nip } = await graft(true, null)
    nip.close()
    const same = (rel: string, content: Buffer | string): void => assert.deepEqual(fs.readFileSync(path.join(root, 'Programs', rel)), Buffer.from(content), rel)
    same('hello/1.0/bin/hello-script', '#!/bin/sh\necho script\n')
    same('hello/1.0/share/doc/hello/README', 'not an ELF file\n')
    same('libnipshout/1.0/lib/libnipshout.so', 'INPUT(libnipshout.so.1)\n')
    if (files.staticHello) {
      same('hello/1.0/bin/static-hello', files.staticHello)
      assert.equal(run(path.join(root, 'System/Links/Executables/static-hello')).stdout, 'static\n')
    }
    assert.notDeepEqual(fs.readFileSync(path.join(root, 'Programs/hello/1.0/bin/hello')), files.hello)
  })

  it('relocating twice changes nothing; hardlinked copies are patched once', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-relocate-cas-'))
    roots.push(dir)
    const cas = new Cas(path.join(dir, 'cas'))
    await cas.init()
    const layout = new Layout({ root: dir, programsDir: 'Programs', linksDir: 'System/Links', settingsDir: 'S', stateDir: 'v', casDir: 'cas', cacheDir: 'v/c', logDir: 'v/l' })
    const blob = await cas.addBuffer(files.hello, { executable: true })
    const entries: TreeEntry[] = [
      { path: 'bin', type: 'dir', mode: 0o755 },
      { path: 'bin/hello', type: 'file', mode: 0o755, blob: blob.key, size: blob.size },
      { path: 'bin/hello-again', type: 'file', mode: 0o755, blob: blob.key, size: blob.size },
    ]
    const once = await relocateTree(entries, { cas, layout, patchelf: null })
    assert.deepEqual(once.patched, ['bin/hello', 'bin/hello-again'])
    assert.deepEqual(once.by, { editor: 1, patchelf: 0 })
    assert.equal(once.entries[1].blob, once.entries[2].blob)
    assert.notEqual(once.entries[1].blob, blob.key)
    assert.ok(once.entries[1].blob!.endsWith('-x'), 'the executable bit is kept')
    assert.equal(once.entries[1].size, fs.statSync(cas.pathOf(once.entries[1].blob!)).size)
    assert.equal(entries[1].blob, blob.key, 'the input entries are not mutated')
    const twice = await relocateTree(once.entries, { cas, layout, patchelf: null })
    assert.deepEqual(twice.patched, [])
    assert.deepEqual(twice.entries, once.entries)
  })

  it('on a PATH without patchelf: grafted programs get their RUNPATH and run without LD_LIBRARY_PATH', async () => {
    const saved = process.env.PATH
    // PATH is one directory of links to the host's tools, patchelf left out.
    const toolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-no-patchelf-'))
    roots.push(toolDir)
    for (const dir of (saved ?? '').split(path.delimiter).filter((d) => path.isAbsolute(d) && fs.existsSync(d))) {
      for (const name of fs.readdirSync(dir)) {
        if (name !== 'patchelf' && !fs.existsSync(path.join(toolDir, name))) fs.symlinkSync(path.join(dir, name), path.join(toolDir, name))
      }
    }
    process.env.PATH = toolDir
    try {
      assert.equal(await findPatchelf(), null)
      const { root, nip, reporter } = await graft(true)
      nip.close()
      assert.deepEqual(reporter.warnings().filter((w) => w.code.startsWith('relocation')), [])
      const after = run(path.join(root, 'System/Links/Executables/hello'))
      assert.equal(after.stderr, '')
      assert.equal(after.stdout, 'hello 42\n')
      const lib = await readElfDynamic(path.join(root, 'Programs/libnipshout/1.0/lib/libnipshout.so.1'))
      assert.equal(lib?.runpath, '$ORIGIN:$ORIGIN/../../../../System/Links/Libraries')
    } finally {
      process.env.PATH = saved
    }
  })

  /** hello with its e_machine set to MIPS: a file nip's editor refuses (MIPS dynamic sections have other rules). */
  function refusedHello(): Buffer {
    const b = Buffer.from(files.hello)
    b.writeUInt16LE(8, 18)
    return b
  }

  it('a file nobody can relocate is ERR_NIP_RELOCATION_FAILED and nothing is grafted', async () => {
    const root = await tempRoot('nip-relocate-')
    roots.push(root)
    const pkgs = packages()
    pkgs[0].files['bin/hello'] = { content: refusedHello(), mode: 0o755 }
    const fake = path.join(work, 'failing-patchelf')
    fs.writeFileSync(fake, '#!/bin/sh\necho "patchelf: cannot do that" >&2\nexit 1\n', { mode: 0o755 })
    for (const patchelfPath of [null, fake]) {
      const { nip } = await openNip(root, [new RelocatingAdapter(pkgs, true, patchelfPath)])
      await assert.rejects(nip.install(['hello'], { yes: true }), (e: unknown) => {
        assert.ok(isNipError(e, 'ERR_NIP_RELOCATION_FAILED'), String(e))
        assert.match(e.message, /bin\/hello/)
        assert.match(e.message, patchelfPath === null ? /MIPS.*patchelf is not installed/ : /cannot do that/)
        assert.match(e.hint ?? '', /Nothing was grafted/)
        return true
      })
      nip.close()
      assert.deepEqual(fs.readdirSync(path.join(root, 'Programs')).filter((n) => !n.startsWith('.')), [], 'nothing grafted')
      assert.equal(fs.existsSync(path.join(root, 'System/Links/Executables/hello')), false)
    }
  })

  it('a file the editor refuses goes to patchelf when installed', async function () {
    if (patchelf === null) {
      console.log('      (skipped: patchelf is not installed)')
      this.skip()
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-relocate-cas-'))
    roots.push(dir)
    const cas = new Cas(path.join(dir, 'cas'))
    await cas.init()
    const layout = new Layout({ root: dir, programsDir: 'Programs', linksDir: 'System/Links', settingsDir: 'S', stateDir: 'v', casDir: 'cas', cacheDir: 'v/c', logDir: 'v/l' })
    const odd = await cas.addBuffer(refusedHello(), { executable: true })
    const plain = await cas.addBuffer(files.hello, { executable: true })
    const r = await relocateTree(
      [
        { path: 'bin/odd', type: 'file', mode: 0o755, blob: odd.key, size: odd.size },
        { path: 'bin/hello', type: 'file', mode: 0o755, blob: plain.key, size: plain.size },
      ],
      { cas, layout, tmpDir: path.join(dir, 'tmp') },
    )
    assert.deepEqual(r.by, { editor: 1, patchelf: 1 })
    assert.deepEqual(r.patched, ['bin/hello', 'bin/odd'])
    assert.equal((await readElfDynamic(cas.pathOf(r.entries[0].blob!)))?.runpath, relocatedRunpath('bin/odd', layout, { ownLibs: false }).join(':'))
  })
})

describe('relocation: nip’s ELF editor against patchelf', function () {
  this.timeout(120000)
  const cc = which('cc') ?? which('gcc')
  const readelf = which('readelf')
  let patchelf: string | null = null
  let work: string

  before(async function () {
    patchelf = await findPatchelf()
    if (cc === null || readelf === null || patchelf === null) {
      console.log(`      (skipped: needs a C compiler, readelf and patchelf; missing: ${[cc === null ? 'cc' : '', readelf === null ? 'readelf' : '', patchelf === null ? 'patchelf' : ''].filter(Boolean).join(', ')})`)
      this.skip()
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-elfedit-'))
    fs.writeFileSync(path.join(work, 'lib.c'), 'int f(void) { return 42; }\n')
    fs.writeFileSync(path.join(work, 'main.c'), '#include <stdio.h>\nint f(void);\nint main(void) { printf("ok %d\\n", f()); return 0; }\n')
  })
  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true })
  })

  /** `readelf -d`'s RUNPATH and RPATH lines' values, and its NEEDED list. */
  function readelfDynamic(file: string): { runpath?: string; rpath?: string; needed: string[] } {
    const out = execFileSync(readelf!, ['-dW', file], { encoding: 'utf8' })
    const one = (re: RegExp): string | undefined => re.exec(out)?.[1]
    return {
      ...(one(/\(RUNPATH\)\s+Library runpath: \[(.*)\]/) !== undefined ? { runpath: one(/\(RUNPATH\)\s+Library runpath: \[(.*)\]/) } : {}),
      ...(one(/\(RPATH\)\s+Library rpath: \[(.*)\]/) !== undefined ? { rpath: one(/\(RPATH\)\s+Library rpath: \[(.*)\]/) } : {}),
      needed: [...out.matchAll(/\(NEEDED\)\s+Shared library: \[(.*)\]/g)].map((m) => m[1]),
    }
  }

  /** Sets `runpath` on `file` with the editor and with patchelf; both must read back the same and run. */
  function both(file: string, runpath: string, expectMethod?: 'in-place' | 'new-segment'): { ours: string; theirs: string } {
    const ours = `${file}.nip`
    const theirs = `${file}.patchelf`
    const r = setElfRunpath(fs.readFileSync(file), runpath)
    assert.ok(r.ok, r.ok ? '' : r.reason)
    if (expectMethod) assert.equal(r.method, expectMethod)
    fs.writeFileSync(ours, r.content, { mode: 0o755 })
    fs.copyFileSync(file, theirs)
    execFileSync(patchelf!, ['--set-rpath', runpath, theirs])
    const a = readelfDynamic(ours)
    const b = readelfDynamic(theirs)
    assert.deepEqual(a, b, `readelf -d of ${path.basename(file)}`)
    assert.equal(a.runpath, runpath)
    assert.deepEqual(a.needed, readelfDynamic(file).needed)
    // readelf reads the whole file without complaint.
    const all = spawnSync(readelf!, ['-aW', ours], { encoding: 'utf8' })
    assert.doesNotMatch(all.stderr, /Error|corrupt/i, all.stderr)
    return { ours, theirs }
  }

  function build(args: string[]): boolean {
    return spawnSync(cc!, args, { cwd: work, stdio: 'pipe' }).status === 0
  }

  const cases: { name: string; flags: string[] }[] = [
    { name: '64-bit PIE', flags: ['-pie', '-fPIE'] },
    { name: '64-bit non-PIE', flags: ['-no-pie', '-fno-PIE'] },
    { name: '32-bit PIE', flags: ['-m32', '-pie', '-fPIE'] },
    { name: '32-bit non-PIE', flags: ['-m32', '-no-pie', '-fno-PIE'] },
  ]
  for (const c of cases) {
    it(`${c.name}: executable and shared library, new string and in place, RPATH to RUNPATH`, function () {
      const dir = path.join(work, c.name.replace(/\W+/g, '-'))
      fs.mkdirSync(path.join(dir, 'L'), { recursive: true })
      const m = c.flags.includes('-m32') ? ['-m32'] : []
      if (!build([...m, '-shared', '-fPIC', '-o', path.join(dir, 'L/libf.so'), 'lib.c'])) {
        console.log(`        (skipped: this compiler cannot build ${c.name} programs)`)
        return this.skip()
      }
      assert.ok(build([...c.flags, '-o', path.join(dir, 'main'), 'main.c', `-L${dir}/L`, '-lf']))
      // No RUNPATH yet: a new segment.
      const exe = both(path.join(dir, 'main'), '$ORIGIN/L', 'new-segment')
      for (const f of [exe.ours, exe.theirs]) assert.equal(run(f).stdout, 'ok 42\n', f)
      assert.notEqual(run(path.join(dir, 'main')).status, 0, 'the unpatched program does not find libf')
      const lib = both(path.join(dir, 'L/libf.so'), '$ORIGIN:/nowhere', 'new-segment')
      fs.copyFileSync(lib.ours, path.join(dir, 'L/libf.so'))
      assert.equal(run(exe.ours).stdout, 'ok 42\n')
      // A long DT_RPATH: rewritten in place and turned into DT_RUNPATH, as patchelf does.
      assert.ok(build([...c.flags, '-o', path.join(dir, 'rp'), 'main.c', `-L${dir}/L`, '-lf', '-Wl,-rpath,/a/long/path/that/is/longer/than/needed,--disable-new-dtags']))
      assert.ok(readelfDynamic(path.join(dir, 'rp')).rpath)
      const rp = both(path.join(dir, 'rp'), '$ORIGIN/L', 'in-place')
      assert.equal(fs.statSync(rp.ours).size, fs.statSync(path.join(dir, 'rp')).size, 'in place: same size')
      assert.equal(run(rp.ours).stdout, 'ok 42\n')
      // A short DT_RUNPATH that the new string does not fit: a new segment.
      assert.ok(build([...c.flags, '-o', path.join(dir, 'short'), 'main.c', `-L${dir}/L`, '-lf', '-Wl,-rpath,/x,--enable-new-dtags']))
      const short = both(path.join(dir, 'short'), '$ORIGIN/L:/x', 'new-segment')
      assert.equal(run(short.ours).stdout, 'ok 42\n')
      // Edited twice: the second edit starts from the first one's layout (nip's editor only:
      // patchelf's executable path expects section headers in file order, which the first
      // edit does not keep).
      const twice = setElfRunpath(fs.readFileSync(exe.ours), '$ORIGIN/L:$ORIGIN/../../some/much/longer/directory/than/before')
      assert.ok(twice.ok && twice.method === 'new-segment')
      fs.writeFileSync(`${exe.ours}.2`, twice.content, { mode: 0o755 })
      assert.equal(readelfDynamic(`${exe.ours}.2`).runpath, '$ORIGIN/L:$ORIGIN/../../some/much/longer/directory/than/before')
      assert.equal(run(`${exe.ours}.2`).stdout, 'ok 42\n')
    })
  }

  it('64-bit big-endian (s390x, run under qemu): executable and shared library', function () {
    const xcc = which('s390x-linux-gnu-gcc')
    const qemu = which('qemu-s390x')
    const sysroot = '/usr/s390x-linux-gnu'
    if (xcc === null || qemu === null || !fs.existsSync(sysroot)) {
      console.log('        (skipped: needs s390x-linux-gnu-gcc, its libc and qemu-s390x)')
      return this.skip()
    }
    const dir = path.join(work, 'be64')
    fs.mkdirSync(path.join(dir, 'L'), { recursive: true })
    const xbuild = (args: string[]): void => {
      execFileSync(xcc, args, { cwd: work, stdio: 'pipe' })
    }
    xbuild(['-shared', '-fPIC', '-o', path.join(dir, 'L/libf.so'), 'lib.c'])
    const runBe = (file: string): { status: number | null; stdout: string } => {
      const r = spawnSync(qemu, ['-L', sysroot, file], { encoding: 'utf8', env: bareEnv() })
      return { status: r.status, stdout: r.stdout }
    }
    for (const flags of [['-pie', '-fPIE'], ['-no-pie', '-fno-PIE']]) {
      const main = path.join(dir, `main${flags[0]}`)
      xbuild([...flags, '-o', main, 'main.c', `-L${dir}/L`, '-lf'])
      assert.notEqual(runBe(main).status, 0, 'the unpatched program does not find libf')
      const { ours } = both(main, '$ORIGIN/L', 'new-segment')
      assert.equal(runBe(ours).stdout, 'ok 42\n', flags.join(' '))
    }
    const lib = both(path.join(dir, 'L/libf.so'), '$ORIGIN:/nowhere', 'new-segment')
    fs.copyFileSync(lib.ours, path.join(dir, 'L/libf.so'))
    assert.equal(runBe(`${path.join(dir, 'main-pie')}.nip`).stdout, 'ok 42\n')
  })

  it('the host’s own programs and libraries: same RUNPATH as patchelf, and they still run', function () {
    const exes = ['/usr/bin/env', '/usr/bin/sort', '/usr/bin/gpg', '/usr/bin/xz', '/usr/bin/git'].filter((f) => fs.existsSync(f))
    const libs = ['/usr/lib/x86_64-linux-gnu/libz.so.1', '/usr/lib/x86_64-linux-gnu/libcurl.so.4'].filter((f) => fs.existsSync(f))
    if (exes.length === 0) return this.skip()
    for (const f of [...exes, ...libs]) {
      const copy = path.join(work, path.basename(f))
      fs.copyFileSync(f, copy)
      const { ours } = both(copy, '$ORIGIN/../nowhere:$ORIGIN')
      if (exes.includes(f)) assert.equal(spawnSync(ours, ['--version'], { env: bareEnv() }).status, 0, ours)
    }
    // A program that loads the edited libraries.
    const curl = '/usr/bin/curl'
    if (libs.length === 2 && fs.existsSync(curl)) {
      const dir = path.join(work, 'libs')
      fs.mkdirSync(dir, { recursive: true })
      for (const f of libs) fs.copyFileSync(path.join(work, `${path.basename(f)}.nip`), path.join(dir, path.basename(f)))
      const r = spawnSync(curl, ['--version'], { encoding: 'utf8', env: { ...bareEnv(), LD_LIBRARY_PATH: dir } })
      assert.equal(r.status, 0, r.stderr)
      const ldd = execFileSync('ldd', [curl], { encoding: 'utf8', env: { ...bareEnv(), LD_LIBRARY_PATH: dir } })
      assert.match(ldd, new RegExp(`libcurl\\.so\\.4 => ${dir}/`))
    }
  })

  it('hostile headers: mutated files are refused or edited into files that read back, never a crash or a hang', async function () {
    const dir = path.join(work, 'mutate')
    fs.mkdirSync(path.join(dir, 'L'), { recursive: true })
    assert.ok(build(['-shared', '-fPIC', '-o', path.join(dir, 'L/libf.so'), 'lib.c']))
    assert.ok(build(['-o', path.join(dir, 'main'), 'main.c', `-L${dir}/L`, '-lf', '-Wl,-rpath,/a/long/enough/old/runpath/string']))
    const original = fs.readFileSync(path.join(dir, 'main'))
    // A seeded generator: the same cases on every run.
    let seed = 0x9e3779b9
    const rand = (n: number): number => {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0
      return seed % n
    }
    const outcomes = { refused: 0, edited: 0 }
    for (let i = 0; i < 400; i++) {
      const m = Buffer.from(original)
      // Flip bytes in the headers, the program header table and the dynamic section's neighbourhood.
      for (let k = 0, n = 1 + rand(4); k < n; k++) {
        const at = rand(3) === 0 ? rand(Math.min(m.length, 0x1000)) : rand(0x400)
        m[at] = rand(256)
      }
      const r = setElfRunpath(m, '$ORIGIN/L:$ORIGIN/../x')
      if (!r.ok) {
        outcomes.refused++
        continue
      }
      outcomes.edited++
      assert.ok(r.content.length <= m.length + 0x200000 + 0x10000, 'grows by at most a page of padding and the new segment')
      // What relocateTree does next: read it back (null, or any answer, but no throw).
      await readElfDynamicBuffer(r.content)
    }
    console.log(`        mutated files: ${JSON.stringify(outcomes)}`)
    assert.ok(outcomes.refused > 0 && outcomes.edited > 0)
  })

  it('refuses what it does not edit, and leaves its input as it was', () => {
    const hello = fs.readFileSync('/proc/self/exe')
    const copy = Buffer.from(hello)
    assert.equal(setElfRunpath(Buffer.from('#!/bin/sh\n'.padEnd(64)), 'x').ok, false)
    const mips = Buffer.from(hello)
    mips.writeUInt16LE(8, 18)
    const r = setElfRunpath(mips, '$ORIGIN')
    assert.equal(r.ok, false)
    assert.match(r.ok ? '' : r.reason, /MIPS/)
    const truncated = setElfRunpath(hello.subarray(0, 200), '$ORIGIN')
    assert.equal(truncated.ok, false)
    assert.ok(setElfRunpath(hello, '$ORIGIN').ok)
    assert.deepEqual(hello, copy)
  })
})
