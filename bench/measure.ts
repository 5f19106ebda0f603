/**
 * One measured load run against one target: the load (wrk or autocannon), the proxy's CPU ticks
 * before and after, and the per-request cost. Shared by the load scenarios and the backend-count
 * curve.
 */
import { runAutocannon, type LoadResult, type LoadSpec } from './load'
import type { Children } from './procs'
import type { RunRecord } from './stats'
import type { Proxy } from './targets'
import { runWrk } from './wrk'

/** Pause after every run, so that one run's tail does not spill into the next. */
const PAUSE_MS = 500

export type Driver = 'wrk' | 'autocannon'

/** What every run needs from the bench. */
export interface MeasureEnv {
  readonly children: Children
  /** wrk's path (required for the wrk driver). */
  readonly wrk: string | null
  /** CPU of the load generator, or null when not pinned. */
  readonly loadCpu: number | null
  /** Clock ticks per second. */
  readonly clk: number
}

/** A column of a round: a name, a port, the proxy in the path (null: direct). */
export interface MeasureTarget {
  readonly name: string
  readonly port: number
  readonly proxy: Proxy | null
}

/**
 * Run `spec` with `driver` against `t` and turn it into a record (with the proxy's CPU µs per
 * request); `during` runs alongside the load (the scrape scenario) and returns a count.
 * Throws when a proxy died during the run.
 */
export async function measureRun (env: MeasureEnv, driver: Driver, spec: LoadSpec, t: MeasureTarget, scenario: string, round: number,
  during?: () => { stop: () => Promise<void>, count: () => number }): Promise<RunRecord> {
  const before = t.proxy?.cpuTicks() ?? 0
  const userBefore = t.proxy?.userTicks() ?? 0
  const side = during?.() ?? null
  let load: LoadResult
  try {
    load = driver === 'wrk'
      ? await runWrk(env.wrk as string, spec, env.children, env.loadCpu, env.clk)
      : await runAutocannon(spec)
  } finally {
    await side?.stop()
  }
  const ticks = t.proxy === null ? null : t.proxy.cpuTicks() - before
  const user = t.proxy === null ? null : t.proxy.userTicks() - userBefore
  if (t.proxy !== null && (t.proxy.child.proc.exitCode !== null || t.proxy.child.proc.signalCode !== null)) {
    throw new Error(`${t.name} died during the run\n${t.proxy.child.tail()}`)
  }
  await new Promise((resolve) => setTimeout(resolve, PAUSE_MS))
  const clk = env.clk
  return {
    ...load,
    scenario,
    target: t.name,
    round,
    proxyCpuTicks: ticks,
    cpuUsPerReq: ticks !== null && load.requests > 0 ? (ticks / clk) * 1e6 / load.requests : null,
    userUsPerReq: user !== null && load.requests > 0 ? (user / clk) * 1e6 / load.requests : null,
    proxyCpuPct: ticks !== null && load.durationS > 0 ? (ticks / clk) * 100 / load.durationS : null,
    scrapes: side?.count() ?? 0
  }
}

/** One line on stderr per run: throughput, latency, errors, the proxy's cost and the driver's CPU. */
export function progress (r: RunRecord): void {
  const label = r.round === 0 ? 'warm-up' : `round ${r.round}`
  const cpu = r.cpuUsPerReq === null ? '' : `, proxy ${r.cpuUsPerReq.toFixed(1)} µs/req (${Math.round(r.proxyCpuPct ?? 0)}% CPU)`
  const scrapes = r.scrapes > 0 ? `, ${r.scrapes} scrapes` : ''
  const w = r.wrkErrors
  const kinds = w !== undefined && r.errors > 0 ? ` (connect ${w.connect}, read ${w.read}, write ${w.write}, timeout ${w.timeout})` : ''
  process.stderr.write(`bench: ${r.scenario} ${label} ${r.target}: ${Math.round(r.reqPerSec)} req/s, p50 ${(r.p50Us / 1000).toFixed(2)} ms, ` +
    `p99 ${(r.p99Us / 1000).toFixed(2)} ms, ${r.errors} errors${kinds}, ${r.non2xx} non-2xx${cpu}${scrapes}, ${r.driver} ${Math.round(r.driverCpuPct)}% CPU\n`)
}
