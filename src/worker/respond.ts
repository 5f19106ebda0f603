import { ProxyErrorCodes, type ProxyErrorCode } from '../errors'
import { MAX_HEADER_LINES } from './headers'

/**
 * The one place where data-plane conditions become an HTTP answer. Bodies are small, fixed JSON
 * made once at load: `{"error":{"code":"SYM_ERR_…","message":"…"}}`.
 */
export interface GatewayAnswer {
  readonly status: string
  readonly statusCode: number
  readonly body: string
  /** Close the connection after answering (the request's framing cannot be trusted). */
  readonly close: boolean
  /** Seconds for Retry-After, or 0 for none. */
  readonly retryAfter: number
}

function answer (statusCode: number, reason: string, code: ProxyErrorCode, message: string, close = false, retryAfter = 0): GatewayAnswer {
  return {
    status: `${statusCode} ${reason}`,
    statusCode,
    body: JSON.stringify({ error: { code, message } }),
    close,
    retryAfter
  }
}

export const Answers = {
  upstreamFailed: answer(502, 'Bad Gateway', ProxyErrorCodes.UPSTREAM_FAILED, 'the upstream failed to answer'),
  upstreamTimeout: answer(504, 'Gateway Timeout', ProxyErrorCodes.UPSTREAM_TIMEOUT, 'the upstream did not answer in time'),
  noBackend: answer(503, 'Service Unavailable', ProxyErrorCodes.NO_BACKEND, 'no healthy backend', false, 1),
  bodyTooLarge: answer(413, 'Content Too Large', ProxyErrorCodes.BODY_TOO_LARGE, 'the request body is larger than the gateway accepts (--max-body-size)', true),
  badContentLength: answer(400, 'Bad Request', ProxyErrorCodes.BAD_REQUEST, 'invalid or repeated Content-Length', true),
  badFraming: answer(400, 'Bad Request', ProxyErrorCodes.BAD_REQUEST, 'Content-Length and Transfer-Encoding together, or an unsupported transfer coding', true),
  headersTooLarge: answer(431, 'Request Header Fields Too Large', ProxyErrorCodes.HEADERS_TOO_LARGE, 'the request head is larger than the gateway accepts (--max-header-size)', true),
  tooManyHeaderLines: answer(431, 'Request Header Fields Too Large', ProxyErrorCodes.HEADERS_TOO_LARGE, `the request has more than ${MAX_HEADER_LINES} header lines`, true),
  bodyTooSlow: answer(408, 'Request Timeout', ProxyErrorCodes.REQUEST_TIMEOUT, 'the request body arrived too slowly (at least 160 KiB every 6.5 s is needed)', true)
} as const
