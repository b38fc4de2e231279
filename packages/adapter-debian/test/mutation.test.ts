/**
 * Mutated Debian input: a valid `.deb` (ar of debian-binary, control.tar, data.tar), a
 * `Packages` index and a clear-signed `InRelease`, damaged by bit flips, truncation and splicing
 * with a fixed seed. A .deb is installed as a local file through the whole engine; a Packages
 * file is parsed and indexed; an InRelease is split, verified and parsed. The only outcomes
 * allowed are a correct install (or parse) or a NipError with a code — never an uncaught
 * exception, a hang, a write outside the root, or a half-grafted program.
 * NIP_LONG_TESTS=1 runs ten times as many cases.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { buildTar, installMutations, mutate, mutationOutcome, prng, withTimeout, type FixtureCompression, type FixtureEntry } from '@nip/testing'
import { isNipError, type PublicKeyring } from '@nip/core'
import { DebianAdapter } from '../src/index.js'
import { parseStanzas } from '../src/deb822.js'
import { PackageIndex, packageFromStanza } from '../src/packageIndex.js'
import { parseRelease } from '../src/releaseFile.js'
import { readKeyring, verifyInRelease } from '../src/releaseSignature.js'
import { buildAr, hasTool, killAgent, makeGpgKey, run, type GpgKey } from './debRepository.js'

const LONG = process.env.NIP_LONG_TESTS === '1'
const PER_FORMAT = LONG ? 1000 : 100

const DEB_FILE = 'dtool_1.0-1_amd64.deb'

/** Files of data.tar by archive path, with modes; every one (the conffile too) is listed in md5sums. */
const FILES: { path: string; content: string | Buffer; mode?: number }[] = [
  { path: 'usr/bin/dtool', content: '#!/bin/sh\necho dtool\n', mode: 0o755 },
  { path: 'usr/lib/x86_64-linux-gnu/libdtool.so.1.0', content: Buffer.alloc(2000, 5) },
  { path: 'usr/share/doc/dtool/README', content: 'dtool reads mutated input.\n'.repeat(20) },
  { path: 'etc/dtool.conf', content: 'answer = 42\n' },
]

const DATA: FixtureEntry[] = [
  { path: './', type: 'dir' },
  { path: './etc/', type: 'dir' },
  { path: './etc/dtool.conf', content: FILES[3].content },
  { path: './usr/', type: 'dir' },
  { path: './usr/bin/', type: 'dir' },
  { path: './usr/bin/dtool', content: FILES[0].content, mode: 0o755 },
  { path: './usr/lib/', type: 'dir' },
  { path: './usr/lib/x86_64-linux-gnu/', type: 'dir' },
  { path: './usr/lib/x86_64-linux-gnu/libdtool.so.1.0', content: FILES[1].content },
  { path: './usr/lib/x86_64-linux-gnu/libdtool.so.1', type: 'symlink', target: 'libdtool.so.1.0' },
  { path: './usr/share/', type: 'dir' },
  { path: './usr/share/doc/', type: 'dir' },
  { path: './usr/share/doc/dtool/', type: 'dir' },
  { path: './usr/share/doc/dtool/README', content: FILES[2].content },
  { path: './usr/share/dtool/', type: 'dir' },
  { path: './usr/share/dtool/README', type: 'symlink', target: '/usr/share/doc/dtool/README' },
]

const CONTROL = [
  'Package: dtool',
  'Version: 1:1.0-1',
  'Architecture: amd64',
  'Maintainer: Nip Tests <tests@localhost>',
  'Installed-Size: 3',
  'Section: utils',
  'Priority: optional',
  'Homepage: https://example.invalid/dtool',
  'Description: a tool for mutation tests',
  ' It reads mutated input and ends in a NipError.',
  ' .',
  ' Or it installs.',
  '',
].join('\n')

const md5 = (b: string | Buffer): string => createHash('md5').update(b).digest('hex')
const MD5SUMS = FILES.map((f) => `${md5(f.content)}  ${f.path}\n`).join('')

async function controlTar(control: string | Buffer, md5sums: string | Buffer, compression: FixtureCompression): Promise<Buffer> {
  return buildTar(
    [
      { path: './', type: 'dir' },
      { path: './control', content: control },
      { path: './md5sums', content: md5sums },
      { path: './conffiles', content: '/etc/dtool.conf\n' },
      { path: './postinst', content: '#!/bin/sh\necho configured\n', mode: 0o755 },
    ],
    { compression },
  )
}

const EXT: Record<FixtureCompression, string> = { none: '', gzip: '.gz', xz: '.xz', zstd: '.zst', bzip2: '.bz2' }

async function buildDebFile(o: { control?: string | Buffer; md5sums?: string | Buffer; controlCompression: FixtureCompression; dataCompression: FixtureCompression }): Promise<Buffer> {
  return buildAr([
    { name: 'debian-binary', data: Buffer.from('2.0\n') },
    { name: `control.tar${EXT[o.controlCompression]}`, data: await controlTar(o.control ?? CONTROL, o.md5sums ?? MD5SUMS, o.controlCompression) },
    { name: `data.tar${EXT[o.dataCompression]}`, data: await buildTar(DATA, { compression: o.dataCompression }) },
  ])
}

const PACKAGES = [
  'Package: dtool\nVersion: 1:1.0-1\nArchitecture: amd64\nMaintainer: Nip Tests <tests@localhost>\nInstalled-Size: 3\n' +
    'Depends: libdtool1 (>= 1.0~rc1), dtool-data | dtool-data-legacy (<< 2:0), base-files:any\nPre-Depends: dpkg (>= 1.19)\n' +
    'Conflicts: old-dtool (<< 0.9)\nBreaks: dtool-plugins (<= 0.5-1)\nProvides: dtool-virtual (= 1:1.0-1)\n' +
    `Filename: pool/main/d/dtool/dtool_1.0-1_amd64.deb\nSize: 1234\nSHA256: ${'ab'.repeat(32)}\n` +
    'Description: a tool\n It reads mutated input.\n .\n Or it installs.\nHomepage: https://example.invalid\nSection: utils\n',
  'Package: libdtool1\nVersion: 1.2-1+deb12u1\nArchitecture: amd64\nMulti-Arch: same\nDepends: libc6 (>= 2.34)\n' +
    `Filename: pool/main/d/dtool/libdtool1_1.2-1+deb12u1_amd64.deb\nSize: 99\nSHA256: ${'cd'.repeat(32)}\nDescription: the library\n`,
  'Package: dtool-data\nVersion: 2.0\nArchitecture: all\nProvides: dtool-data-legacy\n' +
    `Filename: pool/main/d/dtool/dtool-data_2.0_all.deb\nSize: 12\nSHA256: ${'ef'.repeat(32)}\nDescription: data\n`,
].join('\n')

const RELEASE =
  'Origin: Nip\nLabel: Nip\nSuite: mut\nCodename: mut\nDate: Wed, 01 Jan 2025 00:00:00 UTC\nValid-Until: Fri, 01 Jan 2100 00:00:00 UTC\n' +
  'Architectures: amd64 arm64\nComponents: main contrib\nAcquire-By-Hash: yes\nDescription: nip mutation tests\nSHA256:\n' +
  ` ${'ab'.repeat(32)}     1234 main/binary-amd64/Packages\n ${'cd'.repeat(32)}      567 main/binary-amd64/Packages.xz\n ${'ef'.repeat(32)}       89 main/binary-arm64/Packages\n`

function count(tally: Record<string, number>, key: string): void {
  tally[key] = (tally[key] ?? 0) + 1
}

/** A correct install: every data.tar file grafted with its content, the symlinks re-targeted. */
function assertGrafted(root: string, name: string, version: string, label: string): void {
  const dir = path.join(root, 'Programs', name)
  const at: Record<string, string> = {
    'usr/bin/dtool': path.join(dir, version, 'bin/dtool'),
    'usr/lib/x86_64-linux-gnu/libdtool.so.1.0': path.join(dir, version, 'lib/libdtool.so.1.0'),
    'usr/share/doc/dtool/README': path.join(dir, version, 'share/doc/dtool/README'),
    'etc/dtool.conf': path.join(dir, 'Settings/dtool.conf'),
  }
  for (const f of FILES) assert.deepEqual(fs.readFileSync(at[f.path]), Buffer.from(f.content), `${label}: ${f.path}`)
  assert.equal(fs.readlinkSync(path.join(dir, version, 'lib/libdtool.so.1')), 'libdtool.so.1.0', label)
  assert.equal(fs.readlinkSync(path.join(dir, version, 'share/dtool/README')), '../doc/dtool/README', label)
}

const TABLE = { 'host-sources': false, sources: [], architecture: 'amd64', 'host-packages': false }

describe('debian: mutated inputs end in an install (or a parse) or a NipError, nothing else', function () {
  this.timeout(900000)
  const outcomes: Record<string, Record<string, number>> = {}
  after(() => {
    // The figures docs/reliability.md quotes.
    console.log(`      mutation outcomes (${PER_FORMAT} cases per format): ${JSON.stringify(outcomes)}`)
  })

  /**
   * Install `make()` as a local .deb, `cases` times, into one root: every case ends installed
   * (then removed) or in a NipError; nothing is written outside the root, no staging stays
   * visible, and the store stays consistent.
   */
  async function installCases(format: string, seed: number, make: (rnd: () => number) => Promise<{ data: Buffer; how: string }>, cases = PER_FORMAT): Promise<void> {
    const tally: Record<string, number> = {}
    outcomes[format] = tally
    await installMutations({ format, seed, cases, fileName: DEB_FILE, make, adapter: () => new DebianAdapter(), sourceId: 'debian', table: TABLE, assertGrafted, tally })
  }


  it(`.deb (control.tar.gz, data.tar.xz): ${PER_FORMAT} mutated packages installed through the engine`, async () => {
    const valid = await buildDebFile({ controlCompression: 'gzip', dataCompression: 'xz' })
    await installCases('deb (valid)', 1, async () => ({ data: valid, how: 'unchanged' }), 2)
    assert.deepEqual(outcomes['deb (valid)'], { installed: 2 })
    delete outcomes['deb (valid)']
    await installCases('deb', 0xdeb0, async (rnd) => mutate(valid, rnd))
  })

  it(`.deb with uncompressed members (control.tar, data.tar): ${PER_FORMAT} mutated packages`, async () => {
    const valid = await buildDebFile({ controlCompression: 'none', dataCompression: 'none' })
    await installCases('deb (tar members)', 0xdeb1, async (rnd) => mutate(valid, rnd))
  })

  it(`.deb with control and md5sums mutated: ${PER_FORMAT} packages`, async () => {
    await installCases('deb control/md5sums', 0xdeb2, async (rnd) => {
      const which = rnd() < 0.6 ? 'control' : 'md5sums'
      const m = mutate(Buffer.from(which === 'control' ? CONTROL : MD5SUMS), rnd)
      const data = await buildDebFile({ controlCompression: 'gzip', dataCompression: 'gzip', ...(which === 'control' ? { control: m.data } : { md5sums: m.data }) })
      return { data, how: `${which} ${m.how}` }
    })
  })

  async function parseCases(format: string, seed: number, valid: Buffer, parse: (data: Buffer, label: string) => Promise<void>): Promise<void> {
    const tally: Record<string, number> = {}
    outcomes[format] = tally
    const rnd = prng(seed)
    for (let i = 0; i < PER_FORMAT; i++) {
      const { data, how } = mutate(valid, rnd)
      const label = `${format} case ${i} (${how})`
      try {
        await withTimeout(parse(data, label), 20000, label)
        count(tally, 'parsed')
      } catch (e) {
        count(tally, mutationOutcome(e, label))
      }
    }
  }

  /** What the adapter does with a Packages file: stanzas, packages, the index, version order. */
  async function parsePackages(data: Buffer): Promise<number> {
    const index = new PackageIndex('amd64')
    for (const stanza of parseStanzas(data.toString('utf8'), { source: 'Packages' })) {
      const pkg = packageFromStanza(stanza, { base: 'http://mirror.invalid/debian/', origin: 'Packages', priority: 0 })
      if (pkg !== null) index.add(pkg)
    }
    for (const name of index.byName.keys()) index.versionsOf(name)
    return index.size
  }

  it(`Packages: ${PER_FORMAT} mutated indices parsed`, async () => {
    assert.equal(await parsePackages(Buffer.from(PACKAGES)), 3)
    await parseCases('Packages', 0xfac0, Buffer.from(PACKAGES), async (data) => {
      await parsePackages(data)
    })
  })

  it(`Release: ${PER_FORMAT} mutated Release texts parsed`, async () => {
    assert.equal(parseRelease(RELEASE, 'Release').files.size, 3)
    await parseCases('Release', 0xfac1, Buffer.from(RELEASE), async (data) => {
      parseRelease(data.toString('utf8'), 'Release')
    })
  })

  describe('InRelease', () => {
    let dir: string
    let key: GpgKey | undefined
    let keyring: PublicKeyring
    let inRelease: Buffer
    before(async function () {
      if (!hasTool('gpg')) {
        console.log('  (skipped: gpg not installed)')
        this.skip()
      }
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-mut-inrelease-'))
      key = makeGpgKey(dir)
      fs.writeFileSync(path.join(dir, 'Release'), RELEASE)
      run('gpg', ['--batch', '--yes', '--local-user', key.fingerprint, '--clearsign', '-o', path.join(dir, 'InRelease'), path.join(dir, 'Release')], { env: { GNUPGHOME: key.home } })
      inRelease = fs.readFileSync(path.join(dir, 'InRelease'))
      keyring = await readKeyring(fs.readFileSync(key.keyring), key.keyring)
    })
    after(() => {
      if (key) killAgent(key)
      if (dir) fs.rmSync(dir, { recursive: true, force: true })
    })

    it(`${PER_FORMAT} mutated InRelease files split, verified and parsed`, async () => {
      const verified = await verifyInRelease(inRelease.toString('utf8'), keyring, 'InRelease')
      assert.equal(verified.fingerprint, key!.fingerprint)
      assert.equal(parseRelease(verified.text, 'InRelease').files.size, 3)
      await parseCases('InRelease', 0x1e1, inRelease, async (data, label) => {
        const v = await verifyInRelease(data.toString('utf8'), keyring, 'InRelease')
        // Only a text that is the signed one verifies.
        assert.equal(v.text, verified.text, `${label}: a changed text verified`)
        parseRelease(v.text, 'InRelease')
      })
    })

    /** The InRelease with its signature packet replaced by `packet`, re-armored. */
    function withPacket(packet: Buffer): string {
      const text = inRelease.toString('utf8')
      const head = text.slice(0, text.indexOf('-----BEGIN PGP SIGNATURE-----'))
      return `${head}-----BEGIN PGP SIGNATURE-----\n\n${packet.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END PGP SIGNATURE-----\n`
    }
    function signaturePacket(): Buffer {
      const lines = inRelease.toString('utf8').split('\n')
      const start = lines.indexOf('-----BEGIN PGP SIGNATURE-----')
      const body: string[] = []
      for (let i = start + 2; i < lines.length && !lines[i].startsWith('=') && !lines[i].startsWith('-----'); i++) body.push(lines[i])
      return Buffer.from(body.join(''), 'base64')
    }

    it(`${PER_FORMAT} InRelease files with a mutated signature packet (re-armored) verified`, async () => {
      const packet = signaturePacket()
      const verified = await verifyInRelease(withPacket(packet), keyring, 'InRelease')
      await parseCases('InRelease signature packet', 0x1e2, packet, async (data, label) => {
        const v = await verifyInRelease(withPacket(data), keyring, 'InRelease')
        assert.equal(v.text, verified.text, `${label}: a changed text verified`)
      })
    })

    it('refuses a signature packet of an unknown signature type with ERR_NIP_SIGNATURE_INVALID (was a plain Error)', async () => {
      const packet = Buffer.from(signaturePacket())
      // Old-format header (2 bytes), version 4, then the signature type: 0x41 is no type.
      assert.equal(packet[2], 4)
      packet[3] = 0x41
      await assert.rejects(verifyInRelease(withPacket(packet), keyring, 'InRelease'), (e) => isNipError(e, 'ERR_NIP_SIGNATURE_INVALID'))
    })
  })

  it('refuses a Packages Filename the URL parser refuses, or one that leaves the archive, with ERR_NIP_BAD_PACKAGE (was a TypeError)', () => {
    for (const filename of ['//[x', '//other.invalid/pool/x.deb', 'http://other.invalid/x.deb', '/pool/x.deb', '\\\\other\\x.deb', 'pool/x\n.deb']) {
      const [stanza] = parseStanzas(`Package: x\nVersion: 1\nArchitecture: amd64\nFilename: ${filename.replace('\n', '\n ')}\n`, { source: 'Packages' })
      assert.throws(() => packageFromStanza(stanza, { base: 'http://mirror.invalid/debian/', origin: 'Packages', priority: 0 }), (e) => isNipError(e, 'ERR_NIP_BAD_PACKAGE'), filename)
    }
    const [ok] = parseStanzas('Package: x\nVersion: 1\nArchitecture: amd64\nFilename: ./pool/main/x/x_1_amd64.deb\n', { source: 'Packages' })
    assert.equal(packageFromStanza(ok, { base: 'http://mirror.invalid/debian/', origin: 'Packages', priority: 0 })!.url, 'http://mirror.invalid/debian/pool/main/x/x_1_amd64.deb')
  })
})
