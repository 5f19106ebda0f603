import { W_HIST, W_HIST_SUM_US, W_HIST_COUNT, latencyBucketsUs, bstatBase, responseOffset } from '../table/layout'

const BUCKETS = latencyBucketsUs.length

/**
 * Count one answered request: its status class under its backend and method, and its duration
 * in this worker's histogram. Allocation-free; the main thread turns these words into metrics at
 * scrape time, so the request path makes no prom-client call.
 */
export function recordResponse (i32: Int32Array, backend: number, methodIdx: number, status: number, workerBase: number, t0: number): void {
  Atomics.add(i32, bstatBase(backend) + responseOffset(methodIdx, status), 1)
  const us = ((performance.now() - t0) * 1000) | 0
  let b = 0
  while (b < BUCKETS && us > latencyBucketsUs[b]) b++
  if (b < BUCKETS) Atomics.add(i32, workerBase + W_HIST + b, 1)
  Atomics.add(i32, workerBase + W_HIST_SUM_US, us)
  Atomics.add(i32, workerBase + W_HIST_COUNT, 1)
}
