/** The parts of the fleet cache that need no registry: layering, documents, keys, credentials, settings. */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { NipError, TreeEntry } from '@nip/core'
import { findCredentials, generateKeyPair, parseChallenge, parseDocument, parsePublicKey, parseRegistryRef, parseSecretKey, planLayers, readOciSettings, signDocument, tagFor, verifyDocument, PACK_THRESHOLD, SMALL_LAYERS, packFanout } from '../src/index.js'

const code = (c: string) => (e: unknown) => {
  assert.equal((e as NipError).code, c, String(e))
  return true
}

function seeded(seed: number): () => number {
  let s = seed >>> 0
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32)
}

function tree(n: number, rnd: () => number, salt = ''): TreeEntry[] {
  return Array.from({ length: n }, (_, i) => {
    const size = Math.floor(rnd() * 80_000)
    const digest = createHash('sha256').update(`${salt}${i}`).digest('hex')
    return { path: `f/${i}`, type: 'file' as const, mode: 0o644, blob: digest, size }
  })
}

describe('oci: layers', () => {
  it('each distinct content is a layer while there are few; equal contents once', () => {
    const entries: TreeEntry[] = [
      { path: 'big', type: 'file', mode: 0o644, blob: 'a'.repeat(64), size: PACK_THRESHOLD },
      { path: 'small1', type: 'file', mode: 0o644, blob: 'b'.repeat(64), size: 10 },
      { path: 'same', type: 'file', mode: 0o755, blob: 'b'.repeat(64) + '-x', size: 10 },
      { path: 'd', type: 'dir', mode: 0o755 },
    ]
    const layers = planLayers(entries)
    assert.deepEqual(layers.map((l) => l.files.map((f) => f.digest[0])), [['a'], ['b']])
  })

  it('packs small files beyond SMALL_LAYERS with a content-defined fan-out', () => {
    assert.equal(packFanout(SMALL_LAYERS), 1)
    assert.equal(packFanout(50_000), 16)
    const entries = Array.from({ length: 10_000 }, (_, i) => ({ path: `f/${i}`, type: 'file' as const, mode: 0o644, blob: createHash('sha256').update(String(i)).digest('hex'), size: 100 }))
    const layers = planLayers(entries)
    assert.ok(layers.length <= SMALL_LAYERS && layers.length > 1000, `${layers.length} layers`)
    assert.equal(layers.reduce((n, l) => n + l.files.length, 0), 10_000)
  })

  it('a new version changing 5% of 5,000 files re-sends at most 10% of the bytes', () => {
    const rnd = seeded(42)
    const v1 = tree(5000, rnd)
    const v2 = v1.map((e, i) => (i % 20 === 7 ? { ...e, blob: createHash('sha256').update(`v2-${i}`).digest('hex') } : e))
    const key = (l: { files: { digest: string }[] }) => l.files.map((f) => f.digest).join()
    const before = new Set(planLayers(v1).map(key))
    const l2 = planLayers(v2)
    const total = l2.reduce((n, l) => n + l.size, 0)
    const resent = l2.filter((l) => !before.has(key(l))).reduce((n, l) => n + l.size, 0)
    assert.ok(resent / total <= 0.1, `re-sent ${(100 * resent / total).toFixed(1)}% of the bytes`)
    // The cut points are content-defined: packs not touched by a change are the same packs.
    assert.ok(l2.filter((l) => before.has(key(l))).length > l2.length / 2)
  })

  it('50,000 small files make a manifest that registries accept (well under 4 MiB)', () => {
    const rnd = seeded(7)
    const entries = Array.from({ length: 50_000 }, (_, i) => ({ path: `f/${i}`, type: 'file' as const, mode: 0o644, blob: createHash('sha256').update(String(i)).digest('hex'), size: 1 + Math.floor(rnd() * 8000) }))
    const layers = planLayers(entries)
    const manifestBytes = layers.length * 150
    assert.ok(manifestBytes < 1024 * 1024, `${layers.length} layers`)
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
