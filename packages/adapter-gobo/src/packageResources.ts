/**
 * The metadata a Gobo package carries in `<Name>/<Version>/Resources/`, and the two rules
 * InstallPackage enforces with it:
 * - Resources/Revision (trailing newlines dropped, as `$(cat ...)` does) must equal the file
 *   name's revision ("Package spoofing detected"); a package without the file cannot be checked;
 * - Resources/Architecture must be `noarch` or the machine's architecture.
 */
import { createReadStream } from 'node:fs'
import path from 'node:path'
import { NipError, decompressStream, readTar, type Limits } from '@nip/core'
import { mapMemberPath } from './memberPath.js'
import type { PackageFileName } from './packageFileName.js'

/** The Resources members nip reads, by file name. */
export const RESOURCE_FILES = ['Dependencies', 'Description', 'Revision', 'Architecture'] as const
export type ResourceFile = (typeof RESOURCE_FILES)[number]

const MAX_RESOURCE_SIZE = 1024 * 1024
/** Read size for package files: large reads keep the per-chunk cost of the stream pipeline low. */
const READ_CHUNK_SIZE = 1 << 20

export interface PackageResources {
  /** Text of each Resources member present. */
  files: Partial<Record<ResourceFile, string>>
  /** Sum of the sizes of regular files. */
  installedSize: number
}

/** Archive path of a Resources member. */
export function resourceMemberPath(pkg: Pick<PackageFileName, 'name' | 'version'>, file: ResourceFile): string {
  return `${pkg.name}/${pkg.version}/Resources/${file}`
}

export interface ReadResourcesOptions {
  limits: Limits
  signal?: AbortSignal
}

/**
 * Read the Resources members of a package file in one streaming pass, checking that every member
 * lies under `<Name>/<Version>/` (ERR_NIP_BAD_PACKAGE otherwise) and summing file sizes.
 */
export async function readResources(file: string, pkg: PackageFileName, opts: ReadResourcesOptions): Promise<PackageResources> {
  const wanted = new Map(RESOURCE_FILES.map((f) => [resourceMemberPath(pkg, f), f] as const))
  const files: Partial<Record<ResourceFile, string>> = {}
  let installedSize = 0
  const source = createReadStream(file, { highWaterMark: READ_CHUNK_SIZE, ...(opts.signal ? { signal: opts.signal } : {}) })
  try {
    for await (const entry of readTar(decompressStream(source, { archive: file }), { limits: opts.limits, archive: file })) {
      mapMemberPath(entry.path, entry.type, { name: pkg.name, version: pkg.version, file })
      if (entry.type !== 'file') continue
      installedSize += entry.size
      const which = wanted.get(entry.path)
      if (which === undefined) continue
      if (entry.size > MAX_RESOURCE_SIZE) {
        throw new NipError('ERR_NIP_BAD_PACKAGE', `${path.basename(file)}: ${entry.path} is ${entry.size} bytes, more than a metadata file can plausibly hold`, {
          hint: 'The package is malformed or hostile; do not install it.',
          data: { file, entry: entry.path, size: entry.size },
        })
      }
      const chunks: Buffer[] = []
      for await (const chunk of entry.body!) chunks.push(chunk)
      files[which] = Buffer.concat(chunks).toString('utf8')
    }
  } finally {
    source.destroy()
  }
  return { files, installedSize }
}

export interface CheckResourcesOptions {
  file: string
  pkg: PackageFileName
  /** The machine's (configured) architecture. */
  arch: string
}

/** Apply InstallPackage's revision and architecture rules; returns a warning when the revision cannot be checked. */
export function checkResources(files: Partial<Record<ResourceFile, string>>, opts: CheckResourcesOptions): string | null {
  const { file, pkg, arch } = opts
  const base = path.basename(file)
  const expected = pkg.revision ?? ''
  let warning: string | null = null
  if (files.Revision !== undefined) {
    const actual = files.Revision.replace(/\n+$/, '')
    if (actual !== expected) {
      throw new NipError(
        'ERR_NIP_BAD_PACKAGE',
        `Package spoofing detected: ${base} is named revision ${JSON.stringify(expected)} but its Resources/Revision says ${JSON.stringify(actual)}.`,
        {
          hint: 'The file was renamed or its content replaced; do not install it. Fetch the package again from a trusted repository.',
          data: { file, expected, actual },
        },
      )
    }
  } else if (pkg.revision !== null) {
    warning = `${base} has no Resources/Revision; its revision ${pkg.revision} cannot be validated.`
  }
  if (files.Architecture !== undefined) {
    const declared = files.Architecture.trim()
    if (declared !== 'noarch' && declared !== arch) {
      throw new NipError('ERR_NIP_BAD_PACKAGE', `${base} is built for ${declared}, not for this machine (${arch}).`, {
        hint: `Install the ${arch} or noarch package instead (set [gobo] arch only when the target root is for another machine).`,
        data: { file, declared, arch },
      })
    }
  }
  return warning
}
