/**
 * "Nothing outside the root changed": a snapshot of a directory beside the root (every name,
 * type, size, mode, link target and modification time, symlinks not followed), taken before a
 * command and compared after it.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'

export type DirSnapshot = Map<string, string>

export function snapshotDir(dir: string): DirSnapshot {
  const out: DirSnapshot = new Map()
  const walk = (abs: string, rel: string): void => {
    const st = fs.lstatSync(abs, { throwIfNoEntry: false })
    if (st === undefined) return
    const kind = st.isSymbolicLink() ? `link→${fs.readlinkSync(abs)}` : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other'
    out.set(rel || '.', `${kind} size=${st.isDirectory() ? '-' : st.size} mode=${(st.mode & 0o7777).toString(8)} mtime=${st.mtimeMs}`)
    if (st.isDirectory()) for (const n of fs.readdirSync(abs).sort()) walk(path.join(abs, n), rel ? `${rel}/${n}` : n)
  }
  walk(dir, '')
  return out
}

/** Asserts `dir` is as `before` recorded it; the message lists every difference. */
export function assertUnchanged(dir: string, before: DirSnapshot, label: string): void {
  const after = snapshotDir(dir)
  const diff: string[] = []
  for (const [p, v] of before) if (after.get(p) !== v) diff.push(`${p}: ${v} → ${after.get(p) ?? '(gone)'}`)
  for (const [p, v] of after) if (!before.has(p)) diff.push(`${p}: (new) ${v}`)
  assert.deepEqual(diff, [], `${label}: something outside the root changed`)
}
