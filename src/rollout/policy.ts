/**
 * A rollout's decisions, as pure functions (no timers, no Docker, no clock): the controller
 * (src/rollout/controller.ts) feeds them the fleet's members and the time, and turns what comes
 * out into fleet calls. Table-tested in test/rollout/policy.test.ts.
 *
 * The rule (docs/deploy.md): replica by replica, start a new replica on a free slot (up to
 * `surge` at once); once it is healthy (in rotation), drain one replica of another image exactly
 * as a scale-down does. Done when no replica of another image is left, in any phase.
 */
import type { MemberView } from '../fleet/containers'

/** Where a rollout is. A rollback is a rollout to the previous image that cannot roll back again. */
export type RolloutPhase = 'rolling' | 'rolling-back' | 'succeeded' | 'rolled-back' | 'stopped'

/** Tunables (docs/options.md: --rollout-surge, --rollout-pace, --rollout-deadline). */
export interface RolloutParams {
  /** New replicas started and not yet healthy at once. */
  readonly surge: number
  /** Wait after a new replica turned healthy (and an old one was drained) before starting the next. */
  readonly paceMs: number
  /** A new replica not healthy this long after its start rolls the rollout back. */
  readonly deadlineMs: number
  /** Replacements of one new replica (exits, failed probes) that count as a crash loop. */
  readonly crashLoopFailures: number
  /** Failures of the new version before its error rate is judged (one stray 500 is no verdict). */
  readonly minFailures: number
  /** Roll back when the new version's failure ratio exceeds the old one's by more than this. */
  readonly maxErrorExcess: number
}

/** What the controller carries between two decisions. */
export interface Progress {
  readonly phase: RolloutPhase
  /** Image ID being rolled to: the deploy's, or the previous one once rolling back. */
  readonly target: string
  /** Replicas this rollout started and that have not turned healthy yet: port → start time. */
  readonly pending: ReadonlyMap<number, number>
  /** No new replica is started before this (the pace). */
  readonly nextStepAt: number
}

/** Requests answered and failed (5xx answers, connect failures, resets, timeouts) over a time. */
export interface Answers {
  readonly requests: number
  readonly failures: number
}

export type Decision =
  | { readonly kind: 'rollback', readonly reason: 'deadline' | 'crash-loop', readonly port: number }
  | { readonly kind: 'done' }
  | {
    readonly kind: 'step'
    /** Pending replicas that are now healthy, in rotation. */
    readonly healthy: readonly number[]
    /** Replicas of another image to drain now (one per healthy new one, while any is left). */
    readonly drain: readonly number[]
    /** New replicas to start now. */
    readonly start: number
    /** Pending replicas that are no longer there (scaled down, or the port was skipped). */
    readonly lost: readonly number[]
  }

/** Phases whose replica runs and could serve: the ones a rollout replaces. */
function live (m: MemberView): boolean { return m.phase === 'starting' || m.phase === 'ready' }

/** The next step of a rollout. */
export function decide (members: readonly MemberView[], p: Progress, params: RolloutParams, now: number): Decision {
  const byPort = new Map(members.map((m) => [m.port, m]))
  const healthy: number[] = []
  const lost: number[] = []
  let waiting = 0
  for (const [port, startedAt] of p.pending) {
    const m = byPort.get(port)
    if (m === undefined || m.phase === 'draining' || m.phase === 'removing') { lost.push(port); continue }
    if (p.phase === 'rolling' && m.failures >= params.crashLoopFailures) return { kind: 'rollback', reason: 'crash-loop', port }
    if (m.phase === 'ready' && m.image === p.target) { healthy.push(port); continue }
    if (p.phase === 'rolling' && now - startedAt > params.deadlineMs) return { kind: 'rollback', reason: 'deadline', port }
    waiting++
  }
  // Old replicas that still serve or boot, highest port first (as a scale-down picks); ready
  // ones are drained before starting ones, which carry no traffic yet.
  const old = members.filter((m) => live(m) && m.image !== null && m.image !== p.target)
    .sort((a, b) => (a.phase === 'ready' ? 1 : 0) - (b.phase === 'ready' ? 1 : 0) || a.port - b.port)
  const drain: number[] = []
  for (let i = 0; i < healthy.length && old.length > 0; i++) drain.push((old.pop() as MemberView).port)
  const left = old.length
  // A replica still launching has no image yet: it may be of the other image (a start that began
  // before a rollback), so the rollout is not done until it is known.
  const stray = members.some((m) => m.phase === 'launching' || (m.image !== null && m.image !== p.target))
  if (left === 0 && waiting === 0 && drain.length === 0 && !stray) return { kind: 'done' }
  const room = Math.min(params.surge - waiting, left - waiting)
  // A replica that turned healthy just now sets the next step's time (the pace), unless it is 0.
  const paced = healthy.length > 0 ? params.paceMs === 0 : now >= p.nextStepAt
  const start = paced && room > 0 ? room : 0
  return { kind: 'step', healthy, drain, start, lost }
}

/**
 * Whether the new version fails clearly more than the old one did over the same time, on the
 * gateway's own view of each replica: judged once it failed `minFailures` requests, so that a
 * version answering mostly 5xx is caught after a handful of requests.
 */
export function failsMoreThanOld (fresh: Answers, old: Answers, params: RolloutParams): boolean {
  if (fresh.failures < params.minFailures || fresh.requests === 0) return false
  const freshRatio = fresh.failures / fresh.requests
  const oldRatio = old.requests === 0 ? 0 : old.failures / old.requests
  return freshRatio - oldRatio > params.maxErrorExcess
}

/** The image most of the live replicas not on `target` run (what a rollback restores), or null. */
export function previousImage (members: readonly MemberView[], target: string): string | null {
  const counts = new Map<string, number>()
  for (const m of members) if (m.image !== null && m.image !== target) counts.set(m.image, (counts.get(m.image) ?? 0) + 1)
  let best: string | null = null
  let n = 0
  for (const [image, c] of counts) if (c > n) { best = image; n = c }
  return best
}
