import { setTimeout as sleep } from 'node:timers/promises'
import type { HealthTarget, StatusSink } from '../health/checker'
import type { ProbeResult } from '../health/probe'
import type { Logger } from '../log'
import type { Replica, Runtime, RuntimeEvent } from '../runtime/types'
import { MAX_BACKENDS, State } from '../table/layout'
import type { TableWriter } from '../table/writer'
import type { BackoffParams } from '../backoff'
import { alwaysActing, type PlaneView } from '../control/plane'
import { defaultBackoff } from './backoff'
import { FleetCounters } from './counters'
import { Lifecycle, RETRY_MS } from './lifecycle'
import { holdsCapacity, newMember, type Member } from './members'
import { planReconcile, type Phase } from './reconcile'

export interface ContainerFleetOptions {
  readonly runtime: Runtime
  readonly table: TableWriter
  readonly log: Logger
  /** Host port of slot 0: slot = port - basePort, so the table and /status name backends by port. */
  readonly basePort: number
  /** Longest wait for a leaving replica's in-flight requests. */
  readonly drainTimeoutMs: number
  /** SIGTERM-to-SIGKILL grace of a drained (or cleaned-up) replica. Default 10 s. */
  readonly stopGraceMs?: number
  /** A replica not healthy this long after its start (or adoption) is replaced. Default 60 s. */
  readonly startTimeoutMs?: number
  /** Re-list the runtime's replicas this often, in case an event was missed. Default 10 s. */
  readonly resyncMs?: number
  /** How long a host port held by something else is passed over. Default 60 s. */
  readonly portBlockMs?: number
  readonly backoff?: Partial<BackoffParams>
  /** The control plane's state: the fleet starts, stops and replaces replicas only while it acts. */
  readonly plane?: PlaneView
  /**
   * The image ID new replicas run (Runtime.resolveImage()); undefined leaves the runtime's
   * configured image. A rollout changes it (setImage()).
   */
  readonly image?: string
  /** The clock; tests may replace it. */
  readonly now?: () => number
}

/** One member as a rollout sees it (src/rollout/policy.ts). */
export interface MemberView {
  readonly port: number
  readonly slot: number
  readonly phase: Phase
  /** Image ID of its replica; null before a start returns or where the runtime has none. */
  readonly image: string | null
  readonly startedAt: number
  readonly healthySince: number | null
  readonly failures: number
}

/** Exits of unknown ids are kept this long, in case a start() that returns later owns them. */
const EARLY_EXIT_TTL_MS = 60_000

/**
 * The replicas of one service on one runtime, one per host port (issue 3). A StatusSink: health
 * results move replicas into and out of rotation; a failed probe or an exit event replaces the
 * replica on the same port (src/fleet/lifecycle.ts). Timeouts reach report() only from the
 * --unhealthy-threshold-th in a row on (src/health/threshold.ts); until then the replica serves. The autoscaler loop calls scaleUp,
 * scaleDown and tick(); the fleet never decides how many replicas to run. Runtime failures are
 * logged, counted and retried on a later tick; they never escape into the loop.
 */
export class ContainerFleet implements StatusSink {
  readonly counters = new FleetCounters()
  readonly #o: Required<Omit<ContainerFleetOptions, 'backoff' | 'image'>> & { readonly backoff: BackoffParams }
  #image: string | undefined
  /** The image ID a rollout is trying (its replicas' 5xx may be retried on others), or null. */
  #trial: string | null = null
  readonly #life: Lifecycle
  readonly #members = new Map<number, Member>()
  /** Host ports held by something else, and until when they are passed over. */
  readonly #blocked = new Map<number, number>()
  /** Exits of ids not known (yet): a replica may die before its start() call returns. */
  readonly #earlyExits = new Map<string, { readonly at: number, readonly reason: string }>()
  readonly #everUsed = new Set<number>()
  readonly #ops = new Set<Promise<void>>()
  readonly #abort = new AbortController()
  #events: Promise<void> | null = null
  #reconciling: Promise<void> | null = null
  #closing: Promise<void> | null = null
  #connected = true
  /** False until a list() succeeded since start-up or the last reconnect: no new ports until then. */
  #synced = false
  #resyncAt = 0

  constructor (options: ContainerFleetOptions) {
    const o = this.#o = {
      stopGraceMs: 10_000,
      startTimeoutMs: 60_000,
      resyncMs: 10_000,
      portBlockMs: 60_000,
      plane: alwaysActing,
      now: Date.now,
      ...options,
      backoff: { ...defaultBackoff, ...options.backoff }
    }
    this.#image = options.image
    this.#life = new Lifecycle({
      ...o,
      image: () => this.#image,
      counters: this.counters,
      closing: () => !this.#acts(),
      blockPort: (port) => { this.#blocked.set(port, o.now() + o.portBlockMs); return o.portBlockMs },
      used: (slot) => this.#everUsed.add(slot),
      forget: (m) => {
        if (this.#members.get(m.port) === m) this.#members.delete(m.port)
        o.table.clear(m.slot)
      },
      takeEarlyExit: (id) => {
        const e = this.#earlyExits.get(id)
        this.#earlyExits.delete(id)
        return e?.reason
      },
      runtimeError: (op, err, port) => this.#runtimeError(op, err, port),
      track: (p) => this.#track(p)
    })
  }

  /**
   * Follow the runtime's events and adopt the running replicas of this service. Throws when the
   * first list() fails: starting replicas without knowing which exist could duplicate them.
   */
  async start (): Promise<void> {
    this.#events = this.#follow()
    await this.#reconcile(true)
  }

  // ---- StatusSink ----------------------------------------------------------------------------

  targets (): readonly HealthTarget[] {
    const out: HealthTarget[] = []
    for (const m of this.#members.values()) {
      if ((m.phase === 'starting' || m.phase === 'ready') && m.replica !== null) {
        out.push({ key: m.slot, id: m.tableId, host: m.replica.address.host, port: m.replica.address.port, starting: m.phase === 'starting' })
      }
    }
    return out
  }

  report (target: HealthTarget, result: ProbeResult): void {
    const m = this.#members.get(this.#o.basePort + target.key)
    if (m === undefined || m.tableId !== target.id || this.#closing !== null) return
    if (result.ok) {
      this.#o.table.clearSuspect(m.slot)
      if (m.phase !== 'starting') return
      m.phase = 'ready'
      m.healthySince = this.#o.now()
      this.counters.becameHealthy((m.healthySince - m.startedAt) / 1000)
      // Marked before it enters rotation: no worker sees a replica on trial unmarked.
      this.#o.table.markTrial(m.slot, this.#onTrial(m))
      this.#o.table.setState(m.slot, State.HEALTHY)
      this.#o.log.info('replica healthy; in rotation', { port: m.port, id: m.replica?.id, startMs: m.healthySince - m.startedAt })
    } else if (m.phase === 'ready') {
      // A starting replica may refuse or fail probes while it boots; startTimeoutMs bounds that.
      // While the plane stands down, replace() only takes it out of rotation.
      this.#life.replace(m, `health-${result.reason}`, { status: result.status })
      this.#replaceLost()
    }
  }

  /** A probe timed out below the threshold: the runtime may take it as a sign of its node's loss. */
  doubt (target: HealthTarget): void {
    const m = this.#members.get(this.#o.basePort + target.key)
    if (m === undefined || m.tableId !== target.id || m.phase !== 'ready' || m.replica === null || this.#closing !== null) return
    this.#o.runtime.doubted?.(m.replica)
    this.#replaceLost()
  }

  /**
   * Replace at once, all together, the doubted replicas whose node the runtime now suspects lost
   * (src/runtime/suspect-nodes.ts): waiting for their remaining timeouts would only delay their
   * replacements, one probe round apart.
   */
  #replaceLost (): void {
    const lost = this.#o.runtime.lost?.()
    if (lost === undefined || lost.length === 0) return
    for (const m of this.#members.values()) {
      if (m.phase === 'ready' && m.replica !== null && lost.includes(m.replica.id)) this.#life.replace(m, 'node-suspected', {})
    }
  }

  // ---- what the autoscaler sees and asks -------------------------------------------------------

  /** Replicas serving, and replicas on their way (launching, starting, being replaced). */
  counts (): { running: number, starting: number } {
    let running = 0
    let starting = 0
    for (const m of this.#members.values()) {
      if (m.phase === 'ready') running++
      else if (holdsCapacity(m)) starting++
    }
    return { running, starting }
  }

  /** Start `n` replicas at once, in parallel, on the lowest free host ports; returns the ports. */
  scaleUp (n: number): number[] {
    if (!this.#acts() || !this.#synced || !this.#connected) return []
    const ports: number[] = []
    const now = this.#o.now()
    for (let port = this.#o.basePort; ports.length < n && port <= 65535 && port - this.#o.basePort < MAX_BACKENDS; port++) {
      if (this.#members.has(port) || (this.#blocked.get(port) ?? 0) > now) continue
      const m = newMember(port, this.#o.basePort, 'launching', now)
      this.#members.set(port, m)
      ports.push(port)
      this.#track(this.#life.launch(m))
    }
    return ports
  }

  /**
   * Drain and remove `n` serving replicas, those not on the image new replicas run first (a
   * rollout's old ones), then highest host ports first; returns the ports.
   */
  scaleDown (n: number): number[] {
    if (!this.#acts()) return []
    const current = (m: Member): number => this.#image !== undefined && m.replica?.image === this.#image ? 1 : 0
    const leaving = [...this.#members.values()].filter((m) => m.phase === 'ready')
      .sort((a, b) => current(a) - current(b) || b.port - a.port).slice(0, n)
    for (const m of leaving) this.#life.drain(m)
    return leaving.map((m) => m.port)
  }

  /**
   * The fleet's share of the 1 s control loop: periodic re-list, start deadlines, backoff and
   * retry timers, failure-count resets. Never throws.
   */
  async tick (): Promise<void> {
    if (!this.#acts()) return
    const now = this.#o.now()
    for (const [id, e] of this.#earlyExits) if (now - e.at > EARLY_EXIT_TTL_MS) this.#earlyExits.delete(id)
    if (this.#connected && (!this.#synced || now >= this.#resyncAt)) await this.#reconcile(false)
    for (const m of this.#members.values()) {
      if (m.phase === 'starting' && now - m.startedAt > this.#o.startTimeoutMs) {
        this.#life.replace(m, 'start-timeout', { timeoutMs: this.#o.startTimeoutMs })
      } else if (m.phase === 'ready' && m.healthySince !== null && now - m.healthySince >= this.#o.backoff.resetAfterMs) {
        m.failures = 0
      } else if (this.#connected && now >= m.notBefore) {
        if (m.phase === 'waiting') this.#track(m.replica !== null ? this.#life.stopThenLaunch(m) : this.#life.launch(m))
        else if (m.phase === 'removing') this.#track(this.#life.remove(m, 0))
      }
    }
  }

  /**
   * Drain and remove the replica on `port` as scaleDown() does (a rollout's old one, or a new
   * one being rolled back); false when it is not starting or serving.
   */
  drainPort (port: number): boolean {
    const m = this.#members.get(port)
    if (this.#closing !== null || m === undefined || m.replica === null || (m.phase !== 'starting' && m.phase !== 'ready')) return false
    this.#life.drain(m)
    return true
  }

  /** The image ID new replicas (scale-ups, replacements) run; undefined: the runtime's own. */
  get image (): string | undefined { return this.#image }

  /** Set the image ID new replicas run from now on (a rollout's target, or its old one on rollback). */
  setImage (id: string): void { this.#image = id }

  /**
   * The image ID a rollout is trying, or null when none is (src/rollout/controller.ts): the
   * table marks the slots whose replica runs it (src/table/layout.ts S_TRIAL), and the workers
   * retry an idempotent request's 5xx from them on another replica (src/worker/retry.ts).
   */
  setTrial (id: string | null): void {
    this.#trial = id
    for (const m of this.#members.values()) if (m.tableId !== 0) this.#o.table.markTrial(m.slot, this.#onTrial(m))
  }

  #onTrial (m: Member): boolean {
    return this.#trial !== null && m.replica !== null && m.replica.image === this.#trial
  }

  /** Every member, for a rollout's policy. */
  view (): MemberView[] {
    return [...this.#members.values()].map((m) => ({
      port: m.port, slot: m.slot, phase: m.phase, image: m.replica?.image ?? null, startedAt: m.startedAt, healthySince: m.healthySince, failures: m.failures
    }))
  }

  /** What /status shows beside a slot. */
  describe (slot: number): { id: string | null, name: string | null, node: string | null, phase: Phase, failures: number, image: string | null, current: boolean | null } | undefined {
    const m = this.#members.get(this.#o.basePort + slot)
    if (m === undefined) return undefined
    const image = m.replica?.image ?? null
    return { id: m.replica?.id ?? null, name: m.replica?.name ?? null, node: m.replica?.node ?? null, phase: m.phase, failures: m.failures, image, current: image === null || this.#image === undefined ? null : image === this.#image }
  }

  /** Replicas by phase (every phase present, zero or not), for the metrics. */
  phases (): Map<Phase, number> {
    const out = new Map<Phase, number>([['launching', 0], ['starting', 0], ['ready', 0], ['stopping', 0], ['waiting', 0], ['draining', 0], ['removing', 0]])
    for (const m of this.#members.values()) out.set(m.phase, (out.get(m.phase) ?? 0) + 1)
    return out
  }

  /** Slots that have held a replica (their counters may be non-zero), for the metrics. */
  knownSlots (): number[] { return [...this.#everUsed] }

  /** Whether the runtime's event stream is connected. */
  get connected (): boolean { return this.#connected }

  /**
   * Stop following the runtime and wait for operations in flight. Replicas keep running (the
   * next start adopts them) unless `cleanup`, which stops and removes every one. Idempotent.
   */
  close (options: { cleanup: boolean } = { cleanup: false }): Promise<void> {
    this.#closing ??= (async () => {
      this.#abort.abort()
      await this.#events
      while (this.#ops.size > 0) await Promise.allSettled([...this.#ops])
      if (options.cleanup) await this.#cleanup()
    })()
    return this.#closing
  }

  // ---- runtime events and reconciliation ---------------------------------------------------------

  async #follow (): Promise<void> {
    const signal = this.#abort.signal
    while (!signal.aborted) {
      try {
        for await (const ev of this.#o.runtime.events(signal)) this.#onEvent(ev)
      } catch (err) {
        this.#runtimeError('events', err, null)
      }
      if (!signal.aborted) await sleep(RETRY_MS, undefined, { signal }).catch(() => {})
    }
  }

  #onEvent (ev: RuntimeEvent): void {
    if (this.#closing !== null) return
    if (ev.type === 'disconnected') {
      this.#connected = false
      this.counters.disconnects++
      this.#o.log.warn('lost the runtime connection; serving the live replicas, reconnecting', { event: 'disconnected', runtime: this.#o.runtime.kind, error: ev.error.message })
    } else if (ev.type === 'reconnected') {
      this.#connected = true
      this.#synced = false
      this.#o.log.info('runtime connection back; reconciling', { event: 'reconnected', runtime: this.#o.runtime.kind })
      this.#track(this.#reconcile(false))
    } else {
      // Exits of replicas stopped on purpose find their member stopping or draining: ignored.
      let member: Member | undefined
      for (const m of this.#members.values()) if (m.replica?.id === ev.id) member = m
      if (member === undefined) this.#earlyExits.set(ev.id, { at: this.#o.now(), reason: `exit-${ev.reason}` })
      else this.#life.replace(member, `exit-${ev.reason}`, {})
    }
  }

  /** List the runtime's replicas and apply planReconcile(); one at a time. */
  #reconcile (strict: boolean): Promise<void> {
    this.#reconciling ??= this.#reconcileOnce(strict).finally(() => { this.#reconciling = null })
    return this.#reconciling
  }

  async #reconcileOnce (strict: boolean): Promise<void> {
    const listedAt = this.#o.now()
    let listed: Replica[]
    try {
      listed = await this.#o.runtime.list()
    } catch (err) {
      if (strict) throw err
      this.#runtimeError('list', err, null)
      return
    }
    this.#synced = true
    this.#resyncAt = this.#o.now() + this.#o.resyncMs
    if (!this.#acts()) return
    const snapshot = [...this.#members.values()].map((m) => ({ port: m.port, phase: m.phase, replicaId: m.replica?.id ?? null, knownSince: m.knownSince }))
    const inRange = (port: number): boolean => port >= this.#o.basePort && port - this.#o.basePort < MAX_BACKENDS
    for (const a of planReconcile(snapshot, listed, listedAt, inRange)) {
      if (a.kind === 'lost') {
        const m = this.#members.get(a.port)
        if (m !== undefined) this.#life.replace(m, a.reason, {})
      } else if (a.kind === 'remove') {
        this.#o.log.warn('removing a replica of this service that no port holds', { event: 'remove-stray', why: a.why, port: a.replica.key, id: a.replica.id })
        this.#track(this.#o.runtime.stop(a.replica, 0).catch((err: unknown) => this.#runtimeError('stop', err, a.replica.key)))
      } else {
        this.#adopt(this.#members.get(a.replica.key) ?? newMember(a.replica.key, this.#o.basePort, 'starting', listedAt), a.replica, listedAt)
      }
    }
  }

  /** Take over a running replica: out of rotation until its first 200, as after a start. */
  #adopt (m: Member, replica: Replica, listedAt: number): void {
    this.#members.set(m.port, m)
    m.phase = 'starting'
    m.replica = replica
    m.knownSince = listedAt
    m.startedAt = this.#o.now()
    m.replacing = null
    m.tableId = this.#o.table.assign(m.slot, replica.address.host, replica.address.port)
    this.#everUsed.add(m.slot)
    this.counters.adopted++
    this.#o.log.info('adopted a running replica', { event: 'adopt', port: m.port, id: replica.id, name: replica.name, ...(replica.node !== undefined ? { node: replica.node } : {}) })
  }

  async #cleanup (): Promise<void> {
    const replicas = new Map<string, Replica>()
    for (const m of this.#members.values()) if (m.replica !== null) replicas.set(m.replica.id, m.replica)
    try {
      for (const r of await this.#o.runtime.list()) replicas.set(r.id, r)
    } catch (err) {
      this.#runtimeError('list', err, null)
    }
    await Promise.all([...replicas.values()].map(async (r) => {
      try {
        await this.#o.runtime.stop(r, this.#o.stopGraceMs)
        this.#o.log.info('replica removed (cleanup on exit)', { event: 'remove', port: r.key, id: r.id })
      } catch (err) {
        this.#runtimeError('stop', err, r.key)
      }
    }))
  }

  /**
   * Whether the fleet may start, stop or replace replicas: not once it is closing, nor while the
   * control plane stands down (a signal came, or another instance holds the lease).
   */
  #acts (): boolean {
    return this.#closing === null && this.#o.plane.acts()
  }

  #runtimeError (op: string, err: unknown, port: number | null): void {
    this.counters.runtimeError(op)
    this.#o.log.error(`${this.#o.runtime.kind} ${op} failed; retrying later`, { event: 'runtime-error', op, port, error: (err as Error)?.message ?? String(err) })
  }

  #track (p: Promise<void>): void {
    const op: Promise<void> = p.catch((err: unknown) => this.#runtimeError('internal', err, null)).finally(() => this.#ops.delete(op))
    this.#ops.add(op)
  }
}

/**
 * Start-up: probe (`probe` runs one health round) until a replica is in rotation, so the gateway
 * serves from its first request. False when none is within `timeoutMs`.
 */
export async function waitUntilServing (fleet: ContainerFleet, probe: () => Promise<void>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (fleet.counts().running > 0) return true
    if (Date.now() >= deadline) return false
    await probe()
    if (fleet.counts().running > 0) return true
    await sleep(100)
  }
}
