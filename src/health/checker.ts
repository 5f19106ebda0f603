import type { Agent } from 'undici'
import { probe, createProbeAgent, type ProbeResult } from './probe'

/** A backend to check; `key` is what the sink knows it by (its table slot). */
export interface HealthTarget {
  readonly key: number
  readonly id: number
  readonly host: string
  readonly port: number
}

/** All the checker knows of the rest of the system (Traefik's `SetStatus`). */
export interface StatusSink {
  targets (): readonly HealthTarget[]
  report (target: HealthTarget, result: ProbeResult): void
}

export interface HealthCheckerOptions {
  readonly intervalMs: number
  readonly timeoutMs: number
  readonly path: string
}

/**
 * Probes every target once per interval. A round's probes run in parallel; the next round is
 * armed only after this one finished (setTimeout, not setInterval), so a slow backend can never
 * make rounds overlap.
 */
export class HealthChecker {
  private readonly agent: Agent
  private timer: NodeJS.Timeout | null = null
  private closed = false
  private round: Promise<void> | null = null
  /** Probe results so far, by reason (ok, status, timeout, refused, error): /metrics reads it. */
  readonly results = new Map<string, number>()

  constructor (private readonly options: HealthCheckerOptions, private readonly sink: StatusSink) {
    this.agent = createProbeAgent(options.timeoutMs)
  }

  /** A round every interval from now on (the caller ran the first one with checkNow()). */
  start (): void {
    this.arm(this.options.intervalMs)
  }

  /** One round now (also used by tests and at start-up). */
  async checkNow (): Promise<void> {
    const targets = this.sink.targets()
    const results = await Promise.all(targets.map((t) =>
      probe(this.agent, t.host, t.port, this.options.path, this.options.timeoutMs)))
    if (this.closed) return
    for (let i = 0; i < targets.length; i++) {
      const r = results[i]
      this.results.set(r.reason, (this.results.get(r.reason) ?? 0) + 1)
      this.sink.report(targets[i], r)
    }
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
    this.timer = null
    if (this.round !== null) await this.round
    await this.agent.close()
  }
}
