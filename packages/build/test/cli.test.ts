/**
 * `nip build`, `nip info --recipe` and `nip logs --build` through the nip executable, for
 * everything that needs no compiler and no network: listing variants, dry runs, and the
 * refusals that come before anything is fetched. A directory beside the root must not change.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'bin', 'run.js')

describe('nip build (no compiler, no network)', function () {
  this.timeout(60_000)
  let parent: string
  let root: string
  let recipes: string
  let beside: string

  const nip = (args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, ...args, '--root', root, '--json', '--yes'], { encoding: 'utf8', cwd: parent, env: { ...process.env, HOME: parent, NIP_CONFIG: '' } })
    const last = r.stdout.trim().split('\n').pop() ?? ''
    return { status: r.status, stderr: r.stderr, json: last ? JSON.parse(last) : null }
  }
  const noPrograms = () => !fs.existsSync(path.join(root, 'Programs')) || fs.readdirSync(path.join(root, 'Programs')).length === 0
  const listing = (d: string): string[] => fs.readdirSync(d, { recursive: true }).map(String).sort()

  before(() => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-build-cli-'))
    root = path.join(parent, 'root')
    recipes = path.join(parent, 'recipes')
    beside = path.join(parent, 'beside')
    for (const d of [root, recipes, beside]) fs.mkdirSync(d)
    fs.writeFileSync(path.join(beside, 'keep'), 'x')
    fs.writeFileSync(path.join(recipes, 'broken.toml'), 'name = "broken"\nversion = "1"\nsummary = "s"\n\n[[source]]\nurl = "https://example.invalid/b.tar.gz"\nsha256 = "abc"\n\n[build]\nsystem = "autotools"\n')
    fs.mkdirSync(path.join(root, 'etc', 'nip'), { recursive: true })
    fs.writeFileSync(path.join(root, 'etc', 'nip', 'nip.conf'), `[build]\nrecipe-dirs = [${JSON.stringify(recipes)}]\n`)
  })
  after(() => {
    assert.deepEqual(listing(beside), ['keep'])
    fs.rmSync(parent, { recursive: true, force: true })
  })

  it('--list-variants shows the recipe variants and the profiles', () => {
    const r = nip(['build', '--list-variants', 'hello'])
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(r.json.result.variants.map((v: { name: string; default: boolean }) => [v.name, v.default]), [['nls', true]])
    assert.deepEqual(r.json.result.profiles.map((p: { name: string }) => p.name), ['cpu-native', 'debug', 'hardened', 'lto', 'size'])
  })

  it('info --recipe shows sources, the Debian pool path and a valued variant', () => {
    const r = nip(['info', '--recipe', 'jq'])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.json.result.sources[0].debian, 'jq/jq_1.7.1.orig.tar.gz')
    const regex = r.json.result.variants.find((v: { name: string }) => v.name === 'regex')
    assert.deepEqual(regex.values, ['oniguruma', 'none'])
    assert.equal(regex.default, 'oniguruma')
  })

  it('--dry-run plans the variant version and fingerprint and writes no program', () => {
    const r = nip(['build', 'hello', '-nls', '+lto', '--dry-run'])
    assert.equal(r.status, 0, r.stderr)
    const b = r.json.result.build
    assert.equal(b.version, '2.10+lto~nls')
    assert.match(b.fingerprint, /^[0-9a-f]{64}$/)
    assert.equal(b.cached, false)
    assert.match(b.cflags, /-flto=auto/)
    assert.ok(b.options.includes('--disable-nls'))
    assert.equal(r.json.result.install.dryRun, true)
    assert.equal(r.json.result.install.plan.programs[0].version, '2.10+lto~nls')
    assert.ok(noPrograms())
    // The same words give the same fingerprint; another variant another one.
    assert.equal(nip(['build', 'hello', '+lto', '~nls', '--dry-run']).json.result.build.fingerprint, b.fingerprint)
    assert.notEqual(nip(['build', 'hello', '--dry-run']).json.result.build.fingerprint, b.fingerprint)
  })

  const refusals: [string, string[], string, number][] = [
    ['an unknown flag', ['hello', '+nsl'], 'ERR_NIP_VARIANT_UNKNOWN', 64],
    ['contradicting words', ['hello', '+nls', '-nls'], 'ERR_NIP_VARIANT_CONFLICT', 64],
    ['conflicting profiles', ['hello', '+lto', '+debug'], 'ERR_NIP_VARIANT_CONFLICT', 64],
    ['an unknown recipe', ['helo'], 'ERR_NIP_NOT_FOUND', 3],
    ['a recipe that breaks the schema', ['broken'], 'ERR_NIP_RECIPE_INVALID', 65],
  ]
  for (const [what, args, code, exit] of refusals) {
    it(`${what} is ${code} (exit ${exit}) and writes no program`, () => {
      const r = nip(['build', ...args])
      assert.equal(r.status, exit, r.stderr)
      assert.equal(r.json.error.code, code)
      assert.ok(noPrograms())
      if (code === 'ERR_NIP_VARIANT_UNKNOWN') assert.deepEqual(r.json.error.data.suggestions, ['nls'])
      if (code === 'ERR_NIP_NOT_FOUND') assert.match(r.json.error.hint, /hello/)
      if (code === 'ERR_NIP_RECIPE_INVALID') {
        assert.equal(r.json.error.data.line, 7)
        assert.equal(r.json.error.data.key, 'source[0].sha256')
        assert.match(r.json.error.message, /broken\.toml:7: source\[0\]\.sha256/)
      }
    })
  }

  it('a Podman socket that does not answer is ERR_NIP_EXECUTOR_MISSING saying how to start it, and grafts nothing', () => {
    const conf = path.join(parent, 'podman.conf')
    fs.writeFileSync(conf, `[build]\npodman-socket = ${JSON.stringify(path.join(parent, 'no-such.sock'))}\n`)
    const r = nip(['build', 'hello', '--container', '--config', conf])
    assert.equal(r.status, 69, r.stderr)
    assert.equal(r.json.error.code, 'ERR_NIP_EXECUTOR_MISSING')
    assert.match(r.json.error.message, /podman system service --time=0 unix:\/\//)
    assert.ok(noPrograms())
  })

  it('logs --build of a program never built is ERR_NIP_NOT_FOUND', () => {
    const r = nip(['logs', '--build', 'hello'])
    assert.equal(r.status, 3)
    assert.equal(r.json.error.code, 'ERR_NIP_NOT_FOUND')
  })
})
