/**
 * AttemptError: why one request to one URL failed, and whether the same URL is worth another
 * try. The downloader collects these per URL and turns them into one NipError at the end.
 */
import type { NipErrorCode } from '../errors.js'

/**
 * Stable short reasons (they appear in `data.attempts[].reason` and in messages):
 * - retried on the same URL: 'http-status' (408/429/5xx), 'network', 'reset', 'truncated',
 *   'stalled', 'range-mismatch', 'resumed-hash-mismatch'
 * - next URL at once: 'http-status' (other 4xx), 'not-found' (file), 'redirect-loop',
 *   'too-many-redirects', 'bad-redirect', 'unsupported-url', 'too-large', 'size-mismatch',
 *   'hash-mismatch', 'io'
 */
export type AttemptReason =
  | 'http-status'
  | 'network'
  | 'reset'
  | 'truncated'
  | 'stalled'
  | 'range-mismatch'
  | 'resumed-hash-mismatch'
  | 'not-found'
  | 'redirect-loop'
  | 'too-many-redirects'
  | 'bad-redirect'
  | 'unsupported-url'
  | 'too-large'
  | 'size-mismatch'
  | 'hash-mismatch'
  | 'io'

export interface AttemptErrorOptions {
  retryable: boolean
  status?: number
  /** Milliseconds the server asked us to wait (Retry-After), already capped. */
  retryAfterMs?: number
  /** Set for verification failures, so "every mirror was wrong" keeps its own code. */
  verification?: Extract<NipErrorCode, 'ERR_NIP_HASH_MISMATCH' | 'ERR_NIP_SIZE_MISMATCH'>
  cause?: unknown
}

export class AttemptError extends Error {
  readonly reason: AttemptReason
  readonly retryable: boolean
  readonly status: number | undefined
  readonly retryAfterMs: number | undefined
  readonly verification: AttemptErrorOptions['verification']

  constructor(reason: AttemptReason, message: string, options: AttemptErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'AttemptError'
    this.reason = reason
    this.retryable = options.retryable
    this.status = options.status
    this.retryAfterMs = options.retryAfterMs
    this.verification = options.verification
  }
}

/** An HTTP status that is worth retrying on the same URL: timeouts, rate limits, server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500
}
