import net from 'node:net'
import util from 'node:util'
import type { Readable } from 'node:stream'
import { ProxyErrorCodes, type ProxyErrorCode } from '../errors'
import { ErrorReason } from '../table/layout'
import { ResponseParser, type ResponseSink } from './response-parser'
import { nativeWrites, writableHandle, type WriteReq } from './native-write'
import { SLAB_BYTES, giveBack, isSlab, keepCopy } from './slabs'

/**
 * The exchange's handle on the connection carrying it. Every call names the exchange: a
 * connection outlives its exchanges, and a call from one that is over (uWS can report a client
 * abort after the answer ended) must not touch the next exchange on the same connection.
 */
export interface UpstreamLink {
  /** Cancel the exchange (the connection is then closed); `handler.onError` follows. */
  abort (handler: UpstreamHandler, err?: Error): void
  /** The exchange can take more of a paused body. */
  resume (handler: UpstreamHandler): void
}

/** What an upstream connection reports to the exchange it carries (one at a time). */
export interface UpstreamHandler {
  /** The request is on its way on `link`. */
  onConnect (link: UpstreamLink): void
  /**
   * A final response head. `headers` is flat [name, value, …], one char per byte (`latin1`:
   * some value has bytes above 0x7f). Return false if the exchange is over already (the
   * connection is then closed).
   */
  onHeaders (statusCode: number, headers: string[], statusText: string, latin1: boolean): boolean
  /** A body chunk, valid only during the call (the read buffer is reused). False: pause. */
  onData (chunk: Buffer): boolean
  onComplete (): void
  onError (err: Error): void
}

export interface UpstreamRequest {
  readonly method: string
  readonly path: string
  /** Flat [name, value, …], lower-case names, hop-by-hop fields removed. */
  readonly headers: string[]
  /** null: no body; a Buffer: sent whole; a stream: sent as it comes (chunked if no length). */
  readonly body: Buffer | Readable | null
}

/**
 * Why an upstream exchange failed. `code` is the answer it becomes when no retry saves it
 * (src/errors.ts: 502 SYM_ERR_UPSTREAM_FAILED or 504 SYM_ERR_UPSTREAM_TIMEOUT); `reason` is the
 * ErrorReason it is counted under (symphony_upstream_errors_total's `reason` label).
 */
export class UpstreamError extends Error {
  constructor (message: string, readonly code: ProxyErrorCode, readonly reason: number) {
    super(message)
    this.name = 'UpstreamError'
  }
}

/** A coarse clock (ms), advanced by the timeout sweep (PoolSet): no clock read per event. */
export interface CoarseClock {
  readonly now: number
}

/** Where connections come back to (see Upstream). */
export interface ConnectionOwner {
  release (conn: Connection): void
  forget (conn: Connection): void
}

/**
 * The one read buffer of this thread's upstream connections: a read is parsed at once, and what
 * must outlive it is copied out (src/worker/slabs.ts), so connections need no buffer of their
 * own. One per connection was a fresh 64 KiB block for every connection opened, and an
 * abandoned download closes its connection: the blocks, freed by the GC later, kept the thread's
 * malloc arena growing (issue #23 point 7).
 */
const READ_BUFFER = Buffer.allocUnsafe(SLAB_BYTES)
const C_CONNECTING = 0
const C_IDLE = 1
const C_BUSY = 2
const C_CLOSED = 3

/**
 * One keep-alive HTTP/1.1 connection to a backend, carrying one exchange at a time (like nginx's
 * and HAProxy's upstream keep-alive). Reads go through `onread` into a buffer owned by the
 * connection, straight into the parser: no Readable, no 'readable' events, no per-read Buffer.
 * Every callback it hands out is bound once per connection, not per request.
 */
export class Connection implements ResponseSink, UpstreamLink {
  private readonly socket: net.Socket
  private readonly parser: ResponseParser
  /** The native write request reused by every direct write that completes at once (writeDirect). */
  private writeReq: WriteReq | null = null
  private state = C_CONNECTING
  private handler: UpstreamHandler | null = null
  /** Unparsed bytes kept while the exchange paused the body (a slab copy, src/worker/slabs.ts: the read buffer is reused). */
  private leftover: Buffer | null = null
  /** Request body still being sent (stream bodies only). */
  private reqBody: Readable | null = null
  private reqChunked = false
  private reqDone = true
  /** Coarse time of the last sign of life (sent, read); the owner's sweep compares it. */
  lastActive: number
  private readonly onBodyData = (chunk: Buffer): void => { this.writeBody(chunk) }
  private readonly onBodyEnd = (): void => { this.endBody() }
  /** Request body slabs written and not yet done with, oldest first (writeBody). */
  private readonly bodySlabs: Buffer[] = []
  private readonly onBodyWritten = (): void => {
    const slab = this.bodySlabs.shift()
    if (slab !== undefined) giveBack(slab)
  }

  private readonly onBodyError = (): void => {
    this.fail(new UpstreamError('request body failed', ProxyErrorCodes.UPSTREAM_FAILED, ErrorReason.OTHER))
  }

  constructor (private readonly owner: ConnectionOwner, private readonly clock: CoarseClock, host: string, port: number, readonly hostHeader: string) {
    this.lastActive = clock.now
    this.parser = new ResponseParser(this)
    this.socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: { buffer: READ_BUFFER, callback: (n: number, buf: Buffer) => this.onRead(n, buf) }
    })
    this.socket.on('connect', () => {
      if (this.state === C_CONNECTING) this.state = this.handler === null ? C_IDLE : C_BUSY
      this.lastActive = this.clock.now
    })
    this.socket.on('drain', () => { if (this.reqBody !== null) this.reqBody.resume() })
    this.socket.on('error', (err) => { this.fail(err) })
    this.socket.on('end', () => { this.onEof() })
    this.socket.on('close', () => { this.onClose() })
  }

  get idle (): boolean { return this.state === C_IDLE }
  get connecting (): boolean { return this.state === C_CONNECTING }
  get busy (): boolean { return this.handler !== null }
  get closed (): boolean { return this.state === C_CLOSED }

  /** Send a request on this connection (idle, or still connecting: Node queues the bytes). */
  send (req: UpstreamRequest, handler: UpstreamHandler): void {
    this.handler = handler
    if (this.state === C_IDLE) this.state = C_BUSY
    this.lastActive = this.clock.now
    this.parser.reset(req.method === 'HEAD')
    this.dropLeftover()
    let head = req.method + ' ' + req.path + ' HTTP/1.1\r\n'
    const h = req.headers
    let hasHost = false
    for (let i = 0; i < h.length; i += 2) {
      if (h[i] === 'host') hasHost = true
      head += h[i] + ': ' + h[i + 1] + '\r\n'
    }
    if (!hasHost) head += 'host: ' + this.hostHeader + '\r\n'
    const body = req.body
    handler.onConnect(this)
    if (this.handler !== handler) return // aborted inside onConnect
    if (body === null) {
      this.reqDone = true
      this.writeDirect(head + 'connection: keep-alive\r\n\r\n')
    } else if (Buffer.isBuffer(body)) {
      this.reqDone = true
      this.socket.cork()
      this.socket.write(head + 'connection: keep-alive\r\n\r\n', 'latin1')
      if (body.length > 0) this.socket.write(body)
      this.socket.uncork()
    } else {
      // A stream: its length was announced by the client's Content-Length, or it goes chunked.
      this.reqChunked = !hasField(h, 'content-length')
      this.reqDone = false
      this.reqBody = body
      this.socket.write(head + (this.reqChunked ? 'transfer-encoding: chunked\r\n' : '') + 'connection: keep-alive\r\n\r\n', 'latin1')
      body.on('data', this.onBodyData)
      body.on('end', this.onBodyEnd)
      body.on('error', this.onBodyError)
      body.resume() // detachBody() paused it if an earlier attempt (a retry) had it
    }
  }

  /**
   * Write a bodiless request's head (nearly every GET) straight to the socket's native handle,
   * as Node's own `writeGeneric` does underneath `socket.write`, but without the Writable
   * around it (`_write`, `writeOrBuffer`, a new WriteWrap per write, `afterWriteDispatched`):
   * about 3 % of a proxy thread's CPU for the one write a small request needs (perf; paired A/B
   * 0.96x, bench/results/s4-ab-direct-write-quiet.md). Safe only while nothing is queued in the Writable (the bytes would
   * overtake it) and once connected; otherwise, or without the private API (src/worker/native-write.ts
   * holds it), `socket.write`.
   * A write the kernel takes at once (the usual case) leaves the request object unused and it
   * is kept for the next; one that went asynchronous keeps it until `oncomplete`, and a failure
   * ends the socket with the same error `socket.write` would have raised.
   */
  private writeDirect (data: string): void {
    const handle = writableHandle(this.socket)
    if (nativeWrites === null || this.state !== C_BUSY || handle === null || this.socket.writableLength !== 0) {
      this.socket.write(data, 'latin1')
      return
    }
    let req = this.writeReq
    if (req === null) {
      req = nativeWrites.request(handle)
      this.writeReq = req
    }
    const err = handle.writeLatin1String(req, data)
    if (err !== 0) {
      this.writeFailed(err)
    } else if (nativeWrites.lastWriteWasAsync()) {
      req.owner = this // in flight: libuv completes it later; the next write needs its own
      this.writeReq = null
    }
  }

  /** A direct write failed (libuv error `status`): end the socket as a failed `socket.write` does. */
  writeFailed (status: number): void {
    if (this.state === C_CLOSED) return
    const name = util.getSystemErrorName(status)
    const err = Object.assign(new Error(`write ${name}`), { code: name, errno: status, syscall: 'write' })
    this.socket.destroy(err)
  }

  /**
   * Write a request body piece. A slab piece (Exchange's pushCopies) goes back to the thread's
   * slabs once the socket is done with it: write callbacks come in write order, once each, with
   * an error too when the socket is destroyed first, so `bodySlabs` is their queue.
   */
  private writeBody (chunk: Buffer): void {
    const slab = isSlab(chunk)
    if (this.state === C_CLOSED) {
      if (slab) giveBack(chunk)
      return
    }
    this.lastActive = this.clock.now
    if (slab) this.bodySlabs.push(chunk)
    const done = slab ? this.onBodyWritten : undefined
    let ok: boolean
    if (this.reqChunked) {
      this.socket.cork()
      this.socket.write(chunk.length.toString(16) + '\r\n', 'latin1')
      this.socket.write(chunk, done)
      ok = this.socket.write('\r\n', 'latin1')
      this.socket.uncork()
    } else {
      ok = this.socket.write(chunk, done)
    }
    if (!ok && this.reqBody !== null) this.reqBody.pause()
  }

  private endBody (): void {
    if (this.reqChunked && this.state !== C_CLOSED) this.socket.write('0\r\n\r\n', 'latin1')
    this.detachBody()
    this.reqDone = true
    if (this.handler === null) this.afterResponse()
  }

  private detachBody (): void {
    const body = this.reqBody
    if (body === null) return
    this.reqBody = null
    body.pause() // no listener is left to take its data: a retry resumes it on another connection
    body.off('data', this.onBodyData)
    body.off('end', this.onBodyEnd)
    body.off('error', this.onBodyError)
  }

  private onRead (n: number, buf: Buffer): boolean {
    this.lastActive = this.clock.now
    if (this.handler === null) {
      // Bytes nobody asked for (or after an answer ended early): this connection is out of step.
      this.destroy()
      return false
    }
    return this.parse(buf, 0, n)
  }

  /** Feed the parser; false when it paused (the socket then stops reading). */
  private parse (buf: Buffer, start: number, end: number): boolean {
    const parser = this.parser
    const pos = parser.execute(buf, start, end)
    if (parser.error !== null) {
      this.fail(new UpstreamError(`malformed response: ${parser.error}`, ProxyErrorCodes.UPSTREAM_FAILED, ErrorReason.PROTOCOL))
      return false
    }
    if (parser.paused) {
      if (pos < end) this.leftover = keepCopy(buf.subarray(pos, end))
      return false
    }
    if (parser.done && pos < end && this.state !== C_CLOSED) {
      // More than the response: never reuse this connection.
      this.destroy()
      return false
    }
    return true
  }

  /** UpstreamLink: the exchange can take more of the body. */
  resume (handler: UpstreamHandler): void {
    if (this.handler !== handler || this.state === C_CLOSED) return
    this.lastActive = this.clock.now // the pause was the client's, not the upstream's
    const rest = this.leftover
    this.leftover = null
    if (rest !== null) {
      const more = this.parse(rest, 0, rest.length) // a new pause copies what is left into a slab of its own
      giveBack(rest)
      if (!more) return
    }
    // Reading stopped when onRead returned false; the response may have ended in `rest`, and
    // an idle connection must read again too.
    if (this.state !== C_CLOSED) this.socket.resume()
  }

  // ---- ResponseSink ------------------------------------------------------------------------

  onHead (status: number, statusText: string, headers: string[], latin1: boolean): void {
    const h = this.handler
    if (h === null) return
    if (!h.onHeaders(status, headers, statusText, latin1)) this.fail(abortedError())
  }

  onBody (chunk: Buffer): boolean {
    const h = this.handler
    if (h === null) return false
    return h.onData(chunk)
  }

  onEnd (): void {
    const h = this.handler
    if (h === null) return
    this.handler = null
    h.onComplete()
    this.afterResponse()
  }

  /** Back to the pool if the connection can carry another request, else closed. */
  private afterResponse (): void {
    if (this.state === C_CLOSED || this.handler !== null) return
    if (!this.reqDone) {
      // The answer came before the whole request body was sent: the connection is out of step.
      this.destroy()
      return
    }
    if (!this.parser.keepAlive) {
      this.destroy()
      return
    }
    this.state = C_IDLE
    this.lastActive = this.clock.now
    this.owner.release(this)
  }

  // ---- failures ----------------------------------------------------------------------------

  /** UpstreamLink: the exchange gave up (client gone, body too large): close, tell it once. */
  abort (handler: UpstreamHandler, err?: Error): void {
    if (this.handler !== handler) return // an exchange that is over already
    this.fail(err ?? abortedError())
  }

  /** Fail the exchange in flight (if any) and close the connection. */
  fail (err: Error): void {
    const h = this.handler
    this.handler = null
    this.parser.stop()
    this.destroy()
    if (h !== null) h.onError(err)
  }

  /** Timed out by the owner's sweep. */
  timeout (err: UpstreamError): void { this.fail(err) }

  private onEof (): void {
    if (this.handler !== null && this.parser.eof()) return // a body delimited by the close ended
    if (this.handler !== null) {
      const started = this.parser.headDone
      this.fail(new UpstreamError(started ? 'upstream closed before the response ended' : 'upstream closed the connection', ProxyErrorCodes.UPSTREAM_FAILED, ErrorReason.RESET))
      return
    }
    this.destroy()
  }

  private onClose (): void {
    if (this.handler !== null) {
      this.fail(new UpstreamError('upstream connection closed', ProxyErrorCodes.UPSTREAM_FAILED, ErrorReason.RESET))
      return
    }
    this.destroy()
  }

  private dropLeftover (): void {
    const rest = this.leftover
    if (rest === null) return
    this.leftover = null
    giveBack(rest)
  }

  /** Close now; idempotent. */
  destroy (): void {
    if (this.state === C_CLOSED) return
    this.state = C_CLOSED
    this.detachBody()
    this.dropLeftover()
    this.socket.destroy()
    this.owner.forget(this)
  }
}

function abortedError (): UpstreamError {
  return new UpstreamError('request aborted', ProxyErrorCodes.UPSTREAM_FAILED, ErrorReason.OTHER)
}

function hasField (flat: string[], name: string): boolean {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return true
  return false
}
