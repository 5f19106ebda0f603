/**
 * The main thread's idle release (issue #23 point 7): what the proxy threads do for their own
 * heaps (src/worker/idle-release.ts), done for the main thread's.
 *
 * Under traffic the main thread's V8 heap grows too (its old space 15 → 21 MiB in the soaks of
 * bench/results/soak-idle2-diag.md; what in it was not split), and it allocates little when
 * the traffic stops, so V8 may take minutes to run the full collection that would give the
 * pages back. Once the gateway's request count (summed over the threads by the counter
 * sampler) has not moved for QUIET_MS (src/idle-policy.ts), the table's 1 s timer (src/startup/table.ts)
 * has this run two full collections (why two: src/worker/idle-release.ts), once per quiet
 * spell; the first one after the start too, whose garbage would otherwise stay in the pre-load
 * baseline. Nothing runs on the request path: the
 * proxy threads are other isolates, and the count is the one the sampler folds every second
 * anyway.
 *
 * The policy is the proxy threads' (idleStep, src/idle-policy.ts, with nothing ever in flight:
 * the main thread serves no proxied request); {@link MainIdleRelease} holds its state and does
 * the collection.
 */
import { fullCollection, idleStart, idleStep, QUIET_MS, type IdleState } from '../idle-policy'

/** The main thread's idle release, looked at every second by the table's timer. */
export class MainIdleRelease {
  private state: IdleState
  /** V8's full collection; null when V8 did not expose it (then nothing runs or is counted). */
  private readonly gc: (() => void) | null
  #releases = 0

  constructor (requests: number, private readonly quietMs: number = QUIET_MS) {
    this.state = idleStart(requests)
    this.gc = fullCollection()
  }

  /** Releases run since the start. */
  get releases (): number { return this.#releases }

  /** One look; collects when the gateway has turned idle after serving. */
  tick (requests: number, now: number): void {
    const d = idleStep(this.state, requests, 0, now, this.quietMs)
    this.state = d.state
    if (!d.release || this.gc === null) return
    // Twice, for the reason src/worker/idle-release.ts gives: the second gives back the pages
    // the first one's sweeping emptied.
    this.gc()
    this.gc()
    this.#releases++
  }
}
