import t from 'tap'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { request } from 'undici'
import { startCli } from '../helpers/cli'
import { sleep } from '../helpers/gateway'
import { exampleServer, repoRoot } from '../helpers/docker'

interface Panel { title: string, targets: Array<{ expr: string }> }

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

async function query (prom: string, expr: string): Promise<unknown[]> {
  const res = await request(`${prom}/api/v1/query?query=${encodeURIComponent(expr)}`)
  const body = JSON.parse(await res.body.text()) as { status: string, data?: { result: unknown[] }, error?: string }
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? 'failed'}`)
  return body.data?.result ?? []
}

// A real Prometheus scrapes a running symphony (process runtime, so the control-plane metrics
// move too); every query of the shipped dashboard must return data. The queries are read from
// grafana/dashboard.json itself, so a panel added later is checked as well.
t.test('Prometheus scrapes symphony and every dashboard query returns data', async (t) => {
  execFileSync(path.join(repoRoot, 'scripts', 'prometheus.sh'), [], { stdio: ['ignore', 'inherit', 'inherit'] })
  const cli = await startCli(t, [
    '--runtime', 'process', '--command', `node ${exampleServer}`,
    '--base-port', '18400', '--max-containers', '4', '--window', '5s', '--base-scale-count', '5',
    '--fault-interval', '300ms', '--threads', '2'
  ])
  const url = `http://127.0.0.1:${cli.port}`
  const promPort = await freePort()
  const dir = mkdtempSync(path.join(os.tmpdir(), 'symphony-prom-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(path.join(dir, 'prometheus.yml'), [
    'global: { scrape_interval: 1s, evaluation_interval: 1s }',
    'scrape_configs:',
    '  - job_name: symphony',
    `    static_configs: [{ targets: ['127.0.0.1:${cli.adminPort}'] }]`
  ].join('\n') + '\n')
  const prom = spawn('prometheus', [
    `--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let promErr = ''
  prom.stderr?.on('data', (d) => { promErr += d })
  t.teardown(() => { prom.kill('SIGKILL') })
  const promUrl = `http://127.0.0.1:${promPort}`

  // The target comes up.
  let up = false
  for (let i = 0; i < 100 && !up; i++) {
    await sleep(200)
    try { up = (await query(promUrl, 'up{job="symphony"} == 1')).length === 1 } catch {}
  }
  t.ok(up, `Prometheus reports the symphony target up ${promErr.slice(-300)}`)

  // Traffic: enough to scale up, a few errors, and one replica crash to be replaced.
  for (let i = 0; i < 30; i++) await (await request(`${url}/api/v1/hello`)).body.dump()
  for (let i = 0; i < 3; i++) await (await request(`${url}/missing`)).body.dump()
  await (await request(`${url}/admin/crash`, { method: 'POST' })).body.dump()
  const end = Date.now() + 6000
  while (Date.now() < end) { await (await request(`${url}/slow?ms=20`)).body.dump() }

  const dashboard = JSON.parse(readFileSync(path.join(repoRoot, 'grafana', 'dashboard.json'), 'utf8')) as { panels: Panel[] }
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((q) => ({ panel: p.title, expr: q.expr })))
  t.ok(exprs.length >= 20, `${exprs.length} queries in the dashboard`)
  // Give rates and increases two scrapes of the moved counters; then every query must answer.
  const missing = new Set(exprs.map((e) => e.expr))
  for (let i = 0; i < 40 && missing.size > 0; i++) {
    for (const expr of [...missing]) if ((await query(promUrl, expr)).length > 0) missing.delete(expr)
    if (missing.size > 0) await sleep(500)
  }
  for (const { panel, expr } of exprs) t.notOk(missing.has(expr), `${panel}: ${expr}`)
  const exposition = await (await request(`http://127.0.0.1:${cli.adminPort}/metrics`)).body.text()
  // promtool's lint (naming, suffixes, help) finds nothing in a /metrics that has seen traffic,
  // errors and a replacement, control-plane metrics included.
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' })
  t.equal(lint.status, 0, `promtool check metrics: clean ${lint.stdout}${lint.stderr}`)
  // prom-client's process metrics under their conventional names.
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_eventloop_lag_seconds']) {
    t.match(exposition, new RegExp(`^# TYPE ${name} `, 'm'), `${name} exported`)
  }
  // docs/metrics.md lists every metric symphony exports (prom-client's process metrics aside).
  const metricsDoc = readFileSync(path.join(repoRoot, 'docs', 'metrics.md'), 'utf8')
  const names = [...exposition.matchAll(/^# HELP (symphony_\w+)/gm)].map((m) => m[1])
  t.ok(names.length >= 20, `${names.length} symphony metrics exported`)
  for (const name of names) t.ok(metricsDoc.includes('`' + name + '`'), `docs/metrics.md documents ${name}`)
  const replaced = await query(promUrl, 'sum(symphony_replacements_total)')
  t.ok(Number((replaced[0] as { value: [number, string] }).value[1]) >= 1, 'the crashed replica was replaced, and Prometheus saw it')
})
