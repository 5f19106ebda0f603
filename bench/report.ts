/** The Markdown rendering of a benchmark's summary. */
import type { Ratios, Spread, TargetSummary } from './stats'

/** How the run was set up, for the line under the table. */
export interface RunSetup {
  readonly rounds: number
  readonly durationS: number
  readonly connections: number
  readonly pinning: string
}

/** A Markdown table: one row per target, then the ratio row, then a line on the setup. */
export function renderMarkdown (targets: readonly TargetSummary[], ratios: Ratios, ratioLabel: string, setup: RunSetup): string {
  const rows = [
    '| target | req/s | p50 ms | p99 ms | errors | non-2xx | proxy CPU µs/req |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...targets.map((t) => `| ${t.target} | ${fmt(t.reqPerSec, 0)} | ${fmt(ms(t.p50Us), 2)} | ${fmt(ms(t.p99Us), 2)} | ${t.errors} | ${t.non2xx} | ${t.cpuUsPerReq === null ? '—' : fmt(t.cpuUsPerReq, 1)} |`),
    `| ${ratioLabel} | ${fmt(ratios.reqPerSec, 2, '×')} | ${fmt(ratios.p50, 2, '×')} | ${fmt(ratios.p99, 2, '×')} | | | |`
  ]
  const note = `Median (min–max) over ${setup.rounds} interleaved rounds of ${setup.durationS} s, ` +
    `${setup.connections} connections, GET / with a 100-byte body. Ratios are paired per round. ${setup.pinning}`
  return `${rows.join('\n')}\n\n${note}\n`
}

function ms (s: Spread): Spread {
  return { median: s.median / 1000, min: s.min / 1000, max: s.max / 1000 }
}

function fmt (s: Spread, digits: number, unit = ''): string {
  const n = (v: number): string => v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
  return `${n(s.median)}${unit} (${n(s.min)}–${n(s.max)})`
}
