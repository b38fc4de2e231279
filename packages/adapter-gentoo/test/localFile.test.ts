/**
 * Local Gentoo package files: the metadata of a GPKG and of an XPAK read as the BinaryPackage a
 * binhost index would list, without unpacking the image; a file without CATEGORY/PF refused.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { DEFAULT_LIMITS } from '@nip/core'
import { buildTar, gpkgPackageFile, xpakPackageFile } from '@nip/testing'
import { readLocalBinary } from '../src/localPackage.js'

describe('local GPKG/XPAK files', () => {
  let dir: string
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-gentoo-local-'))
  })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const write = (name: string, data: Buffer): string => {
    const f = path.join(dir, name)
    fs.writeFileSync(f, data)
    return f
  }
  const pkg = { name: 'tool', version: '1.2-r1', files: { 'bin/tool': '#!/bin/sh\n' } }

  it('reads a GPKG\'s and an XPAK\'s metadata, whatever the file is called', async () => {
    const g = await readLocalBinary(write('anything.bin', await gpkgPackageFile(pkg, { category: 'dev-util' })), DEFAULT_LIMITS)
    assert.equal(g.kind, 'gpkg')
    assert.equal(g.pkg.cpv.cpv, 'dev-util/tool-1.2-r1')
    assert.deepEqual([g.pkg.slot, g.pkg.eapi, g.pkg.raw.CATEGORY], ['0', '8', 'dev-util'])
    const x = await readLocalBinary(write('other.name', await xpakPackageFile(pkg)), DEFAULT_LIMITS)
    assert.equal(x.kind, 'xpak')
    assert.equal(x.pkg.cpv.cpv, 'app-misc/tool-1.2-r1')
    assert.equal(x.pkg.size, fs.statSync(path.join(dir, 'other.name')).size)
  })

  it('refuses a GPKG whose metadata names no package', async () => {
    const metadata = await buildTar([{ path: 'metadata/SLOT', content: '0\n' }], { compression: 'zstd' })
    const file = write('x-1-1.gpkg.tar', await buildTar([{ path: 'x-1-1/gpkg-1', content: '' }, { path: 'x-1-1/metadata.tar.zst', content: metadata }]))
    await assert.rejects(readLocalBinary(file, DEFAULT_LIMITS), (e: unknown) => (e as { code?: string }).code === 'ERR_NIP_BAD_PACKAGE' && /CATEGORY and PF/.test((e as Error).message))
  })
})
