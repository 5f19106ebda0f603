import { Readable } from 'node:stream'
import { ProxyErrorCodes } from '../errors'
import type { HttpResponse } from 'uWebSockets.js'
import { B_INFLIGHT, B_RETRIES, B_ERRORS, ErrorReason, MAX_BACKENDS, NO_BACKEND, bstatBase } from '../table/layout'
import { recordResponse } from './record'
import type { TableReader } from '../table/reader'
import type { PoolSet } from './upstream'
import { UpstreamError, type UpstreamHandler, type UpstreamLink } from './connection'
import { connectionTokens, isIdempotent } from './headers'
import { Answers, type GatewayAnswer } from './respond'
import { HOLD_SENT, HOLD_AGAIN, HOLD_GAVE_UP, type HoldQueue, type Holdable } from './holds'
import type { RetryBudget } from './budget'

/** What every exchange of one worker shares. Built once per worker. */
export interface ProxyContext {
  readonly reader: TableReader
  readonly pools: PoolSet
  /** Word offset of this worker's block in the table. */
  readonly workerBase: number
  readonly maxBodySize: number
  /** Hold-while-starting: where a request waits when no backend is healthy. */
  readonly holds: HoldQueue
  /** Caps retries at a share of the traffic (a dying fleet is not stormed). */
  readonly budget: RetryBudget
  /** Called when an exchange ends (drain accounting). */
  onFinished: () => void
}

// Module-level scratch for res.cork(): cork runs its callback synchronously, so passing the
// exchange through these avoids a closure per write (no allocation per request on the hot path).
let corkEx: Exchange
let corkChunk: Buffer
/** Bytes of the cork buffer left for corkChunk once the head that shares its cork (if any) is in. */
let corkRoom = 0
function corkHead (): void { corkEx.writeHead() }
function corkChunkWrite (): void { corkEx.writeChunk(corkChunk) }

/**
 * uWS 20.30 can lose bytes written inside cork(): a write that does not fit what is left of its
 * 16 KiB cork buffer first flushes the buffer, and when that flush cannot complete (the
 * client's socket is full) it returns without sending or buffering the new bytes
 * (AsyncSocket::uncork). tryEnd() (Content-Length bodies) reports that as a short write and we
 * resend from the offset; write() (chunked bodies) has no such retry, and the client got a chunk
 * shorter than its size line (seen under load: "Expected LF after chunk data"). So chunked
 * bodies are written in pieces of at most CORK_ROOM, one cork each (the buffer is empty when a
 * cork begins), and a head that would not leave room for its first chunk goes out alone.
 */
const CORK_ROOM = 16 * 1024 - 512

/** Bytes the head will take in the cork buffer (names, values, separators, status line) plus the chunk. */
function headSize (raw: string[], chunk: number): number {
  let n = 64 + chunk
  for (let i = 0; i < raw.length; i++) n += raw[i].length + 2
  return n
}
/** Whether a response head has a Content-Length field (its body is then written with tryEnd). */
function framedByLength (raw: string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) if (classifyName(raw[i]) === NAME_CONTENT_LENGTH) return true
  return false
}
function corkEnd (): void { corkEx.writeEnd() }
function corkAnswer (): void { corkEx.writeAnswer() }

// Heads waiting for their first body chunk; flushed by one setImmediate per event-loop turn.
const pendingHeads: Exchange[] = []
let flushScheduled = false
function flushHeads (): void {
  flushScheduled = false
  for (let i = 0; i < pendingHeads.length; i++) pendingHeads[i].flushHead()
  pendingHeads.length = 0
}
function deferHead (ex: Exchange): void {
  pendingHeads.push(ex)
  if (!flushScheduled) {
    flushScheduled = true
    setImmediate(flushHeads)
  }
}

/** What writeHead does with a response header name (see classifyName). */
const NAME_FORWARD = 0
const NAME_SKIP = 1
const NAME_CONTENT_LENGTH = 2
const NAME_CONNECTION = 3

/**
 * ASCII case-insensitive equality of a header name with a lower-case literal of its length,
 * without making a string. OR-ing 0x20 folds A-Z onto a-z; the other characters it could fold
 * onto '-' or '2' (0x0d, 0x12) are control characters, which the response parser rejects in
 * field names.
 */
function nameIs (name: string, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false
  }
  return true
}

/**
 * Classify a response header name by length first, then bytes: the same set as isHopByHop()
 * plus `date` (uWS writes its own) and `content-length` (uWS writes the framing).
 */
function classifyName (name: string): number {
  switch (name.length) {
    case 2: return nameIs(name, 'te') ? NAME_SKIP : NAME_FORWARD
    case 4: return nameIs(name, 'date') ? NAME_SKIP : NAME_FORWARD
    case 6: return nameIs(name, 'expect') ? NAME_SKIP : NAME_FORWARD
    case 7: return nameIs(name, 'trailer') || nameIs(name, 'upgrade') ? NAME_SKIP : NAME_FORWARD
    case 10:
      if (nameIs(name, 'connection')) return NAME_CONNECTION
      return nameIs(name, 'keep-alive') ? NAME_SKIP : NAME_FORWARD
    case 14:
      if (nameIs(name, 'content-length')) return NAME_CONTENT_LENGTH
      return nameIs(name, 'http2-settings') ? NAME_SKIP : NAME_FORWARD
    case 16: return nameIs(name, 'proxy-connection') ? NAME_SKIP : NAME_FORWARD
    case 17: return nameIs(name, 'transfer-encoding') ? NAME_SKIP : NAME_FORWARD
    default: return NAME_FORWARD
  }
}

// The status line of the previous answer, reused while upstreams keep answering the same one
// (almost always "200 OK"): saves a template string per request.
let lastStatus = 0
let lastText = ''
let lastLine = ''
function statusLine (status: number, text: string): string {
  if (status !== lastStatus || text !== lastText) {
    lastStatus = status
    lastText = text
    lastLine = text === '' ? String(status) : `${status} ${text}`
  }
  return lastLine
}

/** Request body handed to the upstream connection; uWS pauses the client socket while this buffer is full. */
class BodyStream extends Readable {
  constructor (private readonly ex: Exchange) { super({ highWaterMark: 256 * 1024 }) }
  override _read (): void { this.ex.resumeClient() }
}

/**
 * One client request and its upstream exchange. It is the upstream connection's handler itself
 * (src/worker/connection.ts: header strings, body chunks valid during the call, pause by return
 * value), so no adapter sits between the response parser and the uWS response.
 *
 * Invariants: `res` is never touched after `aborted` or `ended`; every write after the first
 * synchronous part of the uWS handler happens inside `res.cork()`; exactly one of the terminal
 * paths (writeEnd, writeAnswer, close after headers, client abort) runs `finish()`.
 */
export class Exchange implements UpstreamHandler, Holdable {
  aborted = false
  ended = false
  private finished = false
  private headersSent = false
  private slot = -1
  private id = 0
  private attempt = 0
  /** The slot whose failure the next dispatch retries, counted there when it goes out; -1 = none. */
  private retryFrom = -1
  private status = 0
  private contentLength = -1
  private answer: GatewayAnswer = Answers.upstreamFailed
  /** The connection carrying the current attempt (null before and after it). */
  private upstream: UpstreamLink | null = null
  private clientPaused = false
  private dispatched = false
  private waitingWritable = false
  private received = 0
  private pending: Buffer | null = null
  private pendingOffset = 0
  private writableHooked = false
  /** Part of the response body has been handed to uWS. */
  private bodyStarted = false
  private head: string[] | null = null
  /** Some response header value has bytes above 0x7f: write values as bytes, not UTF-8. */
  private headLatin1 = false
  private statusText = ''
  /** A streamed body (unknown or large size): not replayable once the connection read from it. */
  readonly body: BodyStream | null
  /**
   * A body of known size up to --replay-body-limit, gathered whole before the request is sent:
   * it can be sent again (a retry) or wait (a hold) without holding the client's socket.
   */
  private replay: Buffer | null = null
  private replayFill = 0
  /**
   * The client asked to close after this answer (`Connection: close`). uWS closes the socket but
   * does not say so in the answer, which clients such as wrk count as a read error; RFC 9112
   * section 9.6 wants the server to send `close` too.
   */
  clientClose = false
  /** When this request was first held (-1: never), and what start() did with it after a hold. */
  private heldSince = -1
  private holdOutcome = HOLD_SENT

  constructor (
    private readonly ctx: ProxyContext,
    readonly res: HttpResponse,
    readonly method: string,
    readonly methodIdx: number,
    readonly path: string,
    readonly headers: string[],
    /** 0: no body; -1: stream it; n > 0: gather its n bytes first (replayable). */
    bodyPlan: number,
    private readonly t0: number
  ) {
    this.body = bodyPlan < 0 ? new BodyStream(this) : null
    if (bodyPlan > 0) this.replay = Buffer.allocUnsafe(bodyPlan)
  }

  /** True while a replayable body is still arriving: start() waits for its last byte. */
  get gathering (): boolean { return this.replay !== null && this.replayFill < this.replay.length }

  // ---- client side (uWS) ------------------------------------------------------------------

  /** uWS onAborted: the client went away. Cancel the upstream request. */
  onClientAborted (): void {
    this.aborted = true
    if (this.upstream !== null) this.upstream.abort(this)
    if (this.body !== null && !this.body.destroyed) this.body.destroy()
    if (this.slot >= 0) {
      Atomics.add(this.ctx.reader.i32, bstatBase(this.slot) + B_ERRORS + ErrorReason.CLIENT_ABORT, 1)
    }
    this.finish(499)
  }

  /** uWS onData: a request body chunk, valid only during this call, so it is copied. */
  onClientData (chunk: ArrayBuffer, isLast: boolean): void {
    const replay = this.replay
    if (replay !== null) {
      if (this.ended || this.aborted) return
      // Content-Length was checked against both limits before, and uWS delivers exactly it.
      const n = Math.min(chunk.byteLength, replay.length - this.replayFill)
      replay.set(new Uint8Array(chunk, 0, n), this.replayFill)
      this.replayFill += n
      if (isLast || this.replayFill === replay.length) {
        this.replayFill = replay.length
        this.start()
      }
      return
    }
    const body = this.body
    if (body === null || body.destroyed || this.ended) return
    this.received += chunk.byteLength
    if (this.received > this.ctx.maxBodySize) {
      body.destroy()
      if (this.upstream !== null) this.upstream.abort(this)
      this.fail(Answers.bodyTooLarge)
      return
    }
    if (chunk.byteLength > 0 && !body.push(Buffer.from(new Uint8Array(chunk))) && !isLast) {
      this.clientPaused = true
      this.res.pause()
    }
    if (isLast) body.push(null)
  }

  /** BodyStream wants more: let uWS read from the client socket again. */
  resumeClient (): void {
    if (!this.clientPaused || this.aborted || this.ended) return
    this.clientPaused = false
    this.res.resume()
  }

  // ---- upstream side (src/worker/connection.ts) --------------------------------------------

  /** Pick a backend (round robin) and send the request there. */
  start (): void {
    if (this.aborted || this.ended) return
    const reader = this.ctx.reader
    for (;;) {
      if (!reader.pick(this.slot, this.id)) {
        // On a retry with no other backend left, the honest answer is the failure itself.
        if (this.attempt > 0) {
          this.slot = -1
          this.fail(this.answer)
          return
        }
        // None healthy (start-up, the only replica being replaced): wait for one, bounded.
        this.slot = -1
        if (this.ctx.holds.tryHold(this, this.heldSince)) {
          this.holdOutcome = HOLD_AGAIN
        } else {
          if (this.heldSince >= 0) {
            this.holdOutcome = HOLD_GAVE_UP
            this.ctx.holds.gaveUp(this.heldSince)
          }
          this.fail(Answers.noBackend)
        }
        return
      }
      const pool = this.ctx.pools.get(reader.pickedSlot, reader.pickedId)
      if (pool === null) continue // the slot changed between the pick and now: pick again
      this.slot = reader.pickedSlot
      this.id = reader.pickedId
      Atomics.add(reader.i32, bstatBase(this.slot) + B_INFLIGHT, 1)
      this.dispatched = true
      if (this.retryFrom >= 0) {
        // Counted once it is really sent again: a retry that found no backend left is none.
        Atomics.add(reader.i32, bstatBase(this.retryFrom) + B_RETRIES, 1)
        this.retryFrom = -1
      }
      pool.dispatch({ path: this.path, method: this.method, headers: this.headers, body: this.replay ?? this.body }, this)
      return
    }
  }

  /** Holdable: a backend is healthy again. */
  holdReady (since: number): number {
    this.heldSince = since
    this.holdOutcome = HOLD_SENT
    this.start()
    return this.holdOutcome
  }

  /** Holdable: none became healthy within --queue-timeout. */
  holdExpired (): void { this.fail(Answers.noBackend) }

  /** SlowBodyWatch: the client's body stalled; uWS would close silently soon (slow-body.ts). */
  bodyTooSlow (): void { this.fail(Answers.bodyTooSlow) }

  onConnect (link: UpstreamLink): void {
    this.upstream = link
    if (this.aborted) link.abort(this)
  }

  onHeaders (statusCode: number, rawHeaders: string[], statusText: string, latin1: boolean): boolean {
    if (statusCode < 200) return true // 1xx interim answers are not relayed (uWS has no API for them)
    if (this.aborted || this.ended) return false
    this.status = statusCode
    this.statusText = statusText
    this.head = rawHeaders
    this.headLatin1 = latin1
    // The head is written together with the first body chunk (or the end) in one cork, so a
    // small answer leaves in one send(). If no body arrives within this turn of the event loop
    // (a slow or streaming upstream), the deferred flush writes the head alone.
    deferHead(this)
    return true
  }

  /** Write the head now if it is still pending (the deferred flush). */
  flushHead (): void {
    if (this.head === null || this.aborted || this.ended) return
    corkEx = this
    this.res.cork(corkHead)
  }

  /** Inside cork: status line and the upstream's end-to-end headers. */
  writeHead (): void {
    const res = this.res
    const raw = this.head
    if (raw === null) return
    this.head = null
    // uWS writes "200 OK" itself when no status is given: one native call less for most answers.
    if (this.status !== 200 || this.statusText !== 'OK') res.writeStatus(statusLine(this.status, this.statusText))
    if (this.clientClose) res.writeHeader('connection', 'close')
    // Names are classified without lower-casing: toLowerCase() of every name, twice, cost about
    // 1.5 µs of the ~2 µs writeHead took per request (cpuprofile, bench/NOTES.md); only a
    // Connection header with tokens still builds strings.
    let dropped: string[] | null = null
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i].length === 10 && nameIs(raw[i], 'connection')) dropped = connectionTokens(raw[i + 1])
    }
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]
      const kind = classifyName(name)
      if (kind === NAME_SKIP || kind === NAME_CONNECTION) continue // hop-by-hop; uWS writes its own Date
      if (kind === NAME_CONTENT_LENGTH) {
        // uWS writes the framing itself (tryEnd with the total, or chunked).
        this.contentLength = Number(raw[i + 1])
        continue
      }
      if (dropped !== null && dropped.includes(name.toLowerCase())) continue
      res.writeHeader(name, this.headLatin1 ? Buffer.from(raw[i + 1], 'latin1') : raw[i + 1])
    }
    this.headersSent = true
  }

  onData (chunk: Buffer): boolean {
    if (this.aborted || this.ended) return false
    corkEx = this
    const n = chunk.byteLength
    // See CORK_ROOM: what might not fit the cork buffer is written so that nothing can be lost.
    let room = CORK_ROOM
    if (this.head !== null) {
      const headBytes = headSize(this.head, 0)
      if (headBytes + n <= CORK_ROOM) {
        room -= headBytes
      } else if (headBytes <= CORK_ROOM && framedByLength(this.head)) {
        // The body goes through tryEnd() (it does not fit with the head), which reports what the
        // uncork bug drops and we resend it: the head can share the body's cork. uWS then sends
        // the head (MSG_MORE) and the body, two sends instead of three for a 16 KiB answer.
        room -= headBytes
      } else {
        this.res.cork(corkHead)
      }
    }
    corkRoom = room
    if (this.head === null && this.contentLength < 0 && n > CORK_ROOM) {
      // Pieces that fit an empty cork buffer, one cork each (writing outside cork() would be
      // safe too, but uWS warns about it on stderr).
      for (let at = 0; at < n && !this.ended && !this.aborted; at += CORK_ROOM) {
        corkChunk = chunk.subarray(at, Math.min(n, at + CORK_ROOM))
        this.res.cork(corkChunkWrite)
      }
    } else {
      corkChunk = chunk
      this.res.cork(corkChunkWrite)
    }
    return this.pending === null && !this.waitingWritable
  }

  /** Inside cork: one response body chunk, with backpressure. */
  writeChunk (chunk: Buffer): void {
    const res = this.res
    if (this.head !== null) this.writeHead()
    if (this.contentLength >= 0) {
      if (chunk.length === this.contentLength && !this.bodyStarted && chunk.length <= corkRoom) {
        // The whole body in one chunk (every small answer): end() writes it with its length and
        // keeps what the socket cannot take yet, as tryEnd would; it skips getWriteOffset() and
        // tryEnd's [ok, done] array. Only when it fits the cork with the head: end() is not an
        // optional write, so a body that does not fit could be lost to the uncork bug (CORK_ROOM);
        // tryEnd() reports such a loss as a short write and we resend.
        this.ended = true
        res.end(chunk)
        this.finish(this.status)
        return
      }
      this.bodyStarted = true
      this.pendingOffset = res.getWriteOffset()
      const [ok, done] = res.tryEnd(chunk, this.contentLength)
      if (done) {
        this.ended = true
        this.finish(this.status)
      } else if (!ok) {
        this.pending = Buffer.from(chunk) // a copy: the chunk is a view of the reused read buffer
        this.hookWritable()
      }
    } else if (!res.write(chunk)) {
      // write() buffered the whole chunk; stop reading upstream until the client drains it.
      this.waitingWritable = true
      this.hookWritable()
    }
  }

  private hookWritable (): void {
    if (this.writableHooked) return
    this.writableHooked = true
    this.res.onWritable((offset) => this.onWritable(offset))
  }

  private onWritable (offset: number): boolean {
    if (this.aborted || this.ended) return true
    const pending = this.pending
    if (pending !== null) {
      const [ok, done] = this.res.tryEnd(pending.subarray(offset - this.pendingOffset), this.contentLength)
      if (done) {
        this.pending = null
        this.ended = true
        this.finish(this.status)
        return true
      }
      if (!ok) return false
      this.pending = null
    }
    this.waitingWritable = false
    if (this.upstream !== null) this.upstream.resume(this)
    return true
  }

  onComplete (): void {
    this.upstream = null // the connection goes back to its pool and carries other exchanges
    if (this.aborted || this.ended) return
    // The upstream delivered its last byte, but the client has not taken all of it yet: the rest
    // is in `pending` and onWritable's tryEnd ends the answer when it gets there (issue #17).
    // Ending now would find the write offset short of Content-Length and close the connection:
    // a body cut by up to one read (64 KiB), whenever the last chunk met a full client socket.
    if (this.pending !== null) return
    corkEx = this
    this.res.cork(corkEnd)
  }

  /** Inside cork: end the response (bodies not yet ended by tryEnd, and bodiless answers). */
  writeEnd (): void {
    const res = this.res
    if (this.head !== null) this.writeHead()
    this.ended = true
    if (this.method === 'HEAD' || this.status === 204 || this.status === 304) {
      // No body by definition (RFC 9110 6.4.1); HEAD keeps the length the upstream reported.
      if (this.method === 'HEAD' && this.contentLength >= 0) res.endWithoutBody(this.contentLength)
      else res.endWithoutBody()
    } else if (this.contentLength >= 0) {
      // The upstream sent fewer bytes than it announced: do not pretend the body is complete.
      if (res.getWriteOffset() < this.contentLength) res.close()
      else res.end()
    } else {
      res.end()
    }
    this.finish(this.status)
  }

  onError (err: Error): void {
    const reader = this.ctx.reader
    this.releaseInflight()
    const slot = this.slot
    this.upstream = null
    if (this.aborted || this.ended) return
    const reason = classify(err)
    if (slot >= 0) {
      Atomics.add(reader.i32, bstatBase(slot) + B_ERRORS + reason, 1)
      // Passive health (like nginx's max_fails=1): a backend that refused the connection, or
      // reset it before any response byte (a dying container behind docker-proxy does that),
      // is skipped by every thread until its next passing health check.
      if (reason === ErrorReason.CONNECT || (reason === ErrorReason.RESET && !this.headersSent && this.head === null)) reader.markSuspect(slot, this.id)
    }
    if (!this.headersSent && this.canRetry(reason) && this.ctx.budget.tryWithdraw()) {
      this.answer = answerFor(err, reason)
      this.attempt++
      this.retryFrom = slot
      this.start()
      return
    }
    if (this.headersSent) {
      // Part of the answer is on the wire: the only honest signal left is closing it.
      this.ended = true
      this.res.close()
      this.finish(this.status)
      return
    }
    this.fail(answerFor(err, reason))
  }

  /**
   * Whether to try the request on another backend:
   * - after a failed connect (no byte of the request reached the upstream; any method), on every
   *   other backend in rotation, each at most once: the failing one is marked suspect and pick()
   *   skips it, so this ends when one accepts or none is left. When a Swarm node is lost, all of
   *   its replicas stop answering at once, and a request may meet each of them before passive
   *   health marks them (test/serial/swarm-two-nodes.serial.ts);
   * - after a reset before any answer, up to RESET_ATTEMPTS attempts in all, when the method is
   *   idempotent (RFC 9110 9.2.2) and the body can be sent again: none, a gathered (replayable)
   *   one, or a stream not read from yet.
   * The retry budget is checked by the caller.
   */
  private canRetry (reason: number): boolean {
    if (this.attempt >= MAX_BACKENDS) return false
    if (reason !== ErrorReason.CONNECT && this.attempt >= RESET_ATTEMPTS - 1) return false
    const body = this.body
    const untouched = body === null || (!body.readableDidRead && !body.destroyed)
    if (!untouched) return false
    if (reason === ErrorReason.CONNECT) return true
    return reason === ErrorReason.RESET && isIdempotent(this.method)
  }

  // ---- answers made by the gateway ----------------------------------------------------------

  /** Answer with a gateway error (nothing of an upstream answer has been written). */
  fail (answer: GatewayAnswer): void {
    if (this.aborted || this.ended) return
    if (this.headersSent) {
      this.ended = true
      this.res.close()
      this.finish(this.status)
      return
    }
    this.answer = answer
    corkEx = this
    this.res.cork(corkAnswer)
  }

  /** Inside cork. */
  writeAnswer (): void {
    const a = this.answer
    const res = this.res
    this.ended = true
    this.status = a.statusCode
    res.writeStatus(a.status)
    res.writeHeader('content-type', 'application/json')
    if (a.retryAfter > 0) res.writeHeader('retry-after', String(a.retryAfter))
    if (a.close || this.clientClose) res.writeHeader('connection', 'close')
    res.end(a.body, a.close)
    if (this.upstream !== null) this.upstream.abort(this)
    this.finish(a.statusCode)
  }

  /** Count the exchange once: status class per backend and method, latency histogram. */
  private finish (status: number): void {
    if (this.finished) return
    this.finished = true
    const i32 = this.ctx.reader.i32
    const backend = this.slot >= 0 ? this.slot : NO_BACKEND
    this.releaseInflight()
    if (status !== 499) recordResponse(i32, backend, this.methodIdx, status, this.ctx.workerBase, this.t0)
    this.ctx.onFinished()
  }

  /** Drop this exchange from its backend's in-flight gauge, once per dispatch. */
  private releaseInflight (): void {
    if (!this.dispatched) return
    this.dispatched = false
    Atomics.sub(this.ctx.reader.i32, bstatBase(this.slot) + B_INFLIGHT, 1)
  }
}

/** Attempts of an idempotent request whose connections keep being reset: the first and two retries (canRetry). */
const RESET_ATTEMPTS = 3

/**
 * Map an upstream failure to the ErrorReason it is counted under. Our own client
 * (src/worker/connection.ts) reports either an UpstreamError or the socket's system error;
 * undici only makes health probes, so none of its or llhttp's codes can reach here.
 */
export function classify (err: Error & { code?: string }): number {
  if (err instanceof UpstreamError) return err.reason
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EAI_AGAIN':
    case 'EADDRNOTAVAIL':
      return ErrorReason.CONNECT
    case 'ETIMEDOUT':
      return ErrorReason.TIMEOUT
    case 'ECONNRESET':
    case 'EPIPE':
      return ErrorReason.RESET
    default:
      return ErrorReason.OTHER
  }
}

/**
 * The answer a failure becomes when no retry saves it: 504 for a connect or response timeout
 * (the UpstreamError says which code), 502 for everything else.
 */
function answerFor (err: Error, reason: number): GatewayAnswer {
  const timedOut = err instanceof UpstreamError ? err.code === ProxyErrorCodes.UPSTREAM_TIMEOUT : reason === ErrorReason.TIMEOUT
  return timedOut ? Answers.upstreamTimeout : Answers.upstreamFailed
}
