import { parseContentLength } from './headers'

/**
 * Incremental HTTP/1.1 response parser for the upstream side (RFC 9112). Bytes go in through
 * `execute()`; the head, body chunks and the end come out through a {@link ResponseSink}.
 *
 * It replaces undici's llhttp + Readable stack on the request path: with it the worker spends
 * about half the CPU per small request (docs/performance.md, "What we tried"). Strict where llhttp is strict about what
 * could be read two ways (Content-Length with Transfer-Encoding, repeated or malformed
 * Content-Length, obs-fold, bad chunk sizes): those are protocol errors, answered 502.
 */

/** Receives the parts of one response. Body chunks are views of the read buffer: copy to keep. */
export interface ResponseSink {
  /**
   * The head of a final (>= 200) response. `headers` is flat [name, value, …] as received
   * (names in their case, values without surrounding whitespace), one char per byte; `latin1`
   * is true when some value holds bytes above 0x7f (obs-text), which must be written back as
   * bytes, not as UTF-8.
   */
  onHead (status: number, statusText: string, headers: string[], latin1: boolean): void
  /** A piece of the body, valid only during the call. Return false to pause the parser. */
  onBody (chunk: Buffer): boolean
  /** The response is complete. */
  onEnd (): void
}

/** What a response does with the bytes after its head. */
export const BODY_NONE = 0
export const BODY_LENGTH = 1
export const BODY_CHUNKED = 2
/** Until the server closes the connection (no length, no chunked). */
export const BODY_CLOSE = 3

const S_HEAD = 0
const S_BODY = 1
const S_CHUNK_SIZE = 2
const S_CHUNK_DATA = 3
const S_CHUNK_CRLF = 4
const S_TRAILERS = 5
const S_DONE = 6
const S_ERROR = 7

/** Largest response head accepted, like undici's default maxHeaderSize. */
export const MAX_HEAD_BYTES = 16 * 1024
/** Largest chunk-size or trailer line. */
const MAX_LINE = 4096

/** tchar (RFC 9110 section 5.6.2), by character code. */
const TCHAR = new Uint8Array(128)
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1

/** What {@link scanHead} returns when it found no end of the head, or a byte no head may hold. */
const HEAD_INCOMPLETE = -1
const HEAD_BAD = -2

/**
 * Where each line of the head scanned last ends (the offset of its CR), where its first colon
 * is (-1 when none) and whether the name before it is a token, filled by {@link scanHead}. One
 * set of arrays per thread, reused by every parse: the scan of one head is always finished
 * before the next one starts (parseHead reads them right after, synchronously). A head of
 * MAX_HEAD_BYTES holds at most half as many lines.
 */
const LINE_END = new Int32Array(MAX_HEAD_BYTES / 2 + 2)
const COLON = new Int32Array(MAX_HEAD_BYTES / 2 + 2)
/** 1 when every byte before the line's first colon is a tchar (a valid field name, if not empty). */
const NAME_OK = new Uint8Array(MAX_HEAD_BYTES / 2 + 2)
/** Lines recorded by the last scan (the status line included), and whether it saw obs-text. */
let scanLines = 0
let scanLatin1 = false

/**
 * One pass over the bytes of `buf[from, to)`, looking for the blank line that ends the head and
 * checking, on the way, that field values hold visible ASCII, obs-text, SP and HTAB only (RFC 9110
 * section 5.5): a CR or LF outside a CRLF, or another control character, is HEAD_BAD; and noting
 * the lines whose name (the bytes before the first colon) is not a token. Returns the
 * offset of the blank line's CR, HEAD_INCOMPLETE when the head does not end in this buffer, or
 * HEAD_BAD. Bytes, not a string: a charCodeAt loop over the decoded head, plus Buffer.indexOf for
 * the blank line, was 60 % of a response's parsing time in a profile.
 */
function scanHead (buf: Buffer, from: number, to: number): number {
  let lines = 0
  let lineStart = from
  let colon = -1
  let nameOk = 1
  let latin1 = false
  for (let i = from; i < to; i++) {
    const c = buf[i]
    if (c >= 0x20) {
      if (colon < 0) {
        // Still in the field name (or the status line, whose flag is never read).
        if (c === 0x3a) colon = i
        else if (c > 127 || TCHAR[c] === 0) nameOk = 0
      }
      if (c >= 0x7f) {
        if (c === 0x7f) return HEAD_BAD
        latin1 = true
      }
    } else if (c === 13) {
      if (i + 1 === to) break
      if (buf[i + 1] !== 10) return HEAD_BAD
      if (i === lineStart && lines > 0) {
        scanLines = lines
        scanLatin1 = latin1
        return i
      }
      LINE_END[lines] = i
      COLON[lines] = colon
      NAME_OK[lines] = nameOk
      lines++
      colon = -1
      nameOk = 1
      i++
      lineStart = i + 1
    } else if (c !== 9) {
      return HEAD_BAD
    } else if (colon < 0) {
      nameOk = 0 // HTAB in a name
    }
  }
  return HEAD_INCOMPLETE
}

/** ASCII case-insensitive equality of `s` with a lower-case literal of the same length. */
function lowerIs (s: string, lower: string): boolean {
  if (s.length !== lower.length) return false
  for (let i = 0; i < lower.length; i++) {
    if ((s.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false
  }
  return true
}

/** Whether a comma-separated field value lists `token` (lower case). */
function listHas (value: string, token: string): boolean {
  const parts = value.split(',')
  for (let i = 0; i < parts.length; i++) {
    if (lowerIs(parts[i].trim(), token)) return true
  }
  return false
}

export class ResponseParser {
  /** Set when execute() stopped on a malformed response; the connection cannot be used again. */
  error: string | null = null
  /** The sink asked to pause: execute() returned early; call it again with the rest. */
  paused = false
  /** The connection may carry another request after this response. */
  keepAlive = true
  /** A final response head has been delivered. */
  headDone = false
  bodyKind = BODY_NONE
  private state = S_DONE
  private remaining = 0
  private noBody = false
  private partial: Buffer | null = null
  private line = ''

  constructor (private readonly sink: ResponseSink) {}

  /** Begin reading the response to a request (`head`: the request was HEAD, so no body). */
  reset (head: boolean): void {
    this.state = S_HEAD
    this.error = null
    this.paused = false
    this.keepAlive = true
    this.headDone = false
    this.bodyKind = BODY_NONE
    this.remaining = 0
    this.noBody = head
    this.partial = null
    this.line = ''
  }

  get done (): boolean { return this.state === S_DONE }

  /**
   * Consume `buf[start, end)`. Returns the offset where it stopped: `end`, or earlier when the
   * response is complete (the rest is not part of it), when the sink paused, or on an error.
   */
  execute (buf: Buffer, start: number, end: number): number {
    this.paused = false
    let pos = start
    while (pos < end) {
      switch (this.state) {
        case S_HEAD:
          pos = this.readHead(buf, pos, end)
          break
        case S_BODY: {
          if (this.bodyKind === BODY_CLOSE) {
            if (!this.sink.onBody(buf.subarray(pos, end))) this.paused = true
            return end
          }
          const n = Math.min(this.remaining, end - pos)
          this.remaining -= n
          const more = this.sink.onBody(buf.subarray(pos, pos + n))
          pos += n
          if (this.remaining === 0) this.finish()
          else if (!more) { this.paused = true; return pos }
          break
        }
        case S_CHUNK_SIZE:
          pos = this.readChunkSize(buf, pos, end)
          break
        case S_CHUNK_DATA: {
          const n = Math.min(this.remaining, end - pos)
          this.remaining -= n
          const more = this.sink.onBody(buf.subarray(pos, pos + n))
          pos += n
          if (this.remaining === 0) { this.state = S_CHUNK_CRLF; this.line = '' }
          if (!more) { this.paused = true; return pos }
          break
        }
        case S_CHUNK_CRLF:
          pos = this.readChunkEnd(buf, pos, end)
          break
        case S_TRAILERS:
          pos = this.readTrailers(buf, pos, end)
          break
        default:
          return pos // S_DONE (extra bytes are the caller's business) or S_ERROR
      }
      if (this.state === S_ERROR || this.state === S_DONE) return pos
    }
    return pos
  }

  /**
   * The server closed the connection. Returns true when that completes the response (a body
   * delimited by the close); false when the response was cut short.
   */
  eof (): boolean {
    if (this.state === S_BODY && this.bodyKind === BODY_CLOSE) {
      this.finish()
      return true
    }
    return this.state === S_DONE
  }

  private fail (reason: string): number {
    this.state = S_ERROR
    this.error = reason
    this.keepAlive = false
    return 0
  }

  private finish (): void {
    this.state = S_DONE
    this.sink.onEnd()
  }

  private readHead (buf: Buffer, pos: number, end: number): number {
    let data = buf
    let from = pos
    let to = end
    if (this.partial !== null) {
      data = Buffer.concat([this.partial, buf.subarray(pos, end)])
      from = 0
      to = data.length
    }
    // Scan no further than a head may reach: a blank line past it is an error either way.
    const at = scanHead(data, from, Math.min(to, from + MAX_HEAD_BYTES + 4))
    if (at === HEAD_BAD) return this.fail('control character in the head')
    if (at === HEAD_INCOMPLETE) {
      // A head of the largest size still needs its CRLF CRLF: only more than that is too large.
      if (to - from > MAX_HEAD_BYTES + 3) return this.fail('response head too large')
      this.partial = Buffer.from(data.subarray(from, to)) // a copy: the read buffer is reused
      return end
    }
    // `at` is the blank line's CR; the head proper (up to the last field's CRLF) is 2 bytes shorter.
    if (at - 2 - from > MAX_HEAD_BYTES) return this.fail('response head too large')
    const consumed = at + 2 - from - (this.partial === null ? 0 : this.partial.length)
    this.partial = null
    if (!this.parseHead(data.toString('latin1', from, at), from)) return 0
    return pos + consumed
  }

  /**
   * Status line and fields, from the head as a string (one char per byte) and the line table
   * {@link scanHead} just filled (its offsets are `base` bytes ahead of the string's); decides the
   * framing (RFC 9112 section 6.3).
   */
  private parseHead (head: string, base: number): boolean {
    const lines = scanLines
    const statusEnd = LINE_END[0] - base
    if (statusEnd < 12 || !head.startsWith('HTTP/1.') || head.charCodeAt(8) !== 32) {
      this.fail('malformed status line')
      return false
    }
    const minor = head.charCodeAt(7) - 48
    const d0 = head.charCodeAt(9) - 48
    const d1 = head.charCodeAt(10) - 48
    const d2 = head.charCodeAt(11) - 48
    if ((minor !== 0 && minor !== 1) || d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9 ||
      (statusEnd > 12 && head.charCodeAt(12) !== 32)) {
      this.fail('malformed status line')
      return false
    }
    const status = d0 * 100 + d1 * 10 + d2
    const statusText = statusEnd > 13 ? head.slice(13, statusEnd) : ''
    const headers: string[] = []
    let contentLength = -1
    let chunked = false
    let te = false
    let close = minor === 0
    for (let line = 1; line < lines; line++) {
      // Indices into `head` rather than a string per line: one slice for the name, one for the value.
      const from = LINE_END[line - 1] + 2 - base
      const lineEnd = LINE_END[line] - base
      const colon = COLON[line] - base
      if (colon <= from) return this.bad('malformed header line') // none (-1 - base), or a name of nothing
      if (NAME_OK[line] === 0) return this.bad('invalid header name')
      const name = head.slice(from, colon)
      let a = colon + 1
      let b = lineEnd
      while (a < b && (head.charCodeAt(a) === 32 || head.charCodeAt(a) === 9)) a++
      while (b > a && (head.charCodeAt(b - 1) === 32 || head.charCodeAt(b - 1) === 9)) b--
      const value = head.slice(a, b)
      switch (name.length) {
        case 14:
          if (name === 'Content-Length' || lowerIs(name, 'content-length')) {
            if (contentLength >= 0) return this.bad('repeated content-length')
            contentLength = parseContentLength(value)
            if (contentLength < 0) return this.bad('invalid content-length')
          }
          break
        case 17:
          if (name === 'Transfer-Encoding' || lowerIs(name, 'transfer-encoding')) {
            te = true
            const codings = value.split(',')
            chunked = lowerIs(codings[codings.length - 1].trim(), 'chunked')
          }
          break
        case 10:
          if (name === 'Connection' || lowerIs(name, 'connection')) {
            if (listHas(value, 'close')) close = true
            else if (minor === 0 && listHas(value, 'keep-alive')) close = false
          }
          break
      }
      headers.push(name, value)
    }
    if (status < 200) {
      // 1xx interim answers are not relayed (uWS has no API for them); 101 was never asked for.
      if (status === 101) return this.bad('unexpected 101 switching protocols')
      this.state = S_HEAD
      return true
    }
    if (te && contentLength >= 0) return this.bad('content-length with transfer-encoding')
    this.keepAlive = !close
    this.headDone = true
    if (this.noBody || status === 204 || status === 304) {
      this.bodyKind = BODY_NONE
    } else if (te) {
      this.bodyKind = chunked ? BODY_CHUNKED : BODY_CLOSE
    } else if (contentLength >= 0) {
      this.bodyKind = BODY_LENGTH
      this.remaining = contentLength
    } else {
      this.bodyKind = BODY_CLOSE
    }
    if (this.bodyKind === BODY_CLOSE) this.keepAlive = false
    this.sink.onHead(status, statusText, headers, scanLatin1)
    if (this.state === S_ERROR || this.state === S_DONE) return true // the sink gave up meanwhile
    if (this.bodyKind === BODY_NONE || (this.bodyKind === BODY_LENGTH && contentLength === 0)) this.finish()
    else if (this.bodyKind === BODY_CHUNKED) {
      this.state = S_CHUNK_SIZE
      this.line = ''
    } else this.state = S_BODY
    return true
  }

  private bad (reason: string): false {
    this.fail(reason)
    return false
  }

  /** Stop: the sink aborted the exchange. */
  stop (): void {
    if (this.state !== S_DONE) this.state = S_ERROR
    this.keepAlive = false
  }

  /** Read up to LF into `line`; returns the offset after LF, or -1 (need more) with `end` consumed. */
  private takeLine (buf: Buffer, pos: number, end: number): number {
    const lf = buf.indexOf(10, pos)
    if (lf < 0 || lf >= end) {
      this.line += buf.toString('latin1', pos, end)
      if (this.line.length > MAX_LINE) this.fail('chunk line too long')
      return -1
    }
    this.line += buf.toString('latin1', pos, lf + 1)
    return lf + 1
  }

  private readChunkSize (buf: Buffer, pos: number, end: number): number {
    const next = this.takeLine(buf, pos, end)
    if (next < 0) return end
    const line = this.line
    this.line = ''
    if (line.length < 3 || line.charCodeAt(line.length - 2) !== 13) { this.fail('malformed chunk size'); return next }
    let size = 0
    let digits = 0
    let i = 0
    for (; i < line.length - 2; i++) {
      const c = line.charCodeAt(i)
      const v = c >= 48 && c <= 57 ? c - 48 : (c | 0x20) >= 97 && (c | 0x20) <= 102 ? (c | 0x20) - 87 : -1
      if (v < 0) break
      size = size * 16 + v
      digits++
    }
    const rest = line.charCodeAt(i)
    if (digits === 0 || digits > 12 || (i < line.length - 2 && rest !== 59 && rest !== 32 && rest !== 9)) {
      this.fail('malformed chunk size')
      return next
    }
    if (size === 0) {
      this.state = S_TRAILERS
    } else {
      this.state = S_CHUNK_DATA
      this.remaining = size
    }
    return next
  }

  private readChunkEnd (buf: Buffer, pos: number, end: number): number {
    const next = this.takeLine(buf, pos, end)
    if (next < 0) return end
    const ok = this.line === '\r\n'
    this.line = ''
    if (!ok) { this.fail('missing CRLF after chunk data'); return next }
    this.state = S_CHUNK_SIZE
    return next
  }

  private readTrailers (buf: Buffer, pos: number, end: number): number {
    const next = this.takeLine(buf, pos, end)
    if (next < 0) return end
    const line = this.line
    this.line = ''
    // Trailer fields are read and dropped: uWS cannot send trailers.
    if (line === '\r\n') this.finish()
    else if (line.charCodeAt(line.length - 2) !== 13) this.fail('malformed trailer')
    return next
  }
}
