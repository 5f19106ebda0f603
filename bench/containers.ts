/**
 * `--scenario containers`: the data path with real containers (issue #12). One container of the
 * example API (symphony-test-api:latest, scripts/build-test-image.sh) behind each of:
 *
 * - `symphony-published`: `symphony --image … --upstream published`, through docker-proxy;
 * - `symphony-direct`: `symphony --image … --upstream direct`, to the container's own address;
 * - `nginx-published`: nginx (1 worker) to the published port of the direct symphony's container;
 * - `nginx-direct`: nginx to that container's own address.
 *
 * wrk drives GET /api/v1/hello (a small JSON answer) with 20 connections, the load of the issue.
 * For every run the CPU time of each process in the path is divided by the requests served:
 * the proxy (symphony or nginx), the docker-proxy of the published port (published targets
 * only), and the container's processes. Proxies are pinned to the proxy CPU; wrk, the containers
 * and their docker-proxy to the load CPU. Rounds are interleaved; ratios are paired per round.
 * Services symphony-bench-pub and symphony-bench-dir on host ports 18540 and 18541, removed at
 * the end (--cleanup-on-exit, then by label).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { dockerUp, run } from './control'
import { measureRun, progress } from './measure'
import type { ModeContext, ModeOutput } from './mode'
import { cpuTicks, freePort, stopChild, treeCpuTicks } from './procs'
import { fmt } from './report'
import { spread, type RunRecord, type Spread } from './stats'
import { startNginxAt, startSymphony, type Proxy } from './targets'

const ROOT = path.resolve(__dirname, '..', '..')
const IMAGE = 'symphony-test-api:latest'
const PATH = '/api/v1/hello'
const CONNECTIONS = 20
const SERVICES = { published: { name: 'symphony-bench-pub', port: 18540 }, direct: { name: 'symphony-bench-dir', port: 18541 } } as const

/** One run with the CPU of every process in the path, µs per request. */
export interface PathRecord extends RunRecord {
  readonly dockerProxyUsPerReq: number | null
  readonly containerUsPerReq: number
  /** proxy + docker-proxy + container. */
  readonly pathUsPerReq: number
}

interface Column {
  readonly name: string
  readonly proxy: Proxy
  /** docker-proxy's pid on the path, or null (direct). */
  readonly dockerProxy: number | null
  /** The container's main process (host pid). */
  readonly containerPid: number
}

export async function runContainers (ctx: ModeContext): Promise<ModeOutput> {
  const { opts, children, tmp, pinning, clk, tools, log } = ctx
  const notes: string[] = []
  const title = 'The data path with real containers'
  const empty = (why: string): ModeOutput => ({ title, markdown: `Skipped: ${why}.\n`, notes, data: { runs: [] } })
  if (!await dockerUp()) return empty('no Docker engine answers (scripts/docker-engine.sh starts one)')
  if (tools.paths.wrk === null) return empty('wrk is missing')
  await run('bash', [path.join(ROOT, 'scripts', 'build-test-image.sh')], 300_000)
  for (const s of Object.values(SERVICES)) await removeContainers(s.name)

  const proxyCpu = pinning?.proxyCpu ?? null
  const sym = async (mode: 'published' | 'direct'): Promise<Proxy> => {
    const s = SERVICES[mode]
    return await startSymphony(children, [], await freePort(), proxyCpu, [
      '--image', IMAGE, '--service', s.name, '--upstream', mode, '--base-port', String(s.port),
      '--min-containers', '1', '--max-containers', '1', '--cleanup-on-exit', '--log-level', 'warn'
    ], PATH)
  }
  const started: Proxy[] = []
  try {
    const symPub = await sym('published')
    started.push(symPub)
    const symDir = await sym('direct')
    started.push(symDir)
    const pub = await container(SERVICES.published.name)
    const dir = await container(SERVICES.direct.name)
    const nginx = tools.paths.nginx
    const columns: Column[] = [
      { name: 'symphony-published', proxy: symPub, dockerProxy: dockerProxyPid(SERVICES.published.port), containerPid: pub.pid },
      { name: 'symphony-direct', proxy: symDir, dockerProxy: null, containerPid: dir.pid }
    ]
    if (nginx !== null) {
      const ngPub = await startNginxAt(children, nginx, [`127.0.0.1:${SERVICES.direct.port}`], proxyCpu, tmp, { readyPath: PATH })
      const ngDir = await startNginxAt(children, nginx, [`${dir.ip}:80`], proxyCpu, tmp, { readyPath: PATH })
      columns.push({ name: 'nginx-published', proxy: ngPub, dockerProxy: dockerProxyPid(SERVICES.direct.port), containerPid: dir.pid })
      columns.push({ name: 'nginx-direct', proxy: ngDir, dockerProxy: null, containerPid: dir.pid })
    } else {
      notes.push('nginx is missing: only symphony measured')
    }
    if (pinning !== null) {
      for (const pid of [pub.pid, dir.pid, dockerProxyPid(SERVICES.published.port), dockerProxyPid(SERVICES.direct.port)]) {
        if (pid !== null) for (const p of [pid, ...childPids(pid)]) spawnSync('taskset', ['-a', '-p', '-c', String(pinning.loadCpu), String(p)], { stdio: 'ignore' })
      }
    }
    log(`containers: ${columns.map((c) => `${c.name} on ${c.proxy.port}`).join(', ')}; direct container at ${dir.ip}:80`)

    const env = { children, wrk: tools.paths.wrk, loadCpu: pinning?.loadCpu ?? null, clk }
    const once = async (c: Column, round: number, seconds: number): Promise<PathRecord> => {
      const dp0 = c.dockerProxy === null ? 0 : safeTicks(c.dockerProxy)
      const ct0 = treeCpuTicks(c.containerPid)
      const rec = await measureRun(env, 'wrk', {
        url: `http://127.0.0.1:${c.proxy.port}${PATH}`, method: 'GET', bodyBytes: 0, connections: CONNECTIONS, durationS: seconds, keepAlive: true
      }, { name: c.name, port: c.proxy.port, proxy: c.proxy }, 'containers', round)
      const us = (ticks: number): number => rec.requests > 0 ? (ticks / clk) * 1e6 / rec.requests : 0
      const dockerProxy = c.dockerProxy === null ? null : us(safeTicks(c.dockerProxy) - dp0)
      const containerUs = us(treeCpuTicks(c.containerPid) - ct0)
      progress(rec)
      log(`  ${c.name}: docker-proxy ${dockerProxy === null ? '—' : dockerProxy.toFixed(1)} µs/req, container ${containerUs.toFixed(1)} µs/req`)
      return { ...rec, dockerProxyUsPerReq: dockerProxy, containerUsPerReq: containerUs, pathUsPerReq: (rec.cpuUsPerReq ?? 0) + (dockerProxy ?? 0) + containerUs }
    }
    if (opts.warmupS > 0) for (const c of columns) await once(c, 0, opts.warmupS)
    const runs: PathRecord[] = []
    for (let round = 1; round <= opts.rounds; round++) for (const c of columns) runs.push(await once(c, round, opts.durationS))
    return { title, markdown: render(runs, columns.map((c) => c.name), opts.rounds, opts.durationS, pinning !== null), notes, data: { connections: CONNECTIONS, path: PATH, runs } }
  } finally {
    // symphony first (it removes its container on SIGTERM, --cleanup-on-exit), or it would
    // replace the containers removed under it; then by label, for whatever it left.
    for (const p of started) await stopChild(p.child, 15_000).catch(() => {})
    // Seen once: a container of the service created while symphony stopped; so until none is left.
    for (let i = 0; i < 5; i++) {
      let left = 0
      for (const s of Object.values(SERVICES)) left += await removeContainers(s.name).catch(() => 0)
      if (left === 0) break
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
  }
}

function render (runs: readonly PathRecord[], names: readonly string[], rounds: number, durationS: number, pinned: boolean): string {
  const of = (name: string): PathRecord[] => runs.filter((r) => r.target === name)
  const sp = (xs: number[]): Spread | null => xs.length === 0 ? null : spread(xs)
  const cell = (s: Spread | null, d: number, unit = ''): string => s === null ? '—' : fmt(s, d, unit)
  const rows = [
    '| target | req/s | proxy µs/req | docker-proxy µs/req | container µs/req | whole path µs/req |',
    '|---|---:|---:|---:|---:|---:|',
    ...names.map((n) => {
      const r = of(n)
      return `| ${n} | ${cell(sp(r.map((x) => x.reqPerSec)), 0)} | ${cell(sp(r.map((x) => x.cpuUsPerReq ?? 0)), 1)} | ` +
        `${cell(sp(r.flatMap((x) => x.dockerProxyUsPerReq === null ? [] : [x.dockerProxyUsPerReq])), 1)} | ` +
        `${cell(sp(r.map((x) => x.containerUsPerReq)), 1)} | ${cell(sp(r.map((x) => x.pathUsPerReq)), 1)} |`
    })
  ]
  const pairs: Array<[string, string]> = [['symphony-direct', 'symphony-published'], ['symphony-published', 'nginx-published'], ['symphony-direct', 'nginx-direct'], ['symphony-direct', 'nginx-published']]
  const ratioRows = ['', '| paired per round | req/s | proxy CPU/req | whole path CPU/req |', '|---|---:|---:|---:|']
  for (const [a, b] of pairs) {
    if (!names.includes(a) || !names.includes(b)) continue
    const byRound = (name: string): Map<number, PathRecord> => new Map(of(name).map((r) => [r.round, r]))
    const ra = byRound(a)
    const rb = byRound(b)
    const q = (f: (r: PathRecord) => number): Spread => spread([...ra.keys()].filter((k) => rb.has(k)).map((k) => f(ra.get(k) as PathRecord) / f(rb.get(k) as PathRecord)))
    ratioRows.push(`| ${a} / ${b} | ${fmt(q((r) => r.reqPerSec), 2, '×')} | ${fmt(q((r) => r.cpuUsPerReq ?? 0), 2, '×')} | ${fmt(q((r) => r.pathUsPerReq), 2, '×')} |`)
  }
  return `${rows.join('\n')}\n${ratioRows.join('\n')}\n\nGET ${PATH} (a small JSON answer from the example API in a container), wrk with ${CONNECTIONS} connections. ` +
    `Median (min–max) over ${rounds} interleaved rounds of ${durationS} s. CPU per request of each process in the path: the proxy, ` +
    'the docker-proxy of the published port, and the container\'s processes. ' +
    `${pinned ? 'Proxies pinned to one CPU; wrk, containers and docker-proxy to the other.' : 'Not pinned.'}\n`
}

async function container (service: string): Promise<{ id: string, pid: number, ip: string }> {
  const id = (await run('docker', ['ps', '-q', '--filter', `label=io.symphony.service=${service}`, '--filter', 'label=io.symphony.managed=true'], 30_000)).trim().split('\n')[0]
  if (id === undefined || id === '') throw new Error(`no running container of ${service}`)
  const [pid, ip] = (await run('docker', ['inspect', '-f', '{{.State.Pid}} {{.NetworkSettings.Networks.bridge.IPAddress}}', id], 30_000)).trim().split(' ')
  return { id, pid: Number(pid), ip: ip ?? '' }
}

/** Remove every container of `service`; returns how many there were. */
async function removeContainers (service: string): Promise<number> {
  const ids = (await run('docker', ['ps', '-aq', '--filter', `label=io.symphony.service=${service}`, '--filter', 'label=io.symphony.managed=true'], 30_000))
    .split('\n').filter((l) => l.trim() !== '')
  if (ids.length > 0) await run('docker', ['rm', '-f', ...ids], 60_000)
  return ids.length
}

/** The docker-proxy process that serves `hostPort` (its command line names the port), or null. */
export function dockerProxyPid (hostPort: number): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
      if (!(argv[0] ?? '').endsWith('docker-proxy')) continue
      const i = argv.indexOf('-host-port')
      if (i >= 0 && argv[i + 1] === String(hostPort)) return Number(entry)
    } catch {} // ended meanwhile
  }
  return null
}

function childPids (pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((s) => s !== '').map(Number)
  } catch {
    return []
  }
}

function safeTicks (pid: number): number {
  try { return cpuTicks(pid) } catch { return 0 }
}
