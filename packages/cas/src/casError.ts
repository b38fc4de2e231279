/**
 * CasError: the store's own error type. The CAS sits below core and must not import it, so it
 * carries the same stable codes as core's NipError (core maps one onto the other unchanged).
 */

export type CasErrorCode =
  | 'ERR_NIP_HASH_MISMATCH'
  | 'ERR_NIP_SIZE_MISMATCH'
  | 'ERR_NIP_CAS_CORRUPT'
  | 'ERR_NIP_IO'
  | 'ERR_NIP_NO_SPACE'
  | 'ERR_NIP_CONFINED'

export interface CasErrorOptions {
  hint?: string
  data?: Record<string, unknown>
  cause?: unknown
}

export class CasError extends Error {
  readonly code: CasErrorCode
  readonly hint: string | undefined
  readonly data: Record<string, unknown>

  constructor(code: CasErrorCode, message: string, options: CasErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'CasError'
    this.code = code
    this.hint = options.hint
    this.data = options.data ?? {}
  }
}

/** The errno string of a Node system error, or undefined for anything else. */
export function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  // System errnos are E followed by capitals/digits (ENOSPC, EXDEV); nip's own codes start with ERR_NIP_.
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined
}

/**
 * Turns a failed filesystem call into a CasError: ENOSPC becomes ERR_NIP_NO_SPACE, any other
 * system error ERR_NIP_IO. Errors that are not system errors (a CasError, an error raised by a
 * caller's source stream) are returned unchanged.
 */
export function toCasError(err: unknown, op: string, fallbackPath: string): unknown {
  if (err instanceof CasError) return err
  const errno = errnoOf(err)
  if (errno === undefined) return err
  // The failing call's own path (a source file, a destination) names the culprit best.
  const own = (err as { path?: unknown }).path
  const path = typeof own === 'string' ? own : fallbackPath
  if (errno === 'ENOSPC') {
    return new CasError('ERR_NIP_NO_SPACE', `no space left on the device while trying to ${op} ${path}`, {
      hint: 'Free some space on the filesystem holding the store (nip gc removes unreferenced blobs) and retry.',
      data: { op, path, errno },
      cause: err,
    })
  }
  return new CasError('ERR_NIP_IO', `cannot ${op} ${path}: ${errno}`, {
    hint: 'Check that the path exists, that nip may write there, and that the filesystem is healthy.',
    data: { op, path, errno },
    cause: err,
  })
}
