/**
 * A temporary ebuild repository made of the real fixtures: `metadata/md5-cache` and `profiles`
 * exactly as upstream ships them, plus one `parent` file (the test's own) that stacks
 * base → arch/amd64 → default/linux/amd64/23.0, the part of the real 23.0 stack the fixtures hold.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures')
export const PROFILE = 'default/linux/amd64/23.0'

export function makeRealRepo(): { repo: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nip-gentoo-repo-'))
  const repo = path.join(dir, 'gentoo')
  fs.mkdirSync(path.join(repo, 'metadata'), { recursive: true })
  fs.cpSync(path.join(FIXTURES, 'real', 'md5-cache'), path.join(repo, 'metadata', 'md5-cache'), { recursive: true })
  fs.cpSync(path.join(FIXTURES, 'real', 'profiles'), path.join(repo, 'profiles'), { recursive: true })
  fs.writeFileSync(path.join(repo, 'profiles', PROFILE, 'parent'), '../../../../base\n../../../../arch/amd64\n')
  return { repo, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) }
}
