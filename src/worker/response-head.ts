/**
 * How an upstream answer's head is turned into uWS calls: which header names are dropped or
 * rewritten, the status line, and how many bytes the head takes in uWS's cork buffer. Pure and
 * allocation-free on the usual path: it runs once per proxied answer.
 */

/** What writeHead does with a response header name (see classifyName). */
export const NAME_FORWARD = 0
export const NAME_SKIP = 1
export const NAME_CONTENT_LENGTH = 2
export const NAME_CONNECTION = 3

/**
 * ASCII case-insensitive equality of a header name with a lower-case literal of its length,
 * without making a string. OR-ing 0x20 folds A-Z onto a-z; the other characters it could fold
 * onto '-' or '2' (0x0d, 0x12) are control characters, which the response parser rejects in
 * field names.
 */
export function nameIs (name: string, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false
  }
  return true
}

/**
 * Classify a response header name by length first, then bytes: the same set as isHopByHop()
 * plus `date` (uWS writes its own), `content-length` (uWS writes the framing) and
 * `x-request-id` (the gateway writes the request's).
 */
export function classifyName (name: string): number {
  switch (name.length) {
    case 2: return nameIs(name, 'te') ? NAME_SKIP : NAME_FORWARD
    case 4: return nameIs(name, 'date') ? NAME_SKIP : NAME_FORWARD
    case 6: return nameIs(name, 'expect') ? NAME_SKIP : NAME_FORWARD
    case 7: return nameIs(name, 'trailer') || nameIs(name, 'upgrade') ? NAME_SKIP : NAME_FORWARD
    // The gateway writes the request's own id (src/worker/exchange.ts writeHead); a backend's
    // copy would make two (docs/http.md).
    case 12: return nameIs(name, 'x-request-id') ? NAME_SKIP : NAME_FORWARD
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
export function statusLine (status: number, text: string): string {
  if (status !== lastStatus || text !== lastText) {
    lastStatus = status
    lastText = text
    lastLine = text === '' ? String(status) : `${status} ${text}`
  }
  return lastLine
}

/**
 * uWS 20.30 can lose bytes written inside cork(): a write that does not fit what is left of its
 * 16 KiB cork buffer first flushes the buffer, and when that flush cannot complete (the
 * client's socket is full) it returns without sending or buffering the new bytes
 * (AsyncSocket::uncork; fixed upstream in uWebSockets v20.77, commit 6b7f354). tryEnd()
 * (Content-Length bodies) reports that as a short write and the exchange resends from the
 * offset; write() (chunked bodies) has no such retry. So chunked bodies are written in pieces
 * of at most CORK_ROOM, one cork each (the buffer is empty when a cork begins), and a head that
 * would not leave room for its first chunk goes out alone. The 512 bytes kept free cover what
 * uWS adds around a head (status line, Date, framing, chunk size lines).
 */
export const CORK_ROOM = 16 * 1024 - 512

/** Bytes the head will take in the cork buffer (names, values, separators, status line) plus `chunk`. */
export function headSize (raw: string[], chunk: number): number {
  let n = 64 + chunk
  for (let i = 0; i < raw.length; i++) n += raw[i].length + 2
  return n
}

/** Whether a response head has a Content-Length field (its body is then written with tryEnd). */
export function framedByLength (raw: string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) if (classifyName(raw[i]) === NAME_CONTENT_LENGTH) return true
  return false
}
