import type { Config } from '../config/types'
import type { ProxyWorkers } from '../gateway/proxy-threads'
import type { Logger } from '../log'
import type { CertificateSet } from '../tls/certificate-set'

/** What the signal handlers act on: a started gateway. */
export interface Stoppable {
  readonly workers: ProxyWorkers
  readonly certificates: CertificateSet | null
  stop (): Promise<void>
}

/**
 * The last start-up step, for the CLI only: SIGINT/SIGTERM drain and exit 0 (a second one closes
 * every connection and exits 1); an uncaught error closes the workers and exits 70. Returns that
 * first-signal path, which a takeover's drain step takes too.
 */
export function wireSignals (gateway: Stoppable, config: Config, log: Logger): (reason: NodeJS.Signals | 'takeover') => void {
  let signalled = false
  let forced = false
  const onSignal = (signal: NodeJS.Signals | 'takeover'): void => {
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
  // logrotate's `postrotate kill -HUP` (docs/logs.md), and a certificate reload (docs/https.md).
  // Only with a file to reopen or certificates to reload: otherwise SIGHUP keeps its default,
  // ending the process, as before either existed.
  const reopen = config.accessLog !== null && config.accessLog !== '-'
  const certificates = gateway.certificates
  if (reopen || certificates !== null) {
    process.on('SIGHUP', () => {
      if (reopen) {
        log.info('SIGHUP: reopening the access log', { path: config.accessLog })
        gateway.workers.reopenAccessLog()
      }
      certificates?.reload('SIGHUP')
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
  // A hand-over's end (src/takeover/handover.ts) stops and exits as a first signal does.
  return onSignal
}
