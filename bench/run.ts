/**
 * `npm run bench`: symphony against the same backend hit directly, interleaved rounds, with the
 * proxy's CPU cost per request. Starts two uWS backends and the real symphony CLI, all on
 * 127.0.0.1, prints a Markdown table and writes bench/results/latest.{json,md}. See bench/README.md.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseBenchArgs, USAGE, type BenchOptions } from './args'
import { runLoad } from './load'
import { Children, choosePinning, clockTicks, cpuTicks, freePort, pinSelf, waitFor200, type Child, type Pinning } from './procs'
import { renderMarkdown } from './report'
import { pairedRatios, summarize, type RunRecord } from './stats'

/** dist/bench/run.js → the repository root. */
const ROOT = path.resolve(__dirname, '..', '..')
const RESULTS = path.join(ROOT, 'bench', 'results')
const PAUSE_MS = 500

interface Target { readonly name: string, readonly url: string, readonly proxied: boolean }

/** Run the whole benchmark; resolves when every child has been stopped. */
export async function main (argv: string[]): Promise<void> {
  let opts: BenchOptions | null
  try {
    opts = parseBenchArgs(argv)
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n${USAGE}`)
    process.exitCode = 2
    return
  }
  if (opts === null) {
    process.stdout.write(USAGE)
    return
  }

  const children = new Children()
  let signalled = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) process.exit(130)
    signalled = true
    process.stderr.write(`bench: ${signal}, stopping everything it started\n`)
    void children.stopAll(2000).finally(() => process.exit(130))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('exit', () => children.killAllSync())

  try {
    await bench(opts, children)
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`)
    process.exitCode = 1
  } finally {
    await children.stopAll()
  }
}

async function bench (opts: BenchOptions, children: Children): Promise<void> {
  const startedAt = new Date()
  // Before pinning: availableParallelism() follows this process's affinity mask.
  const cpus = os.availableParallelism()
  const pinning = choosePinning()
  if (pinning !== null) pinSelf(pinning.loadCpu)
  const clk = clockTicks()

  const backendPorts: number[] = []
  for (const name of ['backend-a', 'backend-b']) {
    const child = children.spawn(name, process.execPath, [path.join(__dirname, 'backend.js'), '0'], pinning?.loadCpu ?? null)
    const line = await child.firstLine((l) => l.startsWith('{"port"'), 10_000)
    backendPorts.push((JSON.parse(line) as { port: number }).port)
  }

  const port = await freePort()
  let adminPort = await freePort()
  while (adminPort === port) adminPort = await freePort()
  const symphony = children.spawn('symphony', process.execPath, [
    path.join(ROOT, 'bin', 'symphony.js'),
    ...backendPorts.flatMap((p) => ['--backend', `127.0.0.1:${p}`]),
    '--port', String(port), '--admin-port', String(adminPort), '--threads', '1'
  ], pinning?.proxyCpu ?? null)
  await Promise.race([
    waitFor200(`http://127.0.0.1:${port}/`, 30_000),
    symphony.exited.then((code) => { throw new Error(`symphony exited (${code}) before it was ready\n${symphony.tail()}`) })
  ])

  const targets: Target[] = [
    { name: 'direct', url: `http://127.0.0.1:${backendPorts[0]}/`, proxied: false },
    { name: 'symphony', url: `http://127.0.0.1:${port}/`, proxied: true }
  ]
  const runOnce = async (t: Target, round: number, seconds: number): Promise<RunRecord> => {
    const before = cpuTicks(symphony.pid)
    const driverBefore = process.cpuUsage()
    const load = await runLoad(t.url, seconds, opts.connections)
    const driver = process.cpuUsage(driverBefore)
    const ticks = cpuTicks(symphony.pid) - before
    assertAlive(symphony)
    await new Promise((resolve) => setTimeout(resolve, PAUSE_MS))
    const cpuUsPerReq = t.proxied && load.requests > 0 ? (ticks / clk) * 1e6 / load.requests : null
    const driverCpuPct = load.durationS > 0 ? (driver.user + driver.system) / 1e4 / load.durationS : 0
    const rec: RunRecord = { ...load, target: t.name, round, proxyCpuTicks: ticks, cpuUsPerReq, driverCpuPct }
    progress(rec)
    return rec
  }

  const warmups: RunRecord[] = []
  if (opts.warmupS > 0) for (const t of targets) warmups.push(await runOnce(t, 0, opts.warmupS))
  const runs: RunRecord[] = []
  for (let round = 1; round <= opts.rounds; round++) {
    for (const t of targets) runs.push(await runOnce(t, round, opts.durationS))
  }

  const summary = targets.map((t) => summarize(t.name, runs))
  const ratios = pairedRatios(runs, 'symphony', 'direct')
  const md = renderMarkdown(summary, ratios, 'symphony / direct', {
    rounds: opts.rounds, durationS: opts.durationS, connections: opts.connections, pinning: describePinning(pinning)
  })
  process.stdout.write(`\n${md}`)

  const json = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    commit: gitCommit(),
    machine: { cpus, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version, clkTck: clk },
    options: opts,
    pinning,
    command: symphony.proc.spawnargs.join(' '),
    summary,
    ratios,
    warmups,
    runs
  }
  mkdirSync(RESULTS, { recursive: true })
  writeAtomically(path.join(RESULTS, 'latest.json'), `${JSON.stringify(json, null, 2)}\n`)
  writeAtomically(path.join(RESULTS, 'latest.md'), `# Benchmark ${startedAt.toISOString()} (${json.commit})\n\n${md}`)
  process.stderr.write(`bench: wrote ${path.relative(process.cwd(), RESULTS)}/latest.{json,md}\n`)
}

function assertAlive (child: Child): void {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
    throw new Error(`${child.name} died during the run\n${child.tail()}`)
  }
}

function progress (r: RunRecord): void {
  const label = r.round === 0 ? 'warm-up' : `round ${r.round}`
  const cpu = r.cpuUsPerReq === null ? '' : `, proxy ${r.cpuUsPerReq.toFixed(1)} µs/req`
  process.stderr.write(`bench: ${label} ${r.target}: ${Math.round(r.reqPerSec)} req/s, p50 ${(r.p50Us / 1000).toFixed(2)} ms, ` +
    `p99 ${(r.p99Us / 1000).toFixed(2)} ms, ${r.errors} errors, ${r.non2xx} non-2xx${cpu}, autocannon ${Math.round(r.driverCpuPct)}% CPU\n`)
}

function describePinning (p: Pinning | null): string {
  return p === null
    ? 'Not pinned (no taskset or fewer than 2 CPUs): everything shares the CPUs.'
    : `Pinned: symphony on CPU ${p.proxyCpu}; backends and autocannon on CPU ${p.loadCpu}.`
}

function gitCommit (): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return 'unknown'
  }
}

function writeAtomically (file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text)
  renameSync(`${file}.tmp`, file)
}

if (require.main === module) void main(process.argv.slice(2))
