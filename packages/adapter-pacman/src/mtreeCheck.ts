/**
 * Check an unpacked payload against its `.MTREE`, as `pacman -Qkk` would check an installed one:
 * every payload entry is listed with the same type; files have the listed size, permission bits
 * and SHA-256 (computed while the file was unpacked, or read back from the CAS blob when the
 * payload carries none); symlinks have the listed target. Anything the mtree
 * does not list, or lists but the archive lacks, is a mismatch.
 *
 * Contract: throws ERR_NIP_BAD_PACKAGE naming the first few mismatches; returns normally only
 * when the payload agrees with the mtree entirely.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { NipError, rebaseAbsoluteTarget, type AdapterContext } from '@nip/core'
import type { MtreeEntry } from './mtree.js'

type Cas = AdapterContext['cas']

/** A payload entry under its archive path (before mapping). */
export interface PayloadEntry {
  type: 'file' | 'dir' | 'symlink'
  mode: number
  size?: number
  blob?: string
  /** SHA-256 of the content (lowercase hex), when it was computed while unpacking. */
  sha256?: string
  /** As readTar recorded it (absolute targets rebased). */
  target?: string
}

export function checkMtree(opts: { mtree: MtreeEntry[]; payload: Map<string, PayloadEntry>; cas: Cas; file: string }): void {
  const problems: string[] = []
  const listed = new Set<string>()
  for (const m of opts.mtree) {
    listed.add(m.path)
    const got = opts.payload.get(m.path)
    if (got === undefined) {
      problems.push(`${m.path}: listed in .MTREE but not in the archive`)
      continue
    }
    const type = m.type === 'link' ? 'symlink' : m.type
    if (got.type !== type) {
      problems.push(`${m.path}: is a ${got.type}, .MTREE says ${type}`)
      continue
    }
    if (m.mode !== undefined && type !== 'symlink' && (m.mode & 0o777) !== got.mode) {
      problems.push(`${m.path}: mode ${got.mode.toString(8)}, .MTREE says ${(m.mode & 0o777).toString(8)}`)
    }
    if (type === 'file') {
      if (m.size !== undefined && m.size !== got.size) problems.push(`${m.path}: ${got.size} bytes, .MTREE says ${m.size}`)
      else if (m.sha256 !== undefined) {
        const digest = got.sha256 ?? createHash('sha256').update(readFileSync(opts.cas.pathOf(got.blob!))).digest('hex')
        if (digest !== m.sha256) problems.push(`${m.path}: SHA-256 ${digest}, .MTREE says ${m.sha256}`)
      }
    } else if (type === 'symlink' && m.link !== undefined) {
      const want = m.link.startsWith('/') ? rebaseAbsoluteTarget(m.path, m.link) : m.link
      if (want !== got.target) problems.push(`${m.path}: points to ${got.target}, .MTREE says ${m.link}`)
    }
  }
  for (const p of opts.payload.keys()) if (!listed.has(p)) problems.push(`${p}: in the archive but not listed in .MTREE`)
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).map((p) => `  ${p}`)
    if (problems.length > 10) shown.push(`  … and ${problems.length - 10} more`)
    throw new NipError('ERR_NIP_BAD_PACKAGE', `${opts.file} does not match its .MTREE:\n${shown.join('\n')}`, {
      hint: 'The package was altered after it was built. Do not install it; download it again from a trusted mirror.',
      data: { file: opts.file, mismatches: problems },
    })
  }
}
