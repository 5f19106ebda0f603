import { randomBytes } from 'node:crypto'

/** Longest client X-Request-ID kept (docs/http.md). */
export const MAX_REQUEST_ID = 200

/**
 * Whether a client's X-Request-ID is kept as it is: 1 to 200 visible ASCII characters
 * (0x21-0x7e: no space, no control character, nothing a log line or a header could be split
 * by). Anything else is replaced by one of ours.
 */
export function saneRequestId (value: string): boolean {
  const n = value.length
  if (n === 0 || n > MAX_REQUEST_ID) return false
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i)
    if (c < 0x21 || c > 0x7e) return false
  }
  return true
}

/**
 * Request ids made by one proxy thread: a random prefix drawn when the thread starts (48 bits,
 * 12 hex digits) and a counter, `5f2a9c01be3d-1a`. Unique within a process's life in practice
 * (two threads share a prefix with a chance of 2^-48; a thread's counter would need 2^53
 * requests to repeat), and cheap: one string concatenation per request. Not a UUID.
 */
export class RequestIds {
  private readonly prefix = randomBytes(6).toString('hex') + '-'
  private n = 0

  next (): string { return this.prefix + (++this.n).toString(36) }
}
