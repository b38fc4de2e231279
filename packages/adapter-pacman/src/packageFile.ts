/**
 * Local package files (`nip install ./foo-1.0-1-x86_64.pkg.tar.zst`, as `pacman -U`): named
 * `<name>-<pkgver>-<pkgrel>-<arch>.pkg.tar[.<ext>]`; their `.PKGINFO` is read by streaming the
 * archive only up to that member (makepkg puts it first).
 */
import { createReadStream } from 'node:fs'
import path from 'node:path'
import { NipError, decompressStream, readTar, type Limits } from '@nip/core'
import { parsePkginfo, type PackageInfo } from './packageInfo.js'

const PACKAGE_FILE = /^(.+)-([^-]+-[^-]+)-([^-]+)\.pkg\.tar(?:\.(?:gz|xz|zst|bz2|lz4|lzo|lrz|Z))?$/

export function parsePackageFileName(name: string): { name: string; version: string; arch: string } | null {
  const m = PACKAGE_FILE.exec(name)
  return m ? { name: m[1], version: m[2], arch: m[3] } : null
}

export async function readPackageInfo(file: string, limits: Limits): Promise<PackageInfo> {
  const source = createReadStream(file)
  try {
    for await (const entry of readTar(decompressStream(source, { archive: file }), { limits, archive: file, absoluteSymlinks: 'rebase' })) {
      if (entry.path !== '.PKGINFO' || entry.type !== 'file') continue
      const chunks: Buffer[] = []
      for await (const c of entry.body!) chunks.push(c)
      return parsePkginfo(Buffer.concat(chunks).toString('utf8'), path.basename(file))
    }
  } finally {
    source.destroy()
  }
  throw new NipError('ERR_NIP_BAD_PACKAGE', `${path.basename(file)} has no .PKGINFO: it is not a pacman package.`, {
    hint: 'pacman packages are made by makepkg; check that the file is complete.',
    data: { file },
  })
}
