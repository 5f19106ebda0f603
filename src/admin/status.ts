import type { AutoscalerSnapshot } from '../autoscaler/loop'
import { scaleThresholds } from '../fleet/metrics'
import type { Config } from '../config/types'
import { stateNames } from '../table/layout'
import type { TableWriter } from '../table/writer'

/** What the control plane adds to /status (absent with static backends). */
export interface ControlPlaneStatus {
  /** The replica behind a slot. */
  readonly replica: (slot: number) => { id: string | null, name: string | null, node: string | null, phase: string, failures: number } | undefined
  readonly autoscaler: () => AutoscalerSnapshot
  readonly counters: () => unknown
  /** Whether the runtime's event stream is connected. */
  readonly connected: () => boolean
}

/** The client side, for /status: the connection limit and whether new connections are taken. */
export interface ConnectionsStatus {
  /** Established client connections (a count up to a few seconds old). */
  readonly clients: number
  /** --max-connections in effect (0 = none). */
  readonly limit: number
  /** False while paused at the limit. */
  readonly accepting: boolean
}

/** The `GET /status` document: what the gateway routes to right now, and why. */
export function statusDocument (table: TableWriter, config: Config, control: ControlPlaneStatus | null = null, connections: ConnectionsStatus | null = null): unknown {
  const mode = config.runtime === 'process' ? 'process' : config.image === null ? 'static' : config.runtime
  const backends = table.slots().map((v) => {
    const r = control?.replica(v.slot)
    return {
      slot: v.slot,
      host: v.host,
      port: v.port,
      state: stateNames[v.state],
      suspect: table.isSuspect(v.slot),
      inflight: table.inflight(v.slot),
      ...(control !== null ? { id: r?.id ?? null, name: r?.name ?? null, node: r?.node ?? null, phase: r?.phase ?? null, failures: r?.failures ?? 0 } : {})
    }
  })
  const client = connections === null ? {} : { connections }
  if (control === null) return { mode, backends, ...client }
  const a = control.autoscaler()
  const base = config.baseScaleCount
  const t = scaleThresholds(a.current, config)
  return {
    mode,
    service: config.service,
    runtimeConnected: control.connected(),
    backends,
    ...client,
    autoscaler: {
      window: { seconds: a.windowSeconds, count: a.count },
      desired: a.desired,
      current: a.current,
      running: a.running,
      starting: a.starting,
      belowSince: a.belowSince === null ? null : new Date(a.belowSince).toISOString(),
      thresholds: {
        baseScaleCount: base,
        minContainers: config.minContainers,
        maxContainers: config.maxContainers,
        // null where no threshold applies (at --max-containers, at --min-containers).
        scaleUpAt: Number.isFinite(t.up) ? t.up : null,
        scaleDownBelow: a.current <= config.minContainers ? null : t.down
      },
      scaleUps: a.scaleUps,
      scaleDowns: a.scaleDowns
    },
    counters: control.counters()
  }
}
