import { Counter, Gauge, type Registry } from 'prom-client'
import type { AutoscalerSnapshot } from '../autoscaler/loop'
import { startToHealthyBounds, type FleetCounters } from './counters'
import { SnapshotMetric, histogramValues } from '../metrics/registry'
import type { Phase } from './reconcile'

/** Reasons a replica is replaced on its port (src/fleet/lifecycle.ts, containers.ts, reconcile.ts). */
export const replacementReasons: readonly string[] = [
  'health-status', 'health-timeout', 'health-refused', 'health-error', 'exit-kill', 'exit-die', 'exit-oom', 'exit-node-down', 'node-suspected', 'start-timeout', 'missing', 'exited'
]

/** What the scale thresholds are computed from. */
export interface ScaleLimits {
  readonly baseScaleCount: number
  readonly minContainers: number
  readonly maxContainers: number
}

/**
 * Window counts at which the autoscaler changes its mind, for `current` replicas:
 * desired = 1 + floor(count / base) exceeds current from current × base on, and falls below it
 * under (current - 1) × base. +Inf when already at --max-containers, 0 at --min-containers.
 */
export function scaleThresholds (current: number, limits: ScaleLimits): { up: number, down: number } {
  const base = limits.baseScaleCount
  return {
    up: current >= limits.maxContainers ? Number.POSITIVE_INFINITY : Math.max(1, current) * base,
    down: current <= limits.minContainers ? 0 : (current - 1) * base
  }
}

/**
 * Control-plane metrics, read at scrape time from the fleet's counters and the autoscaler's last
 * tick (prom-client's `collect()`), registered beside the data plane's in the one registry.
 */
export function registerControlPlaneMetrics (registry: Registry, counters: FleetCounters, autoscaler: () => AutoscalerSnapshot, phases: () => ReadonlyMap<Phase, number>, limits: ScaleLimits): void {
  const registers = [registry]
  const fromMap = (metric: Counter<string>, label: string, map: ReadonlyMap<string, number>): void => {
    metric.reset()
    for (const [key, value] of map) metric.inc({ [label]: key }, value)
  }
  const total = (metric: Counter<string>, value: number): void => {
    metric.reset()
    metric.inc(value)
  }
  // Each metric registers itself in `registers` and is read through its collect(); nothing else
  // holds the object, so `new` is used for its effect alone.
  /* eslint-disable no-new */
  new Counter({
    name: 'symphony_replacements_total',
    help: 'Replicas replaced on their port, by reason (health-status, health-timeout, health-refused, exit-kill, exit-die, exit-oom, exit-node-down, node-suspected, start-timeout, missing, exited).',
    labelNames: ['reason'],
    registers,
    collect () {
      // Every known reason is exported from the start (at 0), so queries and alerts on a
      // reason have a series before the first replacement of that kind.
      this.reset()
      for (const reason of replacementReasons) this.inc({ reason }, counters.replacements.get(reason) ?? 0)
      for (const [reason, n] of counters.replacements) if (!replacementReasons.includes(reason)) this.inc({ reason }, n)
    }
  })
  new Counter({ name: 'symphony_replacement_backoffs_total', help: 'Replacements delayed because the replica on that port keeps failing.', registers, collect () { total(this, counters.backoffs) } })
  new Counter({ name: 'symphony_ports_skipped_total', help: 'Host ports passed over because something else held them.', registers, collect () { total(this, counters.portsSkipped) } })
  new Counter({ name: 'symphony_replicas_adopted_total', help: 'Running replicas taken over at start-up or after a reconnect.', registers, collect () { total(this, counters.adopted) } })
  new Counter({ name: 'symphony_runtime_disconnects_total', help: 'Times the connection to the Docker engine was lost.', registers, collect () { total(this, counters.disconnects) } })
  new Counter({
    name: 'symphony_runtime_errors_total',
    help: 'Failed runtime calls (retried on a later tick), by operation.',
    labelNames: ['op'],
    registers,
    collect () { fromMap(this, 'op', counters.runtimeErrors) }
  })
  new Counter({
    name: 'symphony_scale_events_total',
    help: 'Autoscaler decisions that changed the replica count, by direction.',
    labelNames: ['direction'],
    registers,
    collect () {
      const a = autoscaler()
      this.reset()
      this.inc({ direction: 'up' }, a.scaleUps)
      this.inc({ direction: 'down' }, a.scaleDowns)
    }
  })
  new Gauge({ name: 'symphony_window_requests', help: 'Requests counted in the autoscaler\'s sliding window.', registers, collect () { this.set(autoscaler().count) } })
  new Gauge({ name: 'symphony_replicas_desired', help: 'Replicas the autoscaler wants (clamped formula).', registers, collect () { this.set(autoscaler().desired) } })
  new Gauge({ name: 'symphony_replicas_current', help: 'Replicas serving or on their way.', registers, collect () { this.set(autoscaler().current) } })
  new Gauge({
    name: 'symphony_replicas',
    help: 'Replicas by phase: launching, starting (not yet healthy), ready (in rotation), stopping and waiting (being replaced), draining and removing (leaving).',
    labelNames: ['phase'],
    registers,
    collect () {
      this.reset()
      for (const [phase, n] of phases()) this.set({ phase }, n)
    }
  })
  new Gauge({ name: 'symphony_scale_up_threshold_requests', help: 'Requests in the window from which one more replica is wanted (+Inf at --max-containers).', registers, collect () { this.set(scaleThresholds(autoscaler().current, limits).up) } })
  new Gauge({ name: 'symphony_scale_down_threshold_requests', help: 'Requests in the window below which one replica fewer is wanted, held for a whole window (0 at --min-containers).', registers, collect () { this.set(scaleThresholds(autoscaler().current, limits).down) } })
  registry.registerMetric(new SnapshotMetric('symphony_replica_start_to_healthy_seconds', 'Time from a replica\'s start to its first passing health check.', 'histogram', () =>
    histogramValues('symphony_replica_start_to_healthy_seconds', startToHealthyBounds, counters.startToHealthy, counters.startToHealthySum)) as never)
  /* eslint-enable no-new */
}
