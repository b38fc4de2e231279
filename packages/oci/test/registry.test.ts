/**
 * The client, push and pull against a real registry (Debian's docker-registry on loopback).
 * Skipped, visibly, where docker-registry or htpasswd is not installed.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { gunzipSync } from 'node:zlib'
import path from 'node:path'
import { Cas } from '@nip/cas'
import type { AdapterContext, NipError, TreeEntry } from '@nip/core'
import { OciAdapter, RegistryClient, readCatalog, generateKeyPair, parsePublicKey, parseRegistryRef, parseSecretKey, pullProgram, pushProgram, readIndex, sha256Digest, treeDigestOf, type PushedProgram } from '../src/index.js'
import { startProxy, startRegistry, which, type Registry } from './registryServer.js'

const HAVE = which('docker-registry') && which('htpasswd')
const USERS = { alice: 'wonderland' }
const USERS_CRED = { username: 'alice', password: 'wonderland' }

function client(host: string, opts: { user?: string; password?: string; retries?: number; chunkSize?: number; repo?: string } = {}): RegistryClient {
  return new RegistryClient({
    ref: parseRegistryRef(`oci://${host}/${opts.repo ?? 'team/nip'}`),
    insecure: true,
    ...(opts.user ? { credentials: { username: opts.user, password: opts.password ?? '', from: 'test' } } : {}),
    retries: opts.retries ?? 2,
    backoffMs: 5,
    ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}),
  })
}

async function program(cas: Cas, name: string, version: string, files: Record<string, string | Buffer>): Promise<PushedProgram> {
  const entries: TreeEntry[] = [{ path: 'bin', type: 'dir', mode: 0o755 }]
  for (const [p, content] of Object.entries(files)) {
    const exec = p.startsWith('bin/')
    const info = await cas.addBuffer(Buffer.from(content), { executable: exec })
    entries.push({ path: p, type: 'file', mode: exec ? 0o755 : 0o644, blob: info.key, size: info.size })
  }
  entries.push({ path: 'bin/alias', type: 'symlink', mode: 0o777, target: 'hello' })
  const tree = treeDigestOf(entries)
  return { name, version, source: 'gobo', packageId: `${name}--${version}`, variants: [], fingerprint: tree, dependencies: [], treeDigest: tree, entries }
}

const expectCode = (code: string) => (e: unknown) => {
  assert.equal((e as NipError).code, code, String(e))
  return true
}

describe('oci: against a real registry', function () {
  let reg: Registry
  let tmp: string
  let cas: Cas
  const keys = generateKeyPair('test-1')
  const secret = parseSecretKey(keys.secret)
  const trusted = [parsePublicKey(keys.public)]

  before(async function () {
    if (!HAVE) {
      console.log('    (skipped: docker-registry (Debian package docker-registry) or htpasswd (apache2-utils) is not installed)')
      return this.skip()
    }
    reg = await startRegistry({ users: USERS })
  })
  after(async () => reg?.stop())
  beforeEach(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'nip-oci-'))
    cas = new Cas(path.join(tmp, 'cas-a'))
    await cas.init()
  })
  afterEach(() => rmSync(tmp, { recursive: true, force: true }))

  it('refuses a missing or wrong password with ERR_NIP_REGISTRY_AUTH, naming where the credentials came from', async () => {
    await assert.rejects(client(reg.host).ping(), (e: unknown) => expectCode('ERR_NIP_REGISTRY_AUTH')(e) && /none is configured/.test((e as Error).message))
    await assert.rejects(client(reg.host, { user: 'alice', password: 'wrong' }).ping(), (e: unknown) => expectCode('ERR_NIP_REGISTRY_AUTH')(e) && /alice from test/.test((e as Error).message))
    await client(reg.host, { user: 'alice', password: 'wonderland' }).ping()
  })

  it('pushes a signed program and pulls it into another store, verified; the index lists it', async () => {
    const c = client(reg.host, { user: 'alice', password: 'wonderland' })
    const big = Buffer.alloc(200_000, 7)
    const p = await program(cas, 'hello', '1.0', { 'bin/hello': '#!/bin/sh\necho hi\n', 'share/big.bin': big, 'share/a.txt': 'a\n', 'share/b.txt': 'a\n' })
    const res = await pushProgram(p, { client: c, cas, key: secret })
    assert.equal(res.tag, `hello-1.0-${p.fingerprint.slice(0, 16)}`)
    assert.equal(res.signedBy, 'test-1')
    assert.equal(res.size, 200_000 + 18 + 2) // distinct contents: a.txt and b.txt are the same bytes
    assert.deepEqual((await c.listTags()).sort(), ['nip-index', res.tag].sort())
    const index = await readIndex(c)
    assert.deepEqual(index.programs.map((x) => [x.name, x.version, x.digest, x.fingerprint]), [['hello', '1.0', res.digest, p.fingerprint]])
    // A second push sends nothing new.
    const again = await pushProgram(p, { client: c, cas, key: secret })
    assert.equal(again.uploaded, 0)
    assert.equal(again.sent, 0)
    const casB = new Cas(path.join(tmp, 'cas-b'))
    await casB.init()
    const pulled = await pullProgram(res.digest, { client: c, cas: casB, trusted, requireSigs: true })
    assert.equal(pulled.signedBy, 'test-1')
    assert.equal(treeDigestOf(pulled.entries), p.treeDigest)
    for (const e of p.entries) if (e.type === 'file') assert.ok(await casB.verify(e.blob!), e.path)
  })

  it('a second version reuses the layers of the first and sends only what changed', async () => {
    const c = client(reg.host, { user: 'alice', password: 'wonderland', repo: 'versions/nip' })
    const files = (v: string) => Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`share/f${i}`, Buffer.alloc(40_000, i % 10 === 3 ? `${v}-${i}` : `same-${i}`)]))
    const p1 = await program(cas, 'versioned', '1.0', files('v1'))
    const r1 = await pushProgram(p1, { client: c, cas, key: secret })
    const p2 = await program(cas, 'versioned', '2.0', files('v2'))
    const r2 = await pushProgram(p2, { client: c, cas, key: secret })
    assert.ok(r2.reused > 0, JSON.stringify(r2))
    assert.ok(r2.sent <= 0.25 * r1.sent, `${r2.sent} of ${r1.sent}`)
    // Pulled into an empty store, version 2 is whole and verified.
    const casB = new Cas(path.join(tmp, 'cas-b'))
    const pulled = await pullProgram(r2.digest, { client: c, cas: casB, trusted, requireSigs: true })
    assert.equal(treeDigestOf(pulled.entries), p2.treeDigest)
  })

  it('refuses an unsigned artifact and one signed by an untrusted key, each with its own code', async () => {
    const c = client(reg.host, { user: 'alice', password: 'wonderland' })
    const p = await program(cas, 'unsigned', '1.0', { 'bin/hello': 'x' })
    const res = await pushProgram(p, { client: c, cas })
    const casB = new Cas(path.join(tmp, 'cas-b'))
    await assert.rejects(pullProgram(res.digest, { client: c, cas: casB, trusted, requireSigs: true }), expectCode('ERR_NIP_ARTIFACT_UNSIGNED'))
    const other = parseSecretKey(generateKeyPair('test-1').secret) // same name, another key
    const q = await program(cas, 'forged', '1.0', { 'bin/hello': 'y' })
    const forged = await pushProgram(q, { client: c, cas, key: other })
    await assert.rejects(pullProgram(forged.digest, { client: c, cas: casB, trusted, requireSigs: true }), expectCode('ERR_NIP_ARTIFACT_SIGNATURE'))
    const stranger = parseSecretKey(generateKeyPair('stranger').secret)
    const r = await pushProgram(await program(cas, 'strange', '1.0', { 'bin/hello': 'z' }), { client: c, cas, key: stranger })
    await assert.rejects(pullProgram(r.digest, { client: c, cas: casB, trusted, requireSigs: true }), (e: unknown) => expectCode('ERR_NIP_ARTIFACT_SIGNATURE')(e) && /stranger/.test((e as Error).message))
    // Nothing of the refused programs reached the store.
    for (const e of [...p.entries, ...q.entries]) if (e.type === 'file') assert.equal(await casB.has(e.blob!), false)
  })

  it('refuses a blob the registry serves wrong (ERR_NIP_HASH_MISMATCH) and stores none of its files', async () => {
    const c = client(reg.host, { user: 'alice', password: 'wonderland' })
    const p = await program(cas, 'corrupt', '1.0', { 'bin/hello': Buffer.alloc(100_000, 1) })
    const res = await pushProgram(p, { client: c, cas, key: secret })
    const layer = JSON.parse((await c.getManifest(res.digest))!.body.toString()).layers[0].digest
    const proxy = await startProxy(reg.host, { rules: [{ method: 'GET', path: new RegExp(`/blobs/${layer}`), action: 'corrupt' }] })
    try {
      const casB = new Cas(path.join(tmp, 'cas-b'))
      await assert.rejects(pullProgram(res.digest, { client: client(proxy.host, { user: 'alice', password: 'wonderland' }), cas: casB, trusted, requireSigs: true }), expectCode('ERR_NIP_HASH_MISMATCH'))
      assert.equal(await casB.has(p.entries.find((e) => e.type === 'file')!.blob!), false)
    } finally {
      await proxy.stop()
    }
  })

  it('a push failing with 5xx midway leaves no tag; a retry completes it and reuses what was sent', async () => {
    const c0 = client(reg.host, { user: 'alice', password: 'wonderland', repo: 'team/faults' })
    const p = await program(cas, 'faulty', '2.0', { 'bin/hello': Buffer.alloc(300_000, 3), 'share/x': Buffer.alloc(150_000, 4), 'share/y': 'y' })
    // Every manifest PUT fails: the layers and the document arrive, the tag never does.
    const proxy = await startProxy(reg.host, { rules: [{ method: 'PUT', path: /\/manifests\//, action: 'fail500' }] })
    try {
      const c = client(proxy.host, { user: 'alice', password: 'wonderland', repo: 'team/faults', retries: 1 })
      await assert.rejects(pushProgram(p, { client: c, cas, key: secret }), expectCode('ERR_NIP_REGISTRY'))
      assert.deepEqual(await c0.listTags(), [])
    } finally {
      await proxy.stop()
    }
    const res = await pushProgram(p, { client: c0, cas, key: secret })
    assert.equal(res.uploaded, 0, 'the layers sent before the failure are reused')
    assert.equal(res.present, res.layers + 1) // every layer and the document
    assert.deepEqual((await c0.listTags()).sort(), ['nip-index', res.tag].sort())
  })

  it('an upload the registry receives truncated is refused by its digest; the push fails without a tag, and a retry completes it', async () => {
    const p = await program(cas, 'truncated', '1.0', { 'bin/hello': Buffer.alloc(120_000, 5) })
    const proxy = await startProxy(reg.host, { rules: [{ method: 'PUT', path: /\/blobs\/uploads\//, action: 'truncate' }] })
    try {
      const c = client(proxy.host, { user: 'alice', password: 'wonderland', repo: 'team/truncated', retries: 1 })
      await assert.rejects(pushProgram(p, { client: c, cas, key: secret }), expectCode('ERR_NIP_REGISTRY'))
    } finally {
      await proxy.stop()
    }
    const c0 = client(reg.host, { user: 'alice', password: 'wonderland', repo: 'team/truncated' })
    assert.deepEqual(await c0.listTags(), [])
    const res = await pushProgram(p, { client: c0, cas, key: secret })
    assert.deepEqual((await c0.listTags()).sort(), ['nip-index', res.tag].sort())
  })

  it('resumes a chunked upload after a failed chunk, from the registry\'s Range', async () => {
    const data = Buffer.alloc(300_000)
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff
    const proxy = await startProxy(reg.host, { rules: [{ method: 'PATCH', action: 'fail500', times: 1 }] })
    try {
      const c = client(proxy.host, { user: 'alice', password: 'wonderland', chunkSize: 64 * 1024 })
      assert.equal(await c.putBlob(data), 'uploaded')
      assert.ok(proxy.log.some((l) => l.startsWith('GET /v2/team/nip/blobs/uploads/')), 'asked the upload state')
    } finally {
      await proxy.stop()
    }
    const back = await client(reg.host, { user: 'alice', password: 'wonderland' }).getBlob(sha256Digest(data), data.length)
    assert.ok(back.equals(data))
  })

  it('mounts a blob from another repository instead of sending it', async () => {
    const data = Buffer.from('shared between repositories\n'.repeat(1000))
    const a = client(reg.host, { user: 'alice', password: 'wonderland', repo: 'site/a' })
    const b = client(reg.host, { user: 'alice', password: 'wonderland', repo: 'site/b' })
    assert.equal(await a.putBlob(data), 'uploaded')
    assert.equal(await b.putBlob(data, { mountFrom: ['site/a'] }), 'mounted')
    assert.equal(b.traffic.sent, 0)
  })

  it('speaks Bearer token auth: challenge, token endpoint with Basic credentials, retry', async () => {
    // A token-guarded front (the proxy) on an open registry, as a registry with a token service.
    const open = await startRegistry()
    const front = await startProxy(open.host, { bearer: { user: 'bob', password: 'builder', token: 'tok-123' } })
    try {
      await assert.rejects(client(front.host).ping(), expectCode('ERR_NIP_REGISTRY_AUTH'))
      await assert.rejects(client(front.host, { user: 'bob', password: 'nope' }).ping(), (e: unknown) => expectCode('ERR_NIP_REGISTRY_AUTH')(e) && /token/.test((e as Error).message))
      const c = client(front.host, { user: 'bob', password: 'builder' })
      const res = await pushProgram(await program(cas, 'tokened', '1.0', { 'bin/hello': 't' }), { client: c, cas, key: secret })
      const casB = new Cas(path.join(tmp, 'cas-b'))
      const pulled = await pullProgram(res.digest, { client: c, cas: casB, trusted, requireSigs: true })
      assert.equal(pulled.document.name, 'tokened')
      assert.ok(front.log.some((l) => l.startsWith('GET /token?') && l.includes('scope=repository%3Ateam%2Fnip%3Apull%2Cpush')))
    } finally {
      await front.stop()
      await open.stop()
    }
  })

  it('speaks Distribution\'s own token auth (a JWT from the realm, scoped to the repository)', async function () {
    if (!which('openssl')) {
      console.log('    (skipped: openssl is not installed; it makes the token service\'s certificate)')
      return this.skip()
    }
    const treg = await startRegistry({ tokenUsers: { carol: 'c-secret' } })
    try {
      await assert.rejects(client(treg.host).ping(), expectCode('ERR_NIP_REGISTRY_AUTH'))
      await assert.rejects(client(treg.host, { user: 'carol', password: 'nope' }).ping(), expectCode('ERR_NIP_REGISTRY_AUTH'))
      const c = client(treg.host, { user: 'carol', password: 'c-secret' })
      const res = await pushProgram(await program(cas, 'jwt', '1.0', { 'bin/hello': 'j' }), { client: c, cas, key: secret })
      const pulled = await pullProgram(res.digest, { client: client(treg.host, { user: 'carol', password: 'c-secret' }), cas: new Cas(path.join(tmp, 'cas-b')), trusted, requireSigs: true })
      assert.equal(pulled.document.name, 'jwt')
    } finally {
      await treg.stop()
    }
  })

  it('skopeo inspect reads what nip pushes, and nip reads what skopeo copy pushes', async function () {
    if (!which('skopeo')) {
      console.log('    (skipped: skopeo is not installed)')
      return this.skip()
    }
    const c = client(reg.host, { user: 'alice', password: 'wonderland', repo: 'interop/nip' })
    const res = await pushProgram(await program(cas, 'inspected', '1.0', { 'bin/hello': 'i' }), { client: c, cas, key: secret })
    const creds = ['--creds', 'alice:wonderland']
    const raw = spawnSync('skopeo', ['inspect', '--raw', '--tls-verify=false', ...creds, `docker://${reg.host}/interop/nip:${res.tag}`], { encoding: 'utf8' })
    assert.equal(raw.status, 0, raw.stderr)
    assert.equal(sha256Digest(Buffer.from(raw.stdout.replace(/\n$/, ''))), res.digest) // skopeo ends its output with a newline
    assert.equal(JSON.parse(raw.stdout).artifactType, 'application/vnd.nip.program.v1')
    const cfg = spawnSync('skopeo', ['inspect', '--config', '--raw', '--tls-verify=false', ...creds, `docker://${reg.host}/interop/nip:${res.tag}`], { encoding: 'utf8' })
    assert.equal(cfg.status, 0, cfg.stderr)
    assert.equal(JSON.parse(cfg.stdout).name, 'inspected')
    // skopeo copy an OCI image layout (made here) into the registry; nip's client reads it back.
    const layout = path.join(tmp, 'layout')
    const layer = Buffer.from('not really a tar, but a blob\n')
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256Digest(layer)] } }))
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256Digest(config), size: config.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256Digest(layer), size: layer.length }] }))
    const blobs = path.join(layout, 'blobs', 'sha256')
    spawnSync('mkdir', ['-p', blobs])
    for (const b of [layer, config, manifest]) writeFileSync(path.join(blobs, sha256Digest(b).slice(7)), b)
    writeFileSync(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
    writeFileSync(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256Digest(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }))
    const copy = spawnSync('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:wonderland', `oci:${layout}:v1`, `docker://${reg.host}/interop/image:v1`], { encoding: 'utf8' })
    assert.equal(copy.status, 0, copy.stderr)
    const ic = client(reg.host, { user: 'alice', password: 'wonderland', repo: 'interop/image' })
    const m = await ic.getManifest('v1')
    assert.ok(m)
    const doc = JSON.parse(m.body.toString())
    // skopeo compresses an uncompressed layer on its way to a registry.
    const got = await ic.getBlob(doc.layers[0].digest, doc.layers[0].size)
    assert.ok((String(doc.layers[0].mediaType).endsWith('+gzip') ? gunzipSync(got) : got).equals(layer), doc.layers[0].mediaType)
    assert.deepEqual(await ic.listTags(), ['v1'])
  })

  it('the oci source resolves from the index and fails over from a mirror serving wrong bytes to the next', async () => {
    const c = client(reg.host, { user: 'alice', password: 'wonderland', repo: 'mirror/nip' })
    const p = await program(cas, 'mirrored', '3.1', { 'bin/hello': Buffer.alloc(90_000, 9) })
    const res = await pushProgram(p, { client: c, cas, key: secret })
    const proxy = await startProxy(reg.host, { rules: [{ method: 'GET', path: /\/blobs\/sha256:/, action: 'corrupt' }] })
    try {
      const adapter = new OciAdapter()
      const warnings: string[] = []
      const casB = new Cas(path.join(tmp, 'cas-b'))
      const ctx = {
        cas: casB,
        reporter: { emit: (e: { type: string; message?: string }) => e.type === 'warning' && warnings.push(e.message ?? '') },
        config: { registries: [`oci://${proxy.host}/mirror/nip`, `oci://${reg.host}/mirror/nip`], 'insecure-registries': [proxy.host, reg.host], credentials: { [proxy.host]: USERS_CRED, [reg.host]: USERS_CRED }, 'trusted-public-keys': [keys.public], retries: 0 },
        limits: { maxEntries: 1000, maxTotalSize: 1e9, maxPathLength: 4096, maxDepth: 256 },
        cacheDir: tmp,
      } as unknown as AdapterContext
      const refs = await adapter.resolve({ name: 'mirrored', raw: 'mirrored' }, ctx)
      assert.deepEqual(refs.map((r) => [r.source, r.version, r.id]), [['oci', '3.1', `${res.tag}@${res.digest}`]])
      const got = await adapter.fetch(refs[0], ctx)
      assert.equal(treeDigestOf(got.entries), p.treeDigest)
      assert.ok(warnings.some((w) => w.includes(proxy.host) && /hashes to/.test(w)), warnings.join('\n'))
    } finally {
      await proxy.stop()
    }
  })

  it('two pushes racing on the index lose no program: readers reconcile with the tags, the next push repairs the index', async () => {
    const c1 = client(reg.host, { user: 'alice', password: 'wonderland', repo: 'race/nip' })
    const c2 = client(reg.host, { user: 'alice', password: 'wonderland', repo: 'race/nip' })
    const [one, two] = await Promise.all([
      pushProgram(await program(cas, 'one', '1', { 'bin/hello': '1' }), { client: c1, cas, key: secret }),
      pushProgram(await program(cas, 'two', '1', { 'bin/hello': '2' }), { client: c2, cas, key: secret }),
    ])
    const catalog = await readCatalog(c1)
    assert.deepEqual(catalog.programs.map((p) => [p.name, p.digest]), [['one', one.digest], ['two', two.digest]])
    await pushProgram(await program(cas, 'three', '1', { 'bin/hello': '3' }), { client: c1, cas, key: secret })
    assert.deepEqual((await readIndex(c1)).programs.map((p) => p.name), ['one', 'three', 'two'])
  })

})
