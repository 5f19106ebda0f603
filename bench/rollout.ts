/**
 * Rollout figures (issue 19), on the real engine with the example API's versions
 * (scripts/build-rollout-images.sh): the time to roll 1, 3 and 10 replicas from v1 to v2 under a
 * bounded load loop and the requests that failed meanwhile; and, for a version that answers 500,
 * the time from its first replica taking traffic to the rollback's start, with the requests that
 * failed from the deploy to the end of the rollback.
 *
 * Run: `npm run build && node dist/bench/rollout.js [--rounds N] [--surge N]` (`--surge`: the
 * deploys' --rollout-surge, else its default); writes bench/results/rollout.json and
 * bench/results/rollout.md (with --surge: rollout-surge-N.json and .md). In-process gateway (one proxy thread), host ports
 * 18900-18919, service names symphony-bench-roll-*; every container is removed at the end.
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Docker from 'dockerode'
import { request } from 'undici'
import { startGateway, type Gateway } from '../src/composition-root'
import { loadConfig } from '../src/config/load'
import { createLogger } from '../src/log'
import type { RolloutStatus } from '../src/rollout/controller'
import { DOCKER_API_VERSION } from '../src/runtime/docker'
import { serviceLabelFilter } from '../src/runtime/names'

const ROOT = path.resolve(__dirname, '..', '..')
const V1 = 'symphony-rollout-api:v1'
const V2 = 'symphony-rollout-api:v2'
const BAD = 'symphony-rollout-api:answers-500'
const CLIENTS = 4
const docker = new Docker({ version: DOCKER_API_VERSION })

interface Round { readonly replicas: number, readonly image: string, readonly outcome: string, readonly rolloutMs: number, readonly requests: number, readonly failed: number, readonly toRollbackMs: number | null }

/** --surge N: passed as --rollout-surge; null: its default. */
function argValue (name: string): number | null {
  const i = process.argv.indexOf(name)
  return i > 0 ? Number(process.argv[i + 1]) : null
}
const SURGE = argValue('--surge')

async function gateway (service: string, replicas: number): Promise<Gateway> {
  const r = loadConfig([...(SURGE !== null ? ['--rollout-surge', String(SURGE)] : []), '--image', V1, '--service', service, '--port', '0', '--admin-port', '0', '--threads', '1', '--log-level', 'error',
    '--base-port', '18900', '--min-containers', String(replicas), '--max-containers', '20', '--window', '600s', '--base-scale-count', '1000000',
    '--fault-interval', '300ms', '--drain-timeout', '2s', '--cleanup-on-exit'], {})
  if (!('config' in r)) throw new Error('config')
  return await startGateway(r.config, createLogger('error', (line) => process.stderr.write(line)))
}

async function json (url: string, init: { method?: 'GET' | 'POST', body?: string } = {}): Promise<unknown> {
  const res = await request(url, init)
  return await res.body.json()
}

async function healthy (admin: string, n: number): Promise<void> {
  const end = Date.now() + 120_000
  for (;;) {
    const s = await json(`${admin}/status`) as { backends: Array<{ state: string }> }
    if (s.backends.filter((b) => b.state === 'healthy').length >= n) return
    if (Date.now() > end) throw new Error(`${n} replicas not healthy within 120 s`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** `CLIENTS` clients back to back until stopped (or 5 minutes, the bound). */
function loadLoop (url: string): () => Promise<{ requests: number, failed: number }> {
  let running = true
  const bound = setTimeout(() => { running = false }, 300_000)
  let requests = 0
  let failed = 0
  const client = async (): Promise<void> => {
    while (running) {
      requests++
      try {
        const res = await request(`${url}/api/v1/hello`)
        await res.body.dump()
        if (res.statusCode !== 200) failed++
      } catch {
        failed++
      }
    }
  }
  const all = Array.from({ length: CLIENTS }, client)
  return async () => { running = false; clearTimeout(bound); await Promise.all(all); return { requests, failed } }
}

async function round (replicas: number, image: string, i: number): Promise<Round> {
  const service = `symphony-bench-roll-${replicas}-${i}`
  const gw = await gateway(service, replicas)
  try {
    const admin = `http://127.0.0.1:${gw.adminPort}`
    await healthy(admin, replicas)
    const stop = loadLoop(`http://127.0.0.1:${gw.port}`)
    await new Promise((resolve) => setTimeout(resolve, 500))
    const from = Date.now()
    await json(`${admin}/rollout`, { method: 'POST', body: JSON.stringify({ image }) })
    let r: RolloutStatus
    for (;;) {
      r = (await json(`${admin}/rollout`) as { rollout: RolloutStatus }).rollout
      if (r.phase !== 'rolling' && r.phase !== 'rolling-back') break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const rolloutMs = Date.parse(r.endedAt as string) - from
    const { requests, failed } = await stop()
    const traffic = r.events.find((e) => e.step === 'healthy')
    const back = r.events.find((e) => e.step === 'rollback')
    const toRollbackMs = traffic !== undefined && back !== undefined ? Date.parse(back.at) - Date.parse(traffic.at) : null
    return { replicas, image, outcome: r.phase, rolloutMs, requests, failed, toRollbackMs }
  } finally {
    await gw.stop()
    for (const c of await docker.listContainers({ all: true, filters: { label: serviceLabelFilter(service) } })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => {})
  }
}

async function main (): Promise<void> {
  const rounds = argValue('--rounds') ?? 3
  const loads: number[] = []
  const sampleLoad = setInterval(() => loads.push(os.loadavg()[0]), 5000)
  execFileSync(path.join(ROOT, 'scripts', 'build-rollout-images.sh'), [], { stdio: 'inherit' })
  const out: Round[] = []
  for (let i = 0; i < rounds; i++) {
    for (const [n, image] of [[1, V2], [3, V2], [10, V2], [3, BAD]] as Array<[number, string]>) {
      const r = await round(n, image, i)
      process.stderr.write(`${JSON.stringify(r)}\n`)
      out.push(r)
    }
  }
  clearInterval(sampleLoad)
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
  const when = new Date().toISOString()
  const command = `node dist/bench/rollout.js --rounds ${rounds}${SURGE !== null ? ` --surge ${SURGE}` : ''}`
  const file = SURGE !== null ? `rollout-surge-${SURGE}` : 'rollout'
  const load = loads.length === 0 ? 'not sampled' : `${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}`
  writeFileSync(path.join(ROOT, 'bench', 'results', `${file}.json`), `${JSON.stringify({ when, commit, command, surge: SURGE, clients: CLIENTS, loadAverage: loads, rounds: out }, null, 2)}\n`)
  const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)] }
  const rows = [[1, V2], [3, V2], [10, V2], [3, BAD]].map(([n, image]) => {
    const rs = out.filter((r) => r.replicas === n && r.image === image)
    const pct = rs.map((r) => 100 * r.failed / r.requests)
    return `| ${n} | ${image === BAD ? 'answers 500' : 'v2 (good)'} | ${rs.map((r) => r.outcome).join(', ')} | ${median(rs.map((r) => r.rolloutMs))} (${rs.map((r) => r.rolloutMs).join(', ')}) | ${rs.map((r) => `${r.failed}/${r.requests}`).join(', ')} (max ${Math.max(...pct).toFixed(2)} %) | ${image === BAD ? `${median(rs.map((r) => r.toRollbackMs ?? NaN))} (${rs.map((r) => r.toRollbackMs).join(', ')})` : ''} |`
  })
  writeFileSync(path.join(ROOT, 'bench', 'results', `${file}.md`), [
    '# Rollout figures', '', `${when}, commit ${commit}, \`${command}\` (--rollout-surge ${SURGE ?? 'default'}); ${CLIENTS} clients back to back on GET /api/v1/hello (bench/rollout.ts).`,
    `The machine's 1-minute load average during the run (sampled every 5 s, 2 cores shared with other engineers' tests): ${load}.`, '',
    '| replicas | to | outcome | deploy to end, ms: median (rounds) | failed/requests per round | first bad replica taking traffic to rollback start, ms: median (rounds) |',
    '|---|---|---|---|---|---|', ...rows, ''
  ].join('\n'))
}

main().catch((err) => { process.stderr.write(`${(err as Error).stack ?? String(err)}\n`); process.exit(1) })
