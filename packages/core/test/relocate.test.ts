/**
 * Core relocation (src/relocate/): ELF files built in the test with the host's C compiler are
 * grafted through the whole engine, by a source that runs relocateTree in its fetch, and run
 * from <root>/System/Links/Executables with their libraries only in System/Links/Libraries and
 * no LD_LIBRARY_PATH. Skips visibly when there is no C compiler or no patchelf.
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
  readElfDynamic,
  relocateTree,
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

  it('runs from System/Links/Executables without LD_LIBRARY_PATH once relocated, and not before', async function () {
    if (patchelf === null) {
      console.log('      (skipped: patchelf is not installed)')
      this.skip()
    }
    const plain = await graft(false)
    plain.nip.close()
    const before = run(path.join(plain.root, 'System/Links/Executables/hello'))
    assert.notEqual(before.status, 0)
    assert.match(before.stderr, /libnipshout\.so\.1: cannot open shared object file/)
    // The documented fallback still works for an unrelocated graft.
    const withPath = run(path.join(plain.root, 'System/Links/Executables/hello'), { ...bareEnv(), LD_LIBRARY_PATH: path.join(plain.root, 'System/Links/Libraries') })
    assert.equal(withPath.stdout, 'hello 42\n')

    const { root, nip, reporter } = await graft(true)
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
    if (patchelf === null) {
      console.log('      (skipped: patchelf is not installed)')
      this.skip()
    }
    const { root, nip } = await graft(true)
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
    if (patchelf === null) {
      console.log('      (skipped: patchelf is not installed)')
      this.skip()
    }
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
    const once = await relocateTree(entries, { cas, layout })
    assert.deepEqual(once.patched, ['bin/hello', 'bin/hello-again'])
    assert.equal(once.entries[1].blob, once.entries[2].blob)
    assert.notEqual(once.entries[1].blob, blob.key)
    assert.ok(once.entries[1].blob!.endsWith('-x'), 'the executable bit is kept')
    assert.equal(once.entries[1].size, fs.statSync(cas.pathOf(once.entries[1].blob!)).size)
    assert.equal(entries[1].blob, blob.key, 'the input entries are not mutated')
    const twice = await relocateTree(once.entries, { cas, layout })
    assert.deepEqual(twice.patched, [])
    assert.deepEqual(twice.entries, once.entries)
  })

  it('without patchelf: grafted as built, one relocation-unavailable warning per command', async () => {
    const { root, nip, reporter } = await graft(true, null)
    const programs = path.join(root, 'Programs')
    assert.deepEqual(fs.readFileSync(path.join(programs, 'hello/1.0/bin/hello')), files.hello)
    assert.deepEqual(fs.readFileSync(path.join(programs, 'libnipshout/1.0/lib/libnipshout.so.1')), files.shout)
    const warnings = reporter.warnings().filter((w) => w.code === 'relocation-unavailable')
    assert.equal(warnings.length, 1, JSON.stringify(reporter.warnings()))
    assert.match(warnings[0].message, /LD_LIBRARY_PATH/)
    const withPath = run(path.join(root, 'System/Links/Executables/hello'), { ...bareEnv(), LD_LIBRARY_PATH: path.join(root, 'System/Links/Libraries') })
    assert.equal(withPath.stdout, 'hello 42\n')
    nip.close()
  })

  it('a patchelf that fails leaves the file as built, with a relocation-failed warning', async () => {
    const fake = path.join(work, 'failing-patchelf')
    fs.writeFileSync(fake, '#!/bin/sh\necho "patchelf: cannot do that" >&2\nexit 1\n', { mode: 0o755 })
    const { root, nip, reporter } = await graft(true, fake)
    nip.close()
    assert.deepEqual(fs.readFileSync(path.join(root, 'Programs/hello/1.0/bin/hello')), files.hello)
    const failed = reporter.warnings().filter((w) => w.code === 'relocation-failed')
    assert.ok(failed.some((w) => /bin\/hello.*cannot do that/.test(w.message)), JSON.stringify(failed))
  })
})
