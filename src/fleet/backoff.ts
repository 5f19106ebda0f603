import type { BackoffParams } from '../backoff'

/** Replacements of a failing replica, per port: 1 s, doubling, at most 60 s, reset after 5 s healthy. */
export const defaultBackoff: BackoffParams = Object.freeze({ initialMs: 1000, maxMs: 60_000, resetAfterMs: 5_000 })
