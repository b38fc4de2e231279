/**
 * Variant words on the command line: `nip install ffmpeg +vaapi -gpl video_cards=intel` attaches
 * the words to the spec before them without `--`; only the command's own flags are flags, and an
 * unknown `--bogus` is still a usage error. End to end with a Gentoo binhost (file://).
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { splitVariantWords, type FlagShape } from '../src/variantWords.js'
import { buildGpkg, writeBinhost, type BinMeta } from '../../adapter-gentoo/test/binhostFixture.js'
import { sandbox, type Sandbox } from './helpers.js'

const shapes: Record<string, FlagShape> = {
  source: { type: 'option' },
  root: { type: 'option' },
  'dry-run': { type: 'boolean' },
  yes: { type: 'boolean', char: 'y' },
  json: { type: 'boolean' },
}

describe('variant words', () => {
  it('attach to the spec before them; only known flags are flags', () => {
    assert.deepEqual(splitVariantWords(['ffmpeg', '+vaapi+lto', '-gpl', 'video_cards=intel', '~doc', 'zlib', '--source', 'gentoo', '-y', '--dry-run'], shapes), {
      flags: ['--source', 'gentoo', '-y', '--dry-run'],
      specs: [
        { spec: 'ffmpeg', variants: ['+vaapi+lto', '-gpl', 'video_cards=intel', '~doc'] },
        { spec: 'zlib', variants: [] },
      ],
      orphans: [],
    })
  })

  it('leaves unknown flags and a leading dash word to the flags, and after -- takes every word as an argument', () => {
    assert.deepEqual(splitVariantWords(['-gpl', 'ffmpeg', '--bogus', '--source=gentoo', '+x'], shapes), {
      flags: ['-gpl', '--bogus', '--source=gentoo'],
      specs: [{ spec: 'ffmpeg', variants: ['+x'] }],
      orphans: [],
    })
    assert.deepEqual(splitVariantWords(['ffmpeg', '--', '-y', '--json', 'zlib'], shapes), {
      flags: [],
      specs: [
        { spec: 'ffmpeg', variants: ['-y'] },
        { spec: 'zlib', variants: [] },
      ],
      orphans: ['--json'],
    })
    assert.deepEqual(splitVariantWords(['+vaapi', 'ffmpeg'], shapes).orphans, ['+vaapi'])
  })
})

describe('nip install/graft/info with variants (gentoo binhost)', function () {
  this.timeout(60_000)
  let sb: Sandbox
  const meta = (use: string[]): BinMeta => ({ category: 'app-misc', pf: 'hello-1.0', use, iuse: ['bar', 'foo'] })
  const nip = (...args: string[]) => sb.nip([...args, '--root', sb.root, '--json'])

  before(async () => {
    sb = sandbox()
    const host = path.join(sb.home, 'binhost')
    const image = (text: string) => [
      { path: 'usr/bin/hello', content: `#!/bin/sh\necho ${text}\n`, mode: 0o755 },
    ]
    writeBinhost(host, [
      { meta: meta(['foo']), path: 'app-misc/hello/hello-1.0-1.gpkg.tar', data: await buildGpkg(meta(['foo']), image('hello with foo'), { basename: 'hello-1.0-1' }), buildId: 1 },
      { meta: meta([]), path: 'app-misc/hello/hello-1.0-2.gpkg.tar', data: await buildGpkg(meta([]), image('hello plain'), { basename: 'hello-1.0-2' }), buildId: 2 },
    ])
    fs.mkdirSync(path.join(sb.root, 'etc', 'nip'), { recursive: true })
    fs.writeFileSync(path.join(sb.root, 'etc', 'nip', 'nip.conf'), `[gentoo]\nbinhosts = [${JSON.stringify(pathToFileURL(host).href)}]\n`)
  })
  after(() => sb.cleanup())

  it('install --dry-run shows the variants per program', () => {
    const r = nip('install', 'hello', '+foo', '-bar', '--dry-run', '--source=gentoo')
    assert.equal(r.status, 0, r.stdout + r.stderr)
    const programs = sb.json(r).result.plan.programs
    assert.deepEqual(programs.map((p: { name: string; variants: string[]; packageId: string }) => [p.name, p.variants, p.packageId.replace(/@@.*? /, '@@HOST ')]), [
      ['hello', ['+foo', '-bar'], 'binpkg:app-misc/hello/hello-1.0-1.gpkg.tar@@HOST +foo -bar'],
    ])
  })

  it('the human plan shows the variants next to the version', () => {
    const r = sb.nip(['install', 'hello', '+foo', '-bar', '--dry-run', '--source=gentoo', '--root', sb.root, '--no-color'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /hello\s+1\.0 \+foo -bar\s+gentoo/)
  })

  it('graft takes -foo without -- and grafts the plain build', () => {
    const r = nip('graft', 'gentoo:hello', '-foo', '--yes')
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.match(sb.json(r).result.grafted[0].packageId, /hello-1\.0-2\.gpkg\.tar@@\S+ -foo$/)
    assert.equal(execFileSync(path.join(sb.root, 'System', 'Links', 'Executables', 'hello'), { encoding: 'utf8' }), 'hello plain\n')
  })

  it('info shows the build for the variants', () => {
    const r = nip('info', 'hello', '+foo', '--source', 'gentoo')
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.deepEqual(sb.json(r).result.manifest.variants, ['-bar', '+foo'])
  })

  it('refuses a combination no build has, naming the nearest builds', () => {
    const r = nip('install', 'hello', '+foo', '+bar', '--source=gentoo')
    assert.equal(r.status, 3, r.stdout + r.stderr)
    const err = sb.json(r).error
    assert.equal(err.code, 'ERR_NIP_NOT_FOUND')
    assert.deepEqual(err.data.nearest, [
      { path: 'app-misc/hello/hello-1.0-1.gpkg.tar', differs: ['+bar'] },
      { path: 'app-misc/hello/hello-1.0-2.gpkg.tar', differs: ['+bar', '+foo'] },
    ])
  })

  it('refuses variants for a source without them, and unknown flags as usage errors', () => {
    const noVariants = sb.json(nip('install', 'gobo:Hello', '-gpl'))
    assert.deepEqual([noVariants.error.code, noVariants.error.message], ['ERR_NIP_BAD_SPEC', 'gobo packages have no variants (-gpl was given for Hello).'])
    for (const args of [['install', 'hello', '+foo', '--bogus'], ['graft', '-gpl', 'hello'], ['info', 'hello', '--bogus'], ['install', '+foo', 'hello']]) {
      const r = nip(...args)
      assert.equal(r.status, 64, `${args.join(' ')}: ${r.stdout}${r.stderr}`)
      assert.equal(sb.json(r).error.code, 'ERR_NIP_USAGE', args.join(' '))
    }
  })
})
