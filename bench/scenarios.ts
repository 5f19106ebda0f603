/** The bench's scenarios: what each load run sends and how. Shared by both drivers. */

export const SCENARIO_NAMES = ['small', '16k', '1m', 'post64k', 'c10', 'c200', 'noka', 'scrape'] as const
export type ScenarioName = typeof SCENARIO_NAMES[number]

/** One scenario: the request every connection repeats. */
export interface Scenario {
  readonly name: ScenarioName
  readonly method: 'GET' | 'POST'
  /** Path on every target; the backends serve it (see bench/backend.ts). */
  readonly path: string
  /** Request body size for POST (the body is that many 'x' bytes). */
  readonly bodyBytes: number
  /** Connections, or null for --connections. */
  readonly connections: number | null
  /** false: `Connection: close` on every request, so every request opens a new connection. */
  readonly keepAlive: boolean
  /** GET the admin /metrics of symphony once a second during the run (symphony only). */
  readonly scrape: boolean
  /** One line for the table's caption. */
  readonly what: string
}

export const POST_BYTES = 64 * 1024

const S: Record<ScenarioName, Omit<Scenario, 'name'>> = {
  small: { method: 'GET', path: '/', bodyBytes: 0, connections: null, keepAlive: true, scrape: false, what: 'GET / with a 100-byte response' },
  '16k': { method: 'GET', path: '/16k', bodyBytes: 0, connections: null, keepAlive: true, scrape: false, what: 'GET /16k with a 16 KiB response' },
  '1m': { method: 'GET', path: '/1m', bodyBytes: 0, connections: null, keepAlive: true, scrape: false, what: 'GET /1m with a 1 MiB response' },
  post64k: { method: 'POST', path: '/echo', bodyBytes: POST_BYTES, connections: null, keepAlive: true, scrape: false, what: 'POST /echo with a 64 KiB body; the backend answers its length' },
  c10: { method: 'GET', path: '/', bodyBytes: 0, connections: 10, keepAlive: true, scrape: false, what: 'GET / with a 100-byte response, 10 connections' },
  c200: { method: 'GET', path: '/', bodyBytes: 0, connections: 200, keepAlive: true, scrape: false, what: 'GET / with a 100-byte response, 200 connections' },
  noka: {
    method: 'GET',
    path: '/',
    bodyBytes: 0,
    connections: null,
    keepAlive: false,
    scrape: false,
    what: 'GET / with `Connection: close`: a new client connection per request. ' +
    'uWS (so direct and symphony) closes such a connection without answering `Connection: close`, so wrk sends its next ' +
    'request on it and counts a read error before reconnecting: there, about one error per request is this artefact, not a failed request'
  },
  scrape: { method: 'GET', path: '/', bodyBytes: 0, connections: null, keepAlive: true, scrape: true, what: 'GET / as in small; `symphony+scrape` also has GET /metrics on the admin port every 1 s' }
}

export function scenario (name: ScenarioName): Scenario {
  return { name, ...S[name] }
}
