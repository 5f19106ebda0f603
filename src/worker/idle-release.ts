/**
 * Giving memory back when a proxy thread goes idle (issue #23 point 7).
 *
 * Under traffic a thread's V8 old space grows (a worker isolate went from 8 to 12 MiB of heap
 * pages in 5 minutes of the soak, bench/results/soak-idle-diag.md) and an idle thread
 * allocates nothing, so no allocation triggers the collection that would shrink it. Only V8's
 * memory reducer may still get to it, and only when a full collection near the end of the
 * traffic armed it: in that run one thread's heap came down by itself a minute into the idle,
 * the other's not; in a 30-minute soak nothing came down in 90 s of idle
 * (bench/results/soak-idle-before.md).
 * So once a thread that served requests has had none for {@link QUIET_MS} and has none in flight,
 * its maintenance tick (src/worker/ticker.ts) asks V8 for two full collections (see tick()
 * for why two; about 2 ms each for a thread's heap, bench/results/soak-idle-diag.md). It runs once
 * per quiet spell, the first one after the thread's start; the next waits for new traffic and a
 * new quiet spell. Nothing is added to the request path: the tick reads the request counter
 * the intake already bumps (W_REQUESTS).
 *
 * The policy, shared with the main thread's release, is idleStep (src/idle-policy.ts), a pure
 * function; {@link IdleRelease} holds its state and does the collection.
 */
import v8 from 'node:v8'
import { fullCollection, idleStart, idleStep, QUIET_MS, type IdleState } from '../idle-policy'
import { W_IDLE_RELEASES, W_IDLE_HEAP_KIB, W_REQUESTS } from '../table/layout'
import { log } from './thread-log'

/**
 * One thread's idle release, looked at by its maintenance tick. Each release adds one to the
 * thread's W_IDLE_RELEASES word and stores its V8 heap size after the collection (KiB) in
 * W_IDLE_HEAP_KIB, so the main thread and tests see that it ran.
 */
export class IdleRelease {
  private state: IdleState
  /** V8's full collection; null when V8 did not expose it (said once at start; nothing is counted then). */
  private readonly gc: (() => void) | null

  constructor (private readonly i32: Int32Array, private readonly wbase: number, private readonly inFlight: () => number, private readonly quietMs: number = QUIET_MS) {
    this.state = idleStart(Atomics.load(i32, wbase + W_REQUESTS))
    this.gc = fullCollection()
    if (this.gc === null) log('warn', 'proxy worker cannot give memory back when idle: V8 did not expose gc after --expose-gc')
  }

  /** One look (every tick); collects when the thread has turned idle after serving. */
  tick (now: number): void {
    const d = idleStep(this.state, Atomics.load(this.i32, this.wbase + W_REQUESTS), this.inFlight(), now, this.quietMs)
    this.state = d.state
    if (!d.release || this.gc === null) return
    // Twice: the first collection's sweeping runs concurrently, and the pages it empties are
    // given back only by the next collection. In a 10-minute soak one collection left a
    // thread's heap at 11.2 MiB against 7.7 MiB before the traffic; a fragmented 87 MiB heap
    // went to 87 MiB after one, to 36 MiB after two (docs/performance.md, "Memory over time").
    this.gc()
    this.gc()
    Atomics.add(this.i32, this.wbase + W_IDLE_RELEASES, 1)
    Atomics.store(this.i32, this.wbase + W_IDLE_HEAP_KIB, Math.round(v8.getHeapStatistics().total_physical_size / 1024))
  }
}
