/**
 * `--scenario control`: how fast the control plane reacts, with the Docker runtime and the
 * example API image (symphony-test-api:latest, built by scripts/build-test-image.sh). Each
 * repetition starts symphony afresh (`--min-containers 1 --max-containers 2
 * --base-scale-count 5 --cleanup-on-exit`, default --fault-interval 1s) and measures, from the
 * client's side with /status polled every 20 ms and the container ports probed directly:
 *
 * 1. scale-up: from the 5th request answered (the window count reaches --base-scale-count, so
 *    2 replicas are wanted) to the new replica in rotation;
 * 2. kill: from `docker kill` of that replica to its replacement in rotation on the same port;
 * 3. failing health: from `POST /admin/health/fail` on the first replica (its health path then
 *    answers 500) to its replacement in rotation on the same port.
 *
 * symphony's own log lines split each interval into its steps (decision, container started,
 * first passing health check). Containers are named symphony-symphony-bench-<port>, on host
 * ports 18500-18501; the gateway and admin listeners take 18538 and 18539. Every container of
 * the service is removed at the end of a repetition; leftovers are reported and removed.
 */
import { execFile } from 'node:child_process'
import http from 'node:http'
import path from 'node:path'
import { sleep, type ModeContext, type ModeOutput } from './mode'
import { stopChild, type Child } from './procs'
import { fmt } from './report'
import { spread } from './stats'

/** dist/bench/control.js → the repository root. */
const ROOT = path.resolve(__dirname, '..', '..')
const IMAGE = 'symphony-test-api:latest'
const SERVICE = 'symphony-bench'
const BASE_PORT = 18500
const GATEWAY_PORT = 18538
const ADMIN_PORT = 18539
const POLL_MS = 20
/** Longest any single step may take before the repetition counts it as failed. */
const STEP_TIMEOUT_MS = 45_000
const HEALTH = '/api/v1/_health'

/** One backend entry of GET /status. */
interface StatusBackend { port: number, state: string, id: string | null }
interface StatusDoc { backends: StatusBackend[], autoscaler: { desired: number, current: number, starting: number } }

/** One measured reaction: ms from the trigger to each milestone (null: not reached in time). */
export interface Reaction {
  readonly port: number
  /** The old replica left rotation (kill, health) or the decision was taken (scale-up: desired went to 2). */
  readonly outMs: number | null
  /** The new container answered 200 on its host port. */
  readonly portMs: number | null
  /** /status shows the new replica healthy, i.e. in rotation. */
  readonly servingMs: number | null
  /** From symphony's log, ms from the trigger: decision or failure noticed, container started, in rotation. */
  readonly log: { noticedMs: number | null, startedMs: number | null, healthyMs: number | null }
}

export interface ControlRecord {
  readonly repetition: number
  /** symphony start to the first replica in rotation. */
  readonly coldStartMs: number | null
  readonly scaleUp: Reaction | null
  /** Distinct replicas that answered 4 requests through the gateway after the scale-up. */
  readonly replicasReached: number
  readonly kill: Reaction | null
  readonly health: Reaction | null
  /** Containers of the service still there after symphony exited (then removed by the bench). */
  readonly leftovers: number
  readonly error: string | null
}

export async function runControlLoop (ctx: ModeContext): Promise<ModeOutput> {
  const { opts, children, log } = ctx
  const notes: string[] = []
  const title = 'Control loop with Docker'
  if (!await dockerUp()) {
    if (opts.install) {
      log('no Docker engine answers: running scripts/docker-engine.sh')
      await run('bash', [path.join(ROOT, 'scripts', 'docker-engine.sh')], 300_000).catch((err: Error) => notes.push(`docker-engine.sh: ${err.message}`))
    }
    if (!await dockerUp()) {
      notes.push('control: skipped, no Docker engine answers (scripts/docker-engine.sh starts one)')
      return { title, markdown: 'Skipped: no Docker engine.\n', notes, data: { records: [] } }
    }
  }
  await run('bash', [path.join(ROOT, 'scripts', 'build-test-image.sh')], 300_000)
  const engine = (await run('docker', ['version', '--format', '{{.Server.Version}}'], 10_000)).trim()
  const stray = await removeContainers()
  if (stray > 0) notes.push(`removed ${stray} container(s) of service ${SERVICE} left by an earlier run before starting`)

  const records: ControlRecord[] = []
  let command = ''
  for (let rep = 1; rep <= opts.rounds; rep++) {
    const events: Array<{ at: number, msg: string, port?: number }> = []
    const t0 = Date.now()
    const child = children.spawn('symphony-control', process.execPath, [
      path.join(ROOT, 'bin', 'symphony.js'), '--image', IMAGE, '--service', SERVICE, '--base-port', String(BASE_PORT),
      '--min-containers', '1', '--max-containers', '2', '--base-scale-count', '5', '--window', '60s',
      '--host', '127.0.0.1', '--port', String(GATEWAY_PORT), '--admin-port', String(ADMIN_PORT), '--threads', '1', '--cleanup-on-exit'
    ], ctx.pinning === null ? null : `${ctx.pinning.proxyCpu},${ctx.pinning.loadCpu}`)
    command = child.proc.spawnargs.join(' ')
    collectLog(child, events)
    let rec: ControlRecord
    try {
      rec = await repetition(rep, child, events, t0)
    } catch (err) {
      rec = { repetition: rep, coldStartMs: null, scaleUp: null, replicasReached: 0, kill: null, health: null, leftovers: 0, error: (err as Error).message }
    }
    // One SIGTERM: --cleanup-on-exit stops and removes the containers before symphony exits.
    await stopChild(child, 60_000)
    const leftovers = await removeContainers()
    records.push({ ...rec, leftovers })
    log(`control repetition ${rep}: ${describe(records[records.length - 1])}`)
    await sleep(1000)
  }
  const markdown = render(records, opts.rounds)
  process.stdout.write(`\n${markdown}`)
  if (records.some((r) => r.leftovers > 0)) notes.push('symphony --cleanup-on-exit left containers behind (removed by the bench): see leftovers in the JSON')
  return { title, markdown, notes, data: { engine, image: IMAGE, service: SERVICE, command, records } }
}

async function repetition (rep: number, child: Child, events: Array<{ at: number, msg: string, port?: number }>, t0: number): Promise<ControlRecord> {
  const exited = child.exited.then((code) => { throw new Error(`symphony exited (${code})\n${child.tail()}`) })
  exited.catch(() => {})
  let step = 'cold start'
  const guard = async <T>(p: Promise<T>): Promise<T> => await Promise.race([p, exited]).catch((err: Error) => { throw new Error(`${step}: ${err.message}`) })

  // Cold start: one replica in rotation, nothing starting.
  await guard(waitStatus((s) => s.autoscaler.current === 1 && s.autoscaler.starting === 0 && healthy(s, BASE_PORT) !== null))
  const coldStartMs = Date.now() - t0

  // 1. Scale-up: the 5th request crosses --base-scale-count.
  step = 'scale-up'
  for (let i = 0; i < 5; i++) await guard(get(GATEWAY_PORT, '/api/v1/hello'))
  const up = Date.now()
  const second = BASE_PORT + 1
  const scaleUp = await guard(react(up, second, null, events, (s) => s.autoscaler.desired >= 2, 'scale up'))
  const hosts = new Set<string>()
  for (let i = 0; i < 4; i++) hosts.add(String((JSON.parse((await guard(get(GATEWAY_PORT, '/api/v1/hello'))).body) as { hostname: string }).hostname))

  // 2. docker kill the new replica.
  step = 'kill'
  const killedId = (await guard(waitStatus((s) => healthy(s, second) !== null)) as StatusDoc).backends.find((b) => b.port === second)?.id ?? null
  const k0 = Date.now()
  await guard(run('docker', ['kill', `symphony-${SERVICE}-${second}`], 30_000))
  const kill = await guard(react(k0, second, killedId, events, (s) => healthy(s, second) === null, 'replica-failed'))

  // 3. The first replica's health path starts failing.
  step = 'failing health'
  const failingId = healthy(await guard(waitStatus((s) => healthy(s, BASE_PORT) !== null)), BASE_PORT)
  const h0 = Date.now()
  const r = await guard(post(BASE_PORT, '/admin/health/fail'))
  if (r.status !== 200) throw new Error(`POST /admin/health/fail answered ${r.status}`)
  const health = await guard(react(h0, BASE_PORT, failingId, events, (s) => healthy(s, BASE_PORT) === null, 'replica-failed'))

  return { repetition: rep, coldStartMs, scaleUp, replicasReached: hosts.size, kill, health, leftovers: 0, error: null }
}

/**
 * From `t0`, watch until a replica other than `oldId` answers on `port` and /status shows it in
 * rotation; `out` tells when the first milestone (old one out, or the decision) was seen.
 */
async function react (t0: number, port: number, oldId: string | null, events: ReadonlyArray<{ at: number, msg: string, port?: number }>,
  out: (s: StatusDoc) => boolean, noticed: string): Promise<Reaction> {
  let outMs: number | null = null
  let portMs: number | null = null
  // After a kill nothing answers on the port until the new container does; with failing health
  // the old replica answers its health path with 500 until it is stopped: only a 200 counts.
  const probe = (async () => {
    const deadline = t0 + STEP_TIMEOUT_MS
    while (Date.now() < deadline && portMs === null) {
      const r = await get(port, HEALTH, 500).catch(() => null)
      if (r?.status === 200) portMs = Date.now() - t0
      else await sleep(POLL_MS)
    }
  })()
  const s = await waitStatus((doc) => {
    if (outMs === null && out(doc)) outMs = Date.now() - t0
    const id = healthy(doc, port)
    return outMs !== null && id !== null && id !== oldId
  }).catch(() => null)
  const servingMs = s === null ? null : Date.now() - t0
  await probe
  const find = (msg: string): number | null => {
    const e = events.find((x) => x.at >= t0 - 5 && x.msg === msg && (x.port === undefined || x.port === port))
    return e === undefined ? null : e.at - t0
  }
  return {
    port,
    outMs,
    portMs,
    servingMs,
    log: { noticedMs: find(noticed), startedMs: find('start'), healthyMs: find('healthy') }
  }
}

/** symphony's JSON log lines, with their own timestamps, as short event names. */
function collectLog (child: Child, events: Array<{ at: number, msg: string, port?: number }>): void {
  let buf = ''
  child.proc.stdout?.on('data', (d: Buffer) => {
    buf += d.toString()
    let nl
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      try {
        const j = JSON.parse(line) as { time: string, msg: string, event?: string, port?: number, ports?: number[] }
        const at = Date.parse(j.time)
        if (j.msg === 'scale up') for (const p of j.ports ?? []) events.push({ at, msg: 'scale up', port: p })
        else if (j.msg === 'replica healthy; in rotation') events.push({ at, msg: 'healthy', port: j.port })
        else if (j.event === 'start' || j.event === 'replace') events.push({ at, msg: 'start', port: j.port })
        else if (j.event === 'replica-failed') events.push({ at, msg: 'replica-failed', port: j.port })
      } catch {}
    }
  })
}

/** The id of the replica on `port` when it is in rotation, else null. */
function healthy (s: StatusDoc, port: number): string | null {
  const b = s.backends.find((x) => x.port === port)
  return b !== undefined && b.state === 'healthy' ? (b.id ?? '') : null
}

/** Poll /status every POLL_MS until `pred` holds; throws after STEP_TIMEOUT_MS. */
async function waitStatus (pred: (s: StatusDoc) => boolean): Promise<StatusDoc> {
  const deadline = Date.now() + STEP_TIMEOUT_MS
  let last = 'no answer'
  while (Date.now() < deadline) {
    try {
      const r = await get(ADMIN_PORT, '/status', 1000)
      if (r.status === 200) {
        const doc = JSON.parse(r.body) as StatusDoc
        if (pred(doc)) return doc
        last = r.body.slice(0, 300)
      }
    } catch (err) {
      last = (err as Error).message
    }
    await sleep(POLL_MS)
  }
  throw new Error(`/status did not reach the expected state within ${STEP_TIMEOUT_MS} ms (last: ${last})`)
}

/**
 * One request on a new connection (no agent): a keep-alive socket to the gateway or a container
 * of an earlier repetition would fail the next request once its server is gone.
 */
async function request (method: 'GET' | 'POST', port: number, p: string, timeoutMs: number): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method, agent: false, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${method} 127.0.0.1:${port}${p}: no answer within ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}

async function get (port: number, p: string, timeoutMs = 5000): Promise<{ status: number, body: string }> {
  return await request('GET', port, p, timeoutMs)
}

async function post (port: number, p: string): Promise<{ status: number }> {
  return await request('POST', port, p, 5000)
}

export async function dockerUp (): Promise<boolean> {
  return await run('docker', ['info', '--format', '{{.ServerVersion}}'], 15_000).then(() => true, () => false)
}

/** Remove every container of the bench's service (managed by symphony); returns how many there were. */
async function removeContainers (): Promise<number> {
  const ids = (await run('docker', ['ps', '-aq', '--filter', `label=io.symphony.service=${SERVICE}`, '--filter', 'label=io.symphony.managed=true'], 30_000))
    .split('\n').filter((l) => l.trim() !== '')
  if (ids.length > 0) await run('docker', ['rm', '-f', ...ids], 60_000)
  return ids.length
}

/** Run a command, bounded by `timeoutMs`; resolves with stdout, rejects with stderr. */
export async function run (cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`))
      else resolve(stdout)
    })
  })
}

function describe (r: ControlRecord): string {
  if (r.error !== null) return `failed: ${r.error.split('\n')[0]}`
  const f = (x: Reaction | null): string => x?.servingMs == null ? 'not reached' : `${x.servingMs} ms`
  return `cold start ${r.coldStartMs ?? '—'} ms, scale-up ${f(r.scaleUp)}, kill → serving ${f(r.kill)}, ` +
    `failing health → serving ${f(r.health)}, ${r.replicasReached} replicas answered, ${r.leftovers} left over`
}

function render (records: readonly ControlRecord[], reps: number): string {
  const ok = records.filter((r) => r.error === null)
  const cell = (vals: Array<number | null | undefined>): string => {
    const v = vals.filter((x): x is number => typeof x === 'number')
    return v.length === 0 ? '—' : `${fmt(spread(v), 0)}${v.length < vals.length ? ` (${vals.length - v.length} missing)` : ''}`
  }
  const row = (name: string, trigger: string, pick: (r: ControlRecord) => Reaction | null, outLabel: string): string => {
    const xs = ok.map(pick)
    return `| ${name} | ${trigger} | ${outLabel}: ${cell(xs.map((x) => x?.outMs))} | ${cell(xs.map((x) => x?.log.startedMs))} | ` +
      `${cell(xs.map((x) => x?.portMs))} | ${cell(xs.map((x) => x?.log.healthyMs))} | **${cell(xs.map((x) => x?.servingMs))}** |`
  }
  const failed = records.filter((r) => r.error !== null)
  return ['### Control loop with Docker (ms from the trigger)', '',
    '| reaction | trigger (t = 0) | first step seen in /status | container started (log) | new container answers 200 on its port | in rotation (log) | in rotation (/status) |',
    '|---|---|---:|---:|---:|---:|---:|',
    row('scale-up 1 → 2', '5th request answered (window count = --base-scale-count 5)', (r) => r.scaleUp, 'desired = 2'),
    row('replace after docker kill', '`docker kill` called', (r) => r.kill, 'out of rotation'),
    row('replace after failing health', '`POST /admin/health/fail` answered (health path → 500)', (r) => r.health, 'out of rotation'),
    '',
    `Median (min–max) over ${ok.length} of ${reps} repetitions, each a fresh symphony (\`--threads 1 --min-containers 1 ` +
    '--max-containers 2 --base-scale-count 5 --window 60s --cleanup-on-exit`, --fault-interval 1s, autoscaler tick 1 s) with ' +
    `${IMAGE}. /status polled every ${POLL_MS} ms, the port probed directly on 127.0.0.1. ` +
    `Cold start to the first replica in rotation: ${cell(ok.map((r) => r.coldStartMs))} ms. ` +
    `After the scale-up, 4 requests through the gateway reached ${cell(ok.map((r) => r.replicasReached))} distinct replicas. ` +
    `Containers left after exit: ${records.reduce((a, r) => a + r.leftovers, 0)}.` +
    (failed.length > 0 ? ` Failed repetitions: ${failed.map((r) => `${r.repetition} (${(r.error ?? '').split('\n')[0]})`).join('; ')}.` : ''), ''].join('\n')
}
