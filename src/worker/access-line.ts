/**
 * The access log's two line formats (docs/logs.md), as pure functions of one finished request.
 * Every line is ASCII: whatever a client put in a path or a request id is escaped, so a line is
 * always one line and a buffer of lines can be written as latin1 bytes.
 */
import type { AccessLogFormat } from '../config/types'

/** What one line says about a request (an Exchange, or a refusal that never became one). */
export interface AccessRecord {
  readonly client: string
  readonly method: string
  /** Path and query as the client sent them. */
  readonly path: string
  readonly requestId: string
  /** The backend that answered or was last tried (src/worker/backend-name.ts), '' for none. */
  readonly backendName: string
  readonly retries: number
  /** Response body bytes handed to the client's connection. */
  readonly sentBytes: number
  /** performance.now() when the request's head arrived. */
  readonly t0: number
}

/** A line for `r` answered with `status`, at `nowMs` (epoch ms), after `durationMs`. */
export type LineFormat = (r: AccessRecord, status: number, nowMs: number, durationMs: number) => string

const HEX = '0123456789abcdef'

function hex4 (c: number): string {
  return HEX[(c >> 12) & 15] + HEX[(c >> 8) & 15] + HEX[(c >> 4) & 15] + HEX[c & 15]
}

/**
 * `s` as the inside of a JSON string, ASCII only: `"` and `\` escaped, and every code unit
 * outside 0x20-0x7e as \uXXXX (control characters, DEL, non-ASCII, lone surrogates: JSON.parse
 * gives back the same string). A string with nothing to escape, nearly every path, is returned
 * as it is after one scan: no allocation.
 */
export function jsonText (s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return jsonEscapeFrom(s, i)
  }
  return s
}

function jsonEscapeFrom (s: string, from: number): string {
  let out = s.slice(0, from)
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x22) out += '\\"'
    else if (c === 0x5c) out += '\\\\'
    else if (c < 0x20 || c > 0x7e) out += '\\u' + hex4(c)
    else out += s[i]
  }
  return out
}

/**
 * `s` for a quoted field of a common-format line, as nginx escapes its variables: `"`, `\`, and
 * every code unit outside 0x20-0x7e as \xHH (\uHHHH above 0xff).
 */
export function clfText (s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return clfEscapeFrom(s, i)
  }
  return s
}

function clfEscapeFrom (s: string, from: number): string {
  let out = s.slice(0, from)
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) out += c > 0xff ? '\\u' + hex4(c) : '\\x' + HEX[c >> 4] + HEX[c & 15]
    else out += s[i]
  }
  return out
}

/** Milliseconds with at most 3 decimals (microseconds). */
function ms3 (d: number): number { return Math.round(d * 1000) / 1000 }

// The time text of the previous line, reused while lines keep coming in the same millisecond
// (JSON) or second (common): a Date and its formatting per line would cost more than the rest.
let isoMs = -1
let isoText = ''
function isoTime (nowMs: number): string {
  if (nowMs !== isoMs) {
    isoMs = nowMs
    isoText = new Date(nowMs).toISOString()
  }
  return isoText
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
let clfSecond = -1
let clfTimeText = ''
function two (n: number): string { return n < 10 ? '0' + n : String(n) }
function clfTime (nowMs: number): string {
  const second = Math.floor(nowMs / 1000)
  if (second !== clfSecond) {
    clfSecond = second
    const d = new Date(second * 1000)
    clfTimeText = `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`
  }
  return clfTimeText
}

/**
 * One JSON object per line, keys in this order:
 * `{"time":"2026-01-02T15:04:05.123Z","client":"…","method":"GET","path":"/a?b=1","status":200,
 * "bytes":100,"duration_ms":1.234,"backend":"127.0.0.1:8001","retries":0,"request_id":"…"}`
 * (`"backend":null` when none answered or was tried).
 * Built by concatenation with jsonText() rather than JSON.stringify of an object per request:
 * see the figure in docs/logs.md.
 */
export const jsonLine: LineFormat = (r, status, nowMs, durationMs) =>
  '{"time":"' + isoTime(nowMs) +
  '","client":"' + jsonText(r.client) +
  '","method":"' + jsonText(r.method) +
  '","path":"' + jsonText(r.path) +
  '","status":' + status +
  ',"bytes":' + r.sentBytes +
  ',"duration_ms":' + ms3(durationMs) +
  ',"backend":' + (r.backendName === '' ? 'null' : '"' + jsonText(r.backendName) + '"') +
  ',"retries":' + r.retries +
  ',"request_id":"' + jsonText(r.requestId) + '"}\n'

/**
 * The Common Log Format's seven fields, then symphony's:
 * `client - - [02/Jan/2026:15:04:05 +0000] "GET /a?b=1 HTTP/1.1" 200 100 1.234 "127.0.0.1:8001" 0 "req-id"`:
 * bytes `-` when none (as CLF's %b), then duration in ms, backend (`-` for none), retries and
 * request id. The protocol is always written HTTP/1.1 (uWS does not say which the client used).
 */
export const commonLine: LineFormat = (r, status, nowMs, durationMs) =>
  clfText(r.client) + ' - - [' + clfTime(nowMs) + '] "' + clfText(r.method) + ' ' + clfText(r.path) + ' HTTP/1.1" ' +
  status + ' ' + (r.sentBytes > 0 ? String(r.sentBytes) : '-') + ' ' + ms3(durationMs) +
  ' "' + (r.backendName === '' ? '-' : clfText(r.backendName)) + '" ' + r.retries + ' "' + clfText(r.requestId) + '"\n'

export function lineFormat (format: AccessLogFormat): LineFormat {
  return format === 'common' ? commonLine : jsonLine
}
