/**
 * The control plane's one state (main thread): whether the loops that change the fleet (the
 * autoscaler, the healer, reconciliation) may act. Everything that would start, stop or replace a
 * replica asks `acts()`; nothing keeps a flag of its own (issue 23, point 3: a shutdown never
 * heals). A state machine rather than a boolean, because a plane stops acting for different
 * reasons that the logs and /status must tell apart, and none of them is ever undone.
 */

/** The control plane's states. */
export type PlaneState =
  /** The loops act: they start, replace and remove replicas. */
  | 'acting'
  /** A signal came: symphony drains and goes away; nothing is re-created, scaled or replaced. */
  | 'stopping'
  /**
   * Another instance holds the service's lease now (ours expired while we could not renew it,
   * src/lease/lease.ts): it owns the fleet, so this one keeps serving but no longer acts.
   */
  | 'lease-lost'
  /**
   * A newer instance started with --takeover asked this one to hand over (src/takeover/): it
   * gave up its lease and its request window, keeps serving, and drains when the new one serves.
   */
  | 'handing-over'

/**
 * Legal moves: out of `acting`, and never back (a stop that began is never undone), with one
 * exception: a takeover the new instance began but never finished (src/takeover/handover.ts)
 * returns the old one to acting, so that the fleet is not left without a control plane.
 */
const LEGAL: Readonly<Record<PlaneState, readonly PlaneState[]>> = {
  acting: ['stopping', 'lease-lost', 'handing-over'],
  'lease-lost': ['stopping'],
  'handing-over': ['stopping', 'acting'],
  stopping: []
}

/** What the loops see of the plane. */
export interface PlaneView {
  /** True while the loops may start, stop or replace replicas. */
  acts (): boolean
  readonly state: PlaneState
}

export class ControlPlane implements PlaneView {
  #state: PlaneState = 'acting'
  /** When the state last changed (epoch ms), for /status. */
  #since: number

  constructor (now: number = Date.now()) {
    this.#since = now
  }

  get state (): PlaneState { return this.#state }
  get since (): number { return this.#since }

  acts (): boolean { return this.#state === 'acting' }

  /**
   * Move to `to`. A move already made is a no-op (a second signal, a lease lost while stopping);
   * an illegal one (back to acting) throws: that would be a bug.
   * @returns true when the state changed.
   */
  transition (to: PlaneState, now: number = Date.now()): boolean {
    if (this.#state === to) return false
    if (!LEGAL[this.#state].includes(to)) {
      if (to !== 'acting' && this.#state === 'stopping') return false
      throw new Error(`control plane: illegal move ${this.#state} -> ${to}`)
    }
    this.#state = to
    this.#since = now
    return true
  }
}

/** A plane that always acts, for parts built without one (in-process tests of a single loop). */
export const alwaysActing: PlaneView = { acts: () => true, state: 'acting' }
