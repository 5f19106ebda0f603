import net from 'node:net'
import path from 'node:path'
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { Piscina } from 'piscina'
import { ListenError } from '../errors'
import type { ProxySettings } from '../config/types'
import type { Logger } from '../log'
import type { AcceptGate } from './connection-limit'
import type { ServeTask, WorkerMessage } from '../worker/serve'

export interface ProxyWorkersOptions {
  readonly sab: SharedArrayBuffer
  readonly settings: ProxySettings
  readonly log: Logger
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
 * The proxy worker threads, hosted by piscina: one long-lived `serve` task per thread.
 *
 * piscina's idle workers would park in `Atomics.wait`, which freezes a uWS event loop, so its
 * atomics are disabled; with minThreads = maxThreads = N and one task per thread each thread
 * runs exactly one serve task. A thread that dies (an uncaught exception closes its App and
 * exits, see src/worker/serve.ts) fails its task; piscina replaces the thread and we run the same
 * task index on it again at once.
 */
export class ProxyWorkers implements AcceptGate {
  private readonly pool: Piscina
  private readonly ctls: Array<MessagePort | undefined> = []
  private readonly running: Array<Promise<unknown> | undefined> = []
  private stopping = false
  private closed = false
  /** False while the gateway is at --max-connections; a replacement thread starts that way. */
  private accepting = true
  /** The port all workers listen on (resolved when --port was 0). */
  port = 0
  restarts = 0

  constructor (private readonly options: ProxyWorkersOptions) {
    this.pool = new Piscina({
      filename: WORKER_FILE,
      minThreads: options.settings.threads,
      maxThreads: options.settings.threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      atomics: 'disabled',
      concurrentTasksPerWorker: 1,
      maxQueue: options.settings.threads
    })
  }

  /**
   * Start every worker. The first one binds; the rest share its port (SO_REUSEPORT). uSockets
   * sets SO_REUSEPORT only for a non-zero port, so port 0 (tests) is first resolved to a free
   * port here.
   */
  async start (): Promise<number> {
    const { host, port, threads } = this.options.settings
    const wanted = port === 0 ? await freePort(host) : port
    this.port = await this.run(0, wanted)
    const rest: Array<Promise<number>> = []
    for (let i = 1; i < threads; i++) rest.push(this.run(i, this.port))
    await Promise.all(rest)
    return this.port
  }

  /** Run serve task `index`; resolves with the bound port once that worker listens. */
  private run (index: number, port: number): Promise<number> {
    const { port1, port2 } = new MessageChannel()
    this.ctls[index] = port1
    const task: ServeTask = {
      ...this.options.settings,
      sab: this.options.sab,
      workerIndex: index,
      port,
      paused: !this.accepting,
      ctl: port2
    }
    return new Promise<number>((resolve, reject) => {
      let started = false
      port1.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'started') { started = true; resolve(msg.port) }
        if (msg.type === 'listen-failed') reject(new ListenError(`${msg.message}; choose another --port or --host`))
        if (msg.type === 'log') this.options.log[msg.level](msg.msg, { worker: index, ...msg.fields })
      })
      const done = this.pool.run(task, { transferList: [port2] as any })
      this.running[index] = done
      done.then(() => port1.close(), (err: Error) => {
        port1.close()
        if (!started) { reject(err); return }
        if (this.stopping || this.closed) return
        this.restarts++
        this.options.log.error('proxy worker died; starting a replacement', { worker: index, error: err.message })
        this.run(index, this.port).catch((e: Error) => {
          this.options.log.error('replacement proxy worker failed to start', { worker: index, error: e.message })
        })
      })
    })
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
   * Stop accepting, let in-flight requests finish for up to `timeoutMs`, then close every
   * connection. Resolves when every worker has closed its App.
   */
  async drain (timeoutMs: number): Promise<void> {
    this.stopping = true
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
    this.post('close')
    await this.settled(timeoutMs)
  }

  /** Send a control message to every thread (one that just died has no port to take it). */
  private post (type: 'drain' | 'close' | 'pause' | 'resume'): void {
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
    await this.pool.destroy()
  }
}
