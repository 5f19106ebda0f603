/**
 * `--scenario backends`: what symphony costs per request with 1, 8, 64 and 256 backends, with
 * nginx and HAProxy at the same counts, side by side in one run. Choosing a backend is meant to
 * be constant time (one Atomics.add on a shared cursor), so the curve should be flat; what may
 * grow is the rest: a connection pool per backend and per worker, and one health check per
 * backend per --fault-interval, which the idle CPU column shows on its own.
 *
 * Shape: two backend processes (uWS, pinned with the load generator) listen on 128 ports each,
 * so 256 distinct backends cost two processes instead of 256. Count N takes the first N of the
 * ports alternating between the two processes (1 backend: one process). Every proxy is started
 * once per count, all pinned to the proxy CPU; rounds interleave every (proxy, count) pair.
 */
import path from 'node:path'
import type { LoadSpec } from './load'
import { measureRun, progress, type Driver, type MeasureEnv, type MeasureTarget } from './measure'
import { sleep, type ModeContext, type ModeOutput } from './mode'
import { freePort, treeRssBytes } from './procs'
import { fmt, renderMarkdown, type Section } from './report'
import { pairedRatios, spread, summarize, type Ratios, type RunRecord, type Spread } from './stats'
import { startHaproxy, startNginx, startSymphony, type Proxy } from './targets'

/** Seconds of no load over which every proxy's idle CPU (timers, health checks) is measured. */
const IDLE_S = 5

export async function runBackendCurve (ctx: ModeContext): Promise<ModeOutput> {
  const { opts, children, tmp, pinning, clk, tools, log } = ctx
  const notes: string[] = []
  const counts = opts.counts
  const most = counts[counts.length - 1]
  const perProcess = Math.ceil(most / 2)
  const loadCpu = pinning?.loadCpu ?? null
  const proxyCpu = pinning?.proxyCpu ?? null

  // Two processes, `perProcess` ports each; interleave them so every count uses both (but 1).
  const lists: number[][] = []
  for (const name of ['backends-a', 'backends-b']) {
    const child = children.spawn(name, process.execPath, [path.join(__dirname, 'backend.js'), '0', String(perProcess)], loadCpu)
    const line = await child.firstLine((l) => l.startsWith('{"port"'), 30_000)
    lists.push((JSON.parse(line) as { ports: number[] }).ports)
  }
  const ports: number[] = []
  for (let i = 0; i < perProcess; i++) ports.push(lists[0][i], lists[1][i])
  log(`backends: 2 processes × ${perProcess} ports (${ports.length} backends)`)

  const kinds = opts.targets.filter((t) => t !== 'direct')
  if (opts.targets.includes('direct')) notes.push('direct is not part of the backends scenario (there is no proxy whose cost could grow)')
  const start = async (kind: string, count: number): Promise<Proxy | null> => {
    const mine = ports.slice(0, count)
    if (kind === 'symphony') return await startSymphony(children, mine, await freePort(), proxyCpu)
    if (kind === 'nginx' && tools.paths.nginx !== null) return await startNginx(children, tools.paths.nginx, mine, proxyCpu, tmp)
    if (kind === 'haproxy' && tools.paths.haproxy !== null) return await startHaproxy(children, tools.paths.haproxy, mine, proxyCpu, tmp)
    return null
  }
  const targets: Array<{ name: string, port: number, kind: string, count: number, proxy: Proxy }> = []
  for (const count of counts) {
    for (const kind of kinds) {
      const p = await start(kind, count)
      if (p !== null) targets.push({ name: `${kind}@${count}`, port: p.port, proxy: p, kind, count })
    }
  }
  log(`backends: ${targets.map((t) => `${t.name} on ${t.port}`).join(', ')}`)
  // On this shared machine a proxy has been seen to get a SIGTERM from elsewhere while idle: log
  // it, and start it again before its next run (noted in the results) rather than lose the run.
  let ending = false
  const watch = (t: typeof targets[number]): void => {
    const p = t.proxy
    void p.child.exited.then((code) => { if (!ending) log(`${t.name} exited (${code}) while the bench ran\n${p.child.tail()}`) })
  }
  targets.forEach(watch)
  const alive = async (t: typeof targets[number]): Promise<MeasureTarget> => {
    const proc = t.proxy.child.proc
    if (proc.exitCode !== null || proc.signalCode !== null) {
      notes.push(`${t.name} ended (${String(proc.exitCode ?? proc.signalCode)}) outside its runs and was started again before its next run`)
      const p = await start(t.kind, t.count)
      if (p === null) throw new Error(`${t.name} could not be started again`)
      t.proxy = p
      t.port = p.port
      watch(t)
    }
    return t
  }

  const driver: Driver = tools.paths.wrk !== null && opts.driver !== 'autocannon' ? 'wrk' : 'autocannon'
  const env: MeasureEnv = { children, wrk: tools.paths.wrk, loadCpu, clk }
  const spec = (port: number, seconds: number): LoadSpec => ({
    url: `http://127.0.0.1:${port}/`, method: 'GET', bodyBytes: 0, connections: opts.connections, durationS: seconds, keepAlive: true
  })

  const warmups: RunRecord[] = []
  if (opts.warmupS > 0) {
    for (const t of targets) { const r = await measureRun(env, driver, spec(t.port, opts.warmupS), await alive(t), 'backends', 0); progress(r); warmups.push(r) }
  }

  // Idle cost: every proxy at once, no load; symphony health-checks each backend every second.
  const idleBefore = targets.map((t) => t.proxy.cpuTicks())
  const idleStart = process.hrtime.bigint()
  await sleep(IDLE_S * 1000)
  const idleS = Number(process.hrtime.bigint() - idleStart) / 1e9
  const idle = targets.map((t, i) => ({ target: t.name, cpuPct: ((t.proxy.cpuTicks() - idleBefore[i]) / clk) * 100 / idleS }))

  const runs: RunRecord[] = []
  for (let round = 1; round <= opts.rounds; round++) {
    for (const t of targets) {
      const m = await alive(t)
      const r = await measureRun(env, driver, spec(m.port, opts.durationS), m, 'backends', round)
      progress(r)
      runs.push(r)
    }
  }
  for (const t of targets) await alive(t)
  ending = true
  const rss = targets.map((t) => ({ target: t.name, rssBytes: treeRssBytes(t.proxy.child.pid) }))

  // Each count against the smallest, and symphony against nginx at the same count.
  const ratios: Ratios[] = []
  for (const t of targets) {
    const base = `${t.kind}@${counts[0]}`
    if (t.count !== counts[0]) ratios.push(...[pairedRatios(runs, t.name, base)].filter((r): r is Ratios => r !== null))
  }
  for (const t of targets) {
    if (t.kind !== 'nginx' && targets.some((x) => x.name === `nginx@${t.count}`)) {
      const r = pairedRatios(runs, t.name, `nginx@${t.count}`)
      if (r !== null) ratios.push(r)
    }
  }
  const section: Section = {
    scenario: 'backends',
    what: `GET / with a 100-byte response, the proxy in front of N backends (round robin); 2 backend processes × ${perProcess} ports`,
    driver,
    connections: opts.connections,
    targets: targets.map((t) => summarize(t.name, runs)),
    ratios
  }
  const setup = {
    rounds: opts.rounds,
    durationS: opts.durationS,
    pinning: pinning === null
      ? 'Not pinned.'
      : `Pinned: every proxy on CPU ${pinning.proxyCpu} (only the one under load busy); backends and wrk on CPU ${pinning.loadCpu}.`
  }
  // The per-request cost net of what the proxy spends anyway (timers, health checks): per run,
  // CPU µs/req − idle CPU share × 1e6 / req/s.
  const net = targets.map((t) => {
    const pct = idle.find((x) => x.target === t.name)?.cpuPct ?? 0
    const vals = runs.filter((r) => r.target === t.name && r.cpuUsPerReq !== null && r.reqPerSec > 0)
      .map((r) => (r.cpuUsPerReq as number) - (pct / 100) * 1e6 / r.reqPerSec)
    return { target: t.name, netUsPerReq: vals.length > 0 ? spread(vals) : null }
  })
  const curve = curveTable(counts, kinds, section, idle, rss, net)
  const markdown = `${curve}\n${renderMarkdown([section], setup, [])}`
  process.stdout.write(`\n${markdown}`)
  return {
    title: 'Cost by backend count',
    markdown,
    notes,
    data: { driver, counts, backendPorts: ports.length, commands: Object.fromEntries(targets.map((t) => [t.name, t.proxy.command])), idle, net, rss, section, warmups, runs }
  }
}

/** One row per (count, proxy): CPU µs/req, req/s, p99, idle CPU %, RSS, and the paired ratios. */
function curveTable (counts: readonly number[], kinds: readonly string[], s: Section,
  idle: ReadonlyArray<{ target: string, cpuPct: number }>, rss: ReadonlyArray<{ target: string, rssBytes: number }>,
  net: ReadonlyArray<{ target: string, netUsPerReq: Spread | null }>): string {
  const rows: string[] = []
  for (const c of counts) {
    for (const k of kinds) {
      const name = `${k}@${c}`
      const t = s.targets.find((x) => x.target === name)
      if (t === undefined) continue
      const i = idle.find((x) => x.target === name)
      const m = rss.find((x) => x.target === name)
      const n = net.find((x) => x.target === name)?.netUsPerReq ?? null
      const vsFirst = s.ratios.find((r) => r.target === name && r.baseline === `${k}@${counts[0]}`)
      const vsNginx = s.ratios.find((r) => r.target === name && r.baseline === `nginx@${c}`)
      rows.push(`| ${c} | ${k} | ${t.cpuUsPerReq === null ? '—' : fmt(t.cpuUsPerReq, 1)} | ${fmt(t.reqPerSec, 0)} | ` +
        `${(t.p99Us.median / 1000).toFixed(2)} | ${t.errors + t.non2xx} | ${i === undefined ? '—' : i.cpuPct.toFixed(1)} | ` +
        `${n === null ? '—' : n.median.toFixed(1)} | ` +
        `${m === undefined ? '—' : (m.rssBytes / 2 ** 20).toFixed(0)} | ${vsFirst?.cpuUsPerReq == null ? '' : fmt(vsFirst.cpuUsPerReq, 2, '×')} | ` +
        `${vsNginx?.cpuUsPerReq == null ? '' : fmt(vsNginx.cpuUsPerReq, 2, '×')} |`)
    }
  }
  return ['### Cost by backend count', '',
    `| backends | proxy | CPU µs/req | req/s | p99 ms | errors + non-2xx | idle CPU % | µs/req net of idle | RSS MiB | CPU/req vs ${counts[0]} backend${counts[0] === 1 ? '' : 's'} | CPU/req vs nginx |`,
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|', ...rows, '',
    'Median (min–max) over the rounds; the ratios are paired per round. idle CPU %: the proxy\'s own CPU with no load ' +
    `over ${IDLE_S} s, all proxies idle at once (symphony health-checks every backend once a second); µs/req net of idle ` +
    'takes that share out of each run\'s cost (CPU µs/req − idle share × 10⁶ / req/s), leaving what grows with the requests. ' +
    'RSS: after the rounds (nginx: master + worker).', ''].join('\n')
}
