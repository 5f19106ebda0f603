import { W_HEARTBEAT, workerBase } from '../table/layout'

/**
 * Whether every proxy worker's event loop is turning: each worker bumps its heartbeat word every
 * 500 ms (src/worker/serve.ts); a worker whose heartbeat has not moved for `staleMs` is stuck or
 * gone. Backs `GET /healthz`.
 */
export class WorkerLiveness {
  private readonly i32: Int32Array
  private readonly last: Int32Array
  private readonly movedAt: Float64Array

  constructor (sab: SharedArrayBuffer, private readonly threads: number, private readonly staleMs = 3000) {
    this.i32 = new Int32Array(sab)
    this.last = new Int32Array(threads)
    this.movedAt = new Float64Array(threads)
  }

  /**
   * The threads have just started (`now`, ms): their heartbeats count from here. Before, nothing
   * beats, and a start-up longer than staleMs (waiting for a first healthy replica) would
   * otherwise leave /healthz at 503 until each thread's first beat.
   */
  started (now: number): void {
    for (let w = 0; w < this.threads; w++) {
      this.last[w] = Atomics.load(this.i32, workerBase(w) + W_HEARTBEAT)
      this.movedAt[w] = now
    }
  }

  /** Workers whose heartbeat has not moved for staleMs as of `now` (ms). */
  stale (now: number): number[] {
    const out: number[] = []
    for (let w = 0; w < this.threads; w++) {
      const beat = Atomics.load(this.i32, workerBase(w) + W_HEARTBEAT)
      if (beat !== this.last[w] || this.movedAt[w] === 0) {
        this.last[w] = beat
        this.movedAt[w] = now
      } else if (now - this.movedAt[w] > this.staleMs) {
        out.push(w)
      }
    }
    return out
  }
}
