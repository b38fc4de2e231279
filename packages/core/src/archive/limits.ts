/** Bounds applied to every archive nip unpacks. */
export interface Limits {
  /** Maximum number of entries in one archive. */
  maxEntries: number
  /** Maximum total bytes of regular-file content after decompression. */
  maxTotalSize: number
  /** Maximum length of one entry path, in bytes. */
  maxPathLength: number
  /** Maximum directory depth of one entry path. */
  maxDepth: number
}

export const DEFAULT_LIMITS: Limits = {
  maxEntries: 1_000_000,
  maxTotalSize: 64 * 1024 ** 3,
  maxPathLength: 4096,
  maxDepth: 256,
}
