/**
 * `--scenario threads2`: throughput on a bigger share of the machine, the way users on bigger
 * machines scale: symphony with `--threads 2` against nginx with 2 workers, in front of the same
 * two uWS backends, nothing pinned (every process shares every CPU, wrk included). GET / with a
 * 100-byte answer over --connections; rounds interleaved, ratios paired per round.
 */
import path from 'node:path'
import { measureRun, progress } from './measure'
import type { ModeContext, ModeOutput } from './mode'
import { freePort } from './procs'
import { renderMarkdown, type Section } from './report'
import { pairedRatios, summarize, type Ratios, type RunRecord } from './stats'
import { startNginxAt, startSymphony, type Proxy } from './targets'

export async function runThreads2 (ctx: ModeContext): Promise<ModeOutput> {
  const { opts, children, tmp, clk, tools, log } = ctx
  const title = 'symphony --threads 2 against nginx with 2 workers, unpinned'
  const notes: string[] = []
  if (tools.paths.wrk === null) return { title, markdown: 'Skipped: wrk is missing.\n', notes, data: { runs: [] } }
  const ports: number[] = []
  for (const name of ['backend-a', 'backend-b']) {
    const child = children.spawn(name, process.execPath, [path.join(__dirname, 'backend.js'), '0'], null)
    ports.push((JSON.parse(await child.firstLine((l) => l.startsWith('{"port"'), 10_000)) as { port: number }).port)
  }
  const proxies: Array<{ name: string, proxy: Proxy }> = [
    { name: 'symphony', proxy: await startSymphony(children, ports, await freePort(), null, ['--threads', '2']) }
  ]
  if (tools.paths.nginx !== null) {
    proxies.push({ name: 'nginx', proxy: await startNginxAt(children, tools.paths.nginx, ports.map((p) => `127.0.0.1:${p}`), null, tmp, { workers: 2 }) })
  } else {
    notes.push('nginx is missing: symphony alone')
  }
  log(`threads2: ${proxies.map((p) => `${p.name} on ${p.proxy.port}`).join(', ')}`)
  const env = { children, wrk: tools.paths.wrk, loadCpu: null, clk }
  const once = async (p: { name: string, proxy: Proxy }, round: number, seconds: number): Promise<RunRecord> => {
    const rec = await measureRun(env, 'wrk', {
      url: `http://127.0.0.1:${p.proxy.port}/`, method: 'GET', bodyBytes: 0, connections: opts.connections, durationS: seconds, keepAlive: true
    }, { name: p.name, port: p.proxy.port, proxy: p.proxy }, 'threads2', round)
    progress(rec)
    return rec
  }
  if (opts.warmupS > 0) for (const p of proxies) await once(p, 0, opts.warmupS)
  const runs: RunRecord[] = []
  for (let round = 1; round <= opts.rounds; round++) for (const p of proxies) runs.push(await once(p, round, opts.durationS))
  const ratios = [pairedRatios(runs, 'symphony', 'nginx')].filter((r): r is Ratios => r !== null)
  const section: Section = {
    scenario: 'threads2',
    what: 'GET / with a 100-byte response; symphony --threads 2, nginx worker_processes 2, backends and wrk on the same 2 CPUs',
    driver: 'wrk',
    connections: opts.connections,
    targets: proxies.map((p) => summarize(p.name, runs)),
    ratios
  }
  const markdown = renderMarkdown([section], { rounds: opts.rounds, durationS: opts.durationS, pinning: 'Not pinned: everything shares the CPUs.' }, [])
  return { title, markdown, notes, data: { runs, ratios } }
}
