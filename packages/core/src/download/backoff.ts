/**
 * Waiting between retries: exponential backoff with jitter, and the server's Retry-After
 * (429/503) when it gives one. Both are capped so a hostile or confused server cannot park nip.
 */

/** No wait is ever longer than this, whatever the server asks. */
export const MAX_RETRY_WAIT_MS = 30_000

/**
 * The wait before retry number `retry` (0 = the first retry): base·2^retry, scaled by a random
 * factor in [0.5, 1) so clients that failed together do not retry together; at most 30 s.
 */
export function backoffDelay(retry: number, baseMs: number, random: () => number = Math.random): number {
  const full = baseMs * 2 ** retry
  return Math.min(MAX_RETRY_WAIT_MS, Math.round(full * (0.5 + random() * 0.5)))
}

/**
 * A Retry-After header value (delta-seconds or an HTTP date) as milliseconds from `now`,
 * capped at 30 s; undefined when absent or unparsable. A date in the past means "now" (0).
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Math.min(MAX_RETRY_WAIT_MS, Number(text) * 1000)
  const at = Date.parse(text)
  if (Number.isNaN(at)) return undefined
  return Math.min(MAX_RETRY_WAIT_MS, Math.max(0, at - now))
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal!.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
