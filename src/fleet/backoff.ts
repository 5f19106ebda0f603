/**
 * Backoff between replacements of a replica that keeps failing, per host port. Pure arithmetic:
 * the fleet passes the failure count in and schedules the delay it gets back.
 */
export interface BackoffParams {
  /** Delay before the second consecutive replacement; doubles from there. */
  readonly initialMs: number
  readonly maxMs: number
  /** A replica healthy this long wipes its port's failure count: it served, so it is not crash-looping (a container killed from outside every few seconds must not push its port into a long backoff). */
  readonly resetAfterMs: number
}

export const defaultBackoff: BackoffParams = Object.freeze({ initialMs: 1000, maxMs: 60_000, resetAfterMs: 5_000 })

/**
 * Delay before the replacement that follows the `failures`-th consecutive failure on a port. The
 * first failure is replaced at once (a one-off crash must not cost the backoff); from the second
 * on: initialMs, 2 × initialMs, … capped at maxMs.
 */
export function replacementDelay (failures: number, p: BackoffParams): number {
  if (failures <= 1) return 0
  // Cap the exponent too: 2 ** 1100 is Infinity, and Infinity × 0 would be NaN.
  return Math.min(p.maxMs, p.initialMs * 2 ** Math.min(failures - 2, 40))
}
