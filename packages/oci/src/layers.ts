/**
 * How a program tree becomes layers, so that content shared between versions is uploaded (and
 * stored) once, in few layers (every layer costs the registry a few requests, and a manifest
 * naming tens of thousands of layers is refused: Distribution caps manifests at 4 MiB):
 * 1. Reuse: the layers of earlier versions in the same repository (their documents say which
 *    file lies where) are reused, largest useful first, when at least half of a layer's bytes are
 *    files of this tree. A new version changing 5% of its files then sends about those 5% only.
 * 2. The remaining distinct contents: a file of at least `PACK_TARGET` bytes is a layer of its
 *    own; smaller ones, sorted by BLAKE3 digest, are packed, a pack ending after a file whose
 *    digest's first 32 bits are 0 mod F (F: the power of two nearest to `PACK_TARGET` over the
 *    mean small-file size), or at `PACK_MAX` bytes. The cut points are properties of the files,
 *    so two unrelated pushes of trees sharing files still tend to make the same packs.
 * Identical contents inside one tree are stored once; the executable bit is not part of a layer.
 */
import type { TreeEntry } from '@nip/core'

export const PACK_TARGET = 1024 * 1024
export const PACK_MAX = 4 * 1024 * 1024
/** A reused layer must be at least this share of useful bytes. */
export const REUSE_MIN = 0.5

export interface PlannedFile {
  digest: string
  size: number
  offset: number
}

export interface PlannedLayer {
  /** Where each content lies; a new layer is these files concatenated in order. */
  files: PlannedFile[]
  size: number
  /** The sha256 of an existing layer that is reused as it is (its files may include others). */
  reuse?: string
}

/** An existing layer: its sha256, size, and the contents at their offsets. */
export interface KnownLayer {
  digest: string
  size: number
  files: PlannedFile[]
}

export function digestOfKey(key: string): string {
  return key.endsWith('-x') ? key.slice(0, -2) : key
}

/** The pack fan-out for small files of mean size `mean`: packs of about PACK_TARGET bytes. */
export function packFanout(mean: number): number {
  let f = 1
  while (mean * f * 2 <= PACK_TARGET) f *= 2
  return f
}

export function planLayers(entries: TreeEntry[], known: KnownLayer[] = []): PlannedLayer[] {
  const sizes = new Map<string, number>()
  for (const e of entries) if (e.type === 'file' && e.blob) sizes.set(digestOfKey(e.blob), e.size ?? 0)
  const layers: PlannedLayer[] = []
  // 1. Reuse earlier layers, most useful bytes first.
  const seen = new Set<string>()
  const candidates = known
    .filter((l) => !seen.has(l.digest) && seen.add(l.digest))
    .map((l) => ({ l, useful: l.files.reduce((n, f) => n + (sizes.has(f.digest) ? f.size : 0), 0) }))
    .filter((c) => c.useful > 0 && c.useful >= REUSE_MIN * c.l.size)
    .sort((a, b) => b.useful - a.useful || (a.l.digest < b.l.digest ? -1 : 1))
  const covered = new Set<string>()
  for (const { l } of candidates) {
    const files = l.files.filter((f) => sizes.has(f.digest) && !covered.has(f.digest))
    if (files.reduce((n, f) => n + f.size, 0) < REUSE_MIN * l.size) continue
    for (const f of files) covered.add(f.digest)
    layers.push({ files, size: l.size, reuse: l.digest })
  }
  // 2. Pack the rest.
  const rest = [...sizes.entries()].filter(([d]) => !covered.has(d)).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  const small = rest.filter(([, size]) => size < PACK_TARGET)
  const fanout = packFanout(small.length ? small.reduce((n, [, s]) => n + s, 0) / small.length : PACK_TARGET)
  let pack: PlannedLayer = { files: [], size: 0 }
  for (const [digest, size] of rest) {
    if (size >= PACK_TARGET) {
      layers.push({ files: [{ digest, size, offset: 0 }], size })
      continue
    }
    pack.files.push({ digest, size, offset: pack.size })
    pack.size += size
    if (parseInt(digest.slice(0, 8), 16) % fanout === 0 || pack.size >= PACK_MAX) {
      layers.push(pack)
      pack = { files: [], size: 0 }
    }
  }
  if (pack.files.length > 0) layers.push(pack)
  return layers
}
