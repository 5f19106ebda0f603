/**
 * One control plane per service (issue 23): before it adopts or starts anything, an instance
 * takes the service's lease; while it runs, it renews it every second; on a clean stop it removes
 * it. A second instance finds the lease renewed and refuses (LeaseHeldError, exit 20). A holder
 * that died without removing it (SIGKILL, a crash) stops renewing: after `ttlMs` without a
 * renewal, seen on the newcomer's own clock (src/lease/expiry.ts), the newcomer removes that
 * lease by id and takes its own. A fleet is therefore never left without a control plane for
 * longer than the TTL after its holder died.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { LeaseHeldError } from '../errors'
import type { Logger } from '../log'
import type { Holder, LeaseCarrier, LeaseRecord } from './carrier'
import { observe, type Watch } from './expiry'

/** A holder renews this often. */
export const LEASE_RENEW_MS = 1000
/** A lease not renewed for this long (on the reader's clock) has expired. */
export const LEASE_TTL_MS = 5000
/** A newcomer reads a held lease this often while it judges it. */
const WATCH_POLL_MS = 250
/** Create/remove races lost in a row before giving up (each means another instance is at it too). */
const MAX_ROUNDS = 5
/** The counter wraps here (docker stores it in an int). */
const BEAT_WRAP = 1_000_000

export interface LeaseOptions {
  readonly carrier: LeaseCarrier
  /** Who this instance is; its admin address comes with acquire(), once the listener is bound. */
  readonly holder: Omit<Holder, 'admin'>
  readonly service: string
  readonly log: Logger
  /** Called once when a renewal finds the lease gone or taken: another instance holds it now. */
  readonly onLost: () => void
  readonly ttlMs?: number
  readonly renewMs?: number
  readonly now?: () => number
}

export class Lease {
  readonly #o: Required<LeaseOptions>
  #held: LeaseRecord | null = null
  #timer: NodeJS.Timeout | null = null
  #renewing: Promise<void> | null = null
  #released: Promise<void> | null = null

  constructor (options: LeaseOptions) {
    this.#o = { ttlMs: LEASE_TTL_MS, renewMs: LEASE_RENEW_MS, now: Date.now, ...options }
  }

  /** What and where the lease is (its carrier). */
  get describe (): string { return this.#o.carrier.describe }

  /** The lease as it is now, whoever holds it (a takeover reads its holder's admin address). */
  current (): Promise<LeaseRecord | null> { return this.#o.carrier.read() }

  /** The lease held, or null. */
  get held (): LeaseRecord | null { return this.#held }

  /**
   * Take the lease for this instance, whose admin listener is at `admin` (host:port), waiting
   * out one whose holder stopped renewing (at most ttlMs), and begin renewing it.
   * @throws LeaseHeldError when a live instance holds it (its counter moved while watched).
   */
  async acquire (admin: string): Promise<void> {
    const { carrier, log } = this.#o
    const holder: Holder = { ...this.#o.holder, admin }
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const found = await carrier.read()
      if (found === null) {
        const created = await carrier.create(holder)
        if (created === null) continue // another instance created it first: judge that one
        this.#held = created
        this.#arm()
        log.info('lease taken: this instance controls the service', { event: 'lease', service: this.#o.service, lease: carrier.describe })
        return
      }
      const expired = await this.#judge(found)
      log.warn('lease of a gone instance expired (not renewed); taking it', {
        event: 'lease-expired', service: this.#o.service, lease: carrier.describe, pid: expired.holder.pid, host: expired.holder.host, admin: expired.holder.admin, ttlMs: this.#o.ttlMs
      })
      await carrier.remove(expired)
    }
    throw new LeaseHeldError(`service "${this.#o.service}": other instances keep taking its lease (${carrier.describe}); start one symphony per service`)
  }

  /**
   * Throw LeaseHeldError if a live instance holds the lease (watching it up to ttlMs); return
   * otherwise. Takes nothing: for a start that fails before acquire() (the admin port is taken,
   * by that same instance most likely), so that its one line names the instance.
   */
  async refuseIfHeld (): Promise<void> {
    const found = await this.#o.carrier.read()
    if (found !== null) await this.#judge(found)
  }

  /** Watch `record` until its counter moves (throws LeaseHeldError) or it expires (returns the expired record). */
  async #judge (record: LeaseRecord): Promise<LeaseRecord> {
    let watch: Watch | null = null
    let current: LeaseRecord | null = record
    for (;;) {
      if (current === null) return record // removed meanwhile: nothing to wait for
      const r = observe(watch, current, this.#o.now(), this.#o.ttlMs)
      watch = r.watch
      if (r.verdict === 'alive') throw this.#heldError(current)
      if (r.verdict === 'expired') return current
      await sleep(WATCH_POLL_MS)
      current = await this.#o.carrier.read()
    }
  }

  #heldError (record: LeaseRecord): LeaseHeldError {
    const h = record.holder
    return new LeaseHeldError(
      `service "${this.#o.service}" is already controlled by symphony pid ${h.pid} on ${h.host} (admin ${h.admin}; ` +
      `lease ${this.#o.carrier.describe}, renewed every ${this.#o.renewMs / 1000} s): two control planes would fight ` +
      'over one fleet; stop that instance first, or give this one another --service')
  }

  #arm (): void {
    if (this.#released !== null) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#renewing = this.#renew().finally(() => { this.#renewing = null; this.#arm() })
    }, this.#o.renewMs)
  }

  async #renew (): Promise<void> {
    const held = this.#held
    if (held === null) return
    try {
      const renewed = await this.#o.carrier.renew(held, (held.beat + 1) % BEAT_WRAP)
      if (this.#released !== null) return
      if (renewed !== null) {
        this.#held = renewed
        return
      }
      this.#held = null
      this.#o.log.error('lease lost: another instance took it (this one could not renew it in time); no longer acting on the fleet, still serving', {
        event: 'lease-lost', service: this.#o.service, lease: this.#o.carrier.describe
      })
      this.#o.onLost()
    } catch (err) {
      // The engine unreachable: nobody else can take the lease through it either. Keep trying.
      this.#o.log.warn('lease renewal failed; retrying', { event: 'lease-renew-failed', error: (err as Error).message })
    }
  }

  /**
   * Take the lease again after release() (a takeover the new instance abandoned): as acquire().
   * @throws LeaseHeldError when another instance holds it now.
   */
  async resume (admin: string): Promise<void> {
    await this.#released
    if (this.#held !== null) return
    this.#released = null
    try {
      await this.acquire(admin)
    } catch (err) {
      this.#released = Promise.resolve()
      throw err
    }
  }

  /** Stop renewing and remove the lease if still ours, so the next instance starts at once. Idempotent. */
  release (): Promise<void> {
    this.#released ??= (async () => {
      if (this.#timer !== null) clearTimeout(this.#timer)
      this.#timer = null
      await this.#renewing
      const held = this.#held
      this.#held = null
      if (held === null) return
      try {
        await this.#o.carrier.remove(held)
      } catch (err) {
        this.#o.log.warn('lease not removed; the next instance waits for it to expire', { event: 'lease-release-failed', error: (err as Error).message, ttlMs: this.#o.ttlMs })
      }
    })()
    return this.#released
  }
}
