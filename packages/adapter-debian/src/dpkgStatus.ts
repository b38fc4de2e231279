/**
 * The host's dpkg status database (`/var/lib/dpkg/status`): which packages dpkg has installed,
 * at which version, and what they provide. Only packages whose Status ends in `installed` count
 * (dpkg's own rule for satisfying a dependency); half-installed or config-files states do not.
 */
import { readFile } from 'node:fs/promises'
import { parseStanzas } from './deb822.js'
import { packageFromStanza, PackageIndex } from './packageIndex.js'

/** The installed packages; an empty index when the file is absent. */
export async function readDpkgStatus(file: string, architecture: string): Promise<PackageIndex> {
  const index = new PackageIndex(architecture)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    return index
  }
  for (const stanza of parseStanzas(text, { source: file })) {
    const status = (stanza.get('status') ?? '').split(/\s+/)
    if (status[2] !== 'installed') continue
    const pkg = packageFromStanza(stanza, { origin: file, priority: 0 })
    if (pkg === null) continue
    // Multi-Arch: foreign packages of another architecture still satisfy; index them as "all".
    index.add(pkg.architecture === architecture || pkg.architecture === 'all' ? pkg : { ...pkg, architecture: 'all' })
  }
  return index
}
