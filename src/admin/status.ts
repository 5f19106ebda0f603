import type { AutoscalerSnapshot } from '../autoscaler/loop'
import { scaleThresholds } from '../fleet/metrics'
import type { Config } from '../config/types'
import { stateNames } from '../table/layout'
import { dialHost } from '../runtime/names'
import type { TableWriter } from '../table/writer'

/** What the control plane adds to /status (absent with static backends). */
export interface ControlPlaneStatus {
  /** The replica behind a slot. */
  readonly replica: (slot: number) => { id: string | null, name: string | null, node: string | null, phase: string, failures: number, image: string | null, current: boolean | null } | undefined
  readonly autoscaler: () => AutoscalerSnapshot
  readonly counters: () => unknown
  /** The rollout in progress, or the last one (null before the first). */
  readonly rollout: () => unknown
  /** Whether the runtime's event stream is connected. */
  readonly connected: () => boolean
  /** The control plane's state and since when (epoch ms), and the lease it holds (null: none). */
  readonly plane: () => { readonly state: string, readonly since: number, readonly lease: string | null }
  /** Docker only: direct to the containers' addresses or through published ports, and why (null: undecided). */
  readonly upstream?: () => { readonly mode: string, readonly reason: string } | null
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

/** Per-backend health detail for /status. */
export interface HealthStatus {
  /** Health-check timeouts in a row of the backend `id` in `slot` (below the threshold it stays). */
  readonly healthTimeouts?: (slot: number, id: number) => number
  /** Timeouts so far that did not fail their backend. */
  readonly timeoutsTolerated?: () => number
}

/** The proxy threads, for /status: whether every configured thread serves. */
export interface ThreadsStatus {
  /** --threads. */
  readonly configured: number
  /** Serving now (fewer while a thread is being brought back). */
  readonly serving: number
  /** Threads that died and were replaced. */
  readonly restarts: number
  /** Attempts to bring one back that failed before it served (retried with a backoff). */
  readonly startFailures: number
}

/** What symphony runs on, for /status (and --version): Node's version and the uWS build. */
export interface RuntimeStatus {
  /** `process.version`. */
  readonly node: string
  /** The native uWebSockets.js build every proxy thread loaded (src/uws/). */
  readonly uws: string
}

/** The `GET /status` document: what the gateway routes to right now, and why. */
export function statusDocument (table: TableWriter, config: Config, control: ControlPlaneStatus | null = null, connections: ConnectionsStatus | null = null, health: HealthStatus = {}, threads: ThreadsStatus | null = null, runtime: RuntimeStatus | null = null): unknown {
  const mode = config.runtime === 'process' ? 'process' : config.image === null ? 'static' : config.runtime
  const backends = table.slots().map((v) => {
    const r = control?.replica(v.slot)
    // Replicas are named by their published host port (slot = port - base port), whichever
    // address the proxy dials (`dial`: the container's own with the direct path).
    const published = control !== null && config.image !== null && config.runtime === 'docker'
    return {
      slot: v.slot,
      host: published ? dialHost(config.publishHost) : v.host,
      port: published ? config.basePort + v.slot : v.port,
      dial: `${v.host.includes(':') ? `[${v.host}]` : v.host}:${v.port}`,
      state: stateNames[v.state],
      suspect: table.isSuspect(v.slot),
      healthTimeouts: health.healthTimeouts?.(v.slot, v.id) ?? 0,
      inflight: table.inflight(v.slot),
      ...(control !== null ? { id: r?.id ?? null, name: r?.name ?? null, node: r?.node ?? null, phase: r?.phase ?? null, failures: r?.failures ?? 0, image: r?.image ?? null, current: r?.current ?? null } : {})
    }
  })
  const client = connections === null ? {} : { connections }
  const checks = { ...(runtime === null ? {} : { runtime }), health: { unhealthyThreshold: config.unhealthyThreshold, timeoutsTolerated: health.timeoutsTolerated?.() ?? 0 }, ...(threads === null ? {} : { threads }) }
  if (control === null) return { mode, backends, ...checks, ...client }
  const a = control.autoscaler()
  const base = config.baseScaleCount
  const t = scaleThresholds(a.current, config)
  return {
    mode,
    service: config.service,
    runtimeConnected: control.connected(),
    controlPlane: planeStatus(control),
    ...(control.upstream !== undefined ? { upstream: control.upstream() } : {}),
    backends,
    ...checks,
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
    counters: control.counters(),
    rollout: control.rollout()
  }
}

/** /status's `controlPlane`: `acting`, `stopping`, `lease-lost` or `handing-over`, since when, and the lease held. */
function planeStatus (control: ControlPlaneStatus): { state: string, since: string, lease: string | null } {
  const p = control.plane()
  return { state: p.state, since: new Date(p.since).toISOString(), lease: p.lease }
}
