/**
 * Proxy worker: one uWebSockets.js App per thread, all listening on the same port (uWS sets
 * SO_REUSEPORT, so the kernel spreads connections over the threads). Hosted by piscina as one
 * long-lived `serve` task per thread (src/gateway/proxy-threads.ts).
 *
 * Control messages arrive on the task's MessagePort: `drain` (stop accepting, finish in-flight
 * requests, then close), `close` (close now), `pause` and `resume` (close the listen socket and
 * listen again, for --max-connections; connections already open are served throughout). The
 * task's promise settles when the App is closed.
 */
import type { MessagePort } from 'node:worker_threads'
import { uWS } from '../uws'
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js'
import type { LogLevel, ProxySettings } from '../config/types'
import { TableReader } from '../table/reader'
import { workerBase, methodIndex, W_REQUESTS, W_LOOP_LAG_US, W_HEARTBEAT, W_HELD, W_HOLD_EXPIRED, W_HOLD_MS, NO_BACKEND } from '../table/layout'
import { HoldQueue } from './holds'
import { SlowBodyWatch } from './slow-body'
import { Refusals } from './refusals'
import { RetryBudget } from './budget'
import { recordResponse } from './record'
import { PoolSet } from './upstream'
import { Exchange, type ProxyContext } from './exchange'
import { isHopByHop, isChunked, connectionTokens, dropNamed, parseContentLength, clientAddress } from './headers'
import { Answers, type GatewayAnswer } from './respond'

/** One thread's task: the proxy settings, with `port` the one every thread shares (never 0 here). */
export interface ServeTask extends ProxySettings {
  readonly sab: SharedArrayBuffer
  readonly workerIndex: number
  /** Start without listening: the gateway is at --max-connections (a replacement thread). */
  readonly paused: boolean
  readonly ctl: MessagePort
}

export type WorkerMessage =
  /** Serving: listening on `port`, or ready to listen there on `resume` when started paused. */
  | { type: 'started', port: number }
  | { type: 'listen-failed', message: string }
  | { type: 'drained' }
  /** A log line, written by the main thread's logger with `worker` added (one stream, one format). */
  | { type: 'log', level: LogLevel, msg: string, fields?: Record<string, unknown> }

// Once per thread: no `uWebSockets: 20` header on any answer, proxied or the gateway's own
// (issue #12). `_cfg` exists in the 20.30 build but not in its typings.
;(uWS as unknown as { _cfg?: (flags: string) => void })._cfg?.('silent')

/** uWS App.close() exists at runtime in this build but is missing from its typings. */
type ClosableApp = TemplatedApp & { close: () => void }

let app: ClosableApp | null = null
/** This thread's control port, once its task began: where its log lines go. */
let ctl: MessagePort | null = null

/**
 * Log through the main thread's logger: a message on the control port, written there with this
 * thread's index, in the process's one format and stream, after the level filter. A message
 * posted just before the thread exits is still delivered.
 */
function log (level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
  if (ctl !== null) ctl.postMessage({ type: 'log', level, msg, fields } satisfies WorkerMessage)
  else process.stderr.write(`symphony proxy worker: ${msg} ${JSON.stringify(fields ?? {})}\n`)
}

// An uncaught exception in a thread that still has uWS sockets on its loop aborts the whole
// process (uv_loop_close with open handles). Close the App, then end only this thread; the
// pool in the main thread starts a replacement.
process.on('uncaughtException', (err) => {
  try { log('error', 'proxy worker crashed', { error: err instanceof Error ? err.stack : String(err) }) } catch {}
  try { app?.close() } catch {}
  process.exit(1)
})

export default async function serve (task: ServeTask): Promise<string> {
  ctl = task.ctl
  const reader = new TableReader(task.sab)
  const i32 = reader.i32
  const wbase = workerBase(task.workerIndex)
  const pools = new PoolSet(reader, task)
  let inflight = 0
  let draining = false
  let paused = task.paused
  let listenSocket: us_listen_socket | null = null
  /** The bound port, which `resume` listens on again. */
  let boundPort = task.port
  let relistenFailed = false
  let settle: () => void = () => {}
  const closed = new Promise<void>((resolve) => { settle = resolve })

  const holds = new HoldQueue(task.queueLimit, task.queueTimeoutMs, () => reader.hasHealthy(), {
    held: () => { Atomics.add(i32, wbase + W_HELD, 1) },
    released: (waitedMs, expired) => {
      Atomics.add(i32, wbase + W_HOLD_MS, Math.round(waitedMs))
      if (expired) Atomics.add(i32, wbase + W_HOLD_EXPIRED, 1)
    }
  })
  const budget = new RetryBudget()
  const slowBodies = new SlowBodyWatch()
  const ctx: ProxyContext = {
    reader,
    pools,
    workerBase: wbase,
    maxBodySize: task.maxBodySize,
    holds,
    budget,
    onFinished: () => {
      inflight--
      if (draining && inflight === 0) shutdownSoon()
    }
  }

  // Request headers are gathered by a module-level function into these, so that reading them
  // allocates no closure per request.
  let hdrs: string[] = []
  let contentLengths = 0
  let contentLength = -1
  let chunked = false
  let badTE = false
  let hostHeader = ''
  let xff = ''
  let connection = ''
  let headBytes = 0
  function collect (name: string, value: string): void {
    headBytes += name.length + value.length + 4 // "name: value\r\n"
    switch (name) {
      case 'content-length':
        contentLengths++
        contentLength = parseContentLength(value)
        hdrs.push(name, value)
        return
      case 'transfer-encoding':
        // uWS decodes exactly one coding, chunked; anything else could be read two ways. Only
        // HTTP's own whitespace (SP, HTAB) may surround it: trim() would also take \v and \f.
        if (chunked || !isChunked(value)) badTE = true
        else chunked = true
        return
      case 'host':
        hostHeader = value
        break
      case 'x-forwarded-for':
        xff = value
        return
      case 'x-forwarded-proto':
      case 'x-forwarded-host':
        return
      case 'connection':
        connection = value
        return
    }
    if (!isHopByHop(name)) hdrs.push(name, value)
  }

  function onRequest (res: HttpResponse, req: HttpRequest): void {
    Atomics.add(i32, wbase + W_REQUESTS, 1)
    const t0 = performance.now()
    const method = req.getCaseSensitiveMethod()
    const query = req.getQuery()
    const path = query === undefined || query === '' ? req.getUrl() : req.getUrl() + '?' + query
    hdrs = []
    contentLengths = 0
    contentLength = -1
    chunked = false
    badTE = false
    hostHeader = ''
    xff = ''
    connection = ''
    headBytes = method.length + path.length + 12 // "METHOD path HTTP/1.1\r\n"
    req.forEach(collect)
    const mi = methodIndex(method)

    let reject: GatewayAnswer | null = null
    if (headBytes > task.maxHeaderSize) reject = Answers.headersTooLarge
    else if (badTE || (chunked && contentLengths > 0)) reject = Answers.badFraming
    else if (contentLengths > 1 || (contentLengths === 1 && contentLength < 0)) reject = Answers.badContentLength
    else if (contentLength > task.maxBodySize) reject = Answers.bodyTooLarge
    if (reject !== null) {
      if (reject.close) refusals.refuse(res, reject, mi, t0)
      else answerNow(res, reject, mi, t0)
      return
    }

    const client = clientAddress(res)
    let headers = hdrs
    if (connection !== '') {
      const tokens = connectionTokens(connection)
      if (tokens !== null) headers = dropNamed(headers, tokens)
    }
    headers.push('x-forwarded-for', xff === '' ? client : xff + ', ' + client)
    headers.push('x-forwarded-proto', 'http')
    if (hostHeader !== '') headers.push('x-forwarded-host', hostHeader)

    // Small bodies of known size are gathered first so the request can be retried or held;
    // others stream with backpressure.
    const bodyPlan = chunked ? -1 : contentLength <= 0 ? 0 : contentLength <= task.replayBodyLimit ? contentLength : -1
    const ex = new Exchange(ctx, res, method, mi, path, headers, bodyPlan, t0)
    if (connection !== '' && /(^|,)\s*close\s*(,|$)/i.test(connection)) ex.clientClose = true
    inflight++
    budget.deposit()
    res.onAborted(() => ex.onClientAborted())
    if (bodyPlan !== 0) {
      const watched = slowBodies.start(ex, t0)
      res.onData((chunk, isLast) => {
        slowBodies.feed(watched, chunk.byteLength, isLast, performance.now())
        ex.onClientData(chunk, isLast)
      })
    }
    if (!ex.gathering) ex.start()
  }

  const refusals = new Refusals(answerNow, (a, mi, t0) => { recordResponse(i32, NO_BACKEND, mi, a.statusCode, wbase, t0) })

  /** Synchronous gateway answer, before any upstream work (still corked by uWS). */
  function answerNow (res: HttpResponse, a: GatewayAnswer, mi: number, t0: number): void {
    res.writeStatus(a.status)
    res.writeHeader('content-type', 'application/json')
    if (a.retryAfter > 0) res.writeHeader('retry-after', String(a.retryAfter))
    if (a.close) res.writeHeader('connection', 'close')
    res.end(a.body, a.close)
    recordResponse(i32, NO_BACKEND, mi, a.statusCode, wbase, t0)
  }

  /**
   * Close once the last response had a moment to flush. onFinished runs inside res.cork(), and
   * closing there would drop the corked bytes of the very response that just ended. Requests
   * that arrive meanwhile on open keep-alive connections are still served (and counted).
   */
  let shutdownTimer: NodeJS.Timeout | null = null
  function shutdownSoon (): void {
    if (shutdownTimer !== null) return
    shutdownTimer = setTimeout(() => {
      shutdownTimer = null
      if (inflight === 0) shutdown()
    }, 50)
  }

  function closeListenSocket (): void {
    if (listenSocket === null) return
    uWS.us_listen_socket_close(listenSocket)
    listenSocket = null
  }

  /**
   * Listen again after a pause, on the port every thread shares (SO_REUSEPORT). Never once a
   * drain began: a stopping gateway must keep refusing new connections.
   */
  function relisten (): void {
    if (paused || draining || app === null || listenSocket !== null) return
    app.listen(task.host, boundPort, (socket) => {
      if (socket !== false) {
        listenSocket = socket
        relistenFailed = false
        return
      }
      // `resume` could not listen again (someone took the port while it was free): said once,
      // retried every tick.
      if (!relistenFailed) {
        log('error', 'proxy worker cannot accept connections again; retrying every 0.5 s', { error: `cannot listen again on ${task.host}:${boundPort} (address in use or not available)` })
      }
      relistenFailed = true
    })
  }

  function shutdown (): void {
    if (app === null) return
    closeListenSocket()
    const a = app
    app = null
    clearInterval(tick)
    holds.close()
    refusals.flush()
    slowBodies.close()
    a.close()
    void pools.close().finally(settle)
  }

  // Maintenance tick: event-loop lag, heartbeat, and closing pools of departed backends.
  const TICK_MS = 500
  let last = performance.now()
  let ticks = 0
  const tick = setInterval(() => {
    const now = performance.now()
    const lag = Math.max(0, now - last - TICK_MS)
    last = now
    Atomics.store(i32, wbase + W_LOOP_LAG_US, Math.min(0x7fffffff, Math.round(lag * 1000)))
    Atomics.add(i32, wbase + W_HEARTBEAT, 1)
    pools.sweep()
    slowBodies.sweep(now)
    if (++ticks % 2 === 0) budget.refill()
    if (relistenFailed) relisten()
  }, TICK_MS)

  task.ctl.on('message', (msg: { type: string }) => {
    if (msg.type === 'drain') {
      draining = true
      closeListenSocket()
      if (inflight === 0) shutdownSoon()
    } else if (msg.type === 'pause') {
      paused = true
      closeListenSocket()
    } else if (msg.type === 'resume') {
      paused = false
      relisten()
    } else if (msg.type === 'close') {
      shutdown()
    } else if (msg.type === 'crash') {
      // Test hook: the one failure no client or backend can cause (see test/gateway/lifecycle.test.ts).
      setImmediate(() => { throw new Error('crash requested by the main thread') })
    }
  })

  app = uWS.App() as ClosableApp
  app.any('/*', onRequest)
  // A replacement started while the gateway is at its connection limit stays closed until
  // `resume`; ProxyWorkers resolved port 0 to a real port before the first thread started.
  const port = paused
    ? task.port
    : await new Promise<number>((resolve) => {
      (app as ClosableApp).listen(task.host, task.port, (socket) => {
        if (socket === false) return resolve(-1)
        listenSocket = socket
        resolve(uWS.us_socket_local_port(socket))
      })
    })
  if (port < 0) {
    const message = `cannot listen on ${task.host}:${task.port} (address in use or not available)`
    task.ctl.postMessage({ type: 'listen-failed', message } satisfies WorkerMessage)
    shutdown()
    await closed
    ctl = null
    task.ctl.close()
    return 'listen-failed'
  }
  boundPort = port
  task.ctl.postMessage({ type: 'started', port } satisfies WorkerMessage)
  await closed
  task.ctl.postMessage({ type: 'drained' } satisfies WorkerMessage)
  ctl = null
  task.ctl.close()
  return 'closed'
}
