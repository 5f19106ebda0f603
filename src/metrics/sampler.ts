import {
  MAX_BACKENDS, MAX_WORKERS, W_REQUESTS, W_HELD, W_HOLD_EXPIRED, W_HOLD_MS, W_CUT, W_HIST, W_HIST_SUM_US, W_HIST_COUNT, B_RETRIES, B_ERRORS, B_DISCARDED,
  W_ACCESS_DROPPED, W_ACCESS_ERRORS, W_TLS_UNKNOWN_NAME, W_TLS_SWAP_FAILED, W_REDIRECTS, W_ACME_CHALLENGES, W_TRIAL_RETRIES,
  B_RESPONSES, errorReasonNames, methodNames, STATUS_CLASSES, latencyBucketsUs, workerBase, bstatBase,
  TOTAL_WORDS
} from '../table/layout'

/**
 * Turns the workers' wrapping u32 counters into exact running totals (main thread).
 *
 * Each `sample()` adds, for every counter word, `(now - last) mod 2^32` to a float64 total.
 * Called every second (src/startup/table.ts, and each autoscaler tick) and at every scrape, so
 * a counter would have to move by 2^32 (4.29 billion) within one second to be miscounted.
 */
export class CounterSampler {
  private readonly u32: Uint32Array
  private readonly last: Uint32Array
  private readonly totals: Float64Array
  private readonly words: Int32Array

  constructor (sab: SharedArrayBuffer) {
    this.u32 = new Uint32Array(sab)
    this.last = new Uint32Array(TOTAL_WORDS)
    this.totals = new Float64Array(TOTAL_WORDS)
    const words: number[] = []
    for (let w = 0; w < MAX_WORKERS; w++) {
      const base = workerBase(w)
      words.push(base + W_REQUESTS, base + W_HIST_SUM_US, base + W_HIST_COUNT, base + W_HELD, base + W_HOLD_EXPIRED, base + W_HOLD_MS, base + W_ACCESS_DROPPED, base + W_ACCESS_ERRORS, base + W_TLS_UNKNOWN_NAME, base + W_TLS_SWAP_FAILED, base + W_REDIRECTS, base + W_ACME_CHALLENGES, base + W_TRIAL_RETRIES)
      for (let b = 0; b < latencyBucketsUs.length; b++) words.push(base + W_HIST + b)
      for (let r = 0; r < errorReasonNames.length; r++) words.push(base + W_CUT + r)
    }
    const perBackend = methodNames.length * STATUS_CLASSES
    for (let s = 0; s <= MAX_BACKENDS; s++) {
      const base = bstatBase(s)
      words.push(base + B_RETRIES, base + B_DISCARDED)
      for (let r = 0; r < errorReasonNames.length; r++) words.push(base + B_ERRORS + r)
      for (let k = 0; k < perBackend; k++) words.push(base + B_RESPONSES + k)
    }
    this.words = Int32Array.from(words)
    // Counters start at zero, but a sampler made later (tests) must not count what came before.
    for (const w of this.words) this.last[w] = Atomics.load(this.u32, w)
  }

  /** Fold every counter's movement since the last call into the totals. */
  sample (): void {
    const { u32, last, totals, words } = this
    for (let i = 0; i < words.length; i++) {
      const w = words[i]
      const now = Atomics.load(u32, w)
      totals[w] += (now - last[w]) >>> 0
      last[w] = now
    }
  }

  /** Requests accepted by all workers (the autoscaler's input). */
  requests (): number {
    let n = 0
    for (let w = 0; w < MAX_WORKERS; w++) n += this.totals[workerBase(w) + W_REQUESTS]
    return n
  }

  /** Sum over all workers of one per-worker counter word (W_HELD, W_HOLD_EXPIRED, W_HOLD_MS …). */
  workerTotal (word: number): number {
    let n = 0
    for (let w = 0; w < MAX_WORKERS; w++) n += this.totals[workerBase(w) + word]
    return n
  }

  /** Answered requests for a backend (or NO_BACKEND), method index and status class index. */
  responses (backend: number, method: number, cls: number): number {
    return this.totals[bstatBase(backend) + B_RESPONSES + method * STATUS_CLASSES + cls]
  }

  errors (backend: number, reason: number): number {
    return this.totals[bstatBase(backend) + B_ERRORS + reason]
  }

  retries (backend: number): number {
    return this.totals[bstatBase(backend) + B_RETRIES]
  }

  /** 5xx answers of a backend on trial discarded for a retry on a settled one (B_DISCARDED). */
  discarded (backend: number): number {
    return this.totals[bstatBase(backend) + B_DISCARDED]
  }

  /** Request duration histogram over all workers: per-bucket (not cumulative) counts, sum in seconds, count. */
  histogram (): { buckets: number[], sumSeconds: number, count: number } {
    const buckets = new Array<number>(latencyBucketsUs.length).fill(0)
    let sumUs = 0
    let count = 0
    for (let w = 0; w < MAX_WORKERS; w++) {
      const base = workerBase(w)
      for (let b = 0; b < buckets.length; b++) buckets[b] += this.totals[base + W_HIST + b]
      sumUs += this.totals[base + W_HIST_SUM_US]
      count += this.totals[base + W_HIST_COUNT]
    }
    return { buckets, sumSeconds: sumUs / 1e6, count }
  }
}
