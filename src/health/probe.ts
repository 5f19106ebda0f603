import { Agent, request } from 'undici'

export type ProbeReason = 'ok' | 'status' | 'timeout' | 'refused' | 'error'

export interface ProbeResult {
  readonly ok: boolean
  readonly reason: ProbeReason
  /** HTTP status when one was received, else 0. */
  readonly status: number
}

/**
 * One health request: GET `path`, healthy only on 200. A fresh connection each time
 * (`reset: true`), so a stale keep-alive socket can never fail a healthy backend, and a backend
 * that stopped accepting connections is seen as such.
 */
export async function probe (agent: Agent, host: string, port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  try {
    const res = await request(origin + path, {
      dispatcher: agent,
      method: 'GET',
      reset: true,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
      headers: { 'user-agent': 'docker-symphony-health' }
    })
    await res.body.dump({ limit: 64 * 1024 }).catch(() => {})
    return res.statusCode === 200 ? { ok: true, reason: 'ok', status: 200 } : { ok: false, reason: 'status', status: res.statusCode }
  } catch (err) {
    return { ok: false, reason: reasonOf(err as Error & { code?: string }), status: 0 }
  }
}

function reasonOf (err: Error & { code?: string }): ProbeReason {
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timeout'
  switch (err.code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'timeout'
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'EHOSTUNREACH':
    case 'UND_ERR_SOCKET':
      return 'refused'
    default:
      return 'error'
  }
}

/** An agent for health probes: short connect timeout, no keep-alive reuse needed. */
export function createProbeAgent (timeoutMs: number): Agent {
  return new Agent({ connectTimeout: timeoutMs, keepAliveTimeout: 1, pipelining: 0 })
}
