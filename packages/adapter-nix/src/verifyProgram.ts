/**
 * Recompute the NarHash of a grafted Nix program from its version directory alone.
 *
 * fetch leaves a record, `.nip-nix.json` at the top of the version directory: the store path,
 * its NarHash and NarSize, the original target of every link whose target it changed, and the
 * original target of every link it replaced by content or left out. Dumping the directory as a
 * NAR with the record file skipped, those links restored and file contents un-relocated gives
 * exactly the original NAR when the grafted files are intact.
 */
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { dumpPath, hashNar, type DumpOptions } from './narWriter.js'
import type { Relocation } from './relocation.js'

export const RECORD_FILE = '.nip-nix.json'

export interface ProgramRecord {
  storePath: string
  narHash: string
  narSize: number
  /** Tree path → the NAR's target, for links kept with a changed target. */
  links: Record<string, string>
  /** Tree path → the NAR's target, for links replaced by content or left out. */
  replaced: Record<string, string>
}

export async function readProgramRecord(versionDir: string): Promise<ProgramRecord> {
  return JSON.parse(await readFile(path.join(versionDir, RECORD_FILE), 'utf8')) as ProgramRecord
}

export function narDumpOptions(record: ProgramRecord, relocation: Relocation): DumpOptions {
  const replaced = new Map(Object.entries(record.replaced))
  const links = new Map(Object.entries(record.links))
  return {
    skip: (rel) => rel === RECORD_FILE && !replaced.has(rel),
    override: (rel) => (replaced.has(rel) ? { type: 'symlink', target: replaced.get(rel)! } : undefined),
    transformContents: (_rel, contents) => relocation.reverseContents(contents),
    transformTarget: (rel, target) => links.get(rel) ?? target,
  }
}

/** The NAR of a grafted program as the binary cache had it: its digest and size. */
export async function narHashOfProgram(versionDir: string, relocation: Relocation, algorithm = 'sha256'): Promise<{ digest: Buffer; size: number; record: ProgramRecord }> {
  const record = await readProgramRecord(versionDir)
  const { digest, size } = await hashNar(dumpPath(versionDir, narDumpOptions(record, relocation)), algorithm)
  return { digest, size, record }
}
