/**
 * How a program tree becomes layers, so that content shared between programs and versions is
 * uploaded (and stored) once:
 * - a file of at least `PACK_THRESHOLD` bytes is a layer of its own: its bytes, nothing else, so
 *   the layer's sha256 depends on the content only;
 * - smaller files are packed: their distinct contents, sorted by BLAKE3 digest, are concatenated,
 *   and a pack ends after a file whose digest's first 16 bits are 0 mod `PACK_FANOUT` (or at
 *   `PACK_MAX` bytes). The cut points are properties of the files themselves, so adding or
 *   changing one small file changes only the pack it falls in, not the packs after it (the
 *   content-defined chunking of rsync and casync, with files as the units).
 * Per-file layers alone would be simpler, but a manifest names every layer, and a 50,000-file
 * program would make a manifest larger than registries accept (Distribution: 4 MiB).
 * Identical contents inside one tree are stored once; the executable bit is not part of a layer.
 */
import type { TreeEntry } from '@nip/core'

export const PACK_THRESHOLD = 64 * 1024
export const PACK_FANOUT = 16
export const PACK_MAX = 4 * 1024 * 1024

export interface PlannedFile {
  digest: string
  size: number
}

export interface PlannedLayer {
  /** The contents in order; a file's offset is the sum of the sizes before it. */
  files: PlannedFile[]
  size: number
}

export function digestOfKey(key: string): string {
  return key.endsWith('-x') ? key.slice(0, -2) : key
}

export function planLayers(entries: TreeEntry[]): PlannedLayer[] {
  const sizes = new Map<string, number>()
  for (const e of entries) if (e.type === 'file' && e.blob) sizes.set(digestOfKey(e.blob), e.size ?? 0)
  const sorted = [...sizes.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  const layers: PlannedLayer[] = []
  let pack: PlannedLayer = { files: [], size: 0 }
  for (const [digest, size] of sorted) {
    if (size >= PACK_THRESHOLD) {
      layers.push({ files: [{ digest, size }], size })
      continue
    }
    pack.files.push({ digest, size })
    pack.size += size
    if (parseInt(digest.slice(0, 4), 16) % PACK_FANOUT === 0 || pack.size >= PACK_MAX) {
      layers.push(pack)
      pack = { files: [], size: 0 }
    }
  }
  if (pack.files.length > 0) layers.push(pack)
  return layers
}
