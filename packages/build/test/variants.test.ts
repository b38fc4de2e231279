import assert from 'node:assert/strict'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { isNipError, type NipErrorCode } from '@nip/core'
import { loadProfiles, parseRecipe, resolveVariants, variantVersion, planSteps, fingerprint, fingerprintDocument } from '../src/index.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const profiles = loadProfiles([path.join(REPO, 'profiles')])

const recipe = parseRecipe(
  '/r/ff.toml',
  `name = "ff"
version = "5.1"
summary = "test"
[[source]]
url = "https://example.invalid/ff.tar.xz"
sha256 = "${'b'.repeat(64)}"
[build]
system = "autotools"
[variants.vaapi]
summary = "VA-API"
default = false
on = ["--enable-vaapi"]
off = ["--disable-vaapi"]
requires = ["+shared"]
build-dependencies = ["debian:libva-dev"]
[variants.shared]
summary = "shared libraries"
default = true
on = ["--enable-shared"]
off = ["--disable-shared"]
[variants.static]
summary = "static"
default = false
conflicts = ["+shared"]
[variants.regex]
summary = "regex library"
values = ["onig", "none"]
default = "onig"
[variants.regex.options]
onig = ["--with-oniguruma"]
none = ["--without-oniguruma"]
`,
)

function resolve(cmd: string[], config: string[] = [], defaultProfiles: string[] = []) {
  return resolveVariants(recipe, profiles, { defaultProfiles, layers: [{ origin: 'configuration', words: config }, { origin: 'command line', words: cmd }] })
}

function refused(code: NipErrorCode, fn: () => unknown): { message: string; hint?: string; data: Record<string, unknown> } {
  try {
    fn()
  } catch (e) {
    if (isNipError(e, code)) return e
    throw e
  }
  assert.fail(`no ${code}`)
}

describe('variants', () => {
  it('takes the defaults when no word is given', () => {
    const r = resolve([])
    assert.deepEqual(r.values, { vaapi: false, shared: true, static: false, regex: 'onig' })
    assert.deepEqual(r.words, [])
    assert.equal(variantVersion('5.1', r), '5.1')
  })

  it('words override defaults; a non-variant word switches a profile; the version names what differs', () => {
    const r = resolve(['+vaapi', '+lto', 'regex=none'])
    assert.equal(r.values.vaapi, true)
    assert.equal(r.values.regex, 'none')
    assert.deepEqual(r.profiles, ['lto'])
    assert.deepEqual(r.words, ['+lto', '+vaapi', 'regex=none'])
    assert.equal(variantVersion('5.1', r), '5.1+lto+vaapi_regex=none')
  })

  it('the command line overrides the configuration, which overrides the recipe', () => {
    assert.equal(resolve([], ['+vaapi']).values.vaapi, true)
    assert.equal(resolve(['-vaapi'], ['+vaapi']).values.vaapi, false)
    assert.deepEqual(resolve(['-lto'], [], ['lto']).profiles, [])
    assert.deepEqual(resolve([], [], ['hardened']).profiles, ['hardened'])
  })

  it('an unknown word is ERR_NIP_VARIANT_UNKNOWN with the nearest names', () => {
    const e = refused('ERR_NIP_VARIANT_UNKNOWN', () => resolve(['+vaapu']))
    assert.deepEqual(e.data.suggestions, ['vaapi'])
    assert.match(e.hint ?? '', /Did you mean \+vaapi/)
    const p = refused('ERR_NIP_VARIANT_UNKNOWN', () => resolve(['+lot']))
    assert.deepEqual(p.data.suggestions, ['lto'])
    const v = refused('ERR_NIP_VARIANT_UNKNOWN', () => resolve(['regex=onigg']))
    assert.deepEqual(v.data.suggestions, ['regex=onig'])
  })

  it('contradicting words are ERR_NIP_VARIANT_CONFLICT naming both', () => {
    const e = refused('ERR_NIP_VARIANT_CONFLICT', () => resolve(['+vaapi', '-vaapi']))
    assert.deepEqual(e.data.words, ['+vaapi', '-vaapi'])
    refused('ERR_NIP_VARIANT_CONFLICT', () => resolve(['regex=onig', 'regex=none']))
    // The same word twice is no contradiction.
    assert.equal(resolve(['+vaapi', '+vaapi']).values.vaapi, true)
  })

  it('a violated requires names the clause and the recipe', () => {
    const e = refused('ERR_NIP_VARIANT_REQUIRES', () => resolve(['+vaapi', '-shared']))
    assert.equal(e.data.clause, '+shared')
    assert.match(e.message, /\+vaapi requires \+shared \(variants\.vaapi\.requires in \/r\/ff\.toml\)/)
  })

  it('a violated conflicts clause, and conflicting profiles, are ERR_NIP_VARIANT_CONFLICT', () => {
    const e = refused('ERR_NIP_VARIANT_CONFLICT', () => resolve(['+static']))
    assert.equal(e.data.clause, '+shared')
    assert.ok(resolve(['+static', '-shared']).values.static)
    refused('ERR_NIP_VARIANT_CONFLICT', () => resolve(['+lto', '+debug']))
  })

  it('a valued variant takes key=value, an on/off one takes +/-', () => {
    refused('ERR_NIP_BAD_SPEC', () => resolve(['+regex']))
    refused('ERR_NIP_BAD_SPEC', () => resolve(['vaapi=yes']))
  })
})

describe('build plans and fingerprints', () => {
  const plan = (words: string[], cflags: string[] = []) => {
    const resolved = resolve(words)
    const steps = planSteps({ recipe, profiles, resolved, layers: { config: { cflags, ldflags: [] } } })
    const doc = fingerprintDocument({ recipe, profiles: resolved.profiles.map((p) => profiles.get(p)!), resolved, plan: steps, dependencies: [], executor: { id: 'bwrap', version: 'bubblewrap 0.8.0', toolchain: { cc: 'gcc 12' } } })
    return { steps, fp: fingerprint(doc) }
  }

  it('flags follow the precedence profile → configuration → recipe → command line', () => {
    const { steps } = plan(['+lto', 'cflags=-O3'], ['-g'])
    const f = steps.cflags
    assert.ok(f.indexOf('-flto=auto') < f.indexOf('-g') && f.indexOf('-g') < f.indexOf('-O3'), f.join(' '))
    assert.deepEqual(steps.ldflags, ['-flto=auto'])
    assert.equal(steps.env.SOURCE_DATE_EPOCH, '315532800')
    assert.equal(steps.env.TZ, 'UTC')
    assert.equal(steps.env.LC_ALL, 'C')
    assert.ok(steps.cflags.includes('-ffile-prefix-map=/build=.'))
  })

  it('variants add their options and dependencies', () => {
    const { steps } = plan(['+vaapi', 'regex=none'])
    const configure = steps.steps.find((s) => s.name === 'configure')!
    assert.deepEqual(configure.argv, ['./configure', '--prefix=/Programs/ff/5.1+vaapi_regex=none', '--enable-vaapi', '--enable-shared', '--without-oniguruma'])
    assert.deepEqual(steps.buildDependencies, ['debian:libva-dev'])
  })

  it('the fingerprint is stable, and changes with variants, profiles and flags', () => {
    const a = plan([]).fp
    assert.match(a, /^[0-9a-f]{64}$/)
    assert.equal(plan([]).fp, a)
    assert.equal(plan(['-vaapi']).fp, a, 'a word equal to the default changes nothing')
    const others = [plan(['+vaapi']).fp, plan(['+lto']).fp, plan([], ['-g']).fp, plan(['regex=none']).fp]
    assert.equal(new Set([a, ...others]).size, 5)
  })
})
