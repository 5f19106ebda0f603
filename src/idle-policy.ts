/**
 * When a thread gives its memory back (issue #23 point 7): the policy both kinds of thread
 * follow, the proxy threads (src/worker/idle-release.ts) and the main thread
 * (src/memory/idle-release.ts), and V8's full collection they run. Shared by both sides of the
 * thread boundary, like src/errors.ts: a pure policy, and a collection with no state of its own.
 *
 * Under traffic a thread's V8 old space grows, and an idle one allocates (almost) nothing, so no
 * allocation triggers the collection that would shrink it (bench/results/soak-idle-diag.md,
 * bench/results/soak-idle2-diag.md). So once a thread that served requests has had none for
 * {@link QUIET_MS} and has none in flight, it runs two full collections, once per quiet spell.
 */
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'

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
export function fullCollection (): (() => void) | null {
  v8.setFlagsFromString('--expose-gc')
  const gc: unknown = runInNewContext('gc')
  return typeof gc === 'function' ? gc as () => void : null
}
