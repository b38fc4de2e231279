/**
 * A Gentoo binary package given as a local file (`nip install ./foo-1.0-1.gpkg.tar`): its
 * metadata (CATEGORY, PF, SLOT, USE, RDEPEND, …) read without unpacking the image, as the
 * `BinaryPackage` a binhost index would have listed for it. Which of the two formats it is comes
 * from the content: an XPAK trailer (`XPAKSTOP`, length, `STOP`) or else a GPKG.
 *
 * Nothing here is trusted for the graft itself: fetch reads the file again through readGpkg
 * (every Manifest record checked, a signature when [gentoo] keyring asks for one) or the XPAK
 * split, and checks that CATEGORY/PF there match this metadata.
 */
import fs from 'node:fs'
import path from 'node:path'
import { NipError, decompressStream, readTar, type Limits } from '@nip/core'
import type { BinaryPackage } from './binhostIndex.js'
import { parseCpv } from './cpv.js'
import { parseXpakTrailer, XpakError } from './xpak.js'

export interface LocalBinary {
  kind: 'gpkg' | 'xpak'
  file: string
  pkg: BinaryPackage
}

/** The most bytes one metadata value may have (Portage's are a few KiB). */
const MAX_VALUE = 1024 * 1024

export async function readLocalBinary(file: string, limits: Limits): Promise<LocalBinary> {
  const abs = path.resolve(file)
  const label = path.basename(abs)
  const bad = (message: string): NipError =>
    new NipError('ERR_NIP_BAD_PACKAGE', `${label}: ${message}`, { hint: 'The file is not a valid Gentoo binary package (GPKG or XPAK).', data: { file: abs } })
  const st = await fs.promises.stat(abs)
  const raw: Record<string, string> = {}
  let kind: LocalBinary['kind']
  const tail = Buffer.alloc(Math.min(st.size, 16))
  const fh = await fs.promises.open(abs, 'r')
  try {
    await fh.read(tail, 0, tail.length, st.size - tail.length)
    if (tail.length === 16 && tail.subarray(0, 8).toString('latin1') === 'XPAKSTOP' && tail.subarray(12).toString('latin1') === 'STOP') {
      kind = 'xpak'
      const len = tail.readUInt32BE(8)
      const want = Math.min(st.size, len + 8)
      const buf = Buffer.alloc(want)
      await fh.read(buf, 0, want, st.size - want)
      try {
        for (const [k, v] of parseXpakTrailer(buf, st.size).metadata) raw[k] = v.toString('utf8').trim()
      } catch (e) {
        if (e instanceof XpakError) throw bad(e.message)
        throw e
      }
    } else kind = 'gpkg'
  } finally {
    await fh.close()
  }
  if (kind === 'gpkg') {
    for await (const entry of readTar(fs.createReadStream(abs), { limits, archive: label })) {
      if (entry.type !== 'file' || !/^[^/]+\/metadata\.tar(\.[a-z0-9]+)?$/.test(entry.path)) continue
      for await (const m of readTar(decompressStream(entry.body!, { archive: `${label}: ${entry.path}` }), { limits, archive: `${label}: ${entry.path}` })) {
        const key = /^metadata\/([A-Za-z0-9_]+)$/.exec(m.path)?.[1]
        if (m.type !== 'file' || key === undefined) continue
        if (m.size > MAX_VALUE) throw bad(`metadata/${key} is ${m.size} bytes`)
        const chunks: Buffer[] = []
        for await (const c of m.body!) chunks.push(c)
        raw[key] = Buffer.concat(chunks).toString('utf8').trim()
      }
      break
    }
  }
  const cpv = raw.CATEGORY && raw.PF ? parseCpv(`${raw.CATEGORY}/${raw.PF}`) : null
  if (cpv === null) throw bad(`no valid CATEGORY and PF in its metadata (${JSON.stringify(raw.CATEGORY ?? '')}/${JSON.stringify(raw.PF ?? '')})`)
  const words = (s: string | undefined): string[] => (s ?? '').split(/\s+/).filter(Boolean)
  const [slot, subSlot] = (raw.SLOT || '0').split('/')
  return {
    kind,
    file: abs,
    pkg: {
      cpv,
      buildId: Number(raw.BUILD_ID ?? '0') || 0,
      buildTime: Number(raw.BUILD_TIME ?? '0') || 0,
      slot: slot || '0',
      subSlot: subSlot ?? (slot || '0'),
      eapi: raw.EAPI || '0',
      use: new Set(words(raw.USE)),
      iuse: new Set(words(raw.IUSE).map((f) => f.replace(/^[+-]/, ''))),
      path: label,
      size: st.size,
      raw: { ...raw, CPV: cpv.cpv, ...(raw.DESCRIPTION !== undefined && raw.DESC === undefined ? { DESC: raw.DESCRIPTION } : {}) },
    },
  }
}
