import { Registry, collectDefaultMetrics } from 'prom-client'
import {
  MAX_WORKERS, NO_BACKEND, W_LOOP_LAG_US, W_HELD, W_HOLD_EXPIRED, W_HOLD_MS, W_CUT, errorReasonNames, methodNames, statusClassNames, stateNames,
  latencyBucketsSeconds, workerBase
} from '../table/layout'
import { hostPort, type BackendLabels } from './backend-label'
import type { CounterSampler } from './sampler'
import type { TableWriter } from '../table/writer'

type Labels = Record<string, string | number>
export interface Value { value: number, labels: Labels, metricName?: string }

/**
 * A metric whose values are computed at scrape time from the shared table: prom-client calls
 * `get()` when Prometheus scrapes, so nothing on the request path touches prom-client.
 */
export class SnapshotMetric {
  readonly aggregator = 'sum'
  constructor (
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
    private readonly values: () => Value[]
  ) {}

  get (): { name: string, help: string, type: string, aggregator: string, values: Value[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values() }
  }

  reset (): void {}
}

/**
 * Prometheus histogram values from per-bucket (not cumulative) counts whose upper bounds are
 * `bounds`; the last count (index bounds.length) is the +Inf overflow.
 */
export function histogramValues (name: string, bounds: readonly number[], counts: ArrayLike<number>, sum: number): Value[] {
  const out: Value[] = []
  let cumulative = 0
  for (let b = 0; b < bounds.length; b++) {
    cumulative += counts[b]
    out.push({ value: cumulative, labels: { le: bounds[b] }, metricName: `${name}_bucket` })
  }
  const count = cumulative + (counts.length > bounds.length ? counts[bounds.length] : 0)
  out.push({ value: count, labels: { le: '+Inf' }, metricName: `${name}_bucket` })
  out.push({ value: sum, labels: {}, metricName: `${name}_sum` })
  out.push({ value: count, labels: {}, metricName: `${name}_count` })
  return out
}

export interface MetricsSources {
  readonly sampler: CounterSampler
  readonly table: TableWriter
  /** Number of proxy worker threads. */
  readonly threads: number
  /** The `backend` label of each slot (src/metrics/backend-label.ts), and the slots that have one. */
  readonly backends: BackendLabels
  readonly workerRestarts: () => number
  /** Attempts to bring a proxy thread back that failed before it served. */
  readonly workerStartFailures: () => number
  /** Proxy threads serving now. */
  readonly workerThreadsServing: () => number
  /** Health probe results so far, by result (ok, status, timeout, refused, error). */
  readonly healthChecks: () => ReadonlyMap<string, number>
  /** Health-check timeouts that did not fail their backend (below --unhealthy-threshold). */
  readonly toleratedHealthTimeouts: () => number
  /** Client connections now, as the kernel counts them (throws where it cannot). */
  readonly clientConnections: () => number
  /** --max-connections (0 = no limit). */
  readonly connectionLimit: number
  /** Times accepting paused at the limit. */
  readonly acceptPauses: () => number
}

/** The prom-client registry of the main thread (the only one). */
export function createRegistry (src: MetricsSources): Registry {
  const registry = new Registry()
  registerProcessMetrics(registry)
  const metrics = [...backendMetrics(src), ...tableMetrics(src), ...threadMetrics(src), ...holdMetrics(src), ...cutMetrics(src), ...connectionMetrics(src), ...healthMetrics(src)]
  for (const m of metrics) registry.registerMetric(m as never)
  return registry
}

/**
 * prom-client's process metrics under their conventional names (`process_*`, `nodejs_*`, no
 * prefix), which generic dashboards and alerts look for. Less three gauges that prom-client names
 * `_total`, a suffix the Prometheus convention keeps for counters (promtool's lint flags them):
 * each is only the sum of its unsuffixed gauge's per-type series (`nodejs_active_handles` …).
 */
function registerProcessMetrics (registry: Registry): void {
  collectDefaultMetrics({ register: registry })
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name)
}

/** Every labelled backend with its slot, then the gateway's own answers (`none`). */
function labelledBackends (backends: BackendLabels, withNone: boolean): Array<[number, string]> {
  const out: Array<[number, string]> = []
  for (const s of backends.knownSlots()) {
    const label = backends.label(s)
    if (label !== null) out.push([s, label])
  }
  if (withNone) out.push([NO_BACKEND, 'none'])
  return out
}

/** Per-backend series, all labelled by `backends.label`: answers, errors, retries, in flight; and the latency histogram. */
function backendMetrics (src: MetricsSources): SnapshotMetric[] {
  return [
    new SnapshotMetric('symphony_requests_total', 'Requests answered, by backend (replica name or host:port, or none when the gateway answered itself), method and status class.', 'counter', () => {
      src.sampler.sample()
      const out: Value[] = []
      for (const [slot, backend] of labelledBackends(src.backends, true)) {
        for (let m = 0; m < methodNames.length; m++) {
          for (let c = 0; c < statusClassNames.length; c++) {
            const v = src.sampler.responses(slot, m, c)
            if (v > 0) out.push({ value: v, labels: { backend, method: methodNames[m], status_class: statusClassNames[c] } })
          }
        }
      }
      return out
    }),
    new SnapshotMetric('symphony_request_duration_seconds', 'Time from receiving a request to its last response byte handed to the socket.', 'histogram', () => {
      src.sampler.sample()
      const h = src.sampler.histogram()
      const inBuckets = h.buckets.reduce((a, b) => a + b, 0)
      return histogramValues('symphony_request_duration_seconds', latencyBucketsSeconds, [...h.buckets, h.count - inBuckets], h.sumSeconds)
    }),
    new SnapshotMetric('symphony_upstream_errors_total', 'Failed upstream exchanges, by backend and reason (connect, timeout, reset, protocol, client_abort, other).', 'counter', () => {
      src.sampler.sample()
      const out: Value[] = []
      for (const [slot, backend] of labelledBackends(src.backends, false)) {
        for (let r = 0; r < errorReasonNames.length; r++) {
          out.push({ value: src.sampler.errors(slot, r), labels: { backend, reason: errorReasonNames[r] } })
        }
      }
      return out
    }),
    new SnapshotMetric('symphony_retries_total', 'Requests retried on another backend after a failure, by the backend that failed.', 'counter', () => {
      src.sampler.sample()
      return labelledBackends(src.backends, false).map(([slot, backend]) => ({ value: src.sampler.retries(slot), labels: { backend } }))
    }),
    // Only the slots in the table now: an emptied slot has nothing in flight.
    new SnapshotMetric('symphony_inflight_requests', 'Requests currently forwarded to each backend.', 'gauge', () =>
      src.table.slots().map((v) => ({ value: src.table.inflight(v.slot), labels: { backend: src.backends.label(v.slot) ?? hostPort(v.host, v.port) } })))
  ]
}

function tableMetrics (src: MetricsSources): SnapshotMetric[] {
  return [
    new SnapshotMetric('symphony_backends', 'Backends in the table, by state.', 'gauge', () => {
      const counts = new Array<number>(stateNames.length).fill(0)
      for (const v of src.table.slots()) counts[v.state]++
      return stateNames.slice(1).map((state, i) => ({ value: counts[i + 1], labels: { state } }))
    })
  ]
}

/** The proxy threads: their event loops, deaths and restarts. */
function threadMetrics (src: MetricsSources): SnapshotMetric[] {
  const lag = new Int32Array(src.table.sab)
  return [
    new SnapshotMetric('symphony_worker_event_loop_lag_seconds', 'Largest timer delay seen by each proxy worker thread in its last half-second tick.', 'gauge', () => {
      const out: Value[] = []
      for (let w = 0; w < Math.min(src.threads, MAX_WORKERS); w++) {
        out.push({ value: Atomics.load(lag, workerBase(w) + W_LOOP_LAG_US) / 1e6, labels: { worker: w } })
      }
      return out
    }),
    new SnapshotMetric('symphony_worker_restarts_total', 'Proxy worker threads that died and were replaced.', 'counter', () =>
      [{ value: src.workerRestarts(), labels: {} }]),
    new SnapshotMetric('symphony_worker_start_failures_total', 'Attempts to bring a proxy worker thread back that failed before it served (each is retried, with a backoff from the second in a row).', 'counter', () =>
      [{ value: src.workerStartFailures(), labels: {} }]),
    new SnapshotMetric('symphony_worker_threads_serving', 'Proxy worker threads serving now; --threads once every thread is back.', 'gauge', () =>
      [{ value: src.workerThreadsServing(), labels: {} }])
  ]
}

/** Requests held while no backend was healthy (hold-while-starting). */
function holdMetrics (src: MetricsSources): SnapshotMetric[] {
  const total = (word: number, scale: number) => (): Value[] => {
    src.sampler.sample()
    return [{ value: src.sampler.workerTotal(word) / scale, labels: {} }]
  }
  return [
    new SnapshotMetric('symphony_held_requests_total', 'Requests held while no backend was healthy (hold-while-starting, --queue-timeout).', 'counter', total(W_HELD, 1)),
    new SnapshotMetric('symphony_hold_expired_total', 'Held requests answered 503 because no backend became healthy within --queue-timeout.', 'counter', total(W_HOLD_EXPIRED, 1)),
    new SnapshotMetric('symphony_hold_seconds_total', 'Total time requests spent held waiting for a healthy backend.', 'counter', total(W_HOLD_MS, 1e3))
  ]
}

/**
 * Answers cut mid-body: the upstream failed after part of its answer had been written, so the
 * client's connection was closed rather than an answer that looks whole sent short (issue #17).
 */
function cutMetrics (src: MetricsSources): SnapshotMetric[] {
  return [
    new SnapshotMetric('symphony_answers_cut_total', 'Answers cut mid-body because the upstream failed after part of the answer was written (the client connection was closed), by reason.', 'counter', (): Value[] => {
      src.sampler.sample()
      const out: Value[] = []
      for (let r = 0; r < errorReasonNames.length; r++) {
        if (errorReasonNames[r] === 'client_abort') continue // a client that left is not a cut answer
        out.push({ value: src.sampler.workerTotal(W_CUT + r), labels: { reason: errorReasonNames[r] } })
      }
      return out
    })
  ]
}

/** Client connections against --max-connections. */
function connectionMetrics (src: MetricsSources): SnapshotMetric[] {
  return [
    new SnapshotMetric('symphony_client_connections', 'Established client connections of the public port: the proxy threads\' own count where the uWS build reports connections (app.filter), else counted from the kernel\'s socket tables.', 'gauge', () => {
      try {
        return [{ value: src.clientConnections(), labels: {} }]
      } catch {
        return [] // no /proc/net here: better no sample than a failed scrape
      }
    }),
    new SnapshotMetric('symphony_max_connections', 'Client connections at which new ones are refused (--max-connections; 0 = no limit).', 'gauge', () =>
      [{ value: src.connectionLimit, labels: {} }]),
    new SnapshotMetric('symphony_accept_pauses_total', 'Times the proxy workers stopped accepting connections because --max-connections was reached.', 'counter', () =>
      [{ value: src.acceptPauses(), labels: {} }])
  ]
}

function healthMetrics (src: MetricsSources): SnapshotMetric[] {
  return [
    new SnapshotMetric('symphony_health_checks_total', 'Health probes made, by result: ok (200), status (another status), timeout, refused, error.', 'counter', () =>
      ['ok', 'status', 'timeout', 'refused', 'error'].map((result) => ({ value: src.healthChecks().get(result) ?? 0, labels: { result } }))),
    new SnapshotMetric('symphony_health_timeouts_tolerated_total', 'Health-check timeouts that did not take their backend out, being fewer in a row than --unhealthy-threshold.', 'counter', () =>
      [{ value: src.toleratedHealthTimeouts(), labels: {} }])
  ]
}
