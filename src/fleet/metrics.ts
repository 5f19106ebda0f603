import { Counter, Gauge, type Registry } from 'prom-client'
import type { AutoscalerSnapshot } from '../autoscaler/loop'
import type { FleetCounters } from './counters'

/**
 * Control-plane metrics, read at scrape time from the fleet's counters and the autoscaler's last
 * tick (prom-client's `collect()`), registered beside the data plane's in the one registry.
 */
export function registerControlPlaneMetrics (registry: Registry, counters: FleetCounters, autoscaler: () => AutoscalerSnapshot): void {
  const registers = [registry]
  const fromMap = (metric: Counter<string>, label: string, map: ReadonlyMap<string, number>): void => {
    metric.reset()
    for (const [key, value] of map) metric.inc({ [label]: key }, value)
  }
  const total = (metric: Counter<string>, value: number): void => {
    metric.reset()
    metric.inc(value)
  }
  /* eslint-disable no-new */
  new Counter({
    name: 'symphony_replacements_total',
    help: 'Replicas replaced on their port, by reason (health-status, health-timeout, health-refused, exit-kill, exit-die, exit-oom, start-timeout, missing, exited).',
    labelNames: ['reason'],
    registers,
    collect () { fromMap(this, 'reason', counters.replacements) }
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
}
