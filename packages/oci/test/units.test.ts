/** The parts of the fleet cache that need no registry: layering, documents, keys, credentials, settings. */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { NipError, TreeEntry } from '@nip/core'
import { findCredentials, generateKeyPair, parseChallenge, parseDocument, parsePublicKey, parseRegistryRef, parseSecretKey, planLayers, readOciSettings, signDocument, tagFor, verifyDocument, PACK_TARGET, packFanout, type KnownLayer, type PlannedLayer } from '../src/index.js'

const code = (c: string) => (e: unknown) => {
  assert.equal((e as NipError).code, c, String(e))
  return true
}

describe('oci: layers', () => {
  const file = (i: number, size: number, salt = ''): TreeEntry => ({ path: `f/${i}`, type: 'file', mode: 0o644, blob: createHash('sha256').update(`${salt}${i}`).digest('hex'), size })
  const known = (plan: PlannedLayer[]): KnownLayer[] => plan.map((l, i) => ({ digest: l.reuse ?? `sha256:${createHash('sha256').update(`layer${i}${l.files.map((f) => f.digest).join()}`).digest('hex')}`, size: l.size, files: l.files }))

  it('a large file is a layer of its own; small ones are packed to about a MiB; equal contents once', () => {
    const entries: TreeEntry[] = [
      { path: 'big', type: 'file', mode: 0o644, blob: 'a'.repeat(64), size: PACK_TARGET },
      { path: 'small1', type: 'file', mode: 0o644, blob: 'b'.repeat(64), size: 10 },
      { path: 'same', type: 'file', mode: 0o755, blob: 'b'.repeat(64) + '-x', size: 10 },
      { path: 'd', type: 'dir', mode: 0o755 },
    ]
    assert.deepEqual(planLayers(entries).map((l) => l.files.map((f) => f.digest[0])), [['a'], ['b']])
    assert.equal(packFanout(40_000), 16)
    const many = planLayers(Array.from({ length: 50_000 }, (_, i) => file(i, 2048)))
    assert.ok(many.length > 50 && many.length < 400, `${many.length} layers for 50,000 files of 2 KiB`)
    assert.equal(many.reduce((n, l) => n + l.files.length, 0), 50_000)
  })

  it('a new version changing 5% of 5,000 files reuses the earlier layers and sends at most 10% of the bytes', () => {
    const v1 = Array.from({ length: 5000 }, (_, i) => file(i, 40_000))
    const v2 = v1.map((e, i) => (i % 20 === 7 ? file(i, 40_000, 'v2-') : e))
    const p1 = planLayers(v1)
    const p2 = planLayers(v2, known(p1))
    const total = 5000 * 40_000
    const sent = p2.filter((l) => !l.reuse).reduce((n, l) => n + l.size, 0)
    assert.ok(sent / total <= 0.1, `sent ${(100 * sent / total).toFixed(1)}%`)
    // Every content of v2 is in exactly one planned layer.
    const placed = new Set(p2.flatMap((l) => l.files.map((f) => f.digest)))
    assert.equal(placed.size, 5000)
  })

  it('does not reuse a layer that is mostly other files', () => {
    const v1 = Array.from({ length: 100 }, (_, i) => file(i, 40_000))
    const v2 = v1.filter((_, i) => i % 4 === 0) // a quarter of each old pack
    assert.equal(planLayers(v2, known(planLayers(v1))).filter((l) => l.reuse).length, 0)
  })
})

describe('oci: program documents', () => {
  const base = { schema: 1, name: 'hello', version: '1.0', source: 'gobo', packageId: 'x', variants: [], fingerprint: 'f', dependencies: [], treeDigest: 't', size: 1, layers: [{ digest: `sha256:${'0'.repeat(64)}`, size: 1 }] }
  const doc = (entries: unknown[]) => Buffer.from(JSON.stringify({ ...base, entries }))
  it('accepts a well-formed document', () => {
    assert.equal(parseDocument(doc([{ path: 'bin/x', type: 'file', mode: 0o755, blob: 'a'.repeat(64) + '-x', size: 1, layer: 0, offset: 0 }])).entries.length, 1)
  })
  for (const [what, entry] of [
    ['a parent path', { path: '../etc/passwd', type: 'dir', mode: 0o755 }],
    ['an absolute path', { path: '/etc/passwd', type: 'dir', mode: 0o755 }],
    ['an absolute symlink', { path: 'x', type: 'symlink', mode: 0o777, target: '/etc' }],
    ['bytes beyond the layer', { path: 'x', type: 'file', mode: 0o644, blob: 'a'.repeat(64), size: 2, layer: 0, offset: 0 }],
    ['a missing layer', { path: 'x', type: 'file', mode: 0o644, blob: 'a'.repeat(64), size: 1, layer: 3, offset: 0 }],
    ['a device', { path: 'x', type: 'char', mode: 0o644 }],
  ] as const) {
    it(`refuses ${what} (ERR_NIP_BAD_PACKAGE)`, () => assert.throws(() => parseDocument(doc([entry])), code('ERR_NIP_BAD_PACKAGE')))
  }
  it('refuses an unsafe program name', () => assert.throws(() => parseDocument(Buffer.from(JSON.stringify({ ...base, name: '../x', entries: [] }))), code('ERR_NIP_BAD_PACKAGE')))
})

describe('oci: keys and signatures', () => {
  it('signs and verifies; names the key; refuses tampering, unknown keys and no signature', () => {
    const pair = generateKeyPair('team-1')
    const secret = parseSecretKey(pair.secret)
    assert.equal(secret.publicKey, pair.public)
    const trusted = [parsePublicKey(pair.public)]
    const body = Buffer.from('{"a":1}')
    const sig = signDocument(body, secret)
    assert.equal(verifyDocument(body, sig, trusted, 'x'), 'team-1')
    assert.throws(() => verifyDocument(Buffer.from('{"a":2}'), sig, trusted, 'x'), code('ERR_NIP_ARTIFACT_SIGNATURE'))
    assert.throws(() => verifyDocument(body, sig.replace('team-1', 'team-2'), trusted, 'x'), code('ERR_NIP_ARTIFACT_SIGNATURE'))
    assert.throws(() => verifyDocument(body, undefined, trusted, 'x'), code('ERR_NIP_ARTIFACT_UNSIGNED'))
  })
  it('refuses malformed keys without echoing a secret', () => {
    assert.throws(() => parsePublicKey('team-1:AAAA'), code('ERR_NIP_KEYRING_INVALID'))
    assert.throws(() => parseSecretKey(`team-1:${Buffer.alloc(10).toString('base64')}`), code('ERR_NIP_KEYRING_INVALID'))
  })
})

describe('oci: references, tags, challenges', () => {
  it('parses oci:// references and refuses others', () => {
    assert.deepEqual(parseRegistryRef('oci://127.0.0.1:5000/team/nip'), { host: '127.0.0.1:5000', repository: 'team/nip', url: 'oci://127.0.0.1:5000/team/nip' })
    for (const bad of ['http://h/r', 'oci://h', 'oci://h/Upper', 'oci://h/../x']) assert.throws(() => parseRegistryRef(bad), code('ERR_NIP_USAGE'))
  })
  it('makes tags registries accept', () => {
    assert.equal(tagFor('ffmpeg', '5.1.9+lto~nls', 'abcdef0123456789ffff'), 'ffmpeg-5.1.9_lto_nls-abcdef0123456789')
    assert.match(tagFor('.x', '1', 'f'.repeat(64)), /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/)
    assert.ok(tagFor('n'.repeat(200), '1', 'f'.repeat(64)).length <= 128)
  })
  it('parses WWW-Authenticate challenges', () => {
    assert.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull,push"'), { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry', scope: 'repository:a/b:pull,push' } })
    assert.deepEqual(parseChallenge('Basic realm="x"'), { scheme: 'basic', params: { realm: 'x' } })
  })
})

describe('oci: credentials and settings', () => {
  let home: string
  beforeEach(() => (home = mkdtempSync(path.join(os.tmpdir(), 'nip-oci-home-'))))
  afterEach(() => rmSync(home, { recursive: true, force: true }))
  const auth = (u: string, p: string) => ({ auths: { 'https://reg.example:5000/v1/': { auth: Buffer.from(`${u}:${p}`).toString('base64') } } })

  it('takes nip\'s configuration first, then containers auth.json (XDG_RUNTIME_DIR), then Docker\'s', () => {
    const env = { HOME: home, XDG_RUNTIME_DIR: path.join(home, 'run') }
    mkdirSync(path.join(home, '.docker'))
    writeFileSync(path.join(home, '.docker', 'config.json'), JSON.stringify(auth('docker', 'd')))
    assert.equal(findCredentials('reg.example:5000', {}, env)?.username, 'docker')
    mkdirSync(path.join(home, 'run', 'containers'), { recursive: true })
    writeFileSync(path.join(home, 'run', 'containers', 'auth.json'), JSON.stringify(auth('podman', 'p')))
    assert.deepEqual(findCredentials('reg.example:5000', {}, env), { username: 'podman', password: 'p', from: path.join(home, 'run', 'containers', 'auth.json') })
    assert.equal(findCredentials('reg.example:5000', { 'reg.example:5000': { username: 'nip', password: 'n' } }, env)?.username, 'nip')
    assert.equal(findCredentials('other:5000', {}, env), undefined)
  })

  it('reads the [oci] table and refuses unknown keys and bad values', () => {
    const s = readOciSettings({ registries: ['oci://a:1/x', 'oci://b/y'], 'insecure-registries': ['a:1'], retries: 1 })
    assert.deepEqual(s.registries.map((r) => r.url), ['oci://a:1/x', 'oci://b/y'])
    assert.equal(s.pushTo?.url, 'oci://a:1/x')
    assert.equal(s.requireSigs, true)
    assert.ok(s.insecure.has('a:1'))
    assert.throws(() => readOciSettings({ registry: 'oci://a/x' }), code('ERR_NIP_CONFIG'))
    assert.throws(() => readOciSettings({ retries: -1 }), code('ERR_NIP_CONFIG'))
    assert.throws(() => readOciSettings({ 'trusted-public-keys': ['nope'] }), code('ERR_NIP_KEYRING_INVALID'))
  })
})
