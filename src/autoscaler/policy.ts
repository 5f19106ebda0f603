/**
 * The scaling policy as plain arithmetic: no timers, no clock, no I/O. Time and observations come
 * in as arguments and a decision comes out, so every edge is a row in a table-driven test (the
 * HPA keeps its tolerance and stabilisation the same way).
 */

/**
 * Replicas wanted for `count` requests in the window: one, plus one per `baseScaleCount`
 * requests, clamped to [min, max]. With base 20: 0..19 → 1, 20..39 → 2, 40..59 → 3.
 */
export function desiredReplicas (count: number, baseScaleCount: number, min: number, max: number): number {
  const raw = 1 + Math.floor(Math.max(0, count) / baseScaleCount)
  return Math.min(max, Math.max(min, raw))
}

/** Static inputs of the policy, from the configuration. */
export interface ScaleParams {
  readonly baseScaleCount: number
  readonly minContainers: number
  readonly maxContainers: number
  /** How long desired must stay below current before replicas are removed (the window). */
  readonly windowMs: number
}

/** One tick's view of the world. */
export interface Observation {
  /** Epoch ms of this tick (the caller's clock). */
  readonly now: number
  /** Requests counted over the window. */
  readonly requests: number
  /** Replicas serving (or failing but not yet replaced). */
  readonly running: number
  /** Replicas started but not yet healthy: capacity on its way, counted as current. */
  readonly starting: number
}

/** What the policy carries from one tick to the next. */
export interface ScaleState {
  /** Epoch ms since which desired has stayed below current; null when it has not. */
  readonly belowSince: number | null
  /** Highest desired seen since belowSince: a scale-down never goes below it. */
  readonly peak: number
}

export const initialScaleState: ScaleState = Object.freeze({ belowSince: null, peak: 0 })

export type ScaleAction =
  | { readonly action: 'up', readonly add: number }
  | { readonly action: 'down', readonly remove: number }
  | { readonly action: 'hold' }

/** The action, the state for the next tick, and the numbers behind them (for logs and /status). */
export type Decision = ScaleAction & { readonly state: ScaleState, readonly desired: number, readonly current: number }

/**
 * One step: scale up at once when desired exceeds current; scale down only once desired has
 * stayed below current for a whole window, and then only to the highest desired seen in that
 * time, so a momentary dip cannot shed capacity a burst still needs. The hold restarts whenever
 * desired reaches current, and after every scale-down: the direction never flips within a window.
 */
export function decide (state: ScaleState, obs: Observation, params: ScaleParams): Decision {
  const desired = desiredReplicas(obs.requests, params.baseScaleCount, params.minContainers, params.maxContainers)
  const current = obs.running + obs.starting

  if (desired >= current) {
    const next = initialScaleState
    return desired > current
      ? { action: 'up', add: desired - current, state: next, desired, current }
      : { action: 'hold', state: next, desired, current }
  }

  // Below: start or continue the hold. A hold whose peak is no longer below current (replicas
  // died meanwhile) restarts, so that peak < current always holds and a scale-down removes one
  // or more.
  const continuing = state.belowSince !== null && state.peak < current
  const belowSince = continuing ? state.belowSince as number : obs.now
  const peak = continuing ? Math.max(state.peak, desired) : desired
  if (obs.now - belowSince < params.windowMs) {
    return { action: 'hold', state: { belowSince, peak }, desired, current }
  }
  // Replicas still starting mean capacity is in flux (a healer replacement, say): wait for them
  // rather than remove running ones and leave only unready capacity serving.
  if (obs.starting > 0) return { action: 'hold', state: { belowSince, peak }, desired, current }
  const remove = current - peak
  return { action: 'down', remove, state: initialScaleState, desired, current }
}
