import net from 'node:net'
import path from 'node:path'
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { ListenError } from '../errors'
import type { ProxySettings, ServedCertificate, ThreadTls } from '../config/types'
import type { Logger } from '../log'
import type { AcceptGate } from './connection-limit'
import { backoffDelay, type BackoffParams } from '../backoff'
import { defaultRespawn } from './respawn'
import type { ControlMessage, ServeTask, WorkerMessage } from '../worker/serve'
import { runServe, servePool, type ServePool } from './serve-pool'
import { ListenReceiveBuffers } from './receive-buffers'

export interface ProxyWorkersOptions {
  readonly sab: SharedArrayBuffer
  readonly settings: ProxySettings
  readonly log: Logger
  /** HTTPS: the certificates at start (src/tls/certificate-set.ts); null or absent = plain HTTP. */
  readonly tls?: ThreadTls | null
  /** Backoff between failed attempts to bring a thread back (tests shorten it). */
  readonly respawn?: Partial<BackoffParams>
  /**
   * Test hook only: the file a thread slot's `attempt`-th serve task (1 = its first start) runs
   * instead of the proxy, to make a replacement fail during its start. Undefined = the proxy.
   */
  readonly testWorkerFile?: (workerIndex: number, attempt: number) => string | undefined
}

/** One proxy thread's place, and how its supervision stands. */
interface ThreadSlot {
  /** The single-thread pool of the current attempt. */
  pool: ServePool | null
  /** Serve tasks run in this slot so far (attempts). */
  attempts: number
  /** Failures in a row (deaths and failed starts), for the backoff. */
  failures: number
  serving: boolean
  /** Epoch ms the current thread reported `started`. */
  startedAt: number
  /** Epoch ms the slot stopped serving, while it is not serving. */
  downSince: number | null
  /** The next attempt, while waiting out its backoff. */
  timer: NodeJS.Timeout | null
}

/** A port that was free a moment ago on `host`. */
function freePort (host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

const WORKER_FILE = path.join(__dirname, '..', '..', 'workers', 'proxy.js')

/**
 * The proxy worker threads: one long-lived `serve` task per thread, each hosted by a piscina pool
 * of its own (src/gateway/serve-pool.ts), and their supervision.
 *
 * Supervision (issue 10): every attempt of a slot gets a fresh single-thread pool. A shared pool
 * cannot be trusted to come back: once a replacement thread fails during its bootstrap piscina
 * sets `workerFailsDuringBootstrap` and never starts another thread for the pool's life, and it
 * replaces a dead thread on its own schedule, not ours (docs/architecture.md, "Threads under
 * piscina"). So piscina hosts the threads while the retry policy is ours: a thread that dies or
 * fails to start (its task ends before it reported `started`) is retried until it serves, the
 * first retry at once and then with a capped backoff (src/gateway/respawn.ts), each failure
 * logged and counted. The other slots are never touched.
 */
export class ProxyWorkers implements AcceptGate {
  private readonly slots: ThreadSlot[] = []
  /** Pools of failed attempts being torn down; close() waits for them. */
  private readonly retiring = new Set<Promise<void>>()
  private readonly respawn: BackoffParams
  private readonly ctls: Array<MessagePort | undefined> = []
  private readonly running: Array<Promise<unknown> | undefined> = []
  private stopping = false
  private closed = false
  /** False while the gateway is at --max-connections; a replacement thread starts that way. */
  private accepting = true
  /** The port all workers listen on (resolved when --port was 0). */
  port = 0
  /** The --http-port all workers redirect on (resolved when 0); null without it. */
  httpPort: number | null = null
  /** What a thread started now serves: the certificates of the last reload. */
  private tls: ThreadTls | null
  /** Threads that died after serving (each is brought back). */
  restarts = 0
  /** Attempts to bring a thread back that failed before it served. */
  startFailures = 0
  /** Attempts that waited out a backoff first. */
  backoffs = 0
  /** Set once start() succeeded: a thread failing its first start fails start() instead. */
  private supervising = false
  /** The shared table the threads write their counters into. */
  readonly i32: Int32Array
  /** Made at the first `listening` message (only a build that reads past a pause sends one). */
  private receiveBuffers: ListenReceiveBuffers | null = null
  /** The last failure to limit them, said once until it changes. */
  private receiveBufferFailure = ''

  constructor (private readonly options: ProxyWorkersOptions) {
    this.respawn = { ...defaultRespawn, ...options.respawn }
    this.tls = options.tls ?? null
    this.i32 = new Int32Array(options.sab)
    for (let i = 0; i < options.settings.threads; i++) {
      this.slots.push({ pool: null, attempts: 0, failures: 0, serving: false, startedAt: 0, downSince: null, timer: null })
    }
  }

  /** Threads serving now (listening, or ready to at `resume`); `threads` once all are back. */
  serving (): number {
    let n = 0
    for (const s of this.slots) if (s.serving) n++
    return n
  }

  /** A single-thread pool for one attempt of slot `index`. */
  private newPool (index: number, attempt: number): ServePool {
    return servePool(this.options.testWorkerFile?.(index, attempt) ?? WORKER_FILE,
      (err) => this.options.log.debug('proxy thread pool error', { worker: index, error: err.message }))
  }

  /** Tear down a failed attempt's pool (it may have started a thread of its own meanwhile). */
  private retire (pool: ServePool): void {
    const p: Promise<void> = pool.destroy().catch(() => {}).finally(() => this.retiring.delete(p))
    this.retiring.add(p)
  }

  /**
   * Start every worker. The first one binds; the rest share its port (SO_REUSEPORT). uSockets
   * sets SO_REUSEPORT only for a non-zero port, so port 0 (tests) is first resolved to a free
   * port here.
   */
  async start (): Promise<number> {
    const { host, port, threads, httpPort } = this.options.settings
    const wanted = port === 0 ? await freePort(host) : port
    this.httpPort = httpPort === 0 ? await freePort(host) : httpPort
    this.port = await this.run(0, wanted)
    const rest: Array<Promise<number>> = []
    for (let i = 1; i < threads; i++) rest.push(this.run(i, this.port))
    await Promise.all(rest)
    this.supervising = true
    return this.port
  }

  /**
   * Run serve task `index` on a fresh single-thread pool; resolves with the bound port once that
   * thread listens. When it ends (or fails to start) without a drain or close asking for it, the
   * slot is supervised back: see the class comment.
   */
  private run (index: number, port: number): Promise<number> {
    const slot = this.slots[index]
    const attempt = ++slot.attempts
    const pool = this.newPool(index, attempt)
    slot.pool = pool
    const { port1, port2 } = new MessageChannel()
    this.ctls[index] = port1
    const task: ServeTask = {
      ...this.options.settings,
      sab: this.options.sab,
      workerIndex: index,
      port,
      httpPort: this.tls === null ? null : this.httpPort,
      paused: !this.accepting,
      ctl: port2,
      tls: this.tls
    }
    return new Promise<number>((resolve, reject) => {
      let started = false
      port1.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'started') {
          started = true
          this.onStarted(index)
          resolve(msg.port)
        }
        if (msg.type === 'listen-failed') reject(new ListenError(`${msg.message}; choose another --port or --host`))
        if (msg.type === 'listening') this.limitReceiveBuffers(msg.port)
        if (msg.type === 'log') this.options.log[msg.level](msg.msg, { worker: index, ...msg.fields })
      })
      const done = runServe(pool, task)
      this.running[index] = done
      const ended = (err: Error | null): void => {
        port1.close()
        slot.serving = false
        if (!started) reject(err ?? new Error('proxy thread ended before it served'))
        if (this.stopping || this.closed || (!started && !this.supervising)) return
        this.retire(pool)
        if (slot.pool === pool) slot.pool = null
        this.onFailed(index, started, err?.message ?? 'serve task ended without a drain')
      }
      done.then(() => ended(null), (err: Error) => ended(err))
    })
  }

  /**
   * A thread has a new listen socket on a uWS build that reads past a pause: hold its receive
   * buffer below that build's read size (src/gateway/receive-buffers.ts). A failure is said once;
   * the thread serves on, its uploads then as docs/limits.md says.
   */
  private limitReceiveBuffers (port: number): void {
    let failure: string
    try {
      this.receiveBuffers ??= new ListenReceiveBuffers()
      const outcome = this.receiveBuffers.limit(port)
      failure = outcome.ok ? '' : outcome.reason
    } catch (err) {
      failure = (err as Error).message
    }
    if (failure !== '' && failure !== this.receiveBufferFailure) {
      this.options.log.warn('an upload to a slower backend can be read into memory past a pause', { event: 'receive-buffer-unset', error: failure })
    }
    this.receiveBufferFailure = failure
  }

  private onStarted (index: number): void {
    const slot = this.slots[index]
    slot.serving = true
    slot.startedAt = Date.now()
    if (slot.downSince !== null) {
      this.options.log.info('proxy thread serving again', { event: 'thread-recovered', worker: index, downMs: slot.startedAt - slot.downSince, failures: slot.failures })
      slot.downSince = null
    }
  }

  /**
   * A thread of slot `index` died (`served`) or failed during its start: count it, log it, and
   * schedule the next attempt after the backoff. Never gives up: the slot is retried until it
   * serves or the gateway stops.
   */
  private onFailed (index: number, served: boolean, error: string): void {
    const slot = this.slots[index]
    const now = Date.now()
    // Only replacements get here: a failure of the first start rejects start() instead.
    if (served && now - slot.startedAt >= this.respawn.resetAfterMs) slot.failures = 0
    slot.failures++
    slot.downSince ??= now
    const delayMs = backoffDelay(slot.failures, this.respawn)
    if (delayMs > 0) this.backoffs++
    if (served) {
      this.restarts++
      this.options.log.error('proxy worker died; starting a replacement', { event: 'thread-died', worker: index, error, failures: slot.failures, retryInMs: delayMs })
    } else {
      this.startFailures++
      this.options.log.error('proxy worker failed to start; retrying', { event: 'thread-start-failed', worker: index, error, failures: slot.failures, retryInMs: delayMs })
    }
    slot.timer = setTimeout(() => {
      slot.timer = null
      if (this.stopping || this.closed) return
      // A failure is handled where the task ends (ended() above), never twice.
      this.run(index, this.port).catch(() => {})
    }, delayMs)
  }

  /**
   * Make worker `index` throw an uncaught exception, as a bug would. For tests of the
   * replacement path only: nothing a client or backend sends can do this.
   */
  crashForTest (index: number): void {
    this.ctls[index]?.postMessage({ type: 'crash' })
  }

  /**
   * Close (false) or reopen (true) every thread's listen socket, for --max-connections. Open
   * connections are served either way. Ignored once a drain or close began, so a stopping
   * gateway never listens again.
   */
  setAccepting (accepting: boolean): void {
    if (this.stopping || accepting === this.accepting) return
    this.accepting = accepting
    this.post(accepting ? 'resume' : 'pause')
  }

  /**
   * Every thread opens its access log file again by its name (SIGHUP, after logrotate moved it).
   * A thread that is being replaced opens the file anew when it starts.
   */
  reopenAccessLog (): void {
    this.post('reopen')
  }

  /**
   * Every thread serves `certificates` to its new connections from now on (a reload); open
   * connections keep theirs. A thread started later (a replacement) starts with them.
   */
  setCertificates (certificates: readonly ServedCertificate[]): void {
    if (this.tls === null) return
    this.tls = { ...this.tls, certificates }
    const msg: ControlMessage = { type: 'tls', certificates }
    for (const ctl of this.ctls) {
      try { ctl?.postMessage(msg) } catch {}
    }
  }

  /**
   * Stop accepting, let in-flight requests finish for up to `timeoutMs`, then close every
   * connection. Resolves when every worker has closed its App.
   */
  async drain (timeoutMs: number): Promise<void> {
    this.stopping = true
    this.cancelRespawns()
    this.post('drain')
    if (!(await this.settled(timeoutMs))) {
      this.options.log.warn('drain timeout reached; closing remaining connections', { timeoutMs })
      this.post('close')
      await Promise.allSettled(this.running)
    }
  }

  /**
   * Close every connection now, without a drain (a second signal), and wait at most `timeoutMs`
   * for the threads to close their Apps. Exiting the process while a worker still holds uWS
   * sockets aborts it with a native assertion, so this comes before process.exit().
   */
  async closeNow (timeoutMs: number): Promise<void> {
    this.stopping = true
    this.cancelRespawns()
    this.post('close')
    await this.settled(timeoutMs)
  }

  /** No thread is brought back once the gateway stops. */
  private cancelRespawns (): void {
    for (const slot of this.slots) {
      if (slot.timer !== null) clearTimeout(slot.timer)
      slot.timer = null
    }
  }

  /** Send a control message to every thread (one that just died has no port to take it). */
  private post (type: 'drain' | 'close' | 'pause' | 'resume' | 'reopen'): void {
    for (const ctl of this.ctls) {
      try { ctl?.postMessage({ type }) } catch {}
    }
  }

  /** Whether every thread's task ended within `timeoutMs`. */
  private async settled (timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const done = await Promise.race([
      Promise.allSettled(this.running).then(() => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(resolve, timeoutMs, false) })
    ])
    clearTimeout(timer)
    return done
  }

  /** Idempotent: drain (if not done) with no grace, then end the threads. */
  async close (): Promise<void> {
    if (this.closed) return
    if (!this.stopping) await this.drain(0)
    this.closed = true
    this.cancelRespawns()
    await Promise.all(this.slots.map(async (slot) => await slot.pool?.destroy()))
    while (this.retiring.size > 0) await Promise.allSettled([...this.retiring])
  }
}
