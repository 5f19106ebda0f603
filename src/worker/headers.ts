import type { HttpResponse } from 'uWebSockets.js'

/**
 * Header rules of a forwarding proxy (RFC 9110 section 7.6.1): connection-specific ("hop-by-hop")
 * fields are not forwarded, nor are fields named in the Connection header.
 */

/**
 * True for fields that describe one connection only. Names must be lower case (uWS gives request
 * names lower-cased). `expect` is here too: uWS answers `100-continue` to the client itself, so
 * the upstream must not be asked to (it would send a 100 the exchange does not relay).
 */
export function isHopByHop (name: string): boolean {
  switch (name) {
    case 'connection':
    case 'keep-alive':
    case 'proxy-connection':
    case 'te':
    case 'trailer':
    case 'transfer-encoding':
    case 'upgrade':
    case 'expect':
    case 'http2-settings':
      return true
    default:
      return false
  }
}

/**
 * Field names listed in a Connection header beyond `close` and `keep-alive` (which name no other
 * field we would forward anyway), lower-cased; null when there are none, the common case.
 */
export function connectionTokens (value: string): string[] | null {
  let out: string[] | null = null
  for (const raw of value.split(',')) {
    const token = raw.trim().toLowerCase()
    if (token === '' || token === 'close' || token === 'keep-alive') continue
    if (out === null) out = []
    out.push(token)
  }
  return out
}

/** Remove from a flat [name, value, …] list the fields named in `tokens`. */
export function dropNamed (flat: string[], tokens: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < flat.length; i += 2) {
    if (!tokens.includes(flat[i])) out.push(flat[i], flat[i + 1])
  }
  return out
}

/** RFC 9110 section 8.6: Content-Length is 1*DIGIT. Returns -1 when the value is not that. */
export function parseContentLength (value: string): number {
  if (value.length === 0 || value.length > 15) return -1
  let n = 0
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    n = n * 10 + c
  }
  return n
}

/** Methods whose repetition has the same effect as one request (RFC 9110 section 9.2.2). */
export function isIdempotent (method: string): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'PUT':
    case 'DELETE':
    case 'OPTIONS':
    case 'TRACE':
      return true
    default:
      return false
  }
}

// The last IPv4 client address seen and its text: keep-alive clients send many requests in a row.
let lastV4 = -1
let lastV4Text = ''

/**
 * The client's address as X-Forwarded-For carries it ("127.0.0.1", or uWS's text form for IPv6).
 * uWS asks the kernel (getpeername) and hands back a new ArrayBuffer on every call, and JS has
 * no per-connection handle to cache it on; the binary form at least skips uWS's snprintf and the
 * Buffer view + latin1 decode, and an IPv4 address equal to the previous one reuses its string:
 * 1.35-1.49 µs -> 0.86-0.90 µs per request (a microbenchmark in a uWS handler; results not kept).
 */
export function clientAddress (res: HttpResponse): string {
  const ab = res.getRemoteAddress()
  if (ab.byteLength === 4) {
    const b = new Uint8Array(ab)
    const key = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0
    if (key !== lastV4) {
      lastV4 = key
      lastV4Text = `${b[0]}.${b[1]}.${b[2]}.${b[3]}`
    }
    return lastV4Text
  }
  return Buffer.from(res.getRemoteAddressAsText()).toString('latin1')
}

/**
 * Whether a Transfer-Encoding value is exactly `chunked` (any case), with only optional
 * whitespace (SP, HTAB: RFC 9110 5.6.3) around it. `\v`, `\f`, NBSP and the like are not
 * whitespace to HTTP; a value carrying them could be read two ways.
 */
export function isChunked (value: string): boolean {
  let start = 0
  let end = value.length
  while (start < end && (value.charCodeAt(start) === 32 || value.charCodeAt(start) === 9)) start++
  while (end > start && (value.charCodeAt(end - 1) === 32 || value.charCodeAt(end - 1) === 9)) end--
  return end - start === 7 && value.slice(start, end).toLowerCase() === 'chunked'
}

/**
 * The most header lines a request may have, Host included, on every uWS build: what uWS 20.30's
 * parser passes on (it closes the connection, unanswered, past it). Builds whose parser takes
 * more (20.57: 98) leave this gateway to refuse the rest, with 431 (docs/limits.md).
 */
export const MAX_HEADER_LINES = 48
