import { ProxyErrorCodes } from '../errors'
import { ErrorReason, MAX_BACKENDS } from '../table/layout'
import { UpstreamError } from './connection'
import { isIdempotent } from './headers'
import { Answers, type GatewayAnswer } from './respond'

/**
 * Whether a request whose attempt number `attempt` (0 = the first) failed for `reason` may be
 * sent to another backend (the retry budget is checked by the caller). On every other backend in
 * rotation, each at most once: the failing one is marked suspect and pick() skips it, so this
 * ends when one answers or none is left (nginx's `proxy_next_upstream error`, whose tries are
 * unlimited by default); the budget keeps a failing fleet from being stormed.
 * - after a failed connect (no byte of the request reached the upstream): any method;
 * - after a reset before any answer (a connection closed or reset, or the backend left the
 *   rotation, before a response byte): when the method is idempotent (RFC 9110 9.2.2) and the
 *   body can be sent again (`replayable`: none, a gathered one, or a stream not read from yet).
 *
 * Every other backend, not a fixed count: when a Swarm node is lost, all of its replicas stop at
 * once, and a request can meet each of them before passive health marks them: refused, or reset
 * on a kept-alive connection (test/serial/swarm-two-nodes.serial.ts, where 3 of 4 replicas can
 * sit on the lost node; with a cap of 3 attempts, a GET was answered 502 there once in CI).
 */
export function mayRetry (attempt: number, reason: number, method: string, replayable: boolean): boolean {
  if (attempt >= MAX_BACKENDS) return false
  if (!replayable) return false
  if (reason === ErrorReason.CONNECT) return true
  return reason === ErrorReason.RESET && isIdempotent(method)
}

/**
 * Whether a replica on trial (a rollout's new version, src/table/layout.ts S_TRIAL) that answered
 * `status` should have that answer discarded and the
 * request sent to a replica of the settled (old) version instead (issue 19: "an idempotent
 * request that fails on a new replica may be retried on an old one"). The caller checks the
 * retry budget and that a settled replica is in rotation, and holds the answer's head until
 * this decision, so the client never sees a byte of the discarded answer. Only:
 * - a replica on trial (`onTrial`): a settled replica's 5xx is the application's answer, relayed;
 * - 500, 502, 503 or 504: a fault of that server or of what it depends on, which another
 *   version may not have. 501 and 505 say the request itself is not supported, and the other
 *   5xx codes (507, 508, 511) are rare and about the resource: relayed as they are;
 * - an idempotent method (RFC 9110 9.2.2), whose request may be sent twice;
 * - a body that can be sent again (`replayable`);
 * - once: the first attempt, or the first after connect failures and resets (no earlier trial
 *   retry, `trialRetried`), so the answer of the settled replica, whatever it is, is final.
 */
export function mayRetryOnSettled (status: number, method: string, replayable: boolean, onTrial: boolean, trialRetried: boolean): boolean {
  if (!onTrial || trialRetried || !replayable) return false
  if (status !== 500 && status !== 502 && status !== 503 && status !== 504) return false
  return isIdempotent(method)
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
