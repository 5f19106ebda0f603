/**
 * Exponential backoff with a reset, as pure arithmetic: the caller passes the count of
 * consecutive failures in and schedules the delay it gets back. Used for replacing a replica that
 * keeps failing (src/fleet/) and for bringing a proxy thread back (src/gateway/), each with its
 * own parameters.
 */
export interface BackoffParams {
  /** Delay before the second consecutive attempt; doubles from there. */
  readonly initialMs: number
  readonly maxMs: number
  /**
   * Healthy or serving this long wipes the failure count: it worked, so it is not crash-looping
   * (a container killed from outside every few seconds must not be pushed into a long backoff).
   */
  readonly resetAfterMs: number
}

/**
 * Delay before the attempt that follows the `failures`-th consecutive failure. The first failure
 * is retried at once (a one-off crash must not cost the backoff); from the second on: initialMs,
 * 2 × initialMs, … capped at maxMs.
 */
export function backoffDelay (failures: number, p: BackoffParams): number {
  if (failures <= 1) return 0
  // Cap the exponent too: 2 ** 1100 is Infinity, and Infinity × 0 would be NaN.
  return Math.min(p.maxMs, p.initialMs * 2 ** Math.min(failures - 2, 40))
}
