import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { isNipError } from '@nip/core'
import { listRecipes, loadProfiles, loadRecipe, parseRecipe } from '../src/index.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const RECIPES = path.join(REPO, 'recipes')
const PROFILES = path.join(REPO, 'profiles')

const HELLO = `name = "t"
version = "1.0"
summary = "a test"

[[source]]
url = "https://example.invalid/t-1.0.tar.gz"
sha256 = "${'a'.repeat(64)}"

[build]
system = "autotools"

[variants.nls]
summary = "translations"
default = true
on = ["--enable-nls"]
off = ["--disable-nls"]
`

function refusal(text: string, file = '/r/t.toml'): { message: string; data: Record<string, unknown> } {
  try {
    parseRecipe(file, text)
  } catch (e) {
    if (isNipError(e, 'ERR_NIP_RECIPE_INVALID')) return { message: e.message, data: e.data }
    throw e
  }
  assert.fail('the recipe was accepted')
}

describe('recipes', () => {
  it('parses every shipped recipe and profile', () => {
    const names = [...listRecipes([RECIPES]).keys()]
    assert.deepEqual(names.sort(), ['ffmpeg', 'hello', 'jq', 'zlib'])
    for (const n of names) assert.equal(loadRecipe([RECIPES], n).name, n)
    assert.deepEqual([...loadProfiles([PROFILES]).keys()].sort(), ['cpu-native', 'debug', 'hardened', 'lto', 'size'])
  })

  it('reads hello: its source, Debian pool path and the nls variant', () => {
    const r = loadRecipe([RECIPES], 'hello')
    assert.equal(r.version, '2.10')
    assert.equal(r.sources[0].sha256, '31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b')
    assert.equal(r.sources[0].debian, 'hello/hello_2.10.orig.tar.gz')
    assert.equal(r.sources[0].file, 'hello-2.10.tar.gz')
    assert.equal(r.sources[0].signature?.debian, 'hello/hello_2.10.orig.tar.gz.asc')
    assert.equal(r.sources[0].signature?.key, path.join(RECIPES, 'keys', 'hello.asc'))
    assert.ok(fs.statSync(r.sources[0].signature!.key).isFile())
    const nls = r.variants.get('nls')
    assert.ok(nls && nls.kind === 'bool' && nls.default === true)
    assert.deepEqual(nls.off, ['--disable-nls'])
  })

  it('names the file, line and key of a wrong type', () => {
    const r = refusal(HELLO.replace('default = true', 'default = "yes"'))
    assert.equal(r.data.key, 'variants.nls.default')
    assert.equal(r.data.line, 14)
    assert.match(r.message, /^\/r\/t\.toml:14: variants\.nls\.default: must be true or false/)
  })

  it('names the line of a bad hash inside the second [[source]]', () => {
    const text = HELLO.replace('[build]', `[[source]]\nurl = "https://example.invalid/extra.tar.gz"\nsha256 = "nothex"\n\n[build]`)
    const r = refusal(text)
    assert.equal(r.data.key, 'source[1].sha256')
    assert.equal(r.data.line, 11)
  })

  it('reads ffmpeg: vaapi pulls in libva from Debian, the lto profile adds --enable-lto', () => {
    const r = loadRecipe([RECIPES], 'ffmpeg')
    const vaapi = r.variants.get('vaapi')
    assert.ok(vaapi && vaapi.kind === 'bool' && vaapi.default === false)
    assert.ok(vaapi.buildDependencies.includes('debian:libva-dev'))
    assert.deepEqual(r.profileOptions, { lto: ['--enable-lto'] })
  })

  it('refuses an unknown key with the nearest known one', () => {
    const r = refusal(HELLO.replace('system = "autotools"', 'system = "autotools"\noptionz = []'))
    assert.equal(r.data.key, 'build.optionz')
    assert.equal(r.data.line, 11)
    assert.match(r.message, /did you mean "options"/)
  })

  it('a signature needs its key, and a key a signature', () => {
    assert.equal(refusal(HELLO.replace('[build]', 'signature-url = "https://example.invalid/t.sig"\n[build]')).data.key, 'source[0].signing-key')
    assert.match(refusal(HELLO.replace('[build]', 'signing-key = "keys/t.asc"\n[build]')).message, /needs signature-url or signature-debian/)
  })

  it('refuses an unknown build system, a missing source, a name that is not the file name', () => {
    assert.match(refusal(HELLO.replace('"autotools"', '"scons"')).message, /build\.system: "scons" is not a build system/)
    assert.match(refusal(HELLO.replace(/\[\[source\]\][^[]*/, '')).message, /source: at least one \[\[source\]\] is required/)
    assert.match(refusal(HELLO, '/r/other.toml').message, /name: is "t" but the file is named other\.toml/)
  })

  it('refuses a TOML syntax error with its line', () => {
    const r = refusal(HELLO.replace('summary = "a test"', 'summary = "a test'))
    assert.equal(r.data.line, 3)
  })

  it('checks valued variants: the default is one of the values', () => {
    const text = HELLO + `\n[variants.regex]\nsummary = "regex library"\nvalues = ["onig", "none"]\ndefault = "pcre"\n`
    const r = refusal(text)
    assert.equal(r.data.key, 'variants.regex.default')
    assert.equal(r.data.line, 21)
  })

  it('a missing recipe is ERR_NIP_NOT_FOUND with the nearest names', () => {
    try {
      loadRecipe([RECIPES], 'helo')
      assert.fail('found')
    } catch (e) {
      assert.ok(isNipError(e, 'ERR_NIP_NOT_FOUND'))
      assert.deepEqual((e.data as { suggestions: string[] }).suggestions, ['hello'])
    }
  })

  it('the recipes directory holds only recipes and the README', () => {
    for (const f of fs.readdirSync(RECIPES)) assert.ok(f === 'README.md' || f === 'keys' || f.endsWith('.toml'), f)
  })
})
