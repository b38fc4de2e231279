/**
 * Confinement: nip, often run as root, must never be steered outside the target root by a
 * symlink someone planted in the tree (a `Programs/<Name>` or a link-farm directory pointing
 * elsewhere). Before writing under a directory, resolve it and check it is still inside the
 * root's own directory.
 */
import fs from 'node:fs'
import path from 'node:path'
import { NipError } from './errors.js'

export function assertConfined(root: string, dir: string): void {
  let real: string
  let realRoot: string
  try {
    real = fs.realpathSync(dir)
    realRoot = fs.realpathSync(root)
  } catch {
    return // does not exist yet: mkdir will create a real directory
  }
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
    throw new NipError('ERR_NIP_ROOT', `${dir} resolves to ${real}, outside the root ${realRoot}.`, {
      hint: 'A symlink in the tree points outside it; remove it (nip will not write through it).',
      data: { path: dir, resolved: real, root: realRoot },
    })
  }
}
