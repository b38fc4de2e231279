/**
 * Variants (`ffmpeg +vaapi -gpl video_cards=intel`): parsed with their spec, passed to the
 * adapter's resolve/describe/fetch, shown in the plan, recorded in the package id; refused by a
 * source that has no variants.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { MemoryAdapter, openNip, tempRoot } from '@nip/testing'
import { NipError, isVariantWord, parseSpec, type AdapterContext, type FetchResult, type PackageManifest, type PackageRef, type PackageSpec } from '@nip/core'

const known = ['memory', 'flavours']

/** A source with variants: the build it grafts depends on them, and it records every call. */
class FlavouredAdapter extends MemoryAdapter {
  readonly acceptsVariants = true
  calls: string[] = []

  override async resolve(spec: PackageSpec): Promise<PackageRef[]> {
    this.calls.push(`resolve ${spec.name} [${(spec.variants ?? []).join(' ')}]`)
    const refs = await super.resolve(spec)
    return refs.map((r) => ({ ...r, id: [r.id, ...(spec.variants ?? [])].join(' ') }))
  }

  override async describe(ref: PackageRef): Promise<PackageManifest> {
    this.calls.push(`describe ${ref.name} [${(ref.variants ?? []).join(' ')}]`)
    return super.describe({ ...ref, id: ref.id.split(' ')[0] })
  }

  override async fetch(ref: PackageRef, ctx: AdapterContext): Promise<FetchResult> {
    this.calls.push(`fetch ${ref.name} [${(ref.variants ?? []).join(' ')}]`)
    const result = await super.fetch({ ...ref, id: ref.id.split(' ')[0] }, ctx)
    return { ...result, ref }
  }
}

describe('variants', () => {
  describe('parseSpec', () => {
    it('splits the variant words that follow a spec, +a+b included', () => {
      assert.deepEqual(parseSpec('flavours:ffmpeg@6.1 +vaapi+lto -gpl ~doc video_cards=intel,radeon', { knownSources: known }), {
        raw: 'flavours:ffmpeg@6.1 +vaapi+lto -gpl ~doc video_cards=intel,radeon',
        source: 'flavours',
        name: 'ffmpeg',
        version: '6.1',
        variants: ['+vaapi', '+lto', '-gpl', '~doc', 'video_cards=intel,radeon'],
      })
      assert.deepEqual(parseSpec('hello', { knownSources: known }), { raw: 'hello', name: 'hello' })
      assert.deepEqual(parseSpec('gtk +gtk+ video_cards=', { knownSources: known }).variants, ['+gtk+', 'video_cards='])
    })

    it('refuses a word that is not a variant with ERR_NIP_BAD_SPEC', () => {
      assert.throws(
        () => parseSpec('ffmpeg vaapi', { knownSources: known }),
        (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_BAD_SPEC' && e.data.word === 'vaapi' && /is not a variant/.test(e.message),
      )
      assert.throws(() => parseSpec('ffmpeg +', { knownSources: known }), (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_BAD_SPEC')
    })

    it('knows variant words from package names', () => {
      assert.deepEqual(['+vaapi', '-gpl', '~doc', 'video_cards=intel', 'python_targets=python3_12', 'hello', '--bogus', '+', '=x'].map(isVariantWord), [
        true, true, true, true, true, false, false, false, false,
      ])
    })
  })

  describe('install', () => {
    let root: string
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }))

    it('passes variants to resolve, describe and fetch, shows them in the plan and records them in the package id', async () => {
      root = await tempRoot()
      const flavours = new FlavouredAdapter(
        [
          { name: 'ffmpeg', version: '6.1', files: { 'bin/ffmpeg': 'x' }, dependencies: ['zlib'] },
          { name: 'zlib', version: '1.3', files: { 'lib/libz.so.1': 'z' } },
        ],
        { id: 'flavours' },
      )
      const { nip } = await openNip(root, [flavours])
      try {
        const dry = await nip.install(['flavours:ffmpeg +vaapi -gpl video_cards=intel'], { dryRun: true })
        assert.deepEqual(
          dry.plan.programs.map((p) => ({ name: p.name, packageId: p.packageId, variants: p.variants })),
          [
            { name: 'zlib', packageId: 'zlib-1.3', variants: undefined },
            { name: 'ffmpeg', packageId: 'ffmpeg-6.1 +vaapi -gpl video_cards=intel', variants: ['+vaapi', '-gpl', 'video_cards=intel'] },
          ],
        )
        flavours.calls = []
        const result = await nip.install(['flavours:ffmpeg +vaapi -gpl video_cards=intel'])
        assert.deepEqual(flavours.calls, [
          'resolve ffmpeg [+vaapi -gpl video_cards=intel]',
          'describe ffmpeg [+vaapi -gpl video_cards=intel]',
          'resolve zlib []',
          'describe zlib []',
          'fetch zlib []',
          'fetch ffmpeg [+vaapi -gpl video_cards=intel]',
        ])
        assert.deepEqual(
          result.grafted.map((p) => `${p.name} ${p.packageId}`).sort(),
          ['ffmpeg ffmpeg-6.1 +vaapi -gpl video_cards=intel', 'zlib zlib-1.3'],
        )
      } finally {
        nip.close()
      }
    })

    it('refuses variants for a source that has none, named or found, and grafts nothing', async () => {
      root = await tempRoot()
      const { nip } = await openNip(root, [new MemoryAdapter([{ name: 'hello', version: '1', files: { 'bin/hello': 'x' } }])])
      try {
        for (const spec of ['hello +vaapi', 'memory:hello -gpl']) {
          await assert.rejects(nip.install([spec]), (e: unknown) => {
            assert.ok(e instanceof NipError)
            assert.equal(e.code, 'ERR_NIP_BAD_SPEC')
            assert.match(e.message, /^memory packages have no variants/)
            return true
          })
        }
        await assert.rejects(nip.info('hello', { variants: ['+x'] }), (e: unknown) => e instanceof NipError && e.code === 'ERR_NIP_BAD_SPEC')
        assert.deepEqual(nip.list(), [])
      } finally {
        nip.close()
      }
    })
  })
})
