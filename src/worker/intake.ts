import type { HttpRequest, HttpResponse } from 'uWebSockets.js'
import type { ProxySettings, ThreadTls } from '../config/types'
import { methodIndex, NO_BACKEND, W_REQUESTS } from '../table/layout'
import { Exchange, type ProxyContext } from './exchange'
import { isHopByHop, isChunked, connectionTokens, dropNamed, parseContentLength, clientAddress, MAX_HEADER_LINES } from './headers'
import { recordResponse } from './record'
import { Answers, type GatewayAnswer } from './respond'
import { Refusals, Refused } from './refusals'
import { RequestIds, saneRequestId } from './request-id'
import type { SlowBodyWatch } from './slow-body'

/** What the intake needs of the thread's settings. */
export type IntakeSettings = Pick<ProxySettings, 'maxHeaderSize' | 'maxBodySize' | 'replayBodyLimit'> & {
  /** Non-null when the port serves HTTPS: X-Forwarded-Proto says so. */
  readonly tls: ThreadTls | null
}

/** The thread's side of a request's life the intake reports to (src/worker/drain.ts). */
export interface IntakeLife {
  /** A request was accepted (an exchange began). */
  began: () => void
}

/**
 * Accept: a request's head, read while uWS's HttpRequest is valid (only during the handler),
 * becomes an Exchange that is started at once, or is refused with a gateway answer (400, 413,
 * 431) before any upstream work.
 *
 * The head's fields are gathered by `collect`, bound once per thread, into the scratch fields
 * below: reading a head allocates no closure. The handler runs to completion before the next
 * request is read, so one set of scratch fields serves every request of the thread.
 */
export class Intake {
  private hdrs: string[] = []
  private contentLengths = 0
  private contentLength = -1
  private chunked = false
  private badTE = false
  private hostHeader = ''
  private xff = ''
  private connection = ''
  private requestId = ''
  private headBytes = 0
  private headLines = 0
  private readonly refusals: Refusals
  private readonly i32: Int32Array
  private readonly ids = new RequestIds()
  /** X-Forwarded-Proto: what the client spoke to this port, fixed for the thread's life. */
  private readonly proto: string

  constructor (
    private readonly ctx: ProxyContext,
    private readonly settings: IntakeSettings,
    private readonly slowBodies: SlowBodyWatch,
    private readonly life: IntakeLife
  ) {
    this.i32 = ctx.reader.i32
    this.proto = settings.tls === null ? 'http' : 'https'
    this.refusals = new Refusals(this.answerNow, (r) => {
      recordResponse(this.i32, NO_BACKEND, r.methodIdx, r.answer.statusCode, ctx.workerBase, r.t0)
      ctx.accessLog.write(r, 499)
    })
  }

  /** Refusals waiting for the next turn (answered at once on close). */
  flush (): void { this.refusals.flush() }

  /** uWS's handler for every method and path. */
  readonly onRequest = (res: HttpResponse, req: HttpRequest): void => {
    Atomics.add(this.i32, this.ctx.workerBase + W_REQUESTS, 1)
    const t0 = performance.now()
    const method = req.getCaseSensitiveMethod()
    const query = req.getQuery()
    const path = query === undefined || query === '' ? req.getUrl() : req.getUrl() + '?' + query
    this.readHead(req, method, path)
    const requestId = saneRequestId(this.requestId) ? this.requestId : this.ids.next()
    const mi = methodIndex(method)
    const reject = this.check()
    if (reject !== null) {
      const r = new Refused(res, reject, method, mi, path, t0, clientAddress(res), requestId)
      if (reject.close) this.refusals.refuse(r)
      else this.answerNow(r)
      return
    }
    this.forward(res, method, mi, path, t0, requestId)
  }

  private readHead (req: HttpRequest, method: string, path: string): void {
    this.hdrs = []
    this.contentLengths = 0
    this.contentLength = -1
    this.chunked = false
    this.badTE = false
    this.hostHeader = ''
    this.xff = ''
    this.connection = ''
    this.requestId = ''
    this.headBytes = method.length + path.length + 12 // "METHOD path HTTP/1.1\r\n"
    this.headLines = 0
    req.forEach(this.collect)
  }

  private readonly collect = (name: string, value: string): void => {
    this.headBytes += name.length + value.length + 4 // "name: value\r\n"
    this.headLines++
    switch (name) {
      case 'content-length':
        this.contentLengths++
        this.contentLength = parseContentLength(value)
        this.hdrs.push(name, value)
        return
      case 'transfer-encoding':
        // uWS decodes exactly one coding, chunked; anything else could be read two ways. Only
        // HTTP's own whitespace (SP, HTAB) may surround it: trim() would also take \v and \f.
        if (this.chunked || !isChunked(value)) this.badTE = true
        else this.chunked = true
        return
      case 'host':
        this.hostHeader = value
        break
      case 'x-forwarded-for':
        this.xff = value
        return
      case 'x-forwarded-proto':
      case 'x-forwarded-host':
        return
      case 'connection':
        this.connection = value
        return
      case 'x-request-id':
        // Forwarded as the id the request ends up with (forward()). Two of them: which one would
        // the backend believe? Neither is kept (a space is never sane).
        this.requestId = this.requestId === '' ? value : ' '
        return
    }
    if (!isHopByHop(name)) this.hdrs.push(name, value)
  }

  /** The answer a head is refused with, or null when it may go on. */
  private check (): GatewayAnswer | null {
    if (this.headBytes > this.settings.maxHeaderSize) return Answers.headersTooLarge
    if (this.headLines > MAX_HEADER_LINES) return Answers.tooManyHeaderLines
    if (this.badTE || (this.chunked && this.contentLengths > 0)) return Answers.badFraming
    if (this.contentLengths > 1 || (this.contentLengths === 1 && this.contentLength < 0)) return Answers.badContentLength
    if (this.contentLength > this.settings.maxBodySize) return Answers.bodyTooLarge
    return null
  }

  /** The request goes on: forwarding headers added, an Exchange started. */
  private forward (res: HttpResponse, method: string, mi: number, path: string, t0: number, requestId: string): void {
    const client = clientAddress(res)
    let headers = this.hdrs
    const connection = this.connection
    if (connection !== '') {
      const tokens = connectionTokens(connection)
      if (tokens !== null) headers = dropNamed(headers, tokens)
    }
    headers.push('x-forwarded-for', this.xff === '' ? client : this.xff + ', ' + client)
    headers.push('x-forwarded-proto', this.proto)
    if (this.hostHeader !== '') headers.push('x-forwarded-host', this.hostHeader)
    headers.push('x-request-id', requestId)

    // Small bodies of known size are gathered first so the request can be retried or held;
    // others stream with backpressure.
    const cl = this.contentLength
    const bodyPlan = this.chunked ? -1 : cl <= 0 ? 0 : cl <= this.settings.replayBodyLimit ? cl : -1
    const ex = new Exchange(this.ctx, res, method, mi, path, headers, bodyPlan, t0, client, requestId)
    if (connection !== '' && /(^|,)\s*close\s*(,|$)/i.test(connection)) ex.clientClose = true
    this.life.began()
    this.ctx.budget.deposit()
    res.onAborted(() => ex.onClientAborted())
    if (bodyPlan !== 0) {
      const slowBodies = this.slowBodies
      const watched = slowBodies.start(ex, t0)
      res.onData((chunk, isLast) => {
        slowBodies.feed(watched, chunk.byteLength, isLast, performance.now())
        ex.onClientData(chunk, isLast)
      })
    }
    if (!ex.gathering) ex.start()
  }

  /** Synchronous gateway answer, before any upstream work (still corked by uWS). */
  private readonly answerNow = (r: Refused): void => {
    const res = r.res
    const a = r.answer
    res.writeStatus(a.status)
    res.writeHeader('content-type', 'application/json')
    res.writeHeader('x-request-id', r.requestId)
    if (a.retryAfter > 0) res.writeHeader('retry-after', String(a.retryAfter))
    if (a.close || this.ctx.life.draining) res.writeHeader('connection', 'close')
    r.sentBytes = a.body.length
    res.end(a.body, a.close)
    recordResponse(this.i32, NO_BACKEND, r.methodIdx, a.statusCode, this.ctx.workerBase, r.t0)
    this.ctx.accessLog.write(r, a.statusCode)
  }
}
