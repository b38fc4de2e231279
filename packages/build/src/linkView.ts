/**
 * The link view of a build's dependencies: `/build/deps/{bin,include,lib,share/pkgconfig}` inside
 * the sandbox, holding one symlink per executable, header, library and pkg-config file of the programs the recipe
 * depends on (and nothing else that is grafted: the build sees only what it declared). Each link
 * points at the file's real place under /Programs (mounted read-only at the same path).
 *
 * A library symlink that only resolves across programs (Debian's libonig-dev ships
 * `libonig.so -> libonig.so.5.3.0`, a file of libonig5) is resolved by name among the files the
 * other dependencies put in the same directory of the view, as the GoboLinux farm would.
 */
import { lstatSync, readdirSync, readlinkSync, realpathSync } from 'node:fs'
import path from 'node:path'

export interface ViewLink {
  /** Path inside the view (`lib/libonig.so`). */
  path: string
  /** Absolute path inside the sandbox. */
  target: string
}

const PARTS = ['bin', 'include', 'lib', 'share/pkgconfig']

export function planLinkView(programsDir: string, programs: readonly string[], parts: readonly string[] = PARTS): ViewLink[] {
  const links = new Map<string, string>()
  const dangling: { path: string; name: string }[] = []
  const inside = (host: string): string | null => {
    const rel = path.relative(programsDir, host)
    return rel.startsWith('..') || path.isAbsolute(rel) ? null : `/Programs/${rel.split(path.sep).join('/')}`
  }
  const walk = (hostDir: string, rel: string) => {
    let names: string[]
    try {
      names = readdirSync(hostDir).sort()
    } catch {
      return
    }
    for (const n of names) {
      const host = path.join(hostDir, n)
      const r = `${rel}/${n}`
      const st = lstatSync(host)
      if (st.isDirectory()) {
        walk(host, r)
        continue
      }
      if (links.has(r)) continue
      let real: string
      try {
        real = realpathSync(host)
      } catch {
        if (st.isSymbolicLink()) dangling.push({ path: r, name: path.basename(readlinkSync(host)) })
        continue
      }
      const target = inside(real)
      if (target) links.set(r, target)
    }
  }
  for (const p of programs) {
    // `name` is the program's Current version; `name/version` that version directory.
    const current = p.includes('/') ? path.join(programsDir, p) : path.join(programsDir, p, 'Current')
    for (const part of parts) walk(path.join(current, part), part)
  }
  for (const d of dangling) {
    if (links.has(d.path)) continue
    const sibling = `${path.posix.dirname(d.path)}/${d.name}`
    const target = links.get(sibling)
    if (target) links.set(d.path, target)
  }
  return [...links.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([p, target]) => ({ path: p, target }))
}
