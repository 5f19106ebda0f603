import type { Registry } from 'prom-client'
import { AdminServer } from '../admin/server'
import { statusDocument, type ControlPlaneStatus, type RuntimeStatus } from '../admin/status'
import type { AutoscalerSnapshot } from '../autoscaler/loop'
import type { Config } from '../config/types'
import { registerControlPlaneMetrics } from '../fleet/metrics'
import type { ProxyWorkers } from '../gateway/proxy-threads'
import { backendLabels } from '../metrics/backend-label'
import { createRegistry } from '../metrics/registry'
import { accessLogMetrics } from '../metrics/access-log'
import { tlsMetrics } from '../metrics/tls'
import { acmeMetrics } from '../metrics/acme'
import type { AcmeManager } from '../tls/acme/manager'
import type { CertificateSet } from '../tls/certificate-set'
import { DockerRuntime } from '../runtime/docker'
import type { Runtime } from '../runtime/types'
import { registerRolloutMetrics, rolloutRoute } from '../rollout/routes'
import type { Backends } from './fleet'
import type { SharedTable } from './table'
import type { Clients } from './threads'
import type { ControlPlane } from '../control/plane'
import { readiness } from '../admin/readiness'
import type { Lease } from '../lease/lease'
import type { Handover } from '../takeover/handover'

/** Everything the admin endpoints read. */
export interface AdminSources {
  readonly config: Config
  readonly runtime: Runtime | null
  readonly shared: SharedTable
  readonly backends: Backends
  readonly workers: ProxyWorkers
  readonly clients: Clients
  /** With --tls-cert: the certificates served (their expiry and reloads are metrics). */
  readonly certificates: CertificateSet | null
  /** With --acme-domain: the ACME manager (its orders are metrics). */
  readonly acme: AcmeManager | null
  readonly plane: ControlPlane
  /** The service's lease; null with static backends and --runtime process. */
  readonly lease: Lease | null
  /** The /takeover route's state (a newer instance started with --takeover); null without a lease. */
  readonly handover: Handover | null
  /** Which Node and which uWebSockets.js build serve (/status's `runtime`). */
  readonly runtimeStatus: RuntimeStatus
  /** Whether the proxy threads have bound the public port (set once start-up got there). */
  readonly listening: () => boolean
}

/** The Prometheus registry over the shared counters, the threads, health and the connection count. */
function metricsRegistry ({ config, shared, backends: { fleet, health }, workers, clients, certificates, acme }: AdminSources): Registry {
  const registry = createRegistry({
    sampler: shared.sampler,
    table: shared.table,
    threads: config.threads,
    backends: backendLabels(shared.table, fleet === null ? null : { runtime: config.runtime, service: config.service, basePort: config.basePort, knownSlots: fleet.knownSlots.bind(fleet) }),
    workerRestarts: () => workers.restarts,
    workerStartFailures: () => workers.startFailures,
    workerThreadsServing: () => workers.serving(),
    healthChecks: () => health.results,
    toleratedHealthTimeouts: () => health.toleratedTimeouts,
    clientConnections: () => clients.count(),
    connectionLimit: config.maxConnections,
    acceptPauses: () => clients.pauses
  })
  for (const m of accessLogMetrics(shared.sampler)) registry.registerMetric(m as never)
  if (certificates !== null) for (const m of tlsMetrics(shared.sampler, certificates)) registry.registerMetric(m as never)
  if (acme !== null) for (const m of acmeMetrics(acme)) registry.registerMetric(m as never)
  return registry
}

/**
 * The replicas' side of /status, with their metrics registered on `registry`; null with static
 * backends.
 */
function controlPlane ({ config, runtime, shared, backends: { fleet, loop, rollouts }, plane, lease }: AdminSources, registry: Registry): ControlPlaneStatus | null {
  if (fleet === null || loop === null || rollouts === null) return null
  // The last decision's numbers, with the replica counts as they are now rather than then.
  const autoscaler = (): AutoscalerSnapshot => {
    const { running, starting } = fleet.counts()
    return { ...loop.snapshot(), running, starting, current: running + starting }
  }
  registerControlPlaneMetrics(registry, fleet.counters, autoscaler, () => fleet.phases(), config)
  registerRolloutMetrics(registry, rollouts, shared.sampler)
  return {
    rollout: () => rollouts.status(),
    replica: (slot) => fleet.describe(slot),
    autoscaler,
    counters: () => fleet.counters.toJSON(),
    connected: () => fleet.connected,
    plane: () => ({ state: plane.state, since: plane.since, lease: lease !== null && lease.held !== null ? lease.describe : null }),
    ...(runtime instanceof DockerRuntime ? { upstream: () => runtime.upstream } : {})
  }
}

/** Start-up step 4: the admin listener's routes (/metrics, /status, /rollout, /takeover, /healthz, /readyz); not yet listening. */
export function createAdmin (sources: AdminSources): AdminServer {
  const { config, shared: { table, liveness }, backends: { health, rollouts }, workers, clients } = sources
  const registry = metricsRegistry(sources)
  const control = controlPlane(sources, registry)
  const json = (status: number, body: unknown): { status: number, type: string, body: string } =>
    ({ status, type: 'application/json', body: JSON.stringify(body) })
  return new AdminServer({
    '/metrics': async () => ({ status: 200, type: registry.contentType, body: await registry.metrics() }),
    '/status': () => json(200, statusDocument(table, config, control, clients.status(),
      { healthTimeouts: (slot, id) => health.timeoutsInARow(slot, id), timeoutsTolerated: () => health.toleratedTimeouts },
      { configured: config.threads, serving: workers.serving(), restarts: workers.restarts, startFailures: workers.startFailures }, sources.runtimeStatus)),
    '/rollout': rolloutRoute(rollouts),
    ...(sources.handover !== null ? { '/takeover': sources.handover.route() } : {}),
    '/healthz': () => {
      const stale = liveness.stale(Date.now())
      return stale.length === 0 ? json(200, { status: 'ok' }) : json(503, { status: 'proxy workers not turning', workers: stale })
    },
    '/readyz': () => {
      const r = readiness({ listening: sources.listening() && workers.serving() > 0, plane: sources.plane.state, healthyBackend: table.slots().some((v) => v.state === 2) })
      return json(r.ready ? 200 : 503, { status: r.status })
    }
  }, config.adminToken)
}
