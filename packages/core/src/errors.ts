/**
 * NipError: every failure nip reports has a stable code (never reused), a message, a hint
 * and structured data. The table below is the single source of truth for codes and their
 * process exit codes; docs/errors.md lists the same table (a test keeps them in sync).
 */

export const ERROR_CODES = {
  // generic
  ERR_NIP_INTERNAL: { exit: 70, summary: 'An unexpected internal error (a bug in nip).' },
  ERR_NIP_USAGE: { exit: 64, summary: 'The command line is malformed (unknown flag, bad spec).' },
  ERR_NIP_CONFIG: { exit: 78, summary: 'The configuration file cannot be read or has a bad value (including two directory keys that overlap).' },
  ERR_NIP_ROOT: { exit: 78, summary: 'The target root cannot be used (missing, not a directory, not writable).' },
  ERR_NIP_IO: { exit: 74, summary: 'A filesystem operation failed.' },
  ERR_NIP_NO_SPACE: { exit: 74, summary: 'The filesystem ran out of space (ENOSPC).' },
  ERR_NIP_ABORTED: { exit: 1, summary: 'The question before a change was answered no, or not at all (end of input); nothing was changed. Printed as a plain "Nothing was changed."; Ctrl-C at the question exits 130.' },
  // lock and transactions
  ERR_NIP_LOCKED: { exit: 75, summary: 'Another nip process holds the lock and did not release it in time.' },
  ERR_NIP_TXN_INTERRUPTED: { exit: 75, summary: 'An interrupted transaction needs recovery and recovery failed.' },
  // resolution
  ERR_NIP_NOT_FOUND: { exit: 3, summary: 'No configured source offers the requested package.' },
  ERR_NIP_UNKNOWN_SOURCE: { exit: 64, summary: 'A source name was given that nip does not know.' },
  ERR_NIP_BAD_SPEC: { exit: 64, summary: 'A package spec cannot be parsed.' },
  ERR_NIP_UNSATISFIED_DEPENDENCY: { exit: 3, summary: 'A dependency cannot be satisfied by any source.' },
  ERR_NIP_DEPENDENCY_CYCLE: { exit: 3, summary: 'Dependencies form a cycle that cannot be ordered.' },
  ERR_NIP_NOT_INSTALLED: { exit: 3, summary: 'The named program (or version) is not grafted.' },
  ERR_NIP_ALREADY_INSTALLED: { exit: 0, summary: 'The requested version is already grafted (not an error with --json unless asked).' },
  ERR_NIP_REQUIRED_BY: { exit: 4, summary: 'Removal refused: other programs depend on it.' },
  ERR_NIP_CHANGE_REFUSED: { exit: 4, summary: 'The plan would move Current to a lower version or to another source without being told to (--allow-downgrade, a source: spec).' },
  ERR_NIP_BAD_NAME: { exit: 65, summary: 'A program name or version is not a safe path component.' },
  // conflicts
  ERR_NIP_LINK_CONFLICT: { exit: 4, summary: 'A link in /System/Links is owned by another program.' },
  ERR_NIP_LINK_OCCUPIED: { exit: 4, summary: 'A link path is occupied by a file nip does not own.' },
  ERR_NIP_PACKAGE_CONFLICT: { exit: 4, summary: 'A package declares a conflict with a grafted program (or a grafted program with it).' },
  ERR_NIP_DISK_SPACE: { exit: 74, summary: 'Not enough free disk space for the planned transaction.' },
  // verification
  ERR_NIP_HASH_MISMATCH: { exit: 65, summary: 'Content does not match its expected digest.' },
  ERR_NIP_SIZE_MISMATCH: { exit: 65, summary: 'Content does not have its expected size.' },
  ERR_NIP_CAS_CORRUPT: { exit: 65, summary: 'A blob in the content-addressable store does not match its address.' },
  ERR_NIP_SIGNATURE_INVALID: { exit: 65, summary: 'A signature does not verify, or its key is expired, revoked or not trusted.' },
  ERR_NIP_SIGNATURE_MISSING: { exit: 65, summary: 'A required signature is absent.' },
  ERR_NIP_KEY_UNKNOWN: { exit: 65, summary: 'Content is signed by a key that is not in the trusted keyring.' },
  ERR_NIP_KEYRING_INVALID: { exit: 65, summary: 'A keyring (trusted public keys) cannot be parsed or holds no key.' },
  ERR_NIP_METADATA_EXPIRED: { exit: 65, summary: 'Signed repository metadata is past its validity date (Debian Valid-Until).' },
  // safe unpacking (one code per refusal)
  ERR_NIP_ARCHIVE_CORRUPT: { exit: 65, summary: 'An archive is truncated or malformed.' },
  ERR_NIP_ARCHIVE_COMPRESSION: { exit: 65, summary: 'An archive uses an unknown or broken compression.' },
  ERR_NIP_UNSAFE_ABSOLUTE_PATH: { exit: 65, summary: 'An archive entry has an absolute path.' },
  ERR_NIP_UNSAFE_PARENT_PATH: { exit: 65, summary: 'An archive entry path contains "..".' },
  ERR_NIP_UNSAFE_THROUGH_SYMLINK: { exit: 65, summary: 'An archive entry would be written through a symlink.' },
  ERR_NIP_UNSAFE_SYMLINK: { exit: 65, summary: 'An archive symlink points outside the tree.' },
  ERR_NIP_UNSAFE_HARDLINK: { exit: 65, summary: 'An archive hardlink points outside the tree or to a missing entry.' },
  ERR_NIP_UNSAFE_DEVICE: { exit: 65, summary: 'An archive contains a device node, FIFO or socket.' },
  ERR_NIP_UNSAFE_DUPLICATE: { exit: 65, summary: 'An archive contains the same path twice with different types.' },
  ERR_NIP_ARCHIVE_TOO_MANY_ENTRIES: { exit: 65, summary: 'An archive has more entries than the configured limit.' },
  ERR_NIP_ARCHIVE_TOO_LARGE: { exit: 65, summary: 'An archive expands to more bytes than the configured limit.' },
  ERR_NIP_UNSAFE_NAME: { exit: 65, summary: 'An archive entry name is empty, too long, or contains NUL.' },
  // adapters / network
  ERR_NIP_SOURCE_UNAVAILABLE: { exit: 69, summary: 'A source is not configured, disabled (for a local file of its format) or cannot be reached.' },
  ERR_NIP_FETCH_FAILED: { exit: 69, summary: 'Downloading from every mirror failed.' },
  ERR_NIP_BAD_PACKAGE: { exit: 65, summary: 'A package file is malformed or inconsistent with its metadata, or a local file is of no format nip recognises.' },
  ERR_NIP_REGISTRY: { exit: 69, summary: 'An OCI registry refused or failed a request (other than authentication), or holds something that is not what nip expects.' },
  ERR_NIP_REGISTRY_AUTH: { exit: 77, summary: 'An OCI registry refused the credentials, or asks for credentials and none are configured.' },
  ERR_NIP_ARTIFACT_UNSIGNED: { exit: 65, summary: 'A fleet-cache artifact carries no signature and signatures are required.' },
  ERR_NIP_ARTIFACT_SIGNATURE: { exit: 65, summary: 'A fleet-cache artifact is signed by an untrusted key, or its signature does not verify.' },
  ERR_NIP_RELOCATION_FAILED: { exit: 65, summary: 'A grafted ELF file cannot be given its RUNPATH into System/Links/Libraries (nip\'s editor and patchelf both refused it); nothing was grafted.' },
  ERR_NIP_NOT_IMPLEMENTED: { exit: 69, summary: 'The source adapter does not implement this operation yet.' },
  // builds from source (@nip/build)
  ERR_NIP_RECIPE_INVALID: { exit: 65, summary: 'A recipe or profile file is malformed or breaks the schema (the message names file, line and key).' },
  ERR_NIP_VARIANT_UNKNOWN: { exit: 64, summary: 'A variant word names neither a variant of the recipe nor a profile.' },
  ERR_NIP_VARIANT_CONFLICT: { exit: 64, summary: 'Variant words contradict each other, or violate a variant\'s conflicts clause (for a gentoo build: the USE flags dependents\' atoms require of a dependency contradict each other or its USE rules).' },
  ERR_NIP_VARIANT_REQUIRES: { exit: 64, summary: 'A chosen variant requires another setting that is not chosen.' },
  ERR_NIP_EXECUTOR_MISSING: { exit: 69, summary: 'The build executor (bubblewrap) is not installed or cannot run.' },
  ERR_NIP_BUILD_FAILED: { exit: 5, summary: 'A build step failed; nothing was grafted (the message shows the log\'s last lines and path).' },
  ERR_NIP_NOT_REPRODUCIBLE: { exit: 6, summary: 'nip build --check: two builds of the same fingerprint gave different trees.' },
  ERR_NIP_TOOL_MISSING: { exit: 69, summary: "An ecosystem's build tool (emerge, nix-build, bmake) is neither on the host nor installed by nip; nip bootstrap offers the ways to get it." },
  ERR_NIP_NOT_AVAILABLE: { exit: 69, summary: 'The chosen way to get a bootstrap tool is not available here (the message says why).' },
  ERR_NIP_DISTFILE_MISMATCH: { exit: 65, summary: "A distfile's size or hashes do not match the ebuild repository's Manifest; nothing was built." },
  // store lifecycle
  ERR_NIP_NO_GENERATION: { exit: 3, summary: 'The named generation does not exist, or there is no earlier generation to roll back to.' },
  // confinement (docs/security.md)
  ERR_NIP_CONFINED: { exit: 77, summary: 'A write would leave the root: a symlink or non-directory where nip needs a real directory, or a path that is not inside the root.' },
  ERR_NIP_STATE_INVALID: { exit: 65, summary: 'A row of the database or the journal names a path or name that is not safe; nip refuses to act on it.' },
} as const

export type NipErrorCode = keyof typeof ERROR_CODES

export interface NipErrorOptions {
  hint?: string
  data?: Record<string, unknown>
  cause?: unknown
}

export class NipError extends Error {
  readonly code: NipErrorCode
  readonly hint: string | undefined
  readonly data: Record<string, unknown>

  constructor(code: NipErrorCode, message: string, options: NipErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'NipError'
    this.code = code
    this.hint = options.hint
    this.data = options.data ?? {}
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exit
  }

  toJSON(): { code: NipErrorCode; message: string; hint?: string; data: Record<string, unknown> } {
    return { code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}), data: this.data }
  }
}

export function isNipError(e: unknown, code?: NipErrorCode): e is NipError {
  return e instanceof NipError && (code === undefined || e.code === code)
}

/** Map a Node.js system error into a NipError (ENOSPC gets its own code). */
export function fromSystemError(e: unknown, action: string, path?: string): NipError {
  if (e instanceof NipError) return e
  const own = e as { code?: unknown; message?: string; hint?: string; data?: Record<string, unknown> }
  // The store's and the confined layer's errors carry nip's codes already (CasError).
  if (own !== null && typeof own === 'object' && typeof own.code === 'string' && own.code in ERROR_CODES) {
    return new NipError(own.code as NipErrorCode, own.message ?? action, { hint: own.hint, data: own.data ?? {}, cause: e })
  }
  const err = e as NodeJS.ErrnoException
  const data = { path, errno: err?.code }
  if (err?.code === 'ENOSPC') {
    return new NipError('ERR_NIP_NO_SPACE', `No space left on device while ${action}${path ? ` (${path})` : ''}`, {
      hint: 'Free some space (nip gc can help) and run the command again; the transaction was undone.',
      data,
      cause: e,
    })
  }
  const hint =
    err?.code === 'EACCES' || err?.code === 'EPERM'
      ? 'You may not change this root: run nip as its owner (e.g. with sudo), or use a root of your own with --root DIR (a plain user\'s default is ~/.local/share/nip/root). Reading commands (list, info, status, owns, doctor) work without write access.'
      : err?.code === 'EROFS'
        ? 'The filesystem holding the root is mounted read-only; remount it read-write or use another --root.'
        : undefined
  return new NipError('ERR_NIP_IO', `${action} failed${path ? ` for ${path}` : ''}: ${err?.message ?? String(e)}`, {
    ...(hint ? { hint } : {}),
    data,
    cause: e,
  })
}
