/**
 * How a program tree becomes layers, so that content shared between programs and versions is
 * uploaded (and stored) once:
 * - a file of at least `PACK_THRESHOLD` bytes is a layer of its own: its bytes, nothing else, so
 *   the layer's sha256 depends on the content only;
 * - smaller files are layers of their own too while the tree has at most `SMALL_LAYERS` distinct
 *   small contents. Beyond that they are packed: their distinct contents, sorted by BLAKE3 digest,
 *   are concatenated, and a pack ends after a file whose digest's first 32 bits are 0 mod the
 *   fan-out F (the power of two that brings the packs under `SMALL_LAYERS`), or at `PACK_MAX`
 *   bytes. The cut points are properties of the files themselves, so adding or changing one small
 *   file changes only the pack it falls in (the content-defined chunking of rsync and casync, with
 *   files as the units); F changes only when the number of small files crosses a power of two.
 * Why not always one layer per file: a manifest names every layer, and registries cap manifests
 * (Distribution: 4 MiB, about 25,000 layers); and each layer costs requests. A 50,000-file tree
 * of small files is about 3,000 packs (F = 16); a new version changing 5% of such files re-sends
 * about half the small-file bytes, while files of 16 KiB or more are re-sent only if changed.
 * Identical contents inside one tree are stored once; the executable bit is not part of a layer.
 */
import type { TreeEntry } from '@nip/core'

export const PACK_THRESHOLD = 16 * 1024
export const SMALL_LAYERS = 4000
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

/** The pack fan-out for `n` distinct small contents: 1 (no packing) up to SMALL_LAYERS. */
export function packFanout(n: number): number {
  let f = 1
  while (n / f > SMALL_LAYERS) f *= 2
  return f
}

export function planLayers(entries: TreeEntry[]): PlannedLayer[] {
  const sizes = new Map<string, number>()
  for (const e of entries) if (e.type === 'file' && e.blob) sizes.set(digestOfKey(e.blob), e.size ?? 0)
  const sorted = [...sizes.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  const fanout = packFanout(sorted.filter(([, size]) => size < PACK_THRESHOLD).length)
  const layers: PlannedLayer[] = []
  let pack: PlannedLayer = { files: [], size: 0 }
  for (const [digest, size] of sorted) {
    if (size >= PACK_THRESHOLD) {
      layers.push({ files: [{ digest, size }], size })
      continue
    }
    pack.files.push({ digest, size })
    pack.size += size
    if (parseInt(digest.slice(0, 8), 16) % fanout === 0 || pack.size >= PACK_MAX) {
      layers.push(pack)
      pack = { files: [], size: 0 }
    }
  }
  if (pack.files.length > 0) layers.push(pack)
  return layers
}
