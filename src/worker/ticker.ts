import { W_HEARTBEAT, W_LOOP_LAG_US, W_SLABS_MADE, W_SLABS_OUT } from '../table/layout'
import { slabsMade, slabsOut } from './slabs'

/** What the maintenance tick looks after, every TICK_MS. */
export interface Tended {
  /** Close pools of departed backends; time out stalled upstream exchanges. */
  sweepPools: (now: number) => void
  /** Answer 408 to request bodies about to be cut off by uWS. */
  sweepSlowBodies: (now: number) => void
  /** Refill the retry budget (every second tick: once a second). */
  refillBudget: () => void
  /** Retry a listen that failed after a pause. */
  retryListen: () => void
  /** Write the access log's buffered lines; every other tick, reopen it if it was moved. */
  tickAccessLog: () => void
  /** Give memory back once the thread has turned idle after serving (src/worker/idle-release.ts). */
  releaseWhenIdle: (now: number) => void
}

export const TICK_MS = 500

/**
 * The thread's one interval timer: event-loop lag, a heartbeat and the copy slabs' counts for the
 * main thread (in the thread's words of the shared table), the periodic sweeps, and the idle
 * release. One coarse timer instead of a timer per request.
 */
export class Ticker {
  private readonly timer: NodeJS.Timeout
  private last = performance.now()
  private ticks = 0

  constructor (private readonly i32: Int32Array, private readonly wbase: number, private readonly tended: Tended) {
    this.timer = setInterval(() => { this.tick() }, TICK_MS)
  }

  private tick (): void {
    const now = performance.now()
    const lag = Math.max(0, now - this.last - TICK_MS)
    this.last = now
    Atomics.store(this.i32, this.wbase + W_LOOP_LAG_US, Math.min(0x7fffffff, Math.round(lag * 1000)))
    Atomics.add(this.i32, this.wbase + W_HEARTBEAT, 1)
    Atomics.store(this.i32, this.wbase + W_SLABS_OUT, slabsOut())
    Atomics.store(this.i32, this.wbase + W_SLABS_MADE, slabsMade())
    this.tended.sweepPools(now)
    this.tended.sweepSlowBodies(now)
    if (++this.ticks % 2 === 0) this.tended.refillBudget()
    this.tended.retryListen()
    this.tended.tickAccessLog()
    this.tended.releaseWhenIdle(now)
  }

  close (): void { clearInterval(this.timer) }
}
