/**
 * Binhost fixtures built to the formats: GPKG (GLEP 78: outer tar of gpkg-1, metadata.tar.zst,
 * image.tar.zst, Manifest with BLAKE2B and SHA512 records), XPAK (bzip2 tarball + xpak segment),
 * a `Packages` index in Portage's layout, and an HTTP server on 127.0.0.1 serving a directory.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import { buildTar, type FixtureEntry } from '@nip/testing'
import { buildXpakPackage } from '../src/xpak.js'
import { manifestLine } from '../src/gpkg.js'

export interface BinMeta {
  category: string
  pf: string
  slot?: string
  use: string[]
  iuse: string[]
  eapi?: string
  rdepend?: string
}

function metadataFiles(m: BinMeta): Record<string, string> {
  return {
    CATEGORY: `${m.category}\n`,
    PF: `${m.pf}\n`,
    SLOT: `${m.slot ?? '0'}\n`,
    EAPI: `${m.eapi ?? '8'}\n`,
    USE: `${m.use.join(' ')}\n`,
    IUSE: `${m.iuse.join(' ')}\n`,
    RDEPEND: `${m.rdepend ?? ''}\n`,
  }
}

/** A GPKG; `tamper` changes the image after the Manifest was computed. */
export async function buildGpkg(
  m: BinMeta,
  image: FixtureEntry[],
  opts: { basename: string; tamper?: boolean; sign?: (manifest: string) => Promise<string> },
): Promise<Buffer> {
  const metadataTar = await buildTar(
    [{ path: 'metadata/', type: 'dir' }, ...Object.entries(metadataFiles(m)).map(([k, v]) => ({ path: `metadata/${k}`, content: v }))],
    { compression: 'zstd' },
  )
  const imageTar = await buildTar([{ path: 'image/', type: 'dir' }, ...image.map((e) => ({ ...e, path: `image/${e.path}` }))], { compression: 'zstd' })
  const marker = Buffer.alloc(0)
  const plain = [manifestLine('gpkg-1', marker), manifestLine('metadata.tar.zst', metadataTar), manifestLine('image.tar.zst', imageTar)].join('\n') + '\n'
  const manifest = opts.sign ? await opts.sign(plain) : plain
  const shipped = opts.tamper ? Buffer.concat([imageTar.subarray(0, imageTar.length - 1), Buffer.from([imageTar[imageTar.length - 1] ^ 1])]) : imageTar
  const b = opts.basename
  return buildTar([
    { path: `${b}/gpkg-1`, content: marker },
    { path: `${b}/metadata.tar.zst`, content: metadataTar },
    { path: `${b}/image.tar.zst`, content: shipped },
    { path: `${b}/Manifest`, content: manifest },
  ])
}

/** A legacy XPAK package: bzip2 tarball rooted at `./`, then the xpak segment. */
export async function buildXpak(m: BinMeta, image: FixtureEntry[]): Promise<Buffer> {
  const tarball = await buildTar([{ path: './', type: 'dir' }, ...image.map((e) => ({ ...e, path: `./${e.path}` }))], { compression: 'bzip2' })
  return buildXpakPackage(tarball, new Map(Object.entries(metadataFiles(m))))
}

export interface IndexedPackage {
  meta: BinMeta
  path: string
  data: Buffer
  buildId: number
  /** Override the recorded MD5 (to provoke a mismatch). */
  md5?: string
}

/** A Packages index in Portage's layout (header, sorted keys, blank-line separated blocks). */
export function packagesIndex(pkgs: IndexedPackage[]): string {
  const header = ['ARCH: amd64', 'CHOST: x86_64-pc-linux-gnu', `PACKAGES: ${pkgs.length}`, 'TIMESTAMP: 1700000000', 'VERSION: 0']
  const blocks = pkgs.map((p) => {
    const kv: Record<string, string> = {
      BUILD_ID: String(p.buildId),
      BUILD_TIME: String(1700000000 + p.buildId),
      CPV: `${p.meta.category}/${p.meta.pf}`,
      EAPI: p.meta.eapi ?? '8',
      IUSE: p.meta.iuse.join(' '),
      MD5: p.md5 ?? crypto.createHash('md5').update(p.data).digest('hex'),
      PATH: p.path,
      RDEPEND: p.meta.rdepend ?? '',
      SHA1: crypto.createHash('sha1').update(p.data).digest('hex'),
      SIZE: String(p.data.length),
      USE: p.meta.use.join(' '),
      REPO: 'gentoo',
    }
    return Object.entries(kv).filter(([, v]) => v !== '').map(([k, v]) => `${k}: ${v}`).join('\n')
  })
  return [header.join('\n'), ...blocks].join('\n\n') + '\n'
}

export function writeBinhost(dir: string, pkgs: IndexedPackage[]): void {
  for (const p of pkgs) {
    fs.mkdirSync(path.join(dir, path.dirname(p.path)), { recursive: true })
    fs.writeFileSync(path.join(dir, p.path), p.data)
  }
  fs.writeFileSync(path.join(dir, 'Packages'), packagesIndex(pkgs))
}

/** Serve `dir` on 127.0.0.1 (ephemeral port). */
export async function serve(dir: string): Promise<{ url: string; close: () => Promise<void>; requests: string[] }> {
  const requests: string[] = []
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    requests.push(p)
    const file = path.join(dir, p)
    if (!file.startsWith(dir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end()
      return
    }
    const data = fs.readFileSync(file)
    res.writeHead(200, { 'content-length': data.length }).end(data)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
