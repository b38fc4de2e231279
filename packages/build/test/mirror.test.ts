import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { aptSourceUris, debianMirrors, poolUrl, sourceUrls } from '../src/index.js'

describe('the Debian mirror scheme', () => {
  let dir: string
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-apt-'))
    fs.mkdirSync(path.join(dir, 'sources.list.d'))
  })
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('maps a source onto the pool (lib packages by four letters)', () => {
    assert.equal(poolUrl('http://mirror.example/debian/', 'hello/hello_2.10.orig.tar.gz'), 'http://mirror.example/debian/pool/main/h/hello/hello_2.10.orig.tar.gz')
    assert.equal(poolUrl('http://m/debian', 'libva/libva_2.17.0.orig.tar.gz'), 'http://m/debian/pool/main/libv/libva/libva_2.17.0.orig.tar.gz')
  })

  it('reads deb URIs from one-line and deb822 apt sources, in apt order, skipping deb-src and disabled entries', () => {
    fs.writeFileSync(path.join(dir, 'sources.list'), '# comment\ndeb [arch=amd64] http://a.example/debian bookworm main\ndeb-src http://src.example/debian bookworm main\n')
    fs.writeFileSync(path.join(dir, 'sources.list.d', 'b.sources'), 'Types: deb\nURIs: http://b.example/debian\nSuites: bookworm\nComponents: main\n\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n')
    fs.writeFileSync(path.join(dir, 'sources.list.d', 'c.list.disabled'), 'deb http://never.example/debian bookworm main\n')
    assert.deepEqual(aptSourceUris(dir), ['http://a.example/debian', 'http://b.example/debian'])
    assert.deepEqual(debianMirrors({ 'apt-dir': dir }), ['http://a.example/debian', 'http://b.example/debian'])
  })

  it("nip's own [debian] sources win over the host's; host-sources = false reads none", () => {
    fs.writeFileSync(path.join(dir, 'sources.list'), 'deb http://a.example/debian bookworm main\n')
    assert.deepEqual(debianMirrors({ 'apt-dir': dir, sources: [{ uri: 'http://own.example/debian/', mirrors: ['http://own2.example/debian'] }] }), ['http://own.example/debian', 'http://own2.example/debian'])
    assert.deepEqual(debianMirrors({ 'apt-dir': dir, 'host-sources': false }), [])
  })

  it('orders the URLs: each Debian pool, then the recipe mirrors, then upstream', () => {
    const urls = sourceUrls({ url: 'https://up.example/h.tar.gz', file: 'h.tar.gz', sha256: 'a'.repeat(64), mirrors: ['https://m.example/h.tar.gz'], debian: 'h/h_1.orig.tar.gz', stripComponents: 1 }, ['http://d1/debian', 'http://d2/debian'])
    assert.deepEqual(urls, ['http://d1/debian/pool/main/h/h/h_1.orig.tar.gz', 'http://d2/debian/pool/main/h/h/h_1.orig.tar.gz', 'https://m.example/h.tar.gz', 'https://up.example/h.tar.gz'])
  })
})
