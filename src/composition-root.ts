import type { Config } from './config/types'
import { proxySettings } from './config/proxy-settings'
import { createLogger, resolveLogFormat, type Logger } from './log'
import type { TableWriter } from './table/writer'
import { ProxyWorkers } from './gateway/proxy-threads'
import type { ContainerFleet } from './fleet/containers'
import type { RolloutController } from './rollout/controller'
import type { MainIdleRelease } from './memory/idle-release'
import type { CounterSampler } from './metrics/sampler'
import type { AdminServer } from './admin/server'
import { DockerRuntime } from './runtime/docker'
import { openRuntime } from './startup/runtime'
import { openTable } from './startup/table'
import { createBackends, startBackends } from './startup/fleet'
import { createAdmin, type AdminSources } from './startup/admin'
import { Clients, startThreads } from './startup/threads'
import { wireSignals } from './startup/signals'
import { loadUws } from './uws/load'
import { checkAccessLogFile } from './gateway/access-log-file'
import { openTls } from './startup/tls'
import type { CertificateSet } from './tls/certificate-set'
import { openAcme, prepareAcme } from './startup/acme'
import type { AcmeManager } from './tls/acme/manager'
import { ControlPlane } from './control/plane'
import { createHandover, createLease, createTakeover, listenAndLease } from './startup/lease'
import type { Handover } from './takeover/handover'

/** A running gateway: what `run()` drives and what in-process tests hold. */
export interface Gateway {
  readonly port: number
  readonly adminPort: number
  readonly table: TableWriter
  readonly sampler: CounterSampler
  /** The main thread's idle release (src/memory/idle-release.ts): its count of releases. */
  readonly idleRelease: MainIdleRelease
  readonly workers: ProxyWorkers
  /** The replicas, with --image or --runtime process; null with static backends. */
  readonly fleet: ContainerFleet | null
  /** With --tls-cert: the certificates served (add a pair with `add`, reload with `reload`); null for plain HTTP. */
  readonly certificates: CertificateSet | null
  /** With --acme-domain: the ACME manager (its names' states and order counts); null without. */
  readonly acme: AcmeManager | null
  /** The bound --http-port, or null without one. */
  readonly httpPort: number | null
  /** Rollouts of the replicas (null with static backends). */
  readonly rollouts: RolloutController | null
  /** The /takeover route's state: set its onDrain to what a hand-over ends with (run() exits 0). */
  readonly handover: Handover | null
  /** Drain (bounded by --drain-timeout) and release everything. Idempotent. */
  stop (): Promise<void>
}

/** The parts a stop releases, in the order it releases them. */
interface Parts extends Omit<AdminSources, 'runtimeStatus' | 'listening'> {
  readonly admin: AdminServer
  readonly log: Logger
}

/**
 * Wire and start everything, in named steps (src/startup/): open the runtime, build the control
 * plane and the service's lease, open the shared table, build the backends (fleet, autoscaler,
 * health), the threads and the admin listener, then listen on the admin port and take the lease,
 * start the backends, and start the threads. On a failure part-way, whatever was started is
 * closed again before the error propagates, so a failed start leaves nothing behind (replicas
 * already started stay, as on a stop: the next start adopts them).
 */
export async function startGateway (config: Config, log: Logger = processLogger(config)): Promise<Gateway> {
  // Before Docker or any thread: UnsupportedRuntimeError where no native uWS build loads (the
  // CLI has asked already; this covers in-process starts).
  const runtimeStatus = { node: process.version, uws: loadUws().runtime.build }
  // A user's mistake, found before anything is started (AccessLogError, exit 8).
  checkAccessLogFile(config.accessLog)
  // --state-dir, before anything is started (StateDirError, exit 11).
  const acmeParts = openAcme(config)
  // CertificateFileError (exit 9) or CertificateKeyMismatchError (exit 10), before anything starts.
  const tls = openTls(config, log, acmeParts?.challengeDir ?? null)
  // ACME's pairs (stored, or placeholders) join the set before the threads load it; orders wait
  // until --http-port listens (acme.begin() below).
  const acme = acmeParts === null || tls === null ? null : await prepareAcme(config, acmeParts, tls.certificates, log).catch((err) => { tls.certificates.close(); throw err })
  const runtime = await openRuntime(config, log).catch((err) => { tls?.certificates.close(); throw err })
  const plane = new ControlPlane()
  const lease = createLease(config, runtime, plane, log)
  const shared = openTable(config.threads)
  const backends = createBackends(config, runtime, shared, plane, log)
  const workers = new ProxyWorkers({ sab: shared.sab, settings: proxySettings(config), log, tls: tls?.threads() ?? null })
  const certificates = tls?.certificates ?? null
  if (certificates !== null) certificates.onChange = (c) => { workers.setCertificates(c) }
  const clients = new Clients(config)
  let adminPort = 0
  let listening = false
  const handover = createHandover(config, lease, backends.loop, plane, log, () => adminPort, runtime)
  const admin = createAdmin({ config, runtime, shared, backends, workers, clients, plane, lease, handover, runtimeStatus, certificates, acme, listening: () => listening })
  const parts: Parts = { config, runtime, shared, backends, workers, clients, admin, plane, lease, handover, log, certificates, acme }
  let stopped: Promise<void> | null = null
  const stop = (): Promise<void> => { stopped ??= stopInOrder(parts); return stopped }
  if (handover !== null) handover.onDrain = () => { void stop() }
  try {
    const takeover = createTakeover(config, lease, backends.loop, log)
    // Before anything is adopted or started: LeaseHeldError (exit 20) when another instance
    // controls the service; with --takeover, TakeoverError (exit 21) when it does not hand over.
    adminPort = await listenAndLease(admin, config, lease, takeover, runtime)
    await startBackends(backends, log)
    const port = await startThreads(workers, clients, log)
    listening = true
    shared.liveness.started(Date.now())
    acme?.begin()
    // Only now that this instance listens (SO_REUSEPORT, beside the old one) may the old one drain.
    await takeover?.finish()
    announce(parts, port, adminPort, log)
    return { port, adminPort, table: shared.table, sampler: shared.sampler, idleRelease: shared.idleRelease, workers, fleet: backends.fleet, certificates, acme, httpPort: workers.httpPort, rollouts: backends.rollouts, handover, stop }
  } catch (err) {
    await stop().catch(() => {})
    throw err
  }
}

/** Drain and release everything, each part after what depends on it. */
async function stopInOrder ({ config, runtime, shared, backends: { fleet, loop, rollouts, health }, workers, clients, admin, plane, lease, handover, log, certificates, acme }: Parts): Promise<void> {
  // A hand-over's drain: the replicas are the new instance's now, --cleanup-on-exit or not.
  const handedOver = plane.state === 'handing-over'
  handover?.close()
  // First of all: from here on nothing is re-created, scaled or replaced (issue 23), even if
  // replicas vanish during the drain (a `docker stack rm` removing them under us).
  // (Not said by an instance refused for the lease: it never controlled anything.)
  if (plane.transition('stopping') && fleet !== null && (lease === null || lease.held !== null)) log.info('control plane stopping: nothing is re-created, scaled or replaced from here on', { event: 'plane', state: plane.state })
  shared.close()
  // No order is started once stopping (one in flight finishes unseen).
  acme?.close()
  // No reload once stopping; the private copies go (threads loaded theirs long ago).
  certificates?.close()
  // Before the drain, so nothing asks the workers to listen again once it began.
  clients.close()
  // A rollout stops where it is: each slot keeps its one replica (docs/deploy.md#stopping).
  await rollouts?.close()
  await loop?.close()
  await workers.drain(config.drainTimeoutMs)
  await Promise.all([health.close(), admin.close()])
  // Replica processes are stopped on every clean stop, --cleanup-on-exit or not: no engine
  // keeps them, and a stopped gateway should not leave bare processes behind it. The next
  // start can still adopt processes (src/runtime/orphans.ts finds them through /proc), but
  // only those a crash or SIGKILL left. Containers stay for adoption unless --cleanup-on-exit.
  await fleet?.close({ cleanup: !handedOver && (config.cleanupOnExit || runtime?.kind === 'process') })
  // Last, once nothing acts on the fleet any more: the next instance may take over at once.
  await lease?.release()
  await runtime?.close()
  await workers.close()
}

/** The start-up's last log lines: where it listens and what it serves. */
function announce (parts: Parts, port: number, adminPort: number, log: Logger): void {
  const { config, runtime, backends: { fleet } } = parts
  if (config.adminToken !== null) log.info('admin API requires a bearer token (--admin-token) on /metrics and /status', { adminHost: config.adminHost })
  log.info('symphony listening', {
    port,
    host: config.host,
    scheme: parts.certificates !== null ? 'https' : 'http',
    ...(config.acmeDomains.length > 0 ? { acmeDomains: config.acmeDomains } : {}),
    ...(config.httpPort !== null ? { httpPort: parts.workers.httpPort } : {}),
    adminPort,
    adminHost: config.adminHost,
    threads: config.threads,
    maxConnections: config.maxConnections,
    ...(fleet !== null ? { runtime: runtime?.kind, service: config.service, replicas: fleet.counts() } : { backends: config.backends.length }),
    ...(runtime instanceof DockerRuntime ? { upstream: runtime.upstream?.mode ?? 'undecided' } : {})
  })
}

/** The process's logger: stdout, in --log-format (auto: pretty on a terminal, JSON lines elsewhere). */
function processLogger (config: Config): Logger {
  return createLogger(config.logLevel, (line) => process.stdout.write(line), resolveLogFormat(config.logFormat, process.stdout.isTTY === true))
}

/** The CLI's entry after config: start, then drain and exit 0 on SIGINT/SIGTERM. */
export async function run (config: Config): Promise<void> {
  const log = processLogger(config)
  const gateway = await startGateway(config, log)
  const stopAndExit = wireSignals(gateway, config, log)
  if (gateway.handover !== null) gateway.handover.onDrain = () => { stopAndExit('takeover') }
}
