/**
 * An in-process gateway with a control plane (Docker or process runtime), for the fleet tests:
 * its log lines are captured for assertions, and teardown stops it (without cleanup, as a
 * SIGTERM would) and then removes every container of its service, even after a failure.
 */
import { request } from 'undici'
import { startGateway, type Gateway } from '../../src/composition-root'
import { createLogger } from '../../src/log'
import { configFrom } from '../helpers/gateway'
import { removeServiceContainers, waitFor } from '../helpers/docker'

export interface FleetGateway extends Gateway {
  readonly url: string
  readonly admin: string
  /** Every log line so far, parsed. */
  readonly logs: Array<Record<string, unknown>>
}

/** What GET /status says of one backend. */
export interface BackendStatus {
  slot: number
  port: number
  state: string
  id: string | null
  name: string | null
  /** The node a replica runs on (swarm runtime); null elsewhere. */
  node?: string | null
  phase: string | null
  inflight: number
}

export interface StatusDoc {
  mode: string
  backends: BackendStatus[]
  autoscaler: { window: { seconds: number, count: number }, desired: number, current: number, thresholds: Record<string, number | null> }
  counters: Record<string, unknown>
}

/**
 * Start a gateway for `service` with `args` (plus --service, quiet ephemeral ports, one thread).
 * Docker containers of the service are removed in teardown after the gateway stopped.
 */
export async function startFleet (t: { teardown: (fn: () => unknown) => void }, service: string, args: string[], docker = true): Promise<FleetGateway> {
  const logs: Array<Record<string, unknown>> = []
  let gw: Gateway | null = null
  // One teardown, registered first: stop (so that nothing replaces what is removed), then remove.
  t.teardown(async () => {
    await gw?.stop()
    if (docker) await removeServiceContainers(service)
  })
  const config = configFrom(['--service', service, '--threads', '1', ...args])
  gw = await startGateway(config, createLogger('debug', (line) => {
    const o = JSON.parse(line) as Record<string, unknown>
    logs.push(o)
    if (o.level === 'error') process.stderr.write(line)
  }))
  return Object.assign(gw, { url: `http://127.0.0.1:${gw.port}`, admin: `http://127.0.0.1:${gw.adminPort}`, logs })
}

export async function getStatus (gw: FleetGateway): Promise<StatusDoc> {
  const res = await request(`${gw.admin}/status`)
  return await res.body.json() as StatusDoc
}

/** Poll /status until `pred` holds; returns that document. */
export async function waitForStatus (gw: FleetGateway, what: string, pred: (s: StatusDoc) => boolean, timeoutMs = 15_000): Promise<StatusDoc> {
  return await waitFor(what, async () => {
    const s = await getStatus(gw)
    return pred(s) ? s : undefined
  }, timeoutMs, 100)
}

/** The healthy backends' host ports, ascending. */
export function healthyPorts (s: StatusDoc): number[] {
  return s.backends.filter((b) => b.state === 'healthy').map((b) => b.port).sort((a, b) => a - b)
}

/** One request; its status code. */
export async function call (url: string, method: 'GET' | 'POST' = 'GET'): Promise<number> {
  const res = await request(url, { method, headersTimeout: 5000, bodyTimeout: 5000 })
  await res.body.dump()
  return res.statusCode
}

/** `n` requests through the gateway at once; their status codes. */
export async function load (gw: FleetGateway, n: number, path = '/api/v1/hello'): Promise<number[]> {
  return await Promise.all(Array.from({ length: n }, async () => await call(gw.url + path)))
}

/** Log lines of one `event`. */
export function logEvents (gw: FleetGateway, event: string): Array<Record<string, unknown>> {
  return gw.logs.filter((l) => l.event === event)
}

export function delay (ms: number): Promise<void> { return new Promise((resolve) => setTimeout(resolve, ms)) }
