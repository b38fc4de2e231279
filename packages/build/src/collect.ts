/**
 * Collecting a build's output: the DESTDIR tree under the build's prefix becomes the program's
 * tree entries, each regular file streamed into the CAS. Only regular files, directories and
 * symlinks are accepted; setuid/setgid/sticky bits are cleared; a symlink pointing at an absolute
 * path inside the prefix is made relative (the Gobo tree must be movable), and any other absolute
 * or escaping symlink, a device node or FIFO, or a file installed outside the prefix fails the
 * build (ERR_NIP_BUILD_FAILED) before anything is grafted.
 */
import { lstatSync, readdirSync, readlinkSync } from 'node:fs'
import path from 'node:path'
import type { Cas } from '@nip/cas'
import { hashFile, treeDigest, type TreeItem } from '@nip/cas'
import { NipError, type TreeEntry } from '@nip/core'

export interface Collected {
  entries: TreeEntry[]
  digest: string
  /** Path → BLAKE3 of file content / symlink target, for --check's comparison. */
  files: Map<string, string>
}

/** Walks `destDir`; the program tree is what lies under `destDir + prefix`. With `cas` absent files are only hashed. */
export async function collectTree(opts: { destDir: string; prefix: string; cas?: Cas }): Promise<Collected> {
  const top = path.join(opts.destDir, opts.prefix)
  const outside: string[] = []
  const walkOutside = (dir: string, rel: string) => {
    for (const n of readdirSync(dir)) {
      const r = rel ? `${rel}/${n}` : n
      const full = path.join(dir, n)
      if (opts.prefix === `/${r}` || opts.prefix.startsWith(`/${r}/`)) {
        if (lstatSync(full).isDirectory() && opts.prefix !== `/${r}`) walkOutside(full, r)
        continue
      }
      outside.push(`/${r}`)
    }
  }
  walkOutside(opts.destDir, '')
  if (outside.length > 0) {
    throw new NipError('ERR_NIP_BUILD_FAILED', `The build installed files outside its prefix ${opts.prefix}: ${outside.slice(0, 5).join(', ')}${outside.length > 5 ? ', …' : ''}.`, {
      hint: 'Fix the recipe so that everything is installed under the prefix (configure --sysconfdir etc.); nothing was grafted.',
      data: { prefix: opts.prefix, outside },
    })
  }
  const entries: TreeEntry[] = []
  const files = new Map<string, string>()
  const walk = async (dir: string, rel: string) => {
    let names: string[]
    try {
      names = readdirSync(dir).sort()
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && rel === '') return
      throw e
    }
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n
      const full = path.join(dir, n)
      const st = lstatSync(full)
      const mode = st.mode & 0o777
      if (st.isDirectory()) {
        entries.push({ path: r, type: 'dir', mode })
        await walk(full, r)
      } else if (st.isFile()) {
        if (opts.cas) {
          const blob = await opts.cas.addFile(full, { executable: (st.mode & 0o111) !== 0 })
          entries.push({ path: r, type: 'file', mode, blob: blob.key, size: blob.size })
          files.set(r, blob.key)
        } else {
          const { digest } = await hashFile(full)
          const key = (st.mode & 0o111) !== 0 ? `${digest}-x` : digest
          entries.push({ path: r, type: 'file', mode, blob: key, size: st.size })
          files.set(r, key)
        }
      } else if (st.isSymbolicLink()) {
        let target = readlinkSync(full)
        if (target.startsWith('/')) {
          if (target === opts.prefix || target.startsWith(`${opts.prefix}/`)) {
            target = path.posix.relative(path.posix.dirname(`${opts.prefix}/${r}`), target) || '.'
          } else {
            throw new NipError('ERR_NIP_BUILD_FAILED', `The build installed ${r} as a symlink to ${target}, outside the program.`, {
              hint: 'Fix the recipe (symlinks must stay inside the program); nothing was grafted.',
              data: { path: r, target },
            })
          }
        }
        entries.push({ path: r, type: 'symlink', mode: 0o777, target })
        files.set(r, `-> ${target}`)
      } else {
        throw new NipError('ERR_NIP_BUILD_FAILED', `The build installed ${r}, which is not a file, directory or symlink.`, { hint: 'Device nodes, FIFOs and sockets are refused; nothing was grafted.', data: { path: r } })
      }
    }
  }
  await walk(top, '')
  const items: TreeItem[] = entries.map((e) => ({ path: e.path, type: e.type, mode: e.mode, ...(e.blob ? { key: e.blob } : {}), ...(e.target !== undefined ? { target: e.target } : {}) }))
  return { entries, digest: treeDigest(items), files }
}
