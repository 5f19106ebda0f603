import { ProxyErrorCodes } from '../errors'
import { ErrorReason, MAX_BACKENDS } from '../table/layout'
import { UpstreamError } from './connection'
import { isIdempotent } from './headers'
import { Answers, type GatewayAnswer } from './respond'

/** Attempts of an idempotent request whose connections keep being reset: the first and two retries. */
export const RESET_ATTEMPTS = 3

/**
 * Whether a request whose attempt number `attempt` (0 = the first) failed for `reason` may be
 * sent to another backend (the retry budget is checked by the caller):
 * - after a failed connect (no byte of the request reached the upstream; any method), on every
 *   other backend in rotation, each at most once: the failing one is marked suspect and pick()
 *   skips it, so this ends when one accepts or none is left. When a Swarm node is lost, all of
 *   its replicas stop answering at once, and a request may meet each of them before passive
 *   health marks them (test/serial/swarm-two-nodes.serial.ts);
 * - after a reset before any answer, up to RESET_ATTEMPTS attempts in all, when the method is
 *   idempotent (RFC 9110 9.2.2) and the body can be sent again (`replayable`: none, a gathered
 *   one, or a stream not read from yet).
 */
export function mayRetry (attempt: number, reason: number, method: string, replayable: boolean): boolean {
  if (attempt >= MAX_BACKENDS) return false
  if (!replayable) return false
  if (reason === ErrorReason.CONNECT) return true
  return reason === ErrorReason.RESET && attempt < RESET_ATTEMPTS - 1 && isIdempotent(method)
}

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
export function answerFor (err: Error, reason: number): GatewayAnswer {
  const timedOut = err instanceof UpstreamError ? err.code === ProxyErrorCodes.UPSTREAM_TIMEOUT : reason === ErrorReason.TIMEOUT
  return timedOut ? Answers.upstreamTimeout : Answers.upstreamFailed
}
