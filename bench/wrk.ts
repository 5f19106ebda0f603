/**
 * One load run with wrk (`wrk -t1 -cC -dSs --latency URL`), a child process of its own pinned
 * with the backends, and the parser of its text output.
 */
import path from 'node:path'
import type { LoadResult, LoadSpec } from './load'
import { type Children, reapedChildrenTicks } from './procs'

/** bench/post.lua; dist/bench/wrk.js → the repository's bench/. */
const POST_LUA = path.resolve(__dirname, '..', '..', 'bench', 'post.lua')

/** What wrk printed, parsed. Latencies in µs. */
export interface WrkOutput {
  readonly requests: number
  readonly durationS: number
  readonly reqPerSec: number
  readonly p50Us: number
  readonly p99Us: number
  readonly connectErrors: number
  readonly readErrors: number
  readonly writeErrors: number
  readonly timeouts: number
  readonly non2xx: number
}

const UNIT_US: Record<string, number> = { us: 1, ms: 1e3, s: 1e6, m: 60e6, h: 3600e6 }

/** A wrk duration such as `812.00us`, `1.23ms`, `2.00s` or `1.00m`, in µs. */
export function wrkTimeUs (text: string): number {
  const m = /^([0-9.]+)(us|ms|s|m|h)$/.exec(text.trim())
  if (m === null) throw new Error(`wrk: cannot read the time "${text}"`)
  return Number(m[1]) * UNIT_US[m[2]]
}

/** Parse wrk's output (run with --latency); throws naming what is missing. */
export function parseWrk (out: string): WrkOutput {
  const need = (re: RegExp, what: string): RegExpExecArray => {
    const m = re.exec(out)
    if (m === null) throw new Error(`wrk: no ${what} in its output:\n${out.trim()}`)
    return m
  }
  const done = need(/^\s*([0-9]+) requests in ([0-9.]+(?:us|ms|s|m|h)),/m, '"N requests in T" line')
  const rps = need(/^Requests\/sec:\s+([0-9.]+)/m, 'Requests/sec')
  const p50 = need(/^\s+50(?:\.000)?%\s+(\S+)/m, '50% latency (was --latency given?)')
  const p99 = need(/^\s+99(?:\.000)?%\s+(\S+)/m, '99% latency')
  const sock = /Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)/.exec(out)
  const non2xx = /Non-2xx or 3xx responses: ([0-9]+)/.exec(out)
  return {
    requests: Number(done[1]),
    durationS: wrkTimeUs(done[2]) / 1e6,
    reqPerSec: Number(rps[1]),
    p50Us: wrkTimeUs(p50[1]),
    p99Us: wrkTimeUs(p99[1]),
    connectErrors: Number(sock?.[1] ?? 0),
    readErrors: Number(sock?.[2] ?? 0),
    writeErrors: Number(sock?.[3] ?? 0),
    timeouts: Number(sock?.[4] ?? 0),
    non2xx: Number(non2xx?.[1] ?? 0)
  }
}

/**
 * Run `spec` with wrk at `wrkPath` on `cpu` (null: not pinned). Bounded: wrk is killed if it has
 * not ended 15 s after its duration. Its CPU time comes from this process's reaped-children ticks.
 */
export async function runWrk (wrkPath: string, spec: LoadSpec, children: Children, cpu: number | null, clk: number): Promise<LoadResult> {
  const args = ['-t1', `-c${spec.connections}`, `-d${spec.durationS}s`, '--latency']
  if (!spec.keepAlive) args.push('-H', 'Connection: close')
  if (spec.method === 'POST') {
    if (spec.bodyBytes !== 65536) throw new Error(`wrk: bench/post.lua sends 65536 bytes, not ${spec.bodyBytes}`)
    args.push('-s', POST_LUA)
  }
  args.push(spec.url)
  const ticksBefore = reapedChildrenTicks()
  const child = children.spawn('wrk', wrkPath, args, cpu)
  let out = ''
  child.proc.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), (spec.durationS + 15) * 1000)
  const code = await child.exited
  clearTimeout(timer)
  if (code !== '0') throw new Error(`wrk exited (${code})\n${child.tail()}`)
  const ticks = reapedChildrenTicks() - ticksBefore
  const w = parseWrk(out)
  return {
    driver: 'wrk',
    requests: w.requests,
    durationS: w.durationS,
    reqPerSec: w.reqPerSec,
    p50Us: w.p50Us,
    p99Us: w.p99Us,
    errors: w.connectErrors + w.readErrors + w.writeErrors + w.timeouts,
    timeouts: w.timeouts,
    wrkErrors: { connect: w.connectErrors, read: w.readErrors, write: w.writeErrors, timeout: w.timeouts },
    non2xx: w.non2xx,
    driverCpuPct: w.durationS > 0 ? (ticks / clk) * 100 / w.durationS : 0
  }
}
