/** The Markdown rendering of a benchmark's summary: one table per scenario and driver. */
import type { Ratios, Spread, TargetSummary } from './stats'

/** The headline bar of issue 12: symphony's proxy CPU per request at most 1.35 × nginx's (goal 1.0). */
export const CPU_TARGET = 1.35

/** One scenario run with one driver, summarised. */
export interface Section {
  readonly scenario: string
  /** What the scenario sends, for the caption. */
  readonly what: string
  readonly driver: string
  readonly connections: number
  readonly targets: readonly TargetSummary[]
  readonly ratios: readonly Ratios[]
}

/** How the run was set up, for the line under every table. */
export interface RunSetup {
  readonly rounds: number
  readonly durationS: number
  readonly pinning: string
}

/** A table per section, each with its caption, then the notes (skipped targets and the like). */
export function renderMarkdown (sections: readonly Section[], setup: RunSetup, notes: readonly string[]): string {
  const parts = sections.map((s) => renderSection(s, setup))
  if (notes.length > 0) parts.push(`Notes:\n${notes.map((n) => `- ${n}`).join('\n')}\n`)
  return parts.join('\n')
}

function renderSection (s: Section, setup: RunSetup): string {
  const rows = [
    `### ${s.scenario} (${s.driver}, ${s.connections} connections)`,
    '',
    '| target | req/s | p50 ms | p99 ms | errors | non-2xx | proxy CPU µs/req | proxy CPU % |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...s.targets.map((t) => `| ${t.target} | ${fmt(t.reqPerSec, 0)} | ${fmt(ms(t.p50Us), 2)} | ${fmt(ms(t.p99Us), 2)} | ` +
      `${t.errors} | ${t.non2xx} | ${t.cpuUsPerReq === null ? '—' : fmt(t.cpuUsPerReq, 1)} | ${t.proxyCpuPct === null ? '—' : fmt(t.proxyCpuPct, 0)} |`),
    ...s.ratios.map((r) => `| ${r.target} / ${r.baseline} | ${fmt(r.reqPerSec, 2, '×')} | ${fmt(r.p50, 2, '×')} | ` +
      `${fmt(r.p99, 2, '×')} | | | ${r.cpuUsPerReq === null ? '' : fmt(r.cpuUsPerReq, 2, '×')} | |`)
  ]
  const lines = [rows.join('\n'), '']
  // The bar of issue 12 is about the small GET; other scenarios show the same ratio in their rows.
  const head = s.scenario === 'small' ? s.ratios.find((r) => r.target === 'symphony' && r.baseline === 'nginx') : undefined
  if (head?.cpuUsPerReq != null) {
    const errs = s.targets.find((t) => t.target === 'symphony')
    const clean = errs !== undefined && errs.errors === 0 && errs.non2xx === 0
    const met = head.cpuUsPerReq.median <= CPU_TARGET && clean
    lines.push(`**symphony / nginx proxy CPU per request: ${fmt(head.cpuUsPerReq, 2, '×')}** ` +
      `(target ≤ ${CPU_TARGET}× with no errors: ${met ? 'met' : 'not met'}).`, '')
  }
  // An A/B of two builds (--baseline): user time alone is the sharper figure for user-space changes.
  const ab = s.ratios.find((r) => r.target === 'symphony' && r.baseline === 'baseline')
  if (ab?.userUsPerReq != null) lines.push(`symphony / baseline user CPU (utime) per request: ${fmt(ab.userUsPerReq, 2, '×')}.`, '')
  lines.push(`${s.what}. Median (min–max) over ${setup.rounds} interleaved rounds of ${setup.durationS} s; ` +
    `ratios are paired per round. ${setup.pinning}`, '')
  return lines.join('\n')
}

function ms (s: Spread): Spread {
  return { median: s.median / 1000, min: s.min / 1000, max: s.max / 1000 }
}

/** `median (min–max)` with `digits` decimals and an optional unit after the median. */
export function fmt (s: Spread, digits: number, unit = ''): string {
  const n = (v: number): string => v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
  return `${n(s.median)}${unit} (${n(s.min)}–${n(s.max)})`
}
