/**
 * A proxy thread's entry: one uWebSockets.js App per thread, all listening on the same port.
 * Hosted by piscina as one long-lived `serve` task per thread (src/gateway/proxy-threads.ts).
 * It wires the thread's parts, each in its own module:
 *
 *   accept   src/worker/intake.ts     a request's head → an Exchange, or a gateway answer
 *   pick     src/table/reader.ts      round robin over the shared table
 *   forward  src/worker/exchange.ts   one request's states, upstream connections (upstream.ts)
 *   answer   src/worker/respond.ts    the gateway's own answers
 *   drain    src/worker/drain.ts      in-flight count, drain, close; listener.ts the listen socket
 *   log      src/worker/access-log.ts one line per finished request (--access-log), this thread's file
 *   idle     src/worker/idle-release.ts  full collections once the thread turns idle after serving
 *
 * Control messages arrive on the task's MessagePort: `drain` (stop accepting, finish in-flight
 * requests, then close), `close` (close now), `pause` and `resume` (close the listen socket and
 * listen again, for --max-connections; connections already open are served throughout), `reopen`
 * (open the access log file again by its name: the main thread's SIGHUP, for rotation). The
 * task's promise settles when the App is closed.
 */
import type { MessagePort } from 'node:worker_threads'
import { uWS, uwsRuntime } from '../uws'
import type { ProxySettings, ServedCertificate, ThreadTls } from '../config/types'
import { TableReader } from '../table/reader'
import { workerBase, W_HELD, W_HOLD_EXPIRED, W_HOLD_MS, W_CUT, W_TLS_SWAP_FAILED, errorReasonNames } from '../table/layout'
import { HoldQueue } from './holds'
import { SlowBodyWatch } from './slow-body'
import { RetryBudget } from './budget'
import { PoolSet } from './upstream'
import type { Exchange, ProxyContext } from './exchange'
import { Intake } from './intake'
import { Listener, type ClosableApp } from './listener'
import { ThreadLife } from './drain'
import { Ticker } from './ticker'
import { IdleRelease } from './idle-release'
import { log, logTo, type LogMessage } from './thread-log'
import { createAccessLog, type AccessLog } from './access-log'
import { createServingApp } from './tls-app'
import { resetClientCount } from './client-count'
import { createRedirectApp } from './redirect'

/** One thread's task: the proxy settings, with `port` the one every thread shares (never 0 here). */
export interface ServeTask extends ProxySettings {
  readonly sab: SharedArrayBuffer
  readonly workerIndex: number
  /** Start without listening: the gateway is at --max-connections (a replacement thread). */
  readonly paused: boolean
  readonly ctl: MessagePort
  /** HTTPS on `port` (and the redirect on `httpPort`), or null for plain HTTP. */
  readonly tls: ThreadTls | null
}

export type WorkerMessage =
  /** Serving: listening on `port`, or ready to listen there on `resume` when started paused. */
  | { type: 'started', port: number, httpPort: number | null }
  /**
   * A new listen socket on `port`, on a build that reads past a pause: the main thread limits its
   * receive buffer (src/gateway/receive-buffers.ts), which this thread cannot do itself.
   */
  | { type: 'listening', port: number }
  | { type: 'listen-failed', message: string }
  | { type: 'drained' }
  | LogMessage

// Once per thread: no `uWebSockets: 20` header on any answer, proxied or the gateway's own
// (issue #12). `_cfg` exists in the 20.30 build but not in its typings.
;(uWS as unknown as { _cfg?: (flags: string) => void })._cfg?.('silent')

/** Closes every App of this thread (set while serving), for the crash handler below. */
let closeApps: (() => void) | null = null

// An uncaught exception in a thread that still has uWS sockets on its loop aborts the whole
// process (uv_loop_close with open handles). Close the App, then end only this thread; the
// pool in the main thread starts a replacement.
process.on('uncaughtException', (err) => {
  try { log('error', 'proxy worker crashed', { error: err instanceof Error ? err.stack : String(err) }) } catch {}
  try { closeApps?.() } catch {}
  process.exit(1)
})

export default async function serve (task: ServeTask): Promise<string> {
  logTo(task.ctl)
  const reader = new TableReader(task.sab)
  const i32 = reader.i32
  const wbase = workerBase(task.workerIndex)
  const pools = new PoolSet(reader, task)
  const slowBodies = new SlowBodyWatch()
  const budget = new RetryBudget()
  const accessLog = createAccessLog(task, i32, wbase)
  const holds = new HoldQueue(task.queueLimit, task.queueTimeoutMs, () => reader.hasHealthy(), {
    held: () => { Atomics.add(i32, wbase + W_HELD, 1) },
    released: (waitedMs, expired) => {
      Atomics.add(i32, wbase + W_HOLD_MS, Math.round(waitedMs))
      if (expired) Atomics.add(i32, wbase + W_HOLD_EXPIRED, 1)
    }
  })
  const life: ThreadLife = new ThreadLife(async () => {
    listener.close()
    redirect?.close()
    ticker.close()
    holds.close()
    intake.flush()
    slowBodies.close()
    closeApps = null
    listener.closeApps()
    redirect?.closeApps()
    await pools.close()
    await accessLog.close()
  })
  const ctx: ProxyContext = {
    reader,
    pools,
    workerBase: wbase,
    maxBodySize: task.maxBodySize,
    holds,
    budget,
    onFinished: life.finished,
    life,
    accessLog,
    onCut: (ex: Exchange, reason: number) => {
      Atomics.add(i32, wbase + W_CUT + reason, 1)
      log('warn', 'answer cut short: the upstream failed mid-body, so the client connection was closed', {
        reason: errorReasonNames[reason], method: ex.method, path: ex.path, backend: ex.backendName, requestId: ex.requestId
      })
    }
  }
  const intake = new Intake(ctx, task, slowBodies, life)
  resetClientCount(i32, wbase)
  const listening = uwsRuntime.readsPastPause ? (port: number) => { task.ctl.postMessage({ type: 'listening', port } satisfies WorkerMessage) } : null
  const listener = new Listener(createServingApp(task.tls?.certificates ?? null, intake.onRequest, i32, wbase), task.host, task.port, task.paused, listening)
  let redirect: Listener | null = null
  closeApps = () => { listener.closeApps(); redirect?.closeApps() }
  const idle = new IdleRelease(i32, wbase, () => life.inFlight)
  const ticker = new Ticker(i32, wbase, {
    sweepPools: () => { pools.sweep() },
    sweepSlowBodies: (now) => { slowBodies.sweep(now) },
    refillBudget: () => { budget.refill() },
    retryListen: () => { listener.retry() },
    tickAccessLog: accessLog.tick,
    releaseWhenIdle: (now) => { idle.tick(now) }
  })
  task.ctl.on('message', (msg: ControlMessage) => {
    if (msg.type === 'tls') void swapCertificates(msg.certificates, listener, () => createServingApp(msg.certificates, intake.onRequest, i32, wbase), i32, wbase)
    else control(msg.type, listener, redirect, life, accessLog)
  })

  const port = await listener.open()
  if (port >= 0 && task.httpPort !== null && task.tls !== null) {
    redirect = new Listener(createRedirectApp({ httpsPort: port, acmeChallengeDir: task.tls.acmeChallengeDir, i32, wbase }), task.host, task.httpPort, false)
  }
  const httpPort = redirect === null ? null : await redirect.open()
  if (port < 0 || (httpPort !== null && httpPort < 0)) {
    const message = port < 0
      ? `cannot listen on ${task.host}:${task.port} (address in use or not available)`
      : `cannot listen on ${task.host}:${String(task.httpPort)} (--http-port: address in use or not available)`
    task.ctl.postMessage({ type: 'listen-failed', message } satisfies WorkerMessage)
    life.close()
    await life.closed
    return end(task.ctl, 'listen-failed')
  }
  task.ctl.postMessage({ type: 'started', port, httpPort } satisfies WorkerMessage)
  await life.closed
  task.ctl.postMessage({ type: 'drained' } satisfies WorkerMessage)
  return end(task.ctl, 'closed')
}

/** What the main thread sends on the task's port (src/gateway/proxy-threads.ts). */
export type ControlMessage =
  | { type: 'drain' | 'close' | 'pause' | 'resume' | 'reopen' | 'crash' }
  /** New certificates (a reload): new connections get them, open ones keep theirs. */
  | { type: 'tls', certificates: readonly ServedCertificate[] }

/**
 * A certificate reload: a new App with the new certificates takes over the listen socket. When it
 * cannot listen, the old certificates stay in use, said once and counted (W_TLS_SWAP_FAILED).
 */
async function swapCertificates (certificates: readonly ServedCertificate[], listener: Listener, build: () => ClosableApp, i32: Int32Array, wbase: number): Promise<void> {
  let next: ClosableApp
  try {
    next = build()
  } catch (err) {
    Atomics.add(i32, wbase + W_TLS_SWAP_FAILED, 1)
    log('error', 'proxy worker kept its old certificates: uWS refused the new ones', { error: err instanceof Error ? err.message : String(err), names: certificates.flatMap((c) => c.names) })
    return
  }
  if (!(await listener.swap(next))) {
    Atomics.add(i32, wbase + W_TLS_SWAP_FAILED, 1)
    log('error', 'proxy worker kept its old certificates: the new listener could not bind the port', { names: certificates.flatMap((c) => c.names) })
  }
}

/** A control message from the main thread (src/gateway/proxy-threads.ts). */
function control (type: string, listener: Listener, redirect: Listener | null, life: ThreadLife, accessLog: AccessLog): void {
  switch (type) {
    case 'reopen':
      accessLog.reopen()
      return
    case 'drain':
      listener.close()
      redirect?.close()
      life.drain()
      return
    case 'pause':
      listener.pause()
      return
    case 'resume':
      listener.resume()
      return
    case 'close':
      life.close()
      return
    case 'crash':
      // Test hook: the one failure no client or backend can cause (see test/gateway/lifecycle.test.ts).
      setImmediate(() => { throw new Error('crash requested by the main thread') })
  }
}

function end (ctl: MessagePort, how: string): string {
  logTo(null)
  ctl.close()
  return how
}
