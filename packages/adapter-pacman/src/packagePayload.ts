/**
 * Unpack a pacman package into the CAS as a Gobo program tree.
 *
 * Contract: writes only blobs; returns the mapped tree only after `.PKGINFO` was found and
 * parsed and the payload matched `.MTREE` (when the package has one). Symlink targets are
 * rewritten for the new layout: a link is resolved where the package put it, the place it names
 * is mapped like any member, and the target is made relative again from the link's new place —
 * so `etc/foo -> /usr/share/foo` becomes `Settings/foo -> ../share/foo`.
 */
import fs, { createReadStream } from 'node:fs'
import path from 'node:path'
import { NipError, climbsToSettings, parentPathOf, resolveLexically, treeLinkTarget, unpackToCas, type AdapterContext, type Scriptlet, type TreeEntry } from './coreImports.js'
import { mapMemberPath, isSettingsPath, METADATA_MEMBERS } from './memberPath.js'
import { parseMtree } from './mtree.js'
import { checkMtree, type PayloadEntry } from './mtreeCheck.js'
import { parsePkginfo, type PackageInfo } from './packageInfo.js'
import { readScriptlets } from './scriptlet.js'

export interface UnpackedPackage {
  info: PackageInfo
  entries: TreeEntry[]
  scriptlets: Scriptlet[]
  buildinfo?: string
  /** Whether a .MTREE was present and checked. */
  mtreeChecked: boolean
}

export async function unpackPackage(file: string, ctx: AdapterContext, onChunk?: (n: number) => void): Promise<UnpackedPackage> {
  const name = path.basename(file)
  const payload = new Map<string, PayloadEntry>()
  const mappedFrom = new Map<string, string>()
  const links: { member: string; mapped: string; target: string; mode: number }[] = []
  const source = createReadStream(file, { highWaterMark: 1024 * 1024, ...(ctx.signal ? { signal: ctx.signal } : {}) })
  if (onChunk) source.on('data', (c) => onChunk(c.length))
  let result: Awaited<ReturnType<typeof unpackToCas>>
  try {
    result = await unpackToCas(source, {
      cas: ctx.cas,
      limits: ctx.limits,
      archive: file,
      absoluteSymlinks: 'rebase',
      // .MTREE lists SHA-256 digests: computed in the same pass as the CAS's BLAKE3, so the
      // check below reads no blob back.
      digests: ['sha256'],
      sourceSize: fs.statSync(file).size,
      ...(ctx.stage !== undefined ? { stage: ctx.stage } : {}),
      mapPath: (member, entry) => {
        const mapped = mapMemberPath(member)
        if (mapped !== null) mappedFrom.set(mapped, member)
        // Symlinks are placed after unpacking, with targets rewritten for the new layout.
        if (entry.type === 'symlink' && mapped !== null && mapped !== '') {
          links.push({ member, mapped, target: entry.target!, mode: entry.mode })
          payload.set(member, { type: 'symlink', mode: entry.mode, target: entry.target! })
          return null
        }
        if (!member.startsWith('.')) {
          const type = entry.type === 'hardlink' ? 'file' : entry.type
          payload.set(member, { type, mode: entry.mode, ...(entry.type === 'symlink' ? { target: entry.target! } : {}) })
        }
        return mapped
      },
      isSettings: isSettingsPath,
      captureMetadata: (member) => (METADATA_MEMBERS as readonly string[]).includes(member),
      onWarning: (w) => ctx.reporter.emit({ type: 'warning', code: w.code, message: `${name}: ${w.message}`, data: { path: w.path } }),
    })
  } finally {
    source.destroy()
  }
  const pkginfo = result.metadata.get('.PKGINFO')
  if (pkginfo === undefined) {
    throw new NipError('ERR_NIP_BAD_PACKAGE', `${name} has no .PKGINFO: it is not a pacman package.`, {
      hint: 'pacman packages are made by makepkg; check that the file is complete.',
      data: { file },
    })
  }
  const info = parsePkginfo(pkginfo.toString('utf8'), name)
  // Sizes and blobs of files, by archive path, for the .MTREE check.
  for (const e of result.entries) {
    const member = mappedFrom.get(e.path)
    const p = member === undefined ? undefined : payload.get(member)
    if (p && e.type === 'file') {
      p.size = e.size!
      p.blob = e.blob!
      const sha256 = result.digests.get(member!)?.sha256
      if (sha256 !== undefined) p.sha256 = sha256
    }
  }
  const mtree = result.metadata.get('.MTREE')
  if (mtree !== undefined) checkMtree({ mtree: parseMtree(mtree, name), payload, cas: ctx.cas, file: name })
  const tree = new Map(result.entries.map((e) => [e.path, isSettingsPath(e.path) ? { ...e, settings: true } : e]))
  for (const l of links) {
    const target = remapTarget(l.member, l.target, l.mapped)
    // remapTarget yields the canonical form (ups, then downs); inside the tree lexically means
    // inside when followed, since no entry lies below a symlink. The one climb allowed is to the
    // program's Settings beside its versions (a link into /etc).
    if (!climbsToSettings(l.mapped, target) && resolveLexically(l.mapped, target) === null) {
      throw new NipError('ERR_NIP_UNSAFE_SYMLINK', `${name}: the symlink ${l.member} -> ${l.target} leaves the program tree once mapped`, {
        hint: 'The package holds a symlink that points outside its tree; do not install it.',
        data: { file, entry: l.member, target: l.target },
      })
    }
    const existing = tree.get(l.mapped)
    if (existing !== undefined) {
      if (existing.type === 'dir' && (target === '.' || resolveLexically(l.mapped, target) === l.mapped)) continue
      throw new NipError('ERR_NIP_UNSAFE_DUPLICATE', `${name}: the symlink ${l.member} lands on ${l.mapped}, which another member already holds`, {
        hint: 'The package maps two members onto one path in the Gobo layout; it cannot be grafted.',
        data: { file, entry: l.member, path: l.mapped },
      })
    }
    tree.set(l.mapped, { path: l.mapped, type: 'symlink', mode: l.mode, target, ...(isSettingsPath(l.mapped) ? { settings: true } : {}) })
    for (let p = parentPathOf(l.mapped); p !== '' && !tree.has(p); p = parentPathOf(p)) tree.set(p, { path: p, type: 'dir', mode: 0o755, ...(isSettingsPath(p) ? { settings: true } : {}) })
  }
  const entries = [...tree.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  const install = result.metadata.get('.INSTALL')
  const buildinfo = result.metadata.get('.BUILDINFO')
  return {
    info,
    entries,
    scriptlets: install === undefined ? [] : readScriptlets(install.toString('utf8')),
    ...(buildinfo !== undefined ? { buildinfo: buildinfo.toString('utf8') } : {}),
    mtreeChecked: mtree !== undefined,
  }
}

/** The target of a symlink moved from `member` to `mapped`, pointing at the mapped place. */
export function remapTarget(member: string, target: string, mapped: string): string {
  const landing = resolveLexically(member, target)
  if (landing === null) return target
  const moved = landing === '' || landing === 'usr' ? '' : (mapMemberPath(landing) ?? landing)
  // A link into /etc climbs out of its version directory to the program's Settings (treeTarget.ts).
  return treeLinkTarget(
    parentPathOf(mapped).split('/').filter((c) => c !== ''),
    moved.split('/').filter((c) => c !== ''),
  )
}
