/**
 * `npm run bench`: symphony side by side with nginx, HAProxy and the backend hit directly, in
 * interleaved rounds, with each proxy's CPU cost per request. Starts two uWS backends, the real
 * symphony CLI, nginx and HAProxy (installed with apt-get when missing and root), all on
 * 127.0.0.1; drives them with wrk and/or autocannon; prints a Markdown table per scenario and
 * writes bench/results/latest.{json,md}. See bench/README.md.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseBenchArgs, USAGE, type BenchOptions, type ModeName } from './args'
import { runControlLoop } from './control'
import { runBackendCurve } from './curve'
import { runIdleConnections } from './idle'
import { runContainers } from './containers'
import { runThreads2 } from './threads'
import type { LoadSpec } from './load'
import { measureRun, progress, type Driver, type MeasureEnv } from './measure'
import type { ModeContext, ModeOutput } from './mode'
import { Children, choosePinning, clockTicks, freePort, pinSelf, raiseFdLimit, type Pinning } from './procs'
import { renderMarkdown, type Section } from './report'
import { scenario, type Scenario } from './scenarios'
import { pairedRatios, summarize, type Ratios, type RunRecord } from './stats'
import { startHaproxy, startNginx, startSymphony, TempDirs, type Proxy } from './targets'
import { ensureTools, version, type ToolName, type Tools } from './tools'

/** dist/bench/run.js → the repository root. */
const ROOT = path.resolve(__dirname, '..', '..')
const RESULTS = path.join(ROOT, 'bench', 'results')

/** Upper bounds of the measurements of their own, in seconds, for the watchdog. */
const MODE_BUDGET_S: Record<ModeName, (o: BenchOptions) => number> = {
  backends: (o) => 120 + o.counts.length * 3 * (o.warmupS + 5 + o.rounds * (o.durationS + 2)) * 1.5,
  idle10k: (o) => o.rounds * 3 * (60 + o.idleHoldS) * 1.5,
  control: (o) => 120 + o.rounds * 120,
  containers: (o) => 300 + 4 * (o.warmupS + o.rounds * (o.durationS + 2)) * 1.5,
  threads2: (o) => 60 + 2 * (o.warmupS + o.rounds * (o.durationS + 2)) * 1.5
}

const MODES: Record<ModeName, (ctx: ModeContext) => Promise<ModeOutput>> = {
  backends: runBackendCurve,
  idle10k: runIdleConnections,
  control: runControlLoop,
  containers: runContainers,
  threads2: runThreads2
}

/** One column of a round: a URL, and the proxy in its path (null for direct). */
interface Target {
  readonly name: string
  readonly port: number
  readonly proxy: Proxy | null
  /** Scrape symphony's admin /metrics every second during the run. */
  readonly scrape: boolean
}

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
  const tmp = new TempDirs()
  let signalled = false
  const stopNow = (why: string, code: number): void => {
    if (signalled) process.exit(code)
    signalled = true
    process.stderr.write(`bench: ${why}, stopping everything it started\n`)
    void children.stopAll(2000).finally(() => { tmp.cleanup(); process.exit(code) })
  }
  process.on('SIGINT', () => stopNow('SIGINT', 130))
  process.on('SIGTERM', () => stopNow('SIGTERM', 143))
  process.on('SIGHUP', () => stopNow('SIGHUP', 129))
  process.on('exit', () => { children.killAllSync(); tmp.cleanup() })

  // Every run is bounded by its duration; this bounds the whole bench too (installs included).
  const drivers = opts.driver === 'both' ? 2 : 1
  const perTarget = opts.warmupS + opts.rounds * (opts.durationS + 2)
  const budgetS = 600 + opts.scenarios.length * drivers * (opts.targets.length + 1 + (opts.baseline !== null ? 1 : 0)) * perTarget * 1.5 +
    opts.modes.reduce((sum, m) => sum + MODE_BUDGET_S[m](opts as BenchOptions), 0)
  const watchdog = setTimeout(() => stopNow(`still running after ${Math.round(budgetS)} s`, 1), budgetS * 1000)
  watchdog.unref()

  try {
    await bench(opts, children, tmp)
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`)
    process.exitCode = 1
  } finally {
    clearTimeout(watchdog)
    await children.stopAll()
    tmp.cleanup()
  }
}

async function bench (opts: BenchOptions, children: Children, tmp: TempDirs): Promise<void> {
  const startedAt = new Date()
  const log = (line: string): void => { process.stderr.write(`bench: ${line}\n`) }
  // Before pinning: availableParallelism() follows this process's affinity mask.
  const cpus = os.availableParallelism()
  const pinning = choosePinning()
  if (pinning !== null) pinSelf(pinning.loadCpu)
  const clk = clockTicks()
  // idle10k holds 10 000 sockets here and in each proxy; children inherit the limit.
  const fd = opts.modes.includes('idle10k') ? raiseFdLimit(65536) : null
  if (fd !== null) log(fd)

  // Outside tools: install what is missing (root + apt-get), skip what is still missing.
  const proxied = opts.scenarios.length > 0 || opts.modes.some((m) => m !== 'control')
  const wanted: ToolName[] = []
  if (proxied && opts.targets.includes('nginx')) wanted.push('nginx')
  if (proxied && opts.targets.includes('haproxy')) wanted.push('haproxy')
  if (opts.driver !== 'autocannon' && (opts.scenarios.length > 0 || opts.modes.some((m) => m === 'backends' || m === 'containers' || m === 'threads2'))) wanted.push('wrk')
  const tools = ensureTools(wanted, opts.install, log)
  const versions: Record<string, string> = { node: process.version }
  for (const t of wanted) { const p = tools.paths[t]; if (p !== null) versions[t] = version(t, p) }
  const machine = { cpus, cpuModel: os.cpus()[0]?.model ?? 'unknown', clkTck: clk, versions }

  if (opts.scenarios.length > 0) {
    await loadScenarios(opts, children, tmp, pinning, clk, tools, versions, machine, startedAt, log)
    // The load scenarios' backends and proxies are done with: the modes below start their own.
    await children.stopAll()
  }
  const ctx: ModeContext = { opts, children, tmp, pinning, clk, tools, log }
  for (const mode of opts.modes) {
    const began = new Date()
    const out = await MODES[mode](ctx)
    writeMode(mode, out, opts, pinning, machine, versions, [...tools.notes, ...out.notes], began)
    log(`wrote ${path.relative(process.cwd(), RESULTS)}/${opts.out}-${mode}.{json,md}`)
    await children.stopAll()
  }
}

/** The load scenarios: two backends, every proxy in front of them, interleaved rounds, one results file. */
async function loadScenarios (opts: BenchOptions, children: Children, tmp: TempDirs, pinning: Pinning | null, clk: number, tools: Tools,
  versions: Record<string, string>, machine: Record<string, unknown>, startedAt: Date, log: (line: string) => void): Promise<void> {
  const notes = [...tools.notes]
  const drivers: Driver[] = opts.driver === 'autocannon'
    ? ['autocannon']
    : opts.driver === 'both'
      ? (tools.paths.wrk !== null ? ['wrk', 'autocannon'] : ['autocannon'])
      : (tools.paths.wrk !== null ? ['wrk'] : ['autocannon'])

  // Two backends, then the proxies in front of them.
  const backendPorts: number[] = []
  for (const name of ['backend-a', 'backend-b']) {
    const child = children.spawn(name, process.execPath, [path.join(__dirname, 'backend.js'), '0'], pinning?.loadCpu ?? null)
    const line = await child.firstLine((l) => l.startsWith('{"port"'), 10_000)
    backendPorts.push((JSON.parse(line) as { port: number }).port)
  }
  const proxyCpu = pinning?.proxyCpu ?? null
  const proxies: Proxy[] = []
  let adminPort = 0
  for (const name of opts.targets) {
    if (name === 'symphony') {
      adminPort = await freePort()
      const logged = opts.accessLog ? ['--access-log', path.join(tmp.make('access-log'), 'access.log')] : []
      proxies.push(await startSymphony(children, backendPorts, adminPort, proxyCpu, logged, '/', undefined, 'symphony', null, opts.symphonyEnv))
      if (opts.baseline !== null) {
        let basePort = await freePort()
        while (basePort === adminPort) basePort = await freePort()
        proxies.push(await startSymphony(children, backendPorts, basePort, proxyCpu, [], '/', opts.baseline, 'baseline', opts.baselineRoot, opts.baselineEnv))
      }
    } else if (name === 'nginx' && tools.paths.nginx !== null) {
      proxies.push(await startNginx(children, tools.paths.nginx, backendPorts, proxyCpu, tmp))
    } else if (name === 'haproxy' && tools.paths.haproxy !== null) {
      proxies.push(await startHaproxy(children, tools.paths.haproxy, backendPorts, proxyCpu, tmp))
    }
  }
  log(`backends on ${backendPorts.join(', ')}; ${proxies.map((p) => `${p.name} on ${p.port}`).join(', ') || 'no proxy'}; ` +
    `driver ${drivers.join(' + ')}`)

  const env: MeasureEnv = { children, wrk: tools.paths.wrk, loadCpu: pinning?.loadCpu ?? null, clk }
  const runOnce = async (sc: Scenario, driver: Driver, t: Target, round: number, seconds: number): Promise<RunRecord> => {
    const spec: LoadSpec = {
      url: `http://127.0.0.1:${t.port}${sc.path}`,
      method: sc.method,
      bodyBytes: sc.bodyBytes,
      connections: sc.connections ?? opts.connections,
      durationS: seconds,
      keepAlive: sc.keepAlive
    }
    const rec = await measureRun(env, driver, spec, t, sc.name, round, t.scrape ? () => startScraper(adminPort) : undefined)
    progress(rec)
    return rec
  }

  const sections: Section[] = []
  const warmups: RunRecord[] = []
  const runs: RunRecord[] = []
  for (const name of opts.scenarios) {
    const sc = scenario(name)
    const targets = targetsFor(sc, opts, backendPorts[0], proxies)
    if (targets.length === 0) {
      notes.push(`${sc.name}: skipped, ${sc.scrape ? 'it needs the symphony target' : 'no target to run'}`)
      continue
    }
    for (const driver of drivers) {
      if (driver === 'autocannon' && !sc.keepAlive) {
        notes.push(`${sc.name} with autocannon: skipped, autocannon cannot open a connection per request (install wrk)`)
        continue
      }
      log(`scenario ${sc.name} with ${driver}: ${targets.map((t) => t.name).join(', ')}`)
      if (opts.warmupS > 0) for (const t of targets) warmups.push(await runOnce(sc, driver, t, 0, opts.warmupS))
      const mine: RunRecord[] = []
      // Every other round runs the targets in reverse order, so that no target of a pair always
      // runs first (the first run of a round met a cooler machine and biased the ratios by a few %).
      for (let round = 1; round <= opts.rounds; round++) {
        for (const t of round % 2 === 0 ? [...targets].reverse() : targets) mine.push(await runOnce(sc, driver, t, round, opts.durationS))
      }
      runs.push(...mine)
      const section: Section = {
        scenario: sc.name,
        what: sc.what,
        driver,
        connections: sc.connections ?? opts.connections,
        targets: targets.map((t) => summarize(t.name, mine)),
        ratios: ratiosFor(mine, targets)
      }
      sections.push(section)
      process.stdout.write(`\n${renderMarkdown([section], setupOf(opts, pinning), [])}`)
    }
  }

  const setup = setupOf(opts, pinning)
  const md = renderMarkdown(sections, setup, notes)
  if (notes.length > 0) process.stdout.write(`\n${renderMarkdown([], setup, notes)}`)

  const json = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    commit: gitCommit(),
    machine,
    options: opts,
    pinning,
    drivers,
    commands: Object.fromEntries(proxies.map((p) => [p.name, p.command])),
    notes,
    sections,
    warmups,
    runs
  }
  mkdirSync(RESULTS, { recursive: true })
  writeAtomically(path.join(RESULTS, `${opts.out}.json`), `${JSON.stringify(json, null, 2)}\n`)
  writeAtomically(path.join(RESULTS, `${opts.out}.md`), `# Benchmark ${startedAt.toISOString()} (${json.commit})\n\n` +
    `\`npm run bench -- ${reproduce(opts)}\` · ${Object.entries(versions).map(([k, v]) => `${k}: ${v}`).join(' · ')}\n\n${md}`)
  log(`wrote ${path.relative(process.cwd(), RESULTS)}/${opts.out}.{json,md}`)
}

/** The targets of one scenario, in round order; `scrape` compares symphony with and without scraping. */
function targetsFor (sc: Scenario, opts: BenchOptions, directPort: number, proxies: readonly Proxy[]): Target[] {
  if (sc.scrape) {
    const s = proxies.find((p) => p.name === 'symphony')
    return s === undefined
      ? []
      : [{ name: 'symphony', port: s.port, proxy: s, scrape: false }, { name: 'symphony+scrape', port: s.port, proxy: s, scrape: true }]
  }
  const out: Target[] = []
  for (const name of opts.targets) {
    if (name === 'direct') out.push({ name, port: directPort, proxy: null, scrape: false })
    const p = proxies.find((x) => x.name === name)
    if (p !== undefined) out.push({ name, port: p.port, proxy: p, scrape: false })
    const b = name === 'symphony' ? proxies.find((x) => x.name === 'baseline') : undefined
    if (b !== undefined) out.push({ name: 'baseline', port: b.port, proxy: b, scrape: false })
  }
  return out
}

/** Every proxy against direct, every other proxy against nginx, scraping against not scraping. */
function ratiosFor (runs: readonly RunRecord[], targets: readonly Target[]): Ratios[] {
  const names = targets.map((t) => t.name)
  const pairs: Array<[string, string]> = []
  for (const t of targets) if (t.proxy !== null && names.includes('direct')) pairs.push([t.name, 'direct'])
  for (const t of targets) if (t.proxy !== null && t.name !== 'nginx' && names.includes('nginx')) pairs.push([t.name, 'nginx'])
  if (names.includes('symphony+scrape')) pairs.push(['symphony+scrape', 'symphony'])
  if (names.includes('baseline') && names.includes('symphony')) pairs.push(['symphony', 'baseline'])
  return pairs.map(([a, b]) => pairedRatios(runs, a, b)).filter((r): r is Ratios => r !== null)
}

/** GET admin /metrics every second until stopped; counts the 200s. */
function startScraper (adminPort: number): { stop: () => Promise<void>, count: () => number } {
  let ok = 0
  let inFlight: Promise<void> = Promise.resolve()
  const scrape = async (): Promise<void> => {
    try {
      const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`, { signal: AbortSignal.timeout(5000) })
      await res.arrayBuffer()
      if (res.status === 200) ok++
    } catch {}
  }
  const timer = setInterval(() => { inFlight = scrape() }, 1000)
  return {
    stop: async () => { clearInterval(timer); await inFlight },
    count: () => ok
  }
}

function setupOf (opts: BenchOptions, p: Pinning | null): { rounds: number, durationS: number, pinning: string } {
  return {
    rounds: opts.rounds,
    durationS: opts.durationS,
    pinning: p === null
      ? 'Not pinned (no taskset or fewer than 2 CPUs): everything shares the CPUs.'
      : `Pinned: the proxy under test on CPU ${p.proxyCpu} (each alone there during its run); backends and load generator on CPU ${p.loadCpu}.`
  }
}

function reproduce (o: BenchOptions): string {
  return [`--rounds ${o.rounds}`, `--duration ${o.durationS}`, `--warmup ${o.warmupS}`, `--connections ${o.connections}`,
    ...(o.driver === 'auto' ? [] : [`--driver ${o.driver}`]), ...o.scenarios.map((s) => `--scenario ${s}`),
    ...(o.out === 'latest' ? [] : [`--out ${o.out}`]), ...(o.baseline === null ? [] : [`--baseline ${o.baseline}`]),
    ...(o.baselineRoot === null ? [] : [`--baseline-root ${o.baselineRoot}`]), ...(o.accessLog ? ['--access-log'] : []),
    ...Object.entries(o.symphonyEnv).map(([k, v]) => `--symphony-env ${k}=${v}`),
    ...Object.entries(o.baselineEnv).map(([k, v]) => `--baseline-env ${k}=${v}`)].join(' ')
}

/** HEAD's short hash, with `+dirty` when the work tree has changes outside bench/results/. */
function gitCommit (): string {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const dirty = git('status', '--porcelain', '--', '.', ':!bench/results').length > 0
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? '+dirty' : ''}`
  } catch {
    return 'unknown'
  }
}

/** bench/results/<out>-<mode>.{json,md}: the common header, then what the mode measured. */
function writeMode (mode: ModeName, out: ModeOutput, opts: BenchOptions, pinning: Pinning | null, machine: Record<string, unknown>,
  versions: Record<string, string>, notes: readonly string[], began: Date): void {
  const commit = gitCommit()
  const json = { scenario: mode, startedAt: began.toISOString(), finishedAt: new Date().toISOString(), commit, machine, options: opts, pinning, notes, ...out.data }
  const file = `${opts.out}-${mode}`
  mkdirSync(RESULTS, { recursive: true })
  writeAtomically(path.join(RESULTS, `${file}.json`), `${JSON.stringify(json, null, 2)}\n`)
  const noteText = notes.length > 0 ? `\nNotes:\n${notes.map((n) => `- ${n}`).join('\n')}\n` : ''
  writeAtomically(path.join(RESULTS, `${file}.md`), `# ${out.title} ${began.toISOString()} (${commit})\n\n` +
    `\`npm run bench -- ${reproduceMode(mode, opts)}\` · ${Object.entries(versions).map(([k, v]) => `${k}: ${v}`).join(' · ')}\n\n${out.markdown}${noteText}`)
}

function reproduceMode (mode: ModeName, o: BenchOptions): string {
  const parts = [`--scenario ${mode}`, `--rounds ${o.rounds}`]
  if (mode === 'backends') parts.push(`--duration ${o.durationS}`, `--warmup ${o.warmupS}`, `--connections ${o.connections}`, `--counts ${o.counts.join(',')}`)
  if (mode === 'idle10k') parts.push(`--idle-connections ${o.idleConnections}`, `--idle-hold ${o.idleHoldS}`)
  if (mode === 'containers' || mode === 'threads2') parts.push(`--duration ${o.durationS}`, `--warmup ${o.warmupS}`)
  if (mode === 'threads2') parts.push(`--connections ${o.connections}`)
  if ((mode === 'backends' || mode === 'idle10k') && o.targets.length < 4) parts.push(...o.targets.map((t) => `--target ${t}`))
  if (o.out !== 'latest') parts.push(`--out ${o.out}`)
  return parts.join(' ')
}

function writeAtomically (file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text)
  renameSync(`${file}.tmp`, file)
}

if (require.main === module) void main(process.argv.slice(2))
