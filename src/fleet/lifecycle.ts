import { PortInUseError } from '../errors'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from '../log'
import type { Replica, Runtime } from '../runtime/types'
import { State } from '../table/layout'
import type { TableWriter } from '../table/writer'
import { backoffDelay, type BackoffParams } from '../backoff'
import type { FleetCounters } from './counters'
import type { Member } from './members'

/** What the lifecycle steps share with the fleet that owns the members. */
export interface LifecycleContext {
  readonly runtime: Runtime
  readonly table: TableWriter
  readonly log: Logger
  readonly counters: FleetCounters
  readonly backoff: BackoffParams
  readonly drainTimeoutMs: number
  readonly stopGraceMs: number
  readonly now: () => number
  /** The image ID new replicas run (undefined: the runtime's configured one), read at each start. */
  readonly image: () => string | undefined
  /**
   * True once the fleet no longer acts (closing, or the control plane stands down): no replica
   * is started or replaced.
   */
  readonly closing: () => boolean
  /** The port is held by something else: pass over it for a while. */
  readonly blockPort: (port: number) => number
  /** A replica was put into this slot (the metrics keep its counters from then on). */
  readonly used: (slot: number) => void
  /** The member no longer exists (its port is free again). */
  readonly forget: (m: Member) => void
  /** Why a replica already exited when its id was learned (its exit came first), if it did. */
  readonly takeEarlyExit: (id: string) => string | undefined
  /** Count and log a failed runtime call (retried later). */
  readonly runtimeError: (op: string, err: unknown, port: number | null) => void
  /** Keep a promise for close() to wait on. */
  readonly track: (p: Promise<void>) => void
}

/** Wait before retrying a failed runtime call: about one autoscaler tick. */
export const RETRY_MS = 1000
/** Let a request picked just before the slot left the rotation register as in flight. */
const DRAIN_SETTLE_MS = 50
const DRAIN_POLL_MS = 50

/**
 * The steps of a replica's life on one port: start, replace (stop, backoff, start on the same
 * port), drain and remove. Each step sets the member's phase synchronously before its first
 * await, so the fleet's tick and event handlers never start a second step on the same member.
 */
export class Lifecycle {
  constructor (private readonly c: LifecycleContext) {}

  /** Start a replica on the member's port; it joins the rotation after its first 200. */
  async launch (m: Member): Promise<void> {
    const c = this.c
    m.phase = 'launching'
    m.startedAt = c.now()
    let replica: Replica
    try {
      replica = await c.runtime.start(m.port, c.image())
    } catch (err) {
      const message = (err as Error).message
      if (err instanceof PortInUseError) {
        const retryAfterMs = c.blockPort(m.port)
        c.counters.portsSkipped++
        c.log.warn('host port held by something else; skipped', { event: 'port-skipped', port: m.port, retryAfterMs, error: message })
        c.forget(m)
        return
      }
      m.failures++
      c.runtimeError('start', err, m.port)
      this.wait(m, Math.max(RETRY_MS, backoffDelay(m.failures, c.backoff)))
      return
    }
    m.replica = replica
    m.knownSince = c.now()
    m.phase = 'starting'
    m.tableId = c.table.assign(m.slot, replica.address.host, replica.address.port)
    c.used(m.slot)
    if (m.replacing !== null) {
      c.log.info('replica replaced', { event: 'replace', reason: m.replacing.reason, port: m.port, oldId: m.replacing.oldId, newId: replica.id, failures: m.failures, ...(replica.node !== undefined ? { node: replica.node } : {}) })
      m.replacing = null
    } else {
      c.log.info('replica started', { event: 'start', port: m.port, id: replica.id, name: replica.name, ...(replica.node !== undefined ? { node: replica.node } : {}) })
    }
    const early = c.takeEarlyExit(replica.id)
    if (early !== undefined) this.replace(m, early, {})
  }

  /**
   * Out of rotation at once, stop and remove, start again on the same port: at once after a
   * first failure, after an exponential backoff when the port keeps failing. Only a starting or
   * serving member is replaced: exits of replicas being stopped on purpose end up here and are
   * ignored.
   */
  replace (m: Member, reason: string, details: Record<string, unknown>): void {
    const c = this.c
    if ((m.phase !== 'starting' && m.phase !== 'ready') || m.replica === null) return
    if (c.closing()) {
      // Shutdown never heals (issue 23): out of rotation, so no request is sent to it, but not
      // replaced. Its member keeps its phase: a stand-down is never undone. Said once per replica.
      if (c.table.view(m.slot)?.state === State.UNHEALTHY) return
      c.table.setState(m.slot, State.UNHEALTHY)
      c.log.warn('replica failed while the control plane stands down; out of rotation, not replaced', { event: 'replica-failed', reason, port: m.port, id: m.replica.id, replaced: false, ...details })
      return
    }
    c.runtime.failed?.(m.replica)
    if (m.healthySince !== null && c.now() - m.healthySince >= c.backoff.resetAfterMs) m.failures = 0
    m.failures++
    m.healthySince = null
    m.phase = 'stopping'
    m.replacing = { reason, oldId: m.replica.id }
    c.table.setState(m.slot, State.UNHEALTHY)
    c.counters.replaced(reason)
    c.log.warn('replica failed; out of rotation, replacing it on the same port', { event: 'replica-failed', reason, port: m.port, id: m.replica.id, failures: m.failures, ...details })
    c.track(this.stopThenLaunch(m))
  }

  /** The rest of a replacement (also the retry of one whose stop failed). */
  async stopThenLaunch (m: Member): Promise<void> {
    const c = this.c
    m.phase = 'stopping'
    try {
      await c.runtime.stop(m.replica as Replica, 0)
    } catch (err) {
      c.runtimeError('stop', err, m.port)
      this.wait(m, RETRY_MS)
      return
    }
    m.replica = null
    if (c.closing()) return
    const delay = backoffDelay(m.failures, c.backoff)
    if (delay > 0) {
      c.counters.backoffs++
      c.log.warn('replica keeps failing; backing off before replacing it', { event: 'backoff', port: m.port, failures: m.failures, delayMs: delay })
      this.wait(m, delay)
      return
    }
    await this.launch(m)
  }

  /**
   * Scale-down: out of rotation, in-flight requests finish (bounded), then stop and remove.
   * A replica that never became ready has served nothing: it is stopped at once, as a failed
   * one is, not given the stop grace (an app still booting has often no SIGTERM handler yet,
   * and as a container's PID 1 it would ignore the signal and wait out the whole grace).
   */
  drain (m: Member): void {
    const c = this.c
    const graceMs = m.phase === 'ready' ? c.stopGraceMs : 0
    m.phase = 'draining'
    c.table.setState(m.slot, State.DRAINING)
    c.track((async () => {
      const deadline = c.now() + c.drainTimeoutMs
      await sleep(DRAIN_SETTLE_MS)
      while (c.table.inflight(m.slot) > 0 && c.now() < deadline) await sleep(DRAIN_POLL_MS)
      await this.remove(m, graceMs)
    })())
  }

  /** Stop and remove a leaving member's replica; on failure, retried on a later tick. */
  async remove (m: Member, graceMs: number): Promise<void> {
    const c = this.c
    m.phase = 'draining'
    try {
      await c.runtime.stop(m.replica as Replica, graceMs)
    } catch (err) {
      c.runtimeError('stop', err, m.port)
      m.phase = 'removing'
      m.notBefore = c.now() + RETRY_MS
      return
    }
    c.log.info('replica removed', { event: 'remove', port: m.port, id: m.replica?.id })
    c.forget(m)
  }

  /** Leave the member until `ms` from now (the fleet's tick resumes it). */
  wait (m: Member, ms: number): void {
    m.phase = 'waiting'
    m.notBefore = this.c.now() + ms
  }
}
