/**
 * Backoff between attempts to bring a proxy thread back (src/gateway/proxy-threads.ts). Pure
 * arithmetic, the same shape as the fleet's replacement backoff (src/fleet/backoff.ts): the
 * supervisor passes the failure count in and schedules the delay it gets back.
 */
export interface RespawnParams {
  /** Delay before the second consecutive attempt; doubles from there. */
  readonly initialMs: number
  readonly maxMs: number
  /** A thread that served this long wipes its slot's failure count: its next death is a one-off. */
  readonly resetAfterMs: number
}

/**
 * 200 ms, doubling, at most 5 s: a thread costs a few milliseconds of CPU to start, so even a
 * thread that can never start again costs nothing noticeable at one attempt per 5 s, and a
 * transient cause (a port briefly unavailable, memory pressure) is retried soon.
 */
export const defaultRespawn: RespawnParams = Object.freeze({ initialMs: 200, maxMs: 5000, resetAfterMs: 10_000 })

/**
 * Delay before the attempt that follows the `failures`-th consecutive failure of a thread slot:
 * the first is retried at once (a one-off crash must not cost a backoff), then initialMs,
 * 2 × initialMs, … capped at maxMs.
 */
export function respawnDelay (failures: number, p: RespawnParams): number {
  if (failures <= 1) return 0
  return Math.min(p.maxMs, p.initialMs * 2 ** Math.min(failures - 2, 40))
}
