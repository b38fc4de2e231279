/**
 * Public types of the content-addressable store. The CAS knows blobs and trees, nothing
 * about packages.
 *
 * A blob is addressed by its BLAKE3 digest (64 lowercase hex chars) plus its executable bit,
 * because hardlinked copies share one inode and therefore one mode:
 *   key = <hex>        for a non-executable blob (stored mode 0444)
 *   key = <hex>-x      for an executable blob    (stored mode 0555)
 * and lives at <casDir>/<key[0:2]>/<key>.
 */

export interface BlobInfo {
  /** Store key: hex digest, with "-x" appended when executable. */
  key: string
  /** BLAKE3 hex digest of the content. */
  digest: string
  executable: boolean
  size: number
  /** True when the blob was already present (and verified) before this call. */
  existed: boolean
  /** True when a blob was present at this key but did not match it, and was replaced. */
  repaired?: boolean
}

export type ImportMethod = 'reflink' | 'hardlink' | 'copy'

export interface AddOptions {
  executable?: boolean
  /** When given, the content must hash to this BLAKE3 hex digest or ERR_NIP_HASH_MISMATCH is thrown. */
  expectDigest?: string
  /** When given, the content must have exactly this size or ERR_NIP_SIZE_MISMATCH is thrown. */
  expectSize?: number
}

export interface ImportOptions {
  /** Force a private writable copy (used for configuration files). */
  copy?: boolean
  /** Mode for a copied file (default: 0644, or 0755 for executable blobs). */
  mode?: number
}

/** One entry of a tree (an indexed file map), used to compute a tree digest. */
export interface TreeItem {
  path: string
  type: 'file' | 'dir' | 'symlink'
  /** Permission bits. */
  mode: number
  /** Blob key for files. */
  key?: string
  /** Symlink target. */
  target?: string
}
