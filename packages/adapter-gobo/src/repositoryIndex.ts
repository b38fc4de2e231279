/**
 * The index of local Gobo repositories: every package file whose name parses and whose arch is
 * the configured one or `noarch`, with its repository's SHA256SUMS. Built from directory listings
 * only; no package is opened.
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { fromSystemError } from '@nip/core'
import { CHECKSUMS_FILE, parseSha256Sums } from './checksums.js'
import { parsePackageFileName, type PackageFileName } from './packageFileName.js'

export interface IndexedPackage extends PackageFileName {
  /** Absolute path of the package file (the PackageRef id). */
  file: string
  /** Absolute path of its repository directory. */
  repository: string
}

export interface Repository {
  dir: string
  exists: boolean
  /** The repository's SHA256SUMS, or null when it has none. */
  sums: Map<string, string> | null
  packages: IndexedPackage[]
}

/** Whether a package built for `packageArch` may be grafted on `arch`. */
export function archMatches(packageArch: string, arch: string): boolean {
  return packageArch === 'noarch' || packageArch === arch
}

/** SHA256SUMS of a directory, or null when there is none. */
export async function readChecksums(dir: string): Promise<Map<string, string> | null> {
  const file = path.join(dir, CHECKSUMS_FILE)
  try {
    return parseSha256Sums(await readFile(file, 'utf8'))
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw fromSystemError(e, 'reading checksums', file)
  }
}

export async function scanRepository(dir: string, arch: string): Promise<Repository> {
  let names: string[]
  try {
    const st = await stat(dir)
    if (!st.isDirectory()) return { dir, exists: false, sums: null, packages: [] }
    names = await readdir(dir)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { dir, exists: false, sums: null, packages: [] }
    throw fromSystemError(e, 'listing a repository', dir)
  }
  const packages: IndexedPackage[] = []
  for (const name of names.sort()) {
    const parsed = parsePackageFileName(name)
    if (parsed && archMatches(parsed.arch, arch)) packages.push({ ...parsed, file: path.join(dir, name), repository: dir })
  }
  return { dir, exists: true, sums: await readChecksums(dir), packages }
}
