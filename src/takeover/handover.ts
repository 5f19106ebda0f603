/**
 * The running instance's side of `--takeover` (main thread): `POST /takeover` with
 * `{"step":"begin"}` stops its control loops (the plane moves to `handing-over`), releases its
 * lease and answers with its request window; `{"step":"drain"}`, sent once the new instance
 * serves on the same port, makes it drain and exit 0 after a short overlap in which the kernel
 * spreads new connections over both (docs/reliability.md#takeover).
 *
 * A new instance that begins and then never asks for the drain (it crashed, its start failed)
 * would leave the fleet with no control plane: after BEGIN_DEADLINE_MS this one takes its lease
 * back and acts again, or, if another instance took the lease meanwhile, drains and exits.
 */
import { bodyField, type AdminAnswer, type AdminRoute } from '../admin/server'
import type { ControlPlane } from '../control/plane'
import { AdminErrorCodes, LeaseHeldError } from '../errors'
import type { Lease } from '../lease/lease'
import type { Logger } from '../log'

/** Between the drain step and the old listen sockets' close: both instances accept meanwhile. */
export const TAKEOVER_OVERLAP_MS = 500
/** A begun takeover not followed by the drain step within this long is abandoned. */
export const BEGIN_DEADLINE_MS = 60_000
/** The code of a refused step (the new instance exits 21 with it). */
const REFUSED = 'SYM_ERR_TAKEOVER'

/** What a begun takeover answers: the request window, oldest second first. */
export interface HandoverAnswer {
  readonly window: readonly number[]
  readonly windowSeconds: number
}

export interface HandoverOptions {
  readonly plane: ControlPlane
  readonly lease: Lease
  readonly log: Logger
  /** The autoscaler's window counts, oldest first. */
  readonly window: () => number[]
  /** This instance's admin address (host:port), to take the lease back under. */
  readonly admin: () => string
  readonly overlapMs?: number
  readonly beginDeadlineMs?: number
}

type Step = 'idle' | 'begun' | 'draining'

const json = (status: number, body: unknown): AdminAnswer => ({ status, type: 'application/json', body: JSON.stringify(body) })
const refuse = (status: number, message: string): AdminAnswer => json(status, { error: { code: REFUSED, message } })

export class Handover {
  readonly #o: HandoverOptions
  #step: Step = 'idle'
  #timer: NodeJS.Timeout | null = null
  #closed = false
  /** What the drain step runs: the CLI's stop-and-exit-0 (set by run()); a plain stop in-process. */
  onDrain: () => void = () => {}

  constructor (options: HandoverOptions) {
    this.#o = options
  }

  /** The admin route (a write: it needs the token when --admin-token is set). */
  route (): AdminRoute {
    return {
      POST: async (body) => {
        const step = bodyField(body, 'step')
        if (step === 'begin') return await this.#begin()
        if (step === 'drain') return this.#drain()
        return json(400, { error: { code: AdminErrorCodes.BAD_REQUEST, message: 'POST /takeover needs a JSON body {"step":"begin"} or {"step":"drain"} (symphony --takeover sends them)' } })
      }
    }
  }

  async #begin (): Promise<AdminAnswer> {
    const { plane, lease, log } = this.#o
    if (this.#closed || plane.state !== 'acting') return refuse(409, `this instance's control plane is ${plane.state}, not acting: it has nothing to hand over`)
    plane.transition('handing-over')
    this.#step = 'begun'
    log.info('takeover begun: control loops stopped, lease released; serving until the new instance serves', { event: 'takeover', step: 'begin' })
    await lease.release()
    this.#arm(this.#o.beginDeadlineMs ?? BEGIN_DEADLINE_MS, () => { void this.#abandon() })
    const window = this.#o.window()
    const answer: HandoverAnswer = { window, windowSeconds: window.length }
    return json(200, answer)
  }

  #drain (): AdminAnswer {
    if (this.#step !== 'begun') return refuse(409, this.#step === 'idle' ? 'no takeover begun: send {"step":"begin"} first' : 'already draining')
    this.#step = 'draining'
    const overlapMs = this.#o.overlapMs ?? TAKEOVER_OVERLAP_MS
    this.#o.log.info('takeover: the new instance serves; draining after the overlap', { event: 'takeover', step: 'drain', overlapMs })
    this.#arm(overlapMs, () => { this.onDrain() })
    return json(202, { draining: true, overlapMs })
  }

  /** The new instance never asked for the drain: act again, or go if another took the service. */
  async #abandon (): Promise<void> {
    const { plane, lease, log } = this.#o
    if (this.#step !== 'begun' || this.#closed) return
    try {
      await lease.resume(this.#o.admin())
    } catch (err) {
      if (!(err instanceof LeaseHeldError)) throw err
      log.warn('takeover: another instance controls the service now; draining', { event: 'takeover', step: 'abandoned-drain' })
      this.#step = 'draining'
      this.onDrain()
      return
    }
    if (this.#closed) return
    plane.transition('acting')
    this.#step = 'idle'
    log.error('takeover abandoned: the new instance did not serve in time; lease taken back, acting again', { event: 'takeover', step: 'abandoned', deadlineMs: this.#o.beginDeadlineMs ?? BEGIN_DEADLINE_MS })
  }

  #arm (ms: number, fn: () => void): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = setTimeout(() => { this.#timer = null; fn() }, ms)
  }

  /** Idempotent: clears the timer (a stop by signal overtakes a takeover). */
  close (): void {
    this.#closed = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }
}
