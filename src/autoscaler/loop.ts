import { alwaysActing, type PlaneView } from '../control/plane'
import type { Logger } from '../log'
import { decide, initialScaleState, type Decision, type ScaleParams, type ScaleState } from './policy'
import { ringWindow, type RingWindow } from './window'

/** Where the request count comes from (CounterSampler). */
export interface RequestSource {
  /** Fold the workers' counters into the running totals. */
  sample (): void
  /** Requests accepted by all workers since start. */
  requests (): number
}

/** What the loop scales (ContainerFleet). */
export interface ScaleTarget {
  counts (): { running: number, starting: number }
  /** Start `n` replicas; returns the host ports they got. */
  scaleUp (n: number): readonly number[]
  /** Drain and remove `n` replicas; returns their host ports. */
  scaleDown (n: number): readonly number[]
  /** The target's own periodic work (retries, deadlines, resync); must not throw. */
  tick (): Promise<void>
}

export interface AutoscalerLoopOptions {
  readonly source: RequestSource
  readonly target: ScaleTarget
  readonly params: ScaleParams
  readonly log: Logger
  /** The control plane's state: the loop scales only while it acts (the window keeps counting). */
  readonly plane?: PlaneView
  /** Default 1000: the window is counted in one-second slots. */
  readonly intervalMs?: number
  readonly now?: () => number
}

/** The last tick's numbers, for /status and the metrics. */
export interface AutoscalerSnapshot {
  readonly windowSeconds: number
  /** Requests in the window. */
  readonly count: number
  readonly desired: number
  /** running + starting. */
  readonly current: number
  readonly running: number
  readonly starting: number
  /** Epoch ms since which desired has stayed below current, or null. */
  readonly belowSince: number | null
  readonly scaleUps: number
  readonly scaleDowns: number
}

/**
 * The autoscaler's timer (main thread). Every second: the request count of the second that
 * ended goes into the sliding window, the target does its own periodic work, and the pure policy
 * decides. The next tick is armed only once this one finished (setTimeout, not setInterval), so
 * a slow runtime call never makes ticks overlap. One JSON log line per scale decision.
 */
export class AutoscalerLoop {
  readonly #o: Required<AutoscalerLoopOptions>
  readonly #window: RingWindow
  #state: ScaleState = initialScaleState
  #lastTotal: number
  #lastPush: number
  #timer: NodeJS.Timeout | null = null
  #running: Promise<void> | null = null
  #closed = false
  #snapshot: AutoscalerSnapshot

  constructor (options: AutoscalerLoopOptions) {
    this.#o = { intervalMs: 1000, now: Date.now, plane: alwaysActing, ...options }
    this.#window = ringWindow(options.params.windowMs)
    this.#o.source.sample()
    this.#lastTotal = this.#o.source.requests()
    this.#lastPush = this.#o.now()
    this.#snapshot = {
      windowSeconds: this.#window.seconds,
      count: 0,
      desired: 0,
      current: 0,
      running: 0,
      starting: 0,
      belowSince: null,
      scaleUps: 0,
      scaleDowns: 0
    }
  }

  /** One tick now (start-up: replicas up to the minimum), then one every interval. */
  async start (): Promise<void> {
    await this.tickNow()
    this.#arm()
  }

  /** Run one tick (also what the timer runs). Never throws. */
  tickNow (): Promise<void> {
    this.#running ??= this.#tick().finally(() => { this.#running = null })
    return this.#running
  }

  snapshot (): AutoscalerSnapshot { return this.#snapshot }

  /** The request window's counts, oldest first (a takeover hands them over). */
  windowCounts (): number[] { return this.#window.counts() }

  /**
   * Start from the window of the instance taken over (before start()), so that scaling does not
   * restart from zero; the snapshot's count shows it at once.
   */
  seedWindow (counts: readonly number[]): void {
    this.#window.seed(counts)
    this.#snapshot = { ...this.#snapshot, count: this.#window.total() }
  }

  /** Stop the timer and wait for a tick in progress. Idempotent. */
  async close (): Promise<void> {
    this.#closed = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    await this.#running
  }

  #arm (): void {
    if (this.#closed) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      void this.tickNow().finally(() => this.#arm())
    }, this.#o.intervalMs)
  }

  async #tick (): Promise<void> {
    if (this.#closed) return
    const { source, target, params, log } = this.#o
    const now = this.#o.now()
    source.sample()
    const total = source.requests()
    // A tick that came late (a slow tick before it) covered more than one second: its count
    // goes into one slot and the other seconds count zero, so the window keeps its length in time.
    const seconds = Math.min(this.#window.seconds, Math.max(1, Math.round((now - this.#lastPush) / 1000)))
    for (let i = 1; i < seconds; i++) this.#window.push(0)
    this.#window.push(total - this.#lastTotal)
    this.#lastTotal = total
    this.#lastPush = now
    if (!this.#o.plane.acts()) return

    try {
      await target.tick()
    } catch (err) {
      log.error('autoscaler: target tick failed', { error: (err as Error).message })
    }
    if (this.#closed || !this.#o.plane.acts()) return
    const { running, starting } = target.counts()
    const count = this.#window.total()
    const d: Decision = decide(this.#state, { now, requests: count, running, starting }, params)
    this.#state = d.state
    let { scaleUps, scaleDowns } = this.#snapshot
    const fields = { count, windowSeconds: this.#window.seconds, desired: d.desired, current: d.current, running, starting }
    if (d.action === 'up') {
      const ports = target.scaleUp(d.add)
      // Nothing started (runtime disconnected, not yet re-listed): the next tick asks again.
      if (ports.length === 0) log.debug('scale up deferred', { event: 'scale', direction: 'up', add: d.add, ...fields })
      else {
        scaleUps++
        log.info('scale up', { event: 'scale', direction: 'up', add: d.add, ports, ...fields })
      }
    } else if (d.action === 'down') {
      const ports = target.scaleDown(d.remove)
      scaleDowns++
      log.info('scale down', { event: 'scale', direction: 'down', remove: d.remove, ports, ...fields })
    }
    this.#snapshot = { ...fields, belowSince: d.state.belowSince, scaleUps, scaleDowns }
  }
}
