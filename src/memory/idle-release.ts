/**
 * The main thread's idle release (issue #23 point 7): what the proxy threads do for their own
 * heaps (src/worker/idle-release.ts), done for the main thread's.
 *
 * Under traffic the main thread's V8 heap grows too (its old space 15 → 21 MiB in the soaks of
 * bench/results/soak-idle2-diag.md; what in it was not split), and it allocates little when
 * the traffic stops, so V8 may take minutes to run the full collection that would give the
 * pages back. Once the gateway's request count (summed over the threads by the counter
 * sampler) has not moved for {@link MAIN_QUIET_MS}, the table's 1 s timer (src/startup/table.ts)
 * has this run two full collections (why two: src/worker/idle-release.ts), once per quiet
 * spell; the first one after the start too, whose garbage would otherwise stay in the pre-load
 * baseline. Nothing runs on the request path: the
 * proxy threads are other isolates, and the count is the one the sampler folds every second
 * anyway.
 *
 * The policy is {@link mainIdleStep}, a pure function; {@link MainIdleRelease} holds its state
 * and does the collection.
 */
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'

/** How long the gateway has had no request before the main thread gives its memory back. */
export const MAIN_QUIET_MS = 10_000

/** Where the main thread stands between the traffic and the release of what it left. */
export const MainIdlePhase = {
  /** Nothing to give back: no request since the last release. */
  SETTLED: 0,
  /** Requests arrived since the last look. */
  BUSY: 1,
  /** No request since `quietSince`; the release comes at MAIN_QUIET_MS. */
  QUIET: 2
} as const
export type MainIdlePhaseValue = typeof MainIdlePhase[keyof typeof MainIdlePhase]

export interface MainIdleState {
  readonly phase: MainIdlePhaseValue
  /** The gateway's request total (a float64 running total, never wraps) at the last look. */
  readonly requests: number
  /** When the quiet spell began (ms, the caller's clock); meaningful in QUIET only. */
  readonly quietSince: number
}

/** What one look decided: the next state, and whether to release now. */
export interface MainIdleDecision { readonly state: MainIdleState, readonly release: boolean }

/** The state at the start: BUSY, because the start-up itself left garbage. */
export function mainIdleStart (requests: number): MainIdleState {
  return { phase: MainIdlePhase.BUSY, requests, quietSince: 0 }
}

/**
 * One look: the request total now and the time. A moved total makes it BUSY; a BUSY state that
 * saw none turns QUIET; a QUIET one releases once `quietMs` have passed and is SETTLED until the
 * total moves again. Pure: counts and time come in as arguments.
 */
export function mainIdleStep (s: MainIdleState, requests: number, now: number, quietMs: number = MAIN_QUIET_MS): MainIdleDecision {
  if (requests !== s.requests) return { state: { phase: MainIdlePhase.BUSY, requests, quietSince: 0 }, release: false }
  switch (s.phase) {
    case MainIdlePhase.BUSY: return { state: { phase: MainIdlePhase.QUIET, requests, quietSince: now }, release: false }
    case MainIdlePhase.QUIET:
      if (now - s.quietSince >= quietMs) return { state: { phase: MainIdlePhase.SETTLED, requests, quietSince: 0 }, release: true }
      return { state: s, release: false }
    default: return { state: s, release: false }
  }
}

/**
 * V8's full collection, as the `gc` of a new context made while `--expose-gc` is set (as in
 * src/worker/idle-release.ts, which says why this way; the flag is process-wide).
 */
function fullCollection (): (() => void) | null {
  v8.setFlagsFromString('--expose-gc')
  const gc: unknown = runInNewContext('gc')
  return typeof gc === 'function' ? gc as () => void : null
}

/** The main thread's idle release, looked at every second by the table's timer. */
export class MainIdleRelease {
  private state: MainIdleState
  /** V8's full collection; null when V8 did not expose it (then nothing runs or is counted). */
  private readonly gc: (() => void) | null
  #releases = 0

  constructor (requests: number, private readonly quietMs: number = MAIN_QUIET_MS) {
    this.state = mainIdleStart(requests)
    this.gc = fullCollection()
  }

  /** Releases run since the start. */
  get releases (): number { return this.#releases }

  /** One look; collects when the gateway has turned idle after serving. */
  tick (requests: number, now: number): void {
    const d = mainIdleStep(this.state, requests, now, this.quietMs)
    this.state = d.state
    if (!d.release || this.gc === null) return
    // Twice, for the reason src/worker/idle-release.ts gives: the second gives back the pages
    // the first one's sweeping emptied.
    this.gc()
    this.gc()
    this.#releases++
  }
}
