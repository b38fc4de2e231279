/**
 * pkgsrc binary packages in pkg_create's layout, for tests: metadata members first in
 * pkg_create's order (+CONTENTS, +COMMENT, +DESC, [+INSTALL], +BUILD_INFO, +SIZE_PKG), then the
 * payload in packing-list order, `@comment MD5:` after each file, `@comment Symlink:` after
 * each symlink; gzip-compressed like a `.tgz`.
 */
import { createHash } from 'node:crypto'
import { buildTar, type FixtureEntry, type FixtureCompression } from '@nip/testing'

export interface FixtureFile {
  path: string
  content?: string
  mode?: number
  symlink?: string
}

export interface FixturePackage {
  pkgname: string
  files?: FixtureFile[]
  depends?: string[]
  conflicts?: string[]
  prefix?: string
  comment?: string
  install?: string
  extraPlist?: string[]
  /** Replace the MD5 comment of this file (to build a corrupt package). */
  wrongMd5For?: string
  compression?: FixtureCompression
  /** Reorder or add members after building the list. */
  mutate?: (entries: FixtureEntry[]) => FixtureEntry[]
}

export function md5(s: string): string {
  return createHash('md5').update(s).digest('hex')
}

export function plistOf(p: FixturePackage): string {
  const lines = [`@name ${p.pkgname}`, `@cwd ${p.prefix ?? '/usr/pkg'}`]
  for (const d of p.depends ?? []) lines.push(`@pkgdep ${d}`)
  for (const c of p.conflicts ?? []) lines.push(`@pkgcfl ${c}`)
  lines.push(...(p.extraPlist ?? []))
  for (const f of p.files ?? []) {
    lines.push(f.path)
    if (f.symlink !== undefined) lines.push(`@comment Symlink:${f.symlink}`)
    else lines.push(`@comment MD5:${f.path === p.wrongMd5For ? md5('something else') : md5(f.content ?? '')}`)
  }
  lines.push('@ignore', '+COMMENT', '@ignore', '+DESC', '@ignore', '+BUILD_INFO', '@ignore', '+SIZE_PKG')
  return `${lines.join('\n')}\n`
}

export function sizeOf(p: FixturePackage): number {
  return (p.files ?? []).reduce((n, f) => n + Buffer.byteLength(f.content ?? ''), 0)
}

export async function buildPackage(p: FixturePackage): Promise<Buffer> {
  let entries: FixtureEntry[] = [
    { path: '+CONTENTS', content: plistOf(p) },
    { path: '+COMMENT', content: `${p.comment ?? `The ${p.pkgname} package`}\n`, mode: 0o444 },
    { path: '+DESC', content: `Description of ${p.pkgname}.\n`, mode: 0o444 },
    ...(p.install !== undefined ? [{ path: '+INSTALL', content: p.install, mode: 0o555 }] : []),
    { path: '+BUILD_INFO', content: 'MACHINE_ARCH=x86_64\nOPSYS=Linux\nOS_VERSION=6.1.0\nPKGTOOLS_VERSION=20091115\n' },
    { path: '+SIZE_PKG', content: `${sizeOf(p)}\n` },
    ...(p.files ?? []).map((f): FixtureEntry =>
      f.symlink !== undefined ? { path: f.path, type: 'symlink', target: f.symlink } : { path: f.path, content: f.content ?? '', mode: f.mode ?? 0o644 },
    ),
  ]
  if (p.mutate) entries = p.mutate(entries)
  return buildTar(entries, { compression: p.compression ?? 'gzip' })
}

/** The pkg_summary block of a package file. */
export function summaryEntry(p: FixturePackage, data: Buffer, fileName = `${p.pkgname}.tgz`): string {
  const lines = [`PKGNAME=${p.pkgname}`]
  for (const d of p.depends ?? []) lines.push(`DEPENDS=${d}`)
  for (const c of p.conflicts ?? []) lines.push(`CONFLICTS=${c}`)
  lines.push(
    `COMMENT=${p.comment ?? `The ${p.pkgname} package`}`,
    `SIZE_PKG=${sizeOf(p)}`,
    'BUILD_DATE=2024-01-01 00:00:00 +0000',
    'CATEGORIES=misc',
    'MACHINE_ARCH=x86_64',
    'OPSYS=Linux',
    'OS_VERSION=6.1.0',
    `PKGPATH=misc/${p.pkgname.replace(/-[^-]*$/, '')}`,
    'PKGTOOLS_VERSION=20091115',
    `FILE_NAME=${fileName}`,
    `FILE_SIZE=${data.length}`,
    `DESCRIPTION=Description of ${p.pkgname}.`,
  )
  return `${lines.join('\n')}\n`
}
