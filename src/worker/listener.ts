import { uWS } from '../uws'
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js'
import { log } from './thread-log'

/** uWS App.close() exists at runtime in this build but is missing from its typings. */
export type ClosableApp = TemplatedApp & { close: () => void }

/**
 * The thread's listen socket on the port every thread shares (uWS sets SO_REUSEPORT, so the
 * kernel spreads connections over the threads). It can be closed and opened again (the main
 * thread's --max-connections pause and resume) without touching the connections already open,
 * and it is closed before the thread ends: a thread that exits with a listen socket open aborts
 * the whole process.
 */
export class Listener {
  private socket: us_listen_socket | null = null
  /** The bound port, which `resume` listens on again. */
  private port: number
  private paused: boolean
  /** Never listen again: the thread is draining or closed. */
  private closedForGood = false
  private relistenFailed = false
  /**
   * Apps replaced by `swap`: their listen sockets are closed, but their open connections are
   * still served (a certificate reload must not cut them), so they are closed only with the thread.
   */
  private readonly retired: ClosableApp[] = []

  /**
   * @param listening called after each listen (the first, after a swap, after a resume), for what
   *   the main thread does to a new listen socket (src/gateway/receive-buffers.ts); null: nothing.
   */
  constructor (private app: ClosableApp, private readonly host: string, port: number, paused: boolean, private readonly listening: ((port: number) => void) | null = null) {
    this.port = port
    this.paused = paused
  }

  /**
   * Serve new connections with `next` (new certificates), open ones staying on the old App. The
   * new listen socket is bound (SO_REUSEPORT) before the old one closes, so the port is never
   * without a listener. Resolves false when `next` could not listen: it is closed and the old App
   * stays in use.
   */
  swap (next: ClosableApp): Promise<boolean> {
    if (this.closedForGood) {
      next.close()
      return Promise.resolve(false)
    }
    if (this.socket === null) { // paused (or not yet listening): `next` listens on resume
      this.retired.push(this.app)
      this.app = next
      return Promise.resolve(true)
    }
    return new Promise<boolean>((resolve) => {
      next.listen(this.host, this.port, (socket) => {
        if (socket === false) {
          next.close()
          resolve(false)
          return
        }
        this.closeSocket()
        this.retired.push(this.app)
        this.app = next
        this.socket = socket
        this.listening?.(this.port)
        resolve(true)
      })
    })
  }

  /** Close every App of this listener, the current and the retired ones: every connection ends. */
  closeApps (): void {
    this.closeSocket()
    for (const a of this.retired) a.close()
    this.retired.length = 0
    this.app.close()
  }

  /** Listen for the first time; resolves the bound port, or -1 when the address cannot be had. */
  open (): Promise<number> {
    if (this.paused) return Promise.resolve(this.port) // a replacement started at the limit: listens on `resume`
    return new Promise<number>((resolve) => {
      this.app.listen(this.host, this.port, (socket) => {
        if (socket === false) { resolve(-1); return }
        this.socket = socket
        this.port = uWS.us_socket_local_port(socket)
        this.listening?.(this.port)
        resolve(this.port)
      })
    })
  }

  /** Stop accepting (at --max-connections); open connections are served throughout. */
  pause (): void {
    this.paused = true
    this.closeSocket()
  }

  /** Accept again after a pause. */
  resume (): void {
    this.paused = false
    this.relisten()
  }

  /** Stop accepting for good (drain or close). */
  close (): void {
    this.closedForGood = true
    this.closeSocket()
  }

  /** From the maintenance tick: a `resume` that could not listen is retried. */
  retry (): void { if (this.relistenFailed) this.relisten() }

  private closeSocket (): void {
    if (this.socket === null) return
    uWS.us_listen_socket_close(this.socket)
    this.socket = null
  }

  /**
   * Listen again after a pause, on the port every thread shares. Never once a drain began: a
   * stopping gateway must keep refusing new connections.
   */
  private relisten (): void {
    if (this.paused || this.closedForGood || this.socket !== null) return
    this.app.listen(this.host, this.port, (socket) => {
      if (socket !== false) {
        this.socket = socket
        this.relistenFailed = false
        this.listening?.(this.port)
        return
      }
      // Someone took the port while it was free: said once, retried every tick.
      if (!this.relistenFailed) {
        log('error', 'proxy worker cannot accept connections again; retrying every 0.5 s', { error: `cannot listen again on ${this.host}:${this.port} (address in use or not available)` })
      }
      this.relistenFailed = true
    })
  }
}
