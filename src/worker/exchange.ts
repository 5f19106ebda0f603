import { Readable } from 'node:stream'
import type { HttpResponse } from 'uWebSockets.js'
import { B_INFLIGHT, B_RETRIES, B_ERRORS, B_DISCARDED, ErrorReason, NO_BACKEND, W_TRIAL_RETRIES, bstatBase } from '../table/layout'
import { recordResponse } from './record'
import { SLAB_BYTES, giveBack, keepCopy } from './slabs'
import type { TableReader } from '../table/reader'
import type { PoolSet, Upstream } from './upstream'
import type { AccessLog } from './access-log'
import type { AccessRecord } from './access-line'
import type { UpstreamHandler, UpstreamLink } from './connection'
import { connectionTokens } from './headers'
import { Answers, type GatewayAnswer } from './respond'
import { HOLD_SENT, HOLD_AGAIN, HOLD_GAVE_UP, type HoldQueue, type Holdable } from './holds'
import type { RetryBudget } from './budget'
import type { DrainView } from './drain'
import { answerFor, classify, mayRetry, mayRetryOnSettled } from './retry'
import { CORK_ROOM, NAME_CONNECTION, NAME_CONTENT_LENGTH, NAME_SKIP, classifyName, framedByLength, headSize, nameIs, statusLine } from './response-head'
import {
  S_NEW, S_GATHERING, S_HELD, S_SENT, S_DISCARDING, S_HEAD, S_BODY, S_BLOCKED, S_FLUSHING, S_DONE, S_ABORTED,
  answerStarted, checkMove, isTerminal, type ExchangeState
} from './exchange-state'

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
  /** Whether the thread is draining: answers then say `Connection: close` (src/worker/drain.ts). */
  readonly life: DrainView
  /** An answer already on the wire had to be cut (the upstream failed mid-body): said once per answer. */
  onCut: (ex: Exchange, reason: number) => void
  /** Where finished requests are written (NO_ACCESS_LOG without --access-log). */
  readonly accessLog: AccessLog
}

// Module-level scratch for res.cork(): cork runs its callback synchronously, so passing the
// exchange through these avoids a closure per write (no allocation per request on the hot path).
let corkEx: Exchange
let corkChunk: Buffer
/** Bytes of the cork buffer left for corkChunk once the head that shares its cork (if any) is in. */
let corkRoom = 0
function corkHead (): void { corkEx.writeHead() }
function corkChunkWrite (): void { corkEx.writeChunk(corkChunk) }
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

/**
 * Push copies of a request body chunk (valid only during uWS's onData) into `body`; false when
 * its buffer is full. Pieces of a quarter slab or more are copied into slabs, which the upstream
 * connection gives back once written (src/worker/connection.ts, writeBody): a 1 GiB upload then
 * reuses a few MiB of blocks instead of leaving 1 GiB of copies to the GC, which on Node 24 let
 * the proxy's RSS grow by 60-68 MiB between collections (test/worker/streaming.test.ts). Smaller
 * pieces are plain copies, so that a trickle of tiny chunks never holds a 64 KiB slab each.
 */
function pushCopies (body: BodyStream, chunk: ArrayBuffer): boolean {
  const n = chunk.byteLength
  if (n < SLAB_BYTES / 4) return n === 0 || body.push(Buffer.from(new Uint8Array(chunk)))
  let more = true
  for (let off = 0; off < n; off += SLAB_BYTES) {
    more = body.push(keepCopy(new Uint8Array(chunk, off, Math.min(SLAB_BYTES, n - off))))
  }
  return more
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
 * Its progress is one `state` (src/worker/exchange-state.ts), moved only through `move()`,
 * which throws on a move the table does not allow. Invariants: `res` is never touched in a
 * terminal state; every write after the first synchronous part of the uWS handler happens
 * inside `res.cork()`; the move into a terminal state counts the exchange, once.
 */
export class Exchange implements UpstreamHandler, Holdable, AccessRecord {
  state: ExchangeState
  /** The slot whose in-flight gauge counts this exchange (-1: none). */
  private inflightSlot = -1
  private slot = -1
  private id = 0
  /** The backend of the current or last attempt, for its name in log lines. */
  private pool: Upstream | null = null
  private attempt = 0
  /** Answers of replicas on trial discarded for a retry on a settled one (at most one: mayRetryOnSettled). */
  private discarded = 0
  /** In DISCARDING: the settled backend picked for the retry. */
  private settledSlot = -1
  private settledId = 0
  /** Response body bytes handed to uWS (the access log's `bytes`). */
  private sent = 0
  /** The slot whose failure the next dispatch retries, counted there when it goes out; -1 = none. */
  private retryFrom = -1
  private status = 0
  private contentLength = -1
  private answer: GatewayAnswer = Answers.upstreamFailed
  /** The connection carrying the current attempt (null before and after it). */
  private upstream: UpstreamLink | null = null
  /** The client's request body is paused (the upload direction's own flow control). */
  private clientPaused = false
  private received = 0
  /** In BLOCKED/FLUSHING with a Content-Length body: what tryEnd could not write yet (a slab copy, src/worker/slabs.ts). */
  private pending: Buffer | null = null
  private pendingOffset = 0
  private writableHooked = false
  /** Part of the response body has been handed to uWS's tryEnd. */
  private bodyStarted = false
  /** The upstream's head, from onHeaders until it is written (state HEAD). */
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
    readonly t0: number,
    /** The client's address (as X-Forwarded-For carries it). */
    readonly client: string,
    /** The client's X-Request-ID when sane, else one of ours (src/worker/request-id.ts). */
    readonly requestId: string
  ) {
    this.body = bodyPlan < 0 ? new BodyStream(this) : null
    if (bodyPlan > 0) this.replay = Buffer.allocUnsafe(bodyPlan)
    this.state = bodyPlan > 0 ? S_GATHERING : S_NEW
  }

  /** Answered or aborted: nothing may be written to the client any more (Holdable, SlowBodyTarget). */
  get over (): boolean { return isTerminal(this.state) }
  /** True while a replayable body is still arriving: start() waits for its last byte. */
  get gathering (): boolean { return this.state === S_GATHERING }
  /** AccessRecord: host:port of the backend that answered or was last tried, '' for none. */
  get backendName (): string { return this.pool === null ? '' : this.pool.name }
  /** AccessRecord: attempts after the first. */
  get retries (): number { return this.attempt }
  /** AccessRecord: response body bytes handed to the client's connection. */
  get sentBytes (): number { return this.sent }

  private move (to: ExchangeState): void { this.state = checkMove(this.state, to) }

  // ---- client side (uWS) ------------------------------------------------------------------

  /** uWS onAborted: the client went away. Cancel the upstream request. */
  onClientAborted (): void {
    if (isTerminal(this.state)) return // uWS can report an abort after the answer ended
    this.move(S_ABORTED)
    this.dropPending() // what the client will never take: its slab goes back at once, not with the exchange's GC
    if (this.upstream !== null) this.upstream.abort(this)
    if (this.body !== null && !this.body.destroyed) this.body.destroy()
    if (this.slot >= 0) Atomics.add(this.ctx.reader.i32, bstatBase(this.slot) + B_ERRORS + ErrorReason.CLIENT_ABORT, 1)
    this.finish(499)
  }

  /** uWS onData: a request body chunk, valid only during this call, so it is copied. */
  onClientData (chunk: ArrayBuffer, isLast: boolean): void {
    if (isTerminal(this.state)) return
    const replay = this.replay
    if (replay !== null) {
      if (this.state !== S_GATHERING) return
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
    if (body === null || body.destroyed) return
    this.received += chunk.byteLength
    if (this.received > this.ctx.maxBodySize) {
      body.destroy()
      if (this.upstream !== null) this.upstream.abort(this)
      this.fail(Answers.bodyTooLarge)
      return
    }
    if (!pushCopies(body, chunk) && !isLast) {
      this.clientPaused = true
      this.res.pause()
    }
    if (isLast) body.push(null)
  }

  /** BodyStream wants more: let uWS read from the client socket again. */
  resumeClient (): void {
    if (!this.clientPaused || isTerminal(this.state)) return
    this.clientPaused = false
    this.res.resume()
  }

  // ---- pick and send ----------------------------------------------------------------------

  /** Pick a backend (round robin) and send the request there. */
  start (): void {
    if (isTerminal(this.state)) return
    const reader = this.ctx.reader
    for (;;) {
      if (!reader.pick(this.slot, this.id)) {
        this.slot = -1
        // On a retry with no other backend left, the honest answer is the failure itself.
        if (this.attempt > 0) this.fail(this.answer)
        else this.hold()
        return
      }
      if (this.sendTo(reader.pickedSlot, reader.pickedId)) return
      // the slot changed between the pick and now: pick again
    }
  }

  /** Send the request to backend `id` in `slot`; false when the slot holds another backend by now. */
  private sendTo (slot: number, id: number): boolean {
    const pool = this.ctx.pools.get(slot, id)
    if (pool === null) return false
    const i32 = this.ctx.reader.i32
    this.slot = slot
    this.id = id
    this.pool = pool
    this.inflightSlot = slot
    Atomics.add(i32, bstatBase(slot) + B_INFLIGHT, 1)
    if (this.retryFrom >= 0) {
      // Counted once it is really sent again: a retry that found no backend left is none.
      Atomics.add(i32, bstatBase(this.retryFrom) + B_RETRIES, 1)
      this.retryFrom = -1
    }
    this.move(S_SENT)
    pool.dispatch({ path: this.path, method: this.method, headers: this.headers, body: this.replay ?? this.body }, this)
    return true
  }

  /** None healthy (start-up, the only replica being replaced): wait for one, bounded. */
  private hold (): void {
    if (this.ctx.holds.tryHold(this, this.heldSince)) {
      if (this.state !== S_HELD) this.move(S_HELD)
      this.holdOutcome = HOLD_AGAIN
      return
    }
    if (this.heldSince >= 0) {
      this.holdOutcome = HOLD_GAVE_UP
      this.ctx.holds.gaveUp(this.heldSince)
    }
    this.fail(Answers.noBackend)
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

  // ---- the upstream's answer (src/worker/connection.ts) ----------------------------------

  onConnect (link: UpstreamLink): void {
    this.upstream = link
    if (isTerminal(this.state)) link.abort(this)
  }

  onHeaders (statusCode: number, rawHeaders: string[], statusText: string, latin1: boolean): boolean {
    if (statusCode < 200) return true // 1xx interim answers are not relayed (uWS has no API for them)
    if (this.state !== S_SENT) return false
    // false closes the connection, and onError sends the request to the settled replica.
    if (statusCode >= 500 && this.discardForSettled(statusCode)) return false
    this.move(S_HEAD)
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

  /**
   * SENT → DISCARDING when a replica on trial (a rollout's new version) answered a 5xx that
   * mayRetryOnSettled allows to retry, a settled replica is in rotation, and the retry budget
   * has room. Nothing of the answer was written: its head is decided on here, before any byte of
   * it goes to the client. The connection is closed rather than its body read (the body of a
   * 5xx is small, but a closed connection is the one state that cannot leak), and the answer
   * still counts against the replica on trial (B_DISCARDED), whose failures the rollout's
   * analysis reads (src/rollout/answers.ts): the rollback must still see it.
   */
  private discardForSettled (status: number): boolean {
    const reader = this.ctx.reader
    if (!mayRetryOnSettled(status, this.method, this.replayable(), reader.onTrial(this.slot, this.id), this.discarded > 0)) return false
    if (!reader.pick(this.slot, this.id, true) || !this.ctx.budget.tryWithdraw()) return false
    this.move(S_DISCARDING)
    this.settledSlot = reader.pickedSlot
    this.settledId = reader.pickedId
    this.discarded++
    Atomics.add(reader.i32, bstatBase(this.slot) + B_DISCARDED, 1)
    Atomics.add(reader.i32, this.ctx.workerBase + W_TRIAL_RETRIES, 1)
    return true
  }

  /** DISCARDING → SENT: the discarded answer's connection is closed; on to the settled replica. */
  private retryOnSettled (): void {
    this.attempt++
    this.retryFrom = this.slot
    // The picked slot may hold another backend by now (a few microseconds ago): any other then,
    // and should that be on trial too, its answer is relayed (one discard per request).
    if (!this.sendTo(this.settledSlot, this.settledId)) this.start()
  }

  /** Write the head now if it is still waiting (the deferred flush). */
  flushHead (): void {
    if (this.state !== S_HEAD) return
    corkEx = this
    this.res.cork(corkHead)
  }

  /** Inside cork: status line and the upstream's end-to-end headers. HEAD → BODY. */
  writeHead (): void {
    const res = this.res
    const raw = this.head
    if (raw === null) return
    this.head = null
    this.move(S_BODY)
    // uWS writes "200 OK" itself when no status is given: one native call less for most answers.
    if (this.status !== 200 || this.statusText !== 'OK') res.writeStatus(statusLine(this.status, this.statusText))
    res.writeHeader('x-request-id', this.requestId)
    if (this.clientClose || this.ctx.life.draining) res.writeHeader('connection', 'close')
    // Names are classified without lower-casing: toLowerCase() of every name, twice, cost about
    // 1.5 µs of the ~2 µs writeHead took per request (a cpuprofile of the worker); only a
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
  }

  onData (chunk: Buffer): boolean {
    const state = this.state
    if (state !== S_HEAD && state !== S_BODY && state !== S_BLOCKED) return false
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
      for (let at = 0; at < n && !isTerminal(this.state); at += CORK_ROOM) {
        corkChunk = chunk.subarray(at, Math.min(n, at + CORK_ROOM))
        this.res.cork(corkChunkWrite)
      }
    } else {
      corkChunk = chunk
      this.res.cork(corkChunkWrite)
    }
    return this.state === S_BODY || this.state === S_DONE
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
        this.move(S_DONE)
        this.sent = chunk.length
        res.end(chunk)
        this.finish(this.status)
        return
      }
      this.bodyStarted = true
      this.sent += chunk.length
      this.pendingOffset = res.getWriteOffset()
      const [ok, done] = res.tryEnd(chunk, this.contentLength)
      if (done) {
        this.move(S_DONE)
        this.finish(this.status)
      } else if (!ok) {
        this.pending = keepCopy(chunk) // a copy: the chunk is a view of the reused read buffer
        this.block()
      }
    } else {
      this.sent += chunk.length
      // write() buffered the whole chunk; stop reading upstream until the client drains it.
      if (!res.write(chunk)) this.block()
    }
  }

  /** The client's socket is full: BODY → BLOCKED, resumed by onWritable. */
  private block (): void {
    if (this.state === S_BODY) this.move(S_BLOCKED)
    if (this.writableHooked) return
    this.writableHooked = true
    this.res.onWritable((offset) => this.onWritable(offset))
  }

  private onWritable (offset: number): boolean {
    const state = this.state
    if (state !== S_BLOCKED && state !== S_FLUSHING) return true
    const pending = this.pending
    if (pending !== null) {
      const [ok, done] = this.res.tryEnd(pending.subarray(offset - this.pendingOffset), this.contentLength)
      if (done) {
        this.dropPending()
        this.move(S_DONE)
        this.finish(this.status)
        return true
      }
      if (!ok) return false
      this.dropPending()
    }
    if (state === S_FLUSHING) {
      // Everything up to the end was in `pending`, so tryEnd reported done; a chunked body
      // never waits here (write() keeps what it cannot send).
      return true
    }
    this.move(S_BODY)
    if (this.upstream !== null) this.upstream.resume(this)
    return true
  }

  onComplete (): void {
    this.upstream = null // the connection goes back to its pool and carries other exchanges
    if (isTerminal(this.state)) return
    if (this.pending !== null) {
      // The upstream delivered its last byte but the client has not taken all of it: the rest
      // is in `pending`, and onWritable's tryEnd ends the answer when it gets there. Ending now
      // would find the write offset short of Content-Length and close the connection, a body
      // cut by up to one read (issue #17).
      this.move(S_FLUSHING)
      return
    }
    corkEx = this
    this.res.cork(corkEnd)
  }

  /** Inside cork: end the response (bodies not yet ended by tryEnd, and bodiless answers). */
  writeEnd (): void {
    const res = this.res
    if (this.head !== null) this.writeHead()
    this.move(S_DONE)
    if (this.method === 'HEAD' || this.status === 204 || this.status === 304) {
      // No body by definition (RFC 9110 6.4.1); HEAD keeps the length the upstream reported.
      if (this.method === 'HEAD' && this.contentLength >= 0) res.endWithoutBody(this.contentLength)
      else res.endWithoutBody()
    } else if (this.contentLength >= 0 && res.getWriteOffset() < this.contentLength) {
      // Cannot happen from a well-framed upstream (the parser ends a Content-Length body only
      // at its last byte, and `pending` holds what the client has not taken); should it ever,
      // closing is the honest signal: a body that looks whole must be whole.
      res.close()
      this.ctx.onCut(this, ErrorReason.PROTOCOL)
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
    const state = this.state
    if (isTerminal(state)) return
    if (state === S_DISCARDING) {
      this.retryOnSettled()
      return
    }
    const reason = classify(err)
    if (slot >= 0) {
      Atomics.add(reader.i32, bstatBase(slot) + B_ERRORS + reason, 1)
      // Passive health (like nginx's max_fails=1): a backend that refused the connection, or
      // reset it before any response byte (a dying container behind docker-proxy does that),
      // is skipped by every thread until its next passing health check.
      if (reason === ErrorReason.CONNECT || (reason === ErrorReason.RESET && state === S_SENT)) reader.markSuspect(slot, this.id)
    }
    if (state === S_SENT && mayRetry(this.attempt, reason, this.method, this.replayable()) && this.ctx.budget.tryWithdraw()) {
      this.answer = answerFor(err, reason)
      this.attempt++
      this.retryFrom = slot
      this.start()
      return
    }
    if (answerStarted(state)) {
      // Part of the answer is on the wire: the only honest signal left is closing it.
      this.cut(reason)
      return
    }
    this.fail(answerFor(err, reason))
  }

  /** Whether the request body can be sent again: none, a gathered one, or a stream not read from yet. */
  private replayable (): boolean {
    const body = this.body
    return body === null || (!body.readableDidRead && !body.destroyed)
  }

  // ---- answers made by the gateway ----------------------------------------------------------

  /** Answer with a gateway error, or close if part of an upstream answer is already written. */
  fail (answer: GatewayAnswer): void {
    const state = this.state
    if (isTerminal(state)) return
    if (answerStarted(state)) {
      this.cut(ErrorReason.OTHER)
      return
    }
    this.head = null // a head that arrived but was not written gives way to the gateway's answer
    this.answer = answer
    corkEx = this
    this.res.cork(corkAnswer)
  }

  /** Close a connection whose answer is partly written: the client sees the cut, never a short body. */
  private cut (reason: number): void {
    this.move(S_DONE)
    this.dropPending()
    this.res.close()
    this.ctx.onCut(this, reason)
    this.finish(this.status)
  }

  /** Inside cork. */
  writeAnswer (): void {
    const a = this.answer
    const res = this.res
    this.move(S_DONE)
    this.status = a.statusCode
    res.writeStatus(a.status)
    res.writeHeader('content-type', 'application/json')
    res.writeHeader('x-request-id', this.requestId)
    if (a.retryAfter > 0) res.writeHeader('retry-after', String(a.retryAfter))
    if (a.close || this.clientClose || this.ctx.life.draining) res.writeHeader('connection', 'close')
    this.sent = a.body.length
    res.end(a.body, a.close)
    if (this.upstream !== null) this.upstream.abort(this)
    this.finish(a.statusCode)
  }

  /** Count the exchange once (it has just moved into a terminal state): status class per backend and method, latency. */
  private finish (status: number): void {
    const i32 = this.ctx.reader.i32
    const backend = this.slot >= 0 ? this.slot : NO_BACKEND
    this.releaseInflight()
    if (status !== 499) recordResponse(i32, backend, this.methodIdx, status, this.ctx.workerBase, this.t0)
    this.ctx.accessLog.write(this, status)
    this.ctx.onFinished()
  }

  private dropPending (): void {
    const pending = this.pending
    if (pending === null) return
    this.pending = null
    giveBack(pending)
  }

  /** Drop this exchange from its backend's in-flight gauge, once per dispatch. */
  private releaseInflight (): void {
    const slot = this.inflightSlot
    if (slot < 0) return
    this.inflightSlot = -1
    Atomics.sub(this.ctx.reader.i32, bstatBase(slot) + B_INFLIGHT, 1)
  }
}
