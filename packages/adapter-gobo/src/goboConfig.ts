/**
 * The `[gobo]` configuration table:
 *
 *   [gobo]
 *   repositories = ["/srv/gobo", "file:///mnt/packages", "repo"]   # relative: against the target root
 *   arch = "x86_64"                                                # default: the machine's
 *   require-checksums = false                                      # refuse packages SHA256SUMS does not list
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { NipError } from '@nip/core'

export interface GoboConfig {
  /** Absolute directories, in configured order (earlier ones win ties). */
  repositories: string[]
  arch: string
  requireChecksums: boolean
}

const MACHINE_ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i686', arm: 'armv7l' }

/** The machine's architecture as `uname -m` names it. */
export function machineArch(nodeArch: string = process.arch): string {
  return MACHINE_ARCH[nodeArch] ?? nodeArch
}

export function parseGoboConfig(table: Record<string, unknown>, root: string): GoboConfig {
  const repos = table.repositories ?? []
  if (!Array.isArray(repos) || !repos.every((r) => typeof r === 'string' && r !== '')) {
    throw configError('gobo.repositories must be a list of directory paths or file:// URLs', table.repositories)
  }
  const arch = table.arch ?? machineArch()
  if (typeof arch !== 'string' || !/^[A-Za-z0-9_]+$/.test(arch)) throw configError('gobo.arch must be an architecture name such as "x86_64"', arch)
  const required = table['require-checksums'] ?? false
  if (typeof required !== 'boolean') throw configError('gobo.require-checksums must be true or false', required)
  return { repositories: (repos as string[]).map((r) => repositoryDir(r, root)), arch, requireChecksums: required }
}

function repositoryDir(entry: string, root: string): string {
  if (entry.startsWith('file://')) {
    try {
      return fileURLToPath(entry)
    } catch (e) {
      throw configError(`gobo.repositories has a malformed file URL ${JSON.stringify(entry)}`, entry, e)
    }
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(entry)) {
    throw configError(`gobo.repositories: ${JSON.stringify(entry)} is not a local directory (only paths and file:// URLs are supported)`, entry)
  }
  return path.resolve(root, entry)
}

function configError(message: string, value: unknown, cause?: unknown): NipError {
  return new NipError('ERR_NIP_CONFIG', message, {
    hint: 'Fix the [gobo] table in nip.conf, e.g. repositories = ["/srv/gobo-packages"].',
    data: { value },
    ...(cause !== undefined ? { cause } : {}),
  })
}
