import type { Agent } from 'undici'
import type { Logger } from '../log'
import { probe, createProbeAgent, type ProbeResult } from './probe'
import { judge } from './threshold'

/** A backend to check; `key` is what the sink knows it by (its table slot). */
export interface HealthTarget {
  readonly key: number
  readonly id: number
  readonly host: string
  readonly port: number
  /** Not in rotation yet, waiting for its first passing probe: probed every startupIntervalMs too. */
  readonly starting?: boolean
}

/**
 * All the checker knows of the rest of the system (Traefik's `SetStatus`). `report` gets passing
 * results and failures that count: a timeout below the threshold never reaches it.
 */
export interface StatusSink {
  targets (): readonly HealthTarget[]
  report (target: HealthTarget, result: ProbeResult): void
  /**
   * A timeout below the threshold: the target is not failed and stays as it is, but a runtime
   * may take it as an early sign (src/runtime/suspect-nodes.ts). Optional.
   */
  doubt?: (target: HealthTarget) => void
}

export interface HealthCheckerOptions {
  readonly intervalMs: number
  readonly timeoutMs: number
  readonly path: string
  /** Timeouts in a row that fail a backend (--unhealthy-threshold); other failures count at once. Default 1. */
  readonly unhealthyThreshold?: number
  /** Where tolerated timeouts are logged (one warn line each). */
  readonly log?: Logger
  /**
   * How often a starting target (not in rotation yet) is probed until its first pass, as a
   * Kubernetes startup probe: a new replica then joins within this of its first 200 instead of
   * up to a whole interval later. Only its passes are reported (a starting replica's failures
   * count for nothing: its start timeout bounds them). Default min(100 ms, intervalMs).
   */
  readonly startupIntervalMs?: number
}

/**
 * Probes every target once per interval, and the starting ones (not in rotation yet) every
 * startupIntervalMs until they pass. A round's probes run in parallel; the next round is armed
 * only after this one finished (setTimeout, not setInterval), so a slow backend can never make
 * rounds overlap.
 */
export class HealthChecker {
  private readonly agent: Agent
  private timer: NodeJS.Timeout | null = null
  private startupTimer: NodeJS.Timeout | null = null
  private closed = false
  private round: Promise<void> | null = null
  private startupRound: Promise<void> | null = null
  /** Probe results so far, by reason (ok, status, timeout, refused, error): /metrics reads it. */
  readonly results = new Map<string, number>()
  /** Timeouts that did not (yet) fail their backend, being below the threshold. */
  toleratedTimeouts = 0
  /** Timeouts in a row per target key, for the target id they were seen on. */
  private readonly streaks = new Map<number, { readonly id: number, readonly timeouts: number }>()

  constructor (private readonly options: HealthCheckerOptions, private readonly sink: StatusSink) {
    this.agent = createProbeAgent(options.timeoutMs)
  }

  /** A round every interval from now on (the caller ran the first one with checkNow()). */
  start (): void {
    this.arm(this.options.intervalMs)
    this.armStartup()
  }

  /** Probe the starting targets once; report the ones that pass (they enter rotation). */
  async checkStarting (): Promise<void> {
    const targets = this.sink.targets().filter((t) => t.starting === true)
    if (targets.length === 0) return
    const results = await Promise.all(targets.map((t) =>
      probe(this.agent, t.host, t.port, this.options.path, this.options.timeoutMs)))
    if (this.closed) return
    for (let i = 0; i < targets.length; i++) {
      const r = results[i]
      this.results.set(r.reason, (this.results.get(r.reason) ?? 0) + 1)
      if (r.ok) this.sink.report(targets[i], r)
    }
  }

  private armStartup (): void {
    if (this.closed) return
    const every = this.options.startupIntervalMs ?? Math.min(100, this.options.intervalMs)
    this.startupTimer = setTimeout(() => {
      this.startupTimer = null
      this.startupRound = this.checkStarting().catch(() => {}).finally(() => {
        this.startupRound = null
        this.armStartup()
      })
    }, every)
  }

  /** One round now (also used by tests and at start-up). */
  async checkNow (): Promise<void> {
    const targets = this.sink.targets()
    const results = await Promise.all(targets.map((t) =>
      probe(this.agent, t.host, t.port, this.options.path, this.options.timeoutMs)))
    if (this.closed) return
    const threshold = this.options.unhealthyThreshold ?? 1
    const live = new Set<number>()
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]
      const r = results[i]
      live.add(t.key)
      this.results.set(r.reason, (this.results.get(r.reason) ?? 0) + 1)
      const before = this.streaks.get(t.key)
      const { verdict, timeouts } = judge(r, before?.id === t.id ? before.timeouts : 0, threshold)
      if (timeouts === 0) this.streaks.delete(t.key)
      else this.streaks.set(t.key, { id: t.id, timeouts })
      if (verdict === 'tolerate') {
        this.toleratedTimeouts++
        this.options.log?.warn('health check timed out; kept until the threshold of timeouts in a row', {
          event: 'health-timeout-tolerated', backend: `${t.host}:${t.port}`, timeouts, threshold
        })
        this.sink.doubt?.(t)
        continue
      }
      this.sink.report(t, r)
    }
    for (const key of this.streaks.keys()) if (!live.has(key)) this.streaks.delete(key)
  }

  /** Timeouts in a row of the backend `id` in slot `key` (0 when its last result was not one). */
  timeoutsInARow (key: number, id: number): number {
    const s = this.streaks.get(key)
    return s !== undefined && s.id === id ? s.timeouts : 0
  }

  private arm (delay: number): void {
    if (this.closed) return
    this.timer = setTimeout(() => {
      this.timer = null
      const started = performance.now()
      this.round = this.checkNow().catch(() => {}).finally(() => {
        this.round = null
        this.arm(Math.max(0, this.options.intervalMs - (performance.now() - started)))
      })
    }, delay)
  }

  /** Idempotent. Waits for a round in progress. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.timer !== null) clearTimeout(this.timer)
    if (this.startupTimer !== null) clearTimeout(this.startupTimer)
    this.timer = null
    this.startupTimer = null
    if (this.round !== null) await this.round
    if (this.startupRound !== null) await this.startupRound
    await this.agent.close()
  }
}
