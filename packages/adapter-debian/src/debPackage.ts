/**
 * Reading a .deb (`man/deb.pod`, dpkg `src/deb/extract.c`) into the CAS.
 *
 * Contract:
 * - Members must come in dpkg's order: `debian-binary` (major version 2), `control.tar[.gz|.xz|.zst]`,
 *   `data.tar[.gz|.xz|.zst|.bz2]`; members whose names start with `_` may sit between them and are
 *   skipped; members after data.tar are ignored. Anything else (a premature, unknown or repeated
 *   member, an empty tar member) is ERR_NIP_BAD_PACKAGE.
 * - control.tar is read in memory (bounded); `control` is required; `md5sums`, `conffiles` and the
 *   maintainer scripts are kept. Scripts are recorded, never run.
 * - data.tar goes through core's unpackToCas (every safety check applies) with paths mapped by
 *   debPath.ts; symlinks are re-targeted after mapping and re-checked to stay inside the tree.
 * - Every file listed in md5sums is checked against the blob that was stored for it; a mismatch
 *   or a listed file missing from data.tar is ERR_NIP_HASH_MISMATCH / ERR_NIP_BAD_PACKAGE.
 * - Writes nothing but CAS blobs.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import path from 'node:path'
import type { Cas } from '@nip/cas'
import type { StageTarget } from '@nip/core'
import {
  NipError,
  decompressStream,
  fromSystemError,
  readTar,
  unpackToCas,
  type ArchiveWarning,
  type Compression,
  type Limits,
  type Scriptlet,
  type TreeEntry,
} from '@nip/core'
import { listArMembers, type ArMember } from './arArchive.js'
import { parseStanzas, type Stanza } from './deb822.js'
import { mapDebPath, mapSymlinkTarget } from './debPath.js'
import { packageNameProblem } from './relation.js'
import { parseDpkgVersion } from './versionCompare.js'

export const MAINTAINER_SCRIPTS = ['preinst', 'postinst', 'prerm', 'postrm', 'config', 'triggers'] as const
const CONTROL_MAX = 64 * 1024 * 1024

const COMPRESSION_BY_SUFFIX: Record<string, Compression> = { '': 'none', '.gz': 'gzip', '.xz': 'xz', '.zst': 'zstd', '.bz2': 'bzip2' }

export interface DebLayout {
  debianBinary: ArMember
  control: ArMember & { compression: Compression }
  data: ArMember & { compression: Compression }
}

export interface DebControl {
  control: Stanza
  md5sums: Map<string, string>
  conffiles: string[]
  scriptlets: Scriptlet[]
}

export interface ReadDebOptions {
  cas: Cas
  limits: Limits
  /** Create the files in the staging directory while unpacking (AdapterContext.stage). */
  stage?: StageTarget
  onWarning?: (w: ArchiveWarning) => void
  onProgress?: (done: number, total: number) => void
  signal?: AbortSignal
}

export interface DebContents extends DebControl {
  entries: TreeEntry[]
  /** Files whose MD5 was checked against md5sums. */
  md5Checked: number
}

/** Locate the three members, checking dpkg's order rules. */
export async function readDebLayout(file: string): Promise<DebLayout> {
  let fh
  try {
    fh = await open(file, 'r')
  } catch (e) {
    throw fromSystemError(e, 'opening a .deb', file)
  }
  try {
    const members = await listArMembers(fh, (await fh.stat()).size, file)
    const name = path.basename(file)
    let i = 0
    const nextNonSkipped = (): ArMember | undefined => {
      while (i < members.length && members[i].name.startsWith('_')) i++
      return members[i++]
    }
    const first = members[i++]
    if (first === undefined || first.name !== 'debian-binary') throw bad(file, `the first member is ${first ? JSON.stringify(first.name) : 'missing'}, not debian-binary`)
    const buf = Buffer.alloc(Math.min(first.size, 64))
    await fh.read(buf, 0, buf.length, first.offset)
    const version = buf.toString('latin1').split('\n')[0]
    if (!/^2\.[0-9]+$/.test(version)) throw bad(file, `debian-binary says format ${JSON.stringify(version)}; only 2.x is supported`)
    const control = nextNonSkipped()
    const controlCompression = control && tarMember(control, 'control.tar', file)
    if (control === undefined || controlCompression === null || controlCompression === undefined) {
      throw bad(file, `has premature member ${JSON.stringify(control?.name ?? '(end)')} where control.tar was expected`)
    }
    const data = nextNonSkipped()
    const dataCompression = data && tarMember(data, 'data.tar', file)
    if (data === undefined || dataCompression === null || dataCompression === undefined) {
      throw bad(file, `has premature member ${JSON.stringify(data?.name ?? '(end)')} where data.tar was expected`)
    }
    void name
    return { debianBinary: first, control: { ...control, compression: controlCompression }, data: { ...data, compression: dataCompression } }
  } finally {
    await fh.close()
  }
}

/** The compression of a `<base>[.ext]` member, null when the name is another member. */
function tarMember(m: ArMember, base: string, file: string): Compression | null {
  if (m.name !== base && !m.name.startsWith(`${base}.`)) return null
  const suffix = m.name.slice(base.length)
  const compression = COMPRESSION_BY_SUFFIX[suffix]
  if (compression === undefined) throw bad(file, `member ${m.name} uses an unsupported compression`)
  if (m.size === 0) throw bad(file, `member ${m.name} is empty`)
  return compression
}

export async function readDebControl(file: string, layout: DebLayout, limits: Limits): Promise<DebControl> {
  if (layout.control.size > CONTROL_MAX) throw bad(file, 'control.tar is implausibly large')
  const src = createReadStream(file, { start: layout.control.offset, end: layout.control.offset + layout.control.size - 1 })
  const members = new Map<string, Buffer>()
  try {
    for await (const entry of readTar(decompressStream(src, { compression: layout.control.compression, archive: `${file}:control.tar` }), {
      limits,
      archive: `${file}:control.tar`,
    })) {
      if (entry.type !== 'file') continue
      const chunks: Buffer[] = []
      let total = 0
      for await (const c of entry.body!) {
        total += c.length
        if (total > CONTROL_MAX) throw bad(file, `control member ${entry.path} is implausibly large`)
        chunks.push(c)
      }
      members.set(entry.path, Buffer.concat(chunks))
    }
  } finally {
    src.destroy()
  }
  const controlText = members.get('control')
  if (controlText === undefined) throw bad(file, 'control.tar has no control file')
  const stanzas = parseStanzas(controlText.toString('utf8'), { source: `${path.basename(file)}: control` })
  if (stanzas.length !== 1) throw bad(file, `the control file has ${stanzas.length} stanzas, not 1`)
  const control = stanzas[0]
  for (const f of ['package', 'version', 'architecture']) if (!control.get(f)) throw bad(file, `the control file has no ${f} field`)
  // As dpkg reads a binary package's control file: an illegal name or a version dpkg would refuse
  // or warn about (strict parsing) is refused.
  const nameProblem = packageNameProblem(control.get('package')!)
  if (nameProblem !== null) throw bad(file, `the control file's Package ${JSON.stringify(control.get('package'))} is not a package name: ${nameProblem}`)
  const versionCheck = parseDpkgVersion(control.get('version')!)
  if (versionCheck.level !== undefined) throw bad(file, `the control file's Version ${JSON.stringify(control.get('version'))} is not a dpkg version: ${versionCheck.problem}`)
  const md5sums = new Map<string, string>()
  for (const line of (members.get('md5sums')?.toString('utf8') ?? '').split('\n')) {
    if (line.trim() === '') continue
    const m = /^([0-9a-fA-F]{32}) [ *]?(.+)$/.exec(line)
    if (m === null) throw bad(file, `md5sums has a malformed line ${JSON.stringify(line)}`)
    md5sums.set(m[2].replace(/^\.?\/+/, ''), m[1].toLowerCase())
  }
  const conffiles = (members.get('conffiles')?.toString('utf8') ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    // dpkg ≥ 1.20 allows flags after the path ("remove-on-upgrade"); the path is the first word.
    .map((l) => l.split(/\s+/)[0].replace(/^\/+/, ''))
  const scriptlets: Scriptlet[] = []
  for (const name of MAINTAINER_SCRIPTS) {
    const body = members.get(name)
    if (body !== undefined) scriptlets.push({ name, body: body.toString('utf8') })
  }
  return { control, md5sums, conffiles, scriptlets }
}

export async function readDeb(file: string, opts: ReadDebOptions): Promise<DebContents> {
  const layout = await readDebLayout(file)
  const control = await readDebControl(file, layout, opts.limits)
  const archive = `${path.basename(file)}:${layout.data.name}`
  /** Archive path of every stored file, by mapped path (for the md5sums check). */
  const archiveOf = new Map<string, string>()
  const symlinks: { archivePath: string; mapped: string; target: string; mode: number }[] = []
  const { data } = layout
  let done = 0
  const src = createReadStream(file, { start: data.offset, end: data.offset + data.size - 1, ...(opts.signal ? { signal: opts.signal } : {}) })
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of src) {
      done += (chunk as Buffer).length
      opts.onProgress?.(done, data.size)
      yield chunk as Buffer
    }
  }
  let result
  try {
    result = await unpackToCas(counted(), {
      cas: opts.cas,
      limits: opts.limits,
      archive,
      compression: data.compression,
      sourceSize: data.size,
      ...(opts.stage !== undefined ? { stage: opts.stage } : {}),
      ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
      absoluteSymlinks: 'rebase',
      mapPath: (p, entry) => {
        const mapped = mapDebPath(p)
        // The roots (usr, a triplet directory) carry nothing of their own.
        if (mapped === null || mapped === '') return null
        if (entry.type === 'symlink') {
          // Re-targeted below: a target relative to the archive layout would be wrong after mapping.
          symlinks.push({ archivePath: p, mapped, target: entry.target!, mode: entry.mode })
          return null
        }
        if (entry.type === 'file' || entry.type === 'hardlink') archiveOf.set(mapped, p)
        return mapped
      },
      isSettings: (mapped) => mapped.startsWith('Settings/'),
    })
  } finally {
    src.destroy()
  }
  const entries = addSymlinks(result.entries, symlinks, archive)
  const md5Checked = await checkMd5sums({ entries, archiveOf, md5sums: control.md5sums, cas: opts.cas, file })
  return { ...control, entries, md5Checked }
}

function addSymlinks(
  entries: TreeEntry[],
  symlinks: { archivePath: string; mapped: string; target: string; mode: number }[],
  archive: string,
): TreeEntry[] {
  const byPath = new Map(entries.map((e) => [e.path, e]))
  for (const link of symlinks) {
    if (link.mapped === '') throw refuse('ERR_NIP_UNSAFE_SYMLINK', `${archive}: the symlink ${link.archivePath} would replace the tree root`, link.archivePath, archive)
    const target = mapSymlinkTarget(link.archivePath, link.target, link.mapped)
    if (target === null) continue
    const existing = byPath.get(link.mapped)
    if (existing !== undefined && !(existing.type === 'symlink' && existing.target === target)) {
      throw refuse('ERR_NIP_UNSAFE_DUPLICATE', `${archive}: ${link.archivePath} and another entry both map to ${link.mapped}`, link.archivePath, archive)
    }
    const parts = link.mapped.split('/')
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/')
      const p = byPath.get(parent)
      if (p === undefined) byPath.set(parent, { path: parent, type: 'dir', mode: 0o755 })
      else if (p.type !== 'dir') throw refuse('ERR_NIP_UNSAFE_THROUGH_SYMLINK', `${archive}: ${link.archivePath} lies under ${parent}, which is not a directory`, link.archivePath, archive)
    }
    byPath.set(link.mapped, { path: link.mapped, type: 'symlink', mode: link.mode || 0o777, target })
  }
  // No entry may live below a symlink (that would write through it when staged).
  const links = new Set([...byPath.values()].filter((e) => e.type === 'symlink').map((e) => e.path))
  for (const e of byPath.values()) {
    const parts = e.path.split('/')
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/')
      if (links.has(parent)) throw refuse('ERR_NIP_UNSAFE_THROUGH_SYMLINK', `${archive}: ${e.path} would be written through the symlink ${parent}`, e.path, archive)
    }
    if (e.path.startsWith('Settings/') && e.type !== 'dir') e.settings = true
    if (e.path === 'Settings' || e.path.startsWith('Settings/')) e.settings = true
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

async function checkMd5sums(opts: {
  entries: TreeEntry[]
  archiveOf: Map<string, string>
  md5sums: Map<string, string>
  cas: Cas
  file: string
}): Promise<number> {
  const byArchive = new Map<string, TreeEntry>()
  for (const e of opts.entries) {
    const a = opts.archiveOf.get(e.path)
    if (a !== undefined && e.type === 'file') byArchive.set(a, e)
  }
  let checked = 0
  for (const [p, expected] of opts.md5sums) {
    const entry = byArchive.get(p)
    if (entry === undefined) {
      throw new NipError('ERR_NIP_BAD_PACKAGE', `${path.basename(opts.file)}: md5sums lists ${p}, which data.tar does not contain as a file`, {
        hint: 'The package is inconsistent; do not install it.',
        data: { file: opts.file, path: p },
      })
    }
    const md5 = createHash('md5')
    for await (const chunk of createReadStream(opts.cas.pathOf(entry.blob!))) md5.update(chunk as Buffer)
    const actual = md5.digest('hex')
    if (actual !== expected) {
      throw new NipError('ERR_NIP_HASH_MISMATCH', `${path.basename(opts.file)}: ${p} has MD5 ${actual}, but md5sums says ${expected}`, {
        hint: 'The package content was altered after it was built; do not install it.',
        data: { file: opts.file, path: p, expected, actual },
      })
    }
    checked++
  }
  return checked
}

function refuse(code: 'ERR_NIP_UNSAFE_SYMLINK' | 'ERR_NIP_UNSAFE_DUPLICATE' | 'ERR_NIP_UNSAFE_THROUGH_SYMLINK', message: string, entry: string, archive: string): NipError {
  return new NipError(code, message, { hint: 'The package is malformed or hostile; nothing was grafted.', data: { entry, archive } })
}

function bad(file: string, why: string): NipError {
  return new NipError('ERR_NIP_BAD_PACKAGE', `${path.basename(file)}: ${why}`, {
    hint: 'The .deb is malformed; dpkg-deb would refuse it too.',
    data: { file },
  })
}
