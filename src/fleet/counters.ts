/**
 * What the control plane counts (issue 3: failures are "logged and counted"). Plain numbers on
 * the main thread; /status shows them and the metrics registry reads them at scrape time.
 */
/** Upper bounds (seconds) of the start-to-healthy histogram. */
export const startToHealthyBounds: readonly number[] = [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120]

export class FleetCounters {
  /** Seconds from a replica's start to its first passing health check: per-bucket counts (+Inf last) and sum. */
  readonly startToHealthy = new Float64Array(startToHealthyBounds.length + 1)
  startToHealthySum = 0

  /** Replacements begun, by reason (`health-status`, `health-timeout`, `exit-kill`, `start-timeout`, …). */
  readonly replacements = new Map<string, number>()
  /** Replacements delayed by the per-port backoff. */
  backoffs = 0
  /** Host ports passed over because something else held them. */
  portsSkipped = 0
  /** Running replicas taken over at start-up or after a reconnect. */
  adopted = 0
  /** Times the runtime's event stream was lost. */
  disconnects = 0
  /** Failed runtime calls, by operation (`start`, `stop`, `list`, `events`). */
  readonly runtimeErrors = new Map<string, number>()

  replaced (reason: string): void {
    this.replacements.set(reason, (this.replacements.get(reason) ?? 0) + 1)
  }

  becameHealthy (seconds: number): void {
    let b = 0
    while (b < startToHealthyBounds.length && seconds > startToHealthyBounds[b]) b++
    this.startToHealthy[b]++
    this.startToHealthySum += seconds
  }

  runtimeError (op: string): void {
    this.runtimeErrors.set(op, (this.runtimeErrors.get(op) ?? 0) + 1)
  }

  /** A JSON-ready copy. */
  toJSON (): Record<string, unknown> {
    return {
      replacements: Object.fromEntries(this.replacements),
      backoffs: this.backoffs,
      portsSkipped: this.portsSkipped,
      adopted: this.adopted,
      disconnects: this.disconnects,
      runtimeErrors: Object.fromEntries(this.runtimeErrors)
    }
  }
}
