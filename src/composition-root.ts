import type { Config } from './config/types'
import { proxySettings } from './config/proxy-settings'
import { createLogger, resolveLogFormat, type Logger } from './log'
import { createTableBuffer } from './table/layout'
import { TableWriter } from './table/writer'
import { ProxyWorkers } from './gateway/proxy-threads'
import { ClientConnections, CONNECTION_COUNT_MAX_AGE_MS, ConnectionLimit } from './gateway/connection-limit'
import { HealthChecker, type StatusSink } from './health/checker'
import { StaticFleet } from './fleet/static'
import { ContainerFleet, waitUntilServing } from './fleet/containers'
import { registerControlPlaneMetrics } from './fleet/metrics'
import { AutoscalerLoop, type AutoscalerSnapshot } from './autoscaler/loop'
import { CounterSampler } from './metrics/sampler'
import { createRegistry } from './metrics/registry'
import { accessLogMetrics } from './metrics/access-log'
import { checkAccessLogFile } from './gateway/access-log-file'
import { AdminServer } from './admin/server'
import { WorkerLiveness } from './admin/liveness'
import { statusDocument, type ConnectionsStatus, type ControlPlaneStatus } from './admin/status'
import { DockerRuntime } from './runtime/docker'
import { ProcessRuntime } from './runtime/process'
import { SwarmRuntime } from './runtime/swarm'
import { slotServiceName } from './runtime/swarm-spec'
import type { Runtime } from './runtime/types'

/** A running gateway: what `run()` drives and what in-process tests hold. */
export interface Gateway {
  readonly port: number
  readonly adminPort: number
  readonly table: TableWriter
  readonly sampler: CounterSampler
  readonly workers: ProxyWorkers
  /** The replicas, with --image or --runtime process; null with static backends. */
  readonly fleet: ContainerFleet | null
  /** Drain (bounded by --drain-timeout) and release everything. Idempotent. */
  stop (): Promise<void>
}

/** How long start-up waits for a first healthy replica before listening anyway (503 until then). */
const FIRST_HEALTHY_WAIT_MS = 30_000

/** The runtime the configuration asks for, or null for static backends. */
function createRuntime (config: Config, log: Logger): Runtime | null {
  if (config.runtime === 'process') {
    return new ProcessRuntime({ service: config.service, env: config.env, command: config.command ?? '' })
  }
  if (config.image === null) return null
  if (config.runtime === 'swarm') {
    // checkConfig() guarantees --network with --runtime swarm.
    return new SwarmRuntime({ ...config, image: config.image, network: config.network ?? '' })
  }
  // The engine address comes from DOCKER_HOST or the default socket, as with the docker CLI.
  return new DockerRuntime({ ...config, image: config.image }, { log })
}

/**
 * Wire and start everything. On a failure part-way, whatever was started is closed again before
 * the error propagates, so a failed start leaves nothing behind (replicas already started stay,
 * as on a stop: the next start adopts them).
 */
export async function startGateway (config: Config, log: Logger = processLogger(config)): Promise<Gateway> {
  // A user's mistake, found before anything is started (AccessLogError, exit 7).
  checkAccessLogFile(config.accessLog)
  const runtime = createRuntime(config, log)
  if (runtime !== null) {
    try {
      // DockerUnavailableError / ImageUnavailableError: the CLI prints them as one line.
      await runtime.init()
    } catch (err) {
      await runtime.close().catch(() => {})
      throw err
    }
  }
  const sab = createTableBuffer()
  const table = new TableWriter(sab)
  const sampler = new CounterSampler(sab)
  let fleet: ContainerFleet | null = null
  let loop: AutoscalerLoop | null = null
  let sink: StatusSink
  if (runtime === null) {
    sink = new StaticFleet(config.backends, table, log)
  } else {
    fleet = new ContainerFleet({ runtime, table, log, basePort: config.basePort, drainTimeoutMs: config.drainTimeoutMs })
    loop = new AutoscalerLoop({
      source: sampler,
      target: fleet,
      params: { baseScaleCount: config.baseScaleCount, minContainers: config.minContainers, maxContainers: config.maxContainers, windowMs: config.windowMs },
      log
    })
    sink = fleet
  }
  const health = new HealthChecker({
    intervalMs: config.faultIntervalMs, timeoutMs: config.healthTimeoutMs, path: config.healthPath, unhealthyThreshold: config.unhealthyThreshold, log
  }, sink)
  const workers = new ProxyWorkers({ sab, settings: proxySettings(config), log })
  // Both need the bound port, known once the workers listen.
  let connections: ClientConnections | null = null
  let limit: ConnectionLimit | null = null
  const connectionsStatus = (): ConnectionsStatus | null => connections === null
    ? null
    : { clients: connections.recentCount(CONNECTION_COUNT_MAX_AGE_MS), limit: config.maxConnections, accepting: limit?.accepting ?? true }
  // Static backends keep their slot for life; replicas sit in slot = host port - base port.
  const staticLabels = new Map<number, string>()
  for (const v of table.slots()) staticLabels.set(v.slot, String(v.port))
  const registry = createRegistry({
    sampler,
    table,
    threads: config.threads,
    // Swarm replicas have no host port: their label is their service's name (`<service>-<slot>`).
    backendLabel: (slot) => fleet === null
      ? staticLabels.get(slot) ?? null
      : config.runtime === 'swarm' ? slotServiceName(config.service, slot) : String(config.basePort + slot),
    knownSlots: () => fleet !== null ? fleet.knownSlots() : [...staticLabels.keys()],
    workerRestarts: () => workers.restarts,
    workerStartFailures: () => workers.startFailures,
    workerThreadsServing: () => workers.serving(),
    healthChecks: () => health.results,
    toleratedHealthTimeouts: () => health.toleratedTimeouts,
    clientConnections: () => connections?.recentCount(CONNECTION_COUNT_MAX_AGE_MS) ?? 0,
    connectionLimit: config.maxConnections,
    acceptPauses: () => limit?.pauses ?? 0
  })
  for (const m of accessLogMetrics(sampler)) registry.registerMetric(m as never)
  let control: ControlPlaneStatus | null = null
  if (fleet !== null && loop !== null) {
    const f = fleet
    const l = loop
    // The last decision's numbers, with the replica counts as they are now rather than then.
    const autoscaler = (): AutoscalerSnapshot => {
      const { running, starting } = f.counts()
      return { ...l.snapshot(), running, starting, current: running + starting }
    }
    registerControlPlaneMetrics(registry, f.counters, autoscaler, () => f.phases(), config)
    control = {
      replica: (slot) => f.describe(slot),
      autoscaler,
      counters: () => f.counters.toJSON(),
      connected: () => f.connected,
      ...(runtime instanceof DockerRuntime ? { upstream: () => runtime.upstream } : {})
    }
  }
  const admin = new AdminServer({
    '/metrics': async () => ({ status: 200, type: registry.contentType, body: await registry.metrics() }),
    '/status': () => ({
      status: 200,
      type: 'application/json',
      body: JSON.stringify(statusDocument(table, config, control, connectionsStatus(), { healthTimeouts: (slot, id) => health.timeoutsInARow(slot, id), timeoutsTolerated: () => health.toleratedTimeouts },
        { configured: config.threads, serving: workers.serving(), restarts: workers.restarts, startFailures: workers.startFailures }))
    }),
    '/healthz': () => {
      const stale = liveness.stale(Date.now())
      return stale.length === 0
        ? { status: 200, type: 'application/json', body: '{"status":"ok"}' }
        : { status: 503, type: 'application/json', body: JSON.stringify({ status: 'proxy workers not turning', workers: stale }) }
    },
    '/readyz': () => {
      const ready = table.slots().some((v) => v.state === 2)
      return { status: ready ? 200 : 503, type: 'application/json', body: JSON.stringify({ status: ready ? 'ready' : 'no healthy backend' }) }
    }
  }, config.adminToken)
  // Sample the wrapping u32 counters every second so they can never wrap unseen.
  const liveness = new WorkerLiveness(sab, config.threads)
  const sampleTimer = setInterval(() => { sampler.sample(); liveness.stale(Date.now()) }, 1000)
  sampleTimer.unref()

  let stopped: Promise<void> | null = null
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      clearInterval(sampleTimer)
      // Before the drain, so nothing asks the workers to listen again once it began.
      limit?.close()
      await loop?.close()
      await workers.drain(config.drainTimeoutMs)
      await Promise.all([health.close(), admin.close()])
      // Replica processes are stopped on every clean stop, --cleanup-on-exit or not: no engine
      // keeps them, and a stopped gateway should not leave bare processes behind it. The next
      // start can still adopt processes (src/runtime/orphans.ts finds them through /proc), but
      // only those a crash or SIGKILL left. Containers stay for adoption unless --cleanup-on-exit.
      await fleet?.close({ cleanup: config.cleanupOnExit || runtime?.kind === 'process' })
      await runtime?.close()
      await workers.close()
    })()
    return stopped
  }

  try {
    if (fleet !== null && loop !== null) {
      await fleet.start()
      // The first tick starts replicas up to --min-containers.
      await loop.start()
      health.start()
      if (!await waitUntilServing(fleet, () => health.checkNow(), FIRST_HEALTHY_WAIT_MS)) {
        log.warn('no replica healthy yet; listening anyway (503 until one is)', { waitedMs: FIRST_HEALTHY_WAIT_MS })
      }
    } else {
      // First health round before accepting traffic, so healthy backends serve from the first request.
      await health.checkNow()
      health.start()
    }
    const adminPort = await admin.listen(config.adminHost, config.adminPort)
    const port = await workers.start()
    connections = new ClientConnections(config.host, port)
    if (config.maxConnections > 0) {
      limit = new ConnectionLimit({ limit: config.maxConnections, connections, gate: workers, log })
      limit.start()
    }
    if (config.adminToken !== null) log.info('admin API requires a bearer token (--admin-token) on /metrics and /status', { adminHost: config.adminHost })
    log.info('symphony listening', {
      port,
      host: config.host,
      adminPort,
      adminHost: config.adminHost,
      threads: config.threads,
      maxConnections: config.maxConnections,
      ...(fleet !== null ? { runtime: runtime?.kind, service: config.service, replicas: fleet.counts() } : { backends: config.backends.length }),
      ...(runtime instanceof DockerRuntime ? { upstream: runtime.upstream?.mode ?? 'undecided' } : {})
    })
    return { port, adminPort, table, sampler, workers, fleet, stop }
  } catch (err) {
    await stop().catch(() => {})
    throw err
  }
}

/** The process's logger: stdout, in --log-format (auto: pretty on a terminal, JSON lines elsewhere). */
function processLogger (config: Config): Logger {
  return createLogger(config.logLevel, (line) => process.stdout.write(line), resolveLogFormat(config.logFormat, process.stdout.isTTY === true))
}

/** The CLI's entry after config: start, then drain and exit 0 on SIGINT/SIGTERM. */
export async function run (config: Config): Promise<void> {
  const log = processLogger(config)
  const gateway = await startGateway(config, log)
  let signalled = false
  let forced = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (forced) return
    if (signalled) {
      forced = true
      log.warn('second signal: closing every connection and exiting without waiting for the drain', { signal })
      // Containers stay as they are (even with --cleanup-on-exit): the next start adopts them.
      gateway.workers.closeNow(2000).finally(() => process.exit(1))
      return
    }
    signalled = true
    log.info('shutting down: draining in-flight requests', { signal, drainTimeoutMs: config.drainTimeoutMs })
    gateway.stop().then(() => {
      if (forced) return // the second signal's exit(1) stands
      log.info('stopped')
      process.exit(0)
    }, (err: Error) => {
      if (forced) return
      log.error('error while stopping', { error: err.message })
      process.exit(1)
    })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  // logrotate's `postrotate kill -HUP` (docs/logs.md). Only with a file to reopen: otherwise
  // SIGHUP keeps its default, ending the process, as before --access-log existed.
  if (config.accessLog !== null && config.accessLog !== '-') {
    process.on('SIGHUP', () => {
      log.info('SIGHUP: reopening the access log', { path: config.accessLog })
      gateway.workers.reopenAccessLog()
    })
  }
  // A bug in the main thread must not take the process down while uWS sockets are open in the
  // workers (that aborts with a native assertion): close the workers first, then exit 70.
  const onFatal = (err: unknown): void => {
    log.error('internal error; closing the workers and exiting', { error: err instanceof Error ? err.stack : String(err) })
    const hardExit = setTimeout(() => process.exit(70), 5000)
    hardExit.unref()
    gateway.workers.close().finally(() => process.exit(70))
  }
  process.on('uncaughtException', onFatal)
  process.on('unhandledRejection', onFatal)
}
