/**
 * One load run, with autocannon's programmatic API or with wrk (bench/wrk.ts); both report a
 * {@link LoadResult}. For autocannon a latency histogram of our own is kept:
 * autocannon's histogram has 1 ms resolution, too coarse for a loopback proxy whose p50 is
 * about a millisecond, so every response's hrtime-based latency is also counted here in 1 µs buckets.
 */

/** The subset of autocannon's result the bench reads. */
interface AutocannonResult {
  duration: number
  errors: number
  timeouts: number
  non2xx: number
  requests: { total: number, sent: number }
  latency: { p50: number, p99: number }
}
/** autocannon's returned instance: an EventEmitter that is also a thenable. */
interface AutocannonInstance extends PromiseLike<AutocannonResult> {
  on (event: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): void
}
interface AutocannonOptions {
  url: string
  connections: number
  duration: number
  pipelining: number
  method: string
  body?: Buffer
  headers?: Record<string, string>
}
type Autocannon = (opts: AutocannonOptions) => AutocannonInstance

// autocannon ships no types; require() keeps the untyped surface in this one line.
const autocannon = require('autocannon') as Autocannon

const MAX_US = 1_000_000

/** Latency counts in 1 µs buckets up to 1 s (slower responses count as 1 s). */
export class LatencyHistogram {
  private readonly counts = new Uint32Array(MAX_US + 1)
  private total = 0

  /** Count one latency given in milliseconds. */
  record (ms: number): void {
    const us = Math.round(ms * 1000)
    this.counts[us < MAX_US ? us : MAX_US]++
    this.total++
  }

  /** The latency in µs at or below which `p` percent of responses fall (0 when empty). */
  percentile (p: number): number {
    if (this.total === 0) return 0
    const rank = Math.ceil((p / 100) * this.total)
    let seen = 0
    for (let us = 0; us <= MAX_US; us++) {
      seen += this.counts[us]
      if (seen >= rank) return us
    }
    return MAX_US
  }
}

/** What one run sends. */
export interface LoadSpec {
  readonly url: string
  readonly method: 'GET' | 'POST'
  /** POST body size in bytes ('x' repeated). */
  readonly bodyBytes: number
  readonly connections: number
  readonly durationS: number
  /** false: `Connection: close` on every request (wrk only). */
  readonly keepAlive: boolean
}

/** What one run measured. Latencies in µs. */
export interface LoadResult {
  readonly driver: 'wrk' | 'autocannon'
  readonly requests: number
  readonly durationS: number
  readonly reqPerSec: number
  readonly p50Us: number
  readonly p99Us: number
  /** Connection errors and timeouts (autocannon counts a timeout in both; wrk: connect + read + write + timeout). */
  readonly errors: number
  readonly timeouts: number
  /** wrk's socket errors by kind. */
  readonly wrkErrors?: { readonly connect: number, readonly read: number, readonly write: number, readonly timeout: number }
  /** autocannon: answers other than 2xx; wrk: answers with a status of 400 or more. */
  readonly non2xx: number
  /** CPU the load generator used during the run, in % of one core. */
  readonly driverCpuPct: number
  /** autocannon's own percentiles (ms, 1 ms resolution), kept for cross-checking. */
  readonly autocannonMs?: { readonly p50: number, readonly p99: number }
}

/** Run `spec` with autocannon inside this process (keep-alive only). */
export async function runAutocannon (spec: LoadSpec): Promise<LoadResult> {
  if (!spec.keepAlive) throw new Error('autocannon cannot open a connection per request: use wrk')
  const hist = new LatencyHistogram()
  const cpuBefore = process.cpuUsage()
  const instance = autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationS,
    pipelining: 1,
    method: spec.method,
    ...(spec.method === 'POST'
      ? { body: Buffer.alloc(spec.bodyBytes, 'x'), headers: { 'content-type': 'application/octet-stream' } }
      : {})
  })
  // autocannon emits 'response' for every status; it only puts 2xx in its own histogram.
  instance.on('response', (_client, status, _bytes, ms) => { if (status >= 200 && status < 300) hist.record(ms) })
  const r = await instance
  const cpu = process.cpuUsage(cpuBefore)
  return {
    driver: 'autocannon',
    requests: r.requests.total,
    durationS: r.duration,
    reqPerSec: r.duration > 0 ? r.requests.total / r.duration : 0,
    p50Us: hist.percentile(50),
    p99Us: hist.percentile(99),
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    driverCpuPct: r.duration > 0 ? (cpu.user + cpu.system) / 1e4 / r.duration : 0,
    autocannonMs: { p50: r.latency.p50, p99: r.latency.p99 }
  }
}
