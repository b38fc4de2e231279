import { mkdtemp, rm, chmod, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A fresh temporary directory and a cleanup that also removes read-only blobs inside it. */
export async function makeTempDir(prefix = 'nip-cas-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

/** Names in a directory, sorted; empty when it does not exist. */
export async function listNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort()
  } catch {
    return []
  }
}

export async function makeWritable(path: string): Promise<void> {
  await chmod(path, 0o644)
}
