import type { Config } from './config/types'
import { createLogger, type Logger } from './log'
import { createTableBuffer } from './table/layout'
import { TableWriter } from './table/writer'
import { ProxyWorkers } from './proxy/workers'
import { HealthChecker } from './health/checker'
import { StaticFleet } from './fleet/static'
import { CounterSampler } from './metrics/sampler'
import { createRegistry } from './metrics/registry'
import { AdminServer } from './admin/server'
import { statusDocument } from './admin/status'
import { ConfigError } from './errors'

/** A running gateway: what `run()` drives and what in-process tests hold. */
export interface Gateway {
  readonly port: number
  readonly adminPort: number
  readonly table: TableWriter
  readonly sampler: CounterSampler
  readonly workers: ProxyWorkers
  /** Drain (bounded by --drain-timeout) and release everything. Idempotent. */
  stop (): Promise<void>
}

/**
 * Wire and start everything. On a failure part-way, whatever was started is closed again before
 * the error propagates, so a failed start leaves nothing behind.
 */
export async function startGateway (config: Config, log: Logger = createLogger(config.logLevel)): Promise<Gateway> {
  if (config.image !== null) {
    throw new ConfigError('--image (the Docker control plane) is not available in this build yet; use --backend HOST:PORT')
  }
  const sab = createTableBuffer()
  const table = new TableWriter(sab)
  const sampler = new CounterSampler(sab)
  const fleet = new StaticFleet(config.backends, table, log)
  const health = new HealthChecker({ intervalMs: config.faultIntervalMs, timeoutMs: config.healthTimeoutMs, path: config.healthPath }, fleet)
  const workers = new ProxyWorkers({
    sab,
    threads: config.threads,
    host: config.host,
    port: config.port,
    connectTimeoutMs: config.connectTimeoutMs,
    responseTimeoutMs: config.responseTimeoutMs,
    maxBodySize: config.maxBodySize,
    log
  })
  const labels = new Map<number, string>()
  for (const v of table.slots()) labels.set(v.slot, String(v.port))
  const registry = createRegistry({
    sampler,
    table,
    threads: config.threads,
    backendLabel: (slot) => labels.get(slot) ?? null,
    knownSlots: () => [...labels.keys()],
    workerRestarts: () => workers.restarts
  })
  const admin = new AdminServer({
    '/metrics': async () => ({ status: 200, type: registry.contentType, body: await registry.metrics() }),
    '/status': () => ({ status: 200, type: 'application/json', body: JSON.stringify(statusDocument(table, config)) }),
    '/healthz': () => ({ status: 200, type: 'application/json', body: '{"status":"ok"}' }),
    '/readyz': () => {
      const ready = table.slots().some((v) => v.state === 2)
      return { status: ready ? 200 : 503, type: 'application/json', body: JSON.stringify({ status: ready ? 'ready' : 'no healthy backend' }) }
    }
  })
  // Sample the wrapping u32 counters every second so they can never wrap unseen.
  const sampleTimer = setInterval(() => sampler.sample(), 1000)
  sampleTimer.unref()

  let stopped: Promise<void> | null = null
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      clearInterval(sampleTimer)
      await workers.drain(config.drainTimeoutMs)
      await Promise.all([health.close(), admin.close()])
      await workers.close()
    })()
    return stopped
  }

  try {
    // First health round before accepting traffic, so healthy backends serve from the first request.
    await health.checkNow()
    health.start()
    const adminPort = await admin.listen(config.adminHost, config.adminPort)
    const port = await workers.start()
    log.info('symphony listening', { port, host: config.host, adminPort, adminHost: config.adminHost, threads: config.threads, backends: config.backends.length })
    return { port, adminPort, table, sampler, workers, stop }
  } catch (err) {
    await stop().catch(() => {})
    throw err
  }
}

/** The CLI's entry after config: start, then drain and exit 0 on SIGINT/SIGTERM. */
export async function run (config: Config): Promise<void> {
  const log = createLogger(config.logLevel)
  const gateway = await startGateway(config, log)
  let signalled = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      log.warn('second signal: exiting without waiting for the drain', { signal })
      process.exit(1)
    }
    signalled = true
    log.info('shutting down: draining in-flight requests', { signal, drainTimeoutMs: config.drainTimeoutMs })
    gateway.stop().then(() => {
      log.info('stopped')
      process.exit(0)
    }, (err: Error) => {
      log.error('error while stopping', { error: err.message })
      process.exit(1)
    })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
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
