/** Pure summaries of benchmark rounds: medians, spreads and paired ratios. */
import type { LoadResult } from './load'

/** The median and the range of a set of samples. */
export interface Spread { readonly median: number, readonly min: number, readonly max: number }

/** One measured run of one target. */
export interface RunRecord extends LoadResult {
  readonly scenario: string
  readonly target: string
  /** 0 for a warm-up. */
  readonly round: number
  /** Clock ticks of the proxy process(es) during the run; null when no proxy was in the path. */
  readonly proxyCpuTicks: number | null
  /** The proxy's CPU time per completed request in µs; null when no proxy was in the path. */
  readonly cpuUsPerReq: number | null
  /** Its user-space part (utime only): less moved by the machine's load than the kernel's share. */
  readonly userUsPerReq: number | null
  /** The proxy's CPU use during the run in % of one core (100 = its core was saturated). */
  readonly proxyCpuPct: number | null
  /** Admin /metrics scrapes done during the run (scrape scenario), else 0. */
  readonly scrapes: number
}

/** A target's rounds summarised. */
export interface TargetSummary {
  readonly target: string
  readonly rounds: number
  readonly reqPerSec: Spread
  readonly p50Us: Spread
  readonly p99Us: Spread
  readonly cpuUsPerReq: Spread | null
  readonly proxyCpuPct: Spread | null
  readonly driverCpuPct: Spread
  readonly errors: number
  readonly timeouts: number
  readonly non2xx: number
}

/** Per-round ratios `target / baseline`, paired by round so that drift of the machine cancels. */
export interface Ratios {
  readonly target: string
  readonly baseline: string
  readonly reqPerSec: Spread
  readonly p50: Spread
  readonly p99: Spread
  /** Proxy CPU µs per request, when both sides have a proxy. */
  readonly cpuUsPerReq: Spread | null
  /** The same for user time alone. */
  readonly userUsPerReq: Spread | null
}

/** Median (mean of the middle two for an even count) and range. Throws on an empty list. */
export function spread (values: readonly number[]): Spread {
  if (values.length === 0) throw new Error('spread of no values')
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  const median = s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
  return { median, min: s[0], max: s[s.length - 1] }
}

/** Summarise the runs of `target` (warm-ups are not in `runs`). */
export function summarize (target: string, runs: readonly RunRecord[]): TargetSummary {
  const mine = runs.filter((r) => r.target === target)
  const cpu = mine.map((r) => r.cpuUsPerReq).filter((v): v is number => v !== null)
  const pct = mine.map((r) => r.proxyCpuPct).filter((v): v is number => v !== null)
  return {
    target,
    rounds: mine.length,
    reqPerSec: spread(mine.map((r) => r.reqPerSec)),
    p50Us: spread(mine.map((r) => r.p50Us)),
    p99Us: spread(mine.map((r) => r.p99Us)),
    cpuUsPerReq: cpu.length > 0 ? spread(cpu) : null,
    proxyCpuPct: pct.length > 0 ? spread(pct) : null,
    driverCpuPct: spread(mine.map((r) => r.driverCpuPct)),
    errors: sum(mine.map((r) => r.errors)),
    timeouts: sum(mine.map((r) => r.timeouts)),
    non2xx: sum(mine.map((r) => r.non2xx))
  }
}

/**
 * Ratios of `target` over `baseline`, one per round both ran, summarised; null when they share no
 * round. `runs` must be of one scenario and one driver.
 */
export function pairedRatios (runs: readonly RunRecord[], target: string, baseline: string): Ratios | null {
  const pairs: Array<[RunRecord, RunRecord]> = []
  for (const t of runs) {
    const b = runs.find((r) => r.target === baseline && r.round === t.round)
    if (t.target === target && b !== undefined) pairs.push([t, b])
  }
  if (pairs.length === 0) return null
  const ratio = (f: (r: RunRecord) => number): Spread => spread(pairs.map(([t, b]) => f(b) === 0 ? NaN : f(t) / f(b)))
  const withCpu = pairs.every(([t, b]) => t.cpuUsPerReq !== null && b.cpuUsPerReq !== null)
  return {
    target,
    baseline,
    reqPerSec: ratio((r) => r.reqPerSec),
    p50: ratio((r) => r.p50Us),
    p99: ratio((r) => r.p99Us),
    cpuUsPerReq: withCpu ? ratio((r) => r.cpuUsPerReq as number) : null,
    userUsPerReq: withCpu && pairs.every(([t, b]) => t.userUsPerReq != null && b.userUsPerReq != null)
      ? ratio((r) => r.userUsPerReq as number)
      : null
  }
}

function sum (values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0)
}
