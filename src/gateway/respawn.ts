import type { BackoffParams } from '../backoff'

/**
 * The backoff between attempts to bring a proxy thread back (src/gateway/proxy-threads.ts):
 * 200 ms, doubling, at most 5 s: a thread costs a few milliseconds of CPU to start, so even a
 * thread that can never start again costs nothing noticeable at one attempt per 5 s, and a
 * transient cause (a port briefly unavailable, memory pressure) is retried soon.
 */
export const defaultRespawn: BackoffParams = Object.freeze({ initialMs: 200, maxMs: 5000, resetAfterMs: 10_000 })
