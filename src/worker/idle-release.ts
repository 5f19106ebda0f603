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
 * The policy is {@link idleStep}, a pure function; {@link IdleRelease} holds its state and does
 * the collection.
 */
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import { W_IDLE_RELEASES, W_IDLE_HEAP_KIB, W_REQUESTS } from '../table/layout'
import { log } from './thread-log'

/** How long a thread has no request (and none in flight) before it gives its memory back. */
export const QUIET_MS = 10_000

/** Where a thread stands between its traffic and the release of what the traffic left. */
export const IdlePhase = {
  /** Nothing to give back: the thread has not served since its last release. */
  SETTLED: 0,
  /** Requests arrived since the last look, or some are in flight. */
  BUSY: 1,
  /** No request since `quietSince` and none in flight; the release comes at QUIET_MS. */
  QUIET: 2
} as const
export type IdlePhaseValue = typeof IdlePhase[keyof typeof IdlePhase]

export interface IdleState {
  readonly phase: IdlePhaseValue
  /** The thread's request counter (u32, wraps) at the last look. */
  readonly requests: number
  /** When the quiet spell began (ms, the caller's clock); meaningful in QUIET only. */
  readonly quietSince: number
}

/** What one look decided: the next state, and whether to release now. */
export interface IdleDecision { readonly state: IdleState, readonly release: boolean }

/**
 * The state of a thread that has just started with `requests` on its counter: BUSY, because
 * the start itself allocated (modules, the App, the pools) and left garbage no collection will
 * visit in an idle thread; so a thread that stays idle from its start releases once, QUIET_MS in.
 */
export function idleStart (requests: number): IdleState {
  return { phase: IdlePhase.BUSY, requests, quietSince: 0 }
}

/**
 * One look at the thread: its request counter now, the exchanges in flight and the time. Any
 * movement of the counter or an exchange in flight makes it BUSY; a BUSY thread that saw
 * neither turns QUIET; a QUIET one releases once `quietMs` have passed and is SETTLED until the
 * counter moves again. Pure: time and counts come in as arguments.
 */
export function idleStep (s: IdleState, requests: number, inFlight: number, now: number, quietMs: number = QUIET_MS): IdleDecision {
  if (requests !== s.requests || inFlight > 0) return { state: { phase: IdlePhase.BUSY, requests, quietSince: 0 }, release: false }
  switch (s.phase) {
    case IdlePhase.BUSY: return { state: { phase: IdlePhase.QUIET, requests, quietSince: now }, release: false }
    case IdlePhase.QUIET:
      if (now - s.quietSince >= quietMs) return { state: { phase: IdlePhase.SETTLED, requests, quietSince: 0 }, release: true }
      return { state: s, release: false }
    default: return { state: s, release: false }
  }
}

/**
 * V8's full collection, as the `gc` of a new context made while `--expose-gc` is set. Node has
 * no other way into it from JavaScript (no binding for Isolate::LowMemoryNotification, and
 * v8.getHeapSnapshot is far too costly). The flag is process-wide and stays set: turning it
 * off again would race with another thread between its `setFlagsFromString` and its
 * `runInNewContext`. Its only effect is a `gc` global in contexts made later; symphony makes
 * none that run code it did not write.
 */
function fullCollection (): (() => void) | null {
  v8.setFlagsFromString('--expose-gc')
  const gc: unknown = runInNewContext('gc')
  return typeof gc === 'function' ? gc as () => void : null
}

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
