/**
 * `npm run build && node dist/bench/https.js [--rounds N] [--duration S] [--connections C]`:
 * HTTPS side by side with nginx (issue #22, Speed). One certificate (EC P-256, made with openssl)
 * and the same protocols, group and cipher suites on both; two uWS backends; each proxy pinned
 * alone on CPU 0, wrk and the backends on CPU 1. Three loads, each run on symphony and on nginx
 * right after each other in every round (the order alternating), so a paired ratio cancels the
 * machine's drift:
 *
 *   http-ka    plain HTTP, keep-alive, a small GET   (the reference ratio)
 *   https-ka   HTTPS, keep-alive, a small GET        (CPU per request)
 *   https-new  HTTPS, `Connection: close`            (a full handshake per request: handshakes/s)
 *
 * Writes bench/results/https.md and https.json (`--out NAME` for another name).
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import path from 'node:path'
import type { LoadResult } from './load'
import { Children, choosePinning, clockTicks, freePort, pinSelf, treeCpuTicks, type Child } from './procs'
import { renderTemplate, TempDirs } from './targets'
import { runWrk } from './wrk'
import { sleep } from './mode'

const ROOT = path.resolve(__dirname, '..', '..')
const LOADS = ['http-ka', 'https-ka', 'https-new'] as const
type Load = typeof LOADS[number]

interface Args { rounds: number, durationS: number, connections: number, out: string }

function parseArgs (argv: string[]): Args {
  const a: Args = { rounds: 5, durationS: 4, connections: 50, out: 'https' }
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1]
    if (argv[i] === '--rounds') a.rounds = Number(v)
    else if (argv[i] === '--duration') a.durationS = Number(v)
    else if (argv[i] === '--connections') a.connections = Number(v)
    else if (argv[i] === '--out') a.out = v
    else throw new Error(`unknown argument ${argv[i]}; usage: node dist/bench/https.js [--rounds N] [--duration S] [--connections C] [--out NAME]`)
  }
  return a
}

interface Run { round: number, load: Load, target: string, requests: number, reqPerSec: number, errors: number, non2xx: number, cpuUsPerReq: number, proxyCpuPct: number }

/** GET `url` until it answers 200 (TLS unverified: the bench's own certificate), or throw. */
async function ready (url: string, child: Child): Promise<void> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (child.proc.exitCode !== null) throw new Error(`${child.name} exited\n${child.tail()}`)
    const ok = await new Promise<boolean>((resolve) => {
      const req = (url.startsWith('https') ? https : require('node:http') as typeof https).get(url, { rejectUnauthorized: false, timeout: 1000 }, (res) => { res.resume(); resolve(res.statusCode === 200) })
      req.on('error', () => resolve(false))
    })
    if (ok) return
    await sleep(200)
  }
  throw new Error(`${url} did not answer 200 within 60 s\n${child.tail()}`)
}

/** What `openssl s_client` negotiates with 127.0.0.1:`port`: protocol, cipher, group. */
function negotiated (port: number): string {
  const out = execFileSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'bench.test'], { input: '', stdio: ['pipe', 'pipe', 'ignore'], timeout: 10_000 }).toString()
  const cipher = /New, (\S+), Cipher is (\S+)/.exec(out)
  const key = /Server Temp Key: ([^\n]+)/.exec(out)
  return `${cipher?.[1] ?? '?'} ${cipher?.[2] ?? '?'} ${key?.[1] ?? '?'}`
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

async function main (): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  const pin = choosePinning()
  if (pin !== null) pinSelf(pin.loadCpu)
  const clk = clockTicks()
  const children = new Children()
  const tmp = new TempDirs()
  process.on('exit', () => { children.killAllSync(); tmp.cleanup() })
  try {
    const dir = tmp.make('https')
    const cert = path.join(dir, 'cert.pem')
    const key = path.join(dir, 'key.pem')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=bench.test', '-addext', 'subjectAltName=DNS:bench.test'], { stdio: 'ignore' })
    const backends: number[] = []
    for (const name of ['backend-a', 'backend-b']) {
      const child = children.spawn(name, process.execPath, [path.join(__dirname, 'backend.js'), '0'], pin?.loadCpu ?? null)
      backends.push((JSON.parse(await child.firstLine((l) => l.startsWith('{'), 30_000)) as { port: number }).port)
    }
    const symphony = async (tls: boolean): Promise<[Child, number]> => {
      const port = await freePort()
      const child = children.spawn(tls ? 'symphony-https' : 'symphony-http', process.execPath, [path.join(ROOT, 'bin', 'symphony.js'), ...backends.flatMap((b) => ['--backend', `127.0.0.1:${b}`]),
        '--host', '127.0.0.1', '--port', String(port), '--admin-port', String(await freePort()), '--threads', '1', ...(tls ? ['--tls-cert', cert, '--tls-key', key] : [])], pin?.proxyCpu ?? null)
      return [child, port]
    }
    const [symHttp, symHttpPort] = await symphony(false)
    const [symHttps, symHttpsPort] = await symphony(true)
    const ngDir = tmp.make('nginx')
    const ngPort = await freePort()
    const ngTlsPort = await freePort()
    writeFileSync(path.join(ngDir, 'nginx.conf'), renderTemplate(readFileSync(path.join(ROOT, 'bench', 'nginx-https.conf'), 'utf8'),
      { DIR: ngDir, PORT: ngPort, TLS_PORT: ngTlsPort, CERT: cert, KEY: key, SERVERS: backends.map((b) => `    server 127.0.0.1:${b};`).join('\n') }))
    const nginx = children.spawn('nginx', 'nginx', ['-p', ngDir, '-e', path.join(ngDir, 'error.log'), '-c', path.join(ngDir, 'nginx.conf'), '-g', 'daemon off;'], pin?.proxyCpu ?? null)
    await Promise.all([ready(`http://127.0.0.1:${symHttpPort}/`, symHttp), ready(`https://127.0.0.1:${symHttpsPort}/`, symHttps), ready(`http://127.0.0.1:${ngPort}/`, nginx), ready(`https://127.0.0.1:${ngTlsPort}/`, nginx)])
    const tlsSym = negotiated(symHttpsPort)
    const tlsNginx = negotiated(ngTlsPort)
    process.stderr.write(`negotiated: symphony ${tlsSym}; nginx ${tlsNginx}\n`)
    if (tlsSym !== tlsNginx) throw new Error(`the two negotiate different TLS parameters (symphony ${tlsSym}, nginx ${tlsNginx}): fix bench/nginx-https.conf`)

    // Each load measures one process per target (symphony-http and symphony-https are two).
    const targets = (load: Load): Array<{ name: 'symphony' | 'nginx', child: Child, url: string }> => [
      { name: 'symphony', child: load === 'http-ka' ? symHttp : symHttps, url: load === 'http-ka' ? `http://127.0.0.1:${symHttpPort}/` : `https://127.0.0.1:${symHttpsPort}/` },
      { name: 'nginx', child: nginx, url: load === 'http-ka' ? `http://127.0.0.1:${ngPort}/` : `https://127.0.0.1:${ngTlsPort}/` }
    ]
    const runs: Run[] = []
    for (let round = 0; round <= args.rounds; round++) { // round 0: warm-up, not counted
      for (const load of LOADS) {
        const pair = targets(load)
        if (round % 2 === 1) pair.reverse()
        for (const t of pair) {
          const before = treeCpuTicks(t.child.pid)
          const r: LoadResult = await runWrk('wrk', { url: t.url, connections: args.connections, durationS: round === 0 ? 1 : args.durationS, keepAlive: load !== 'https-new', method: 'GET', bodyBytes: 0 }, children, pin?.loadCpu ?? null, clk)
          const ticks = treeCpuTicks(t.child.pid) - before
          const run: Run = { round, load, target: t.name, requests: r.requests, reqPerSec: r.reqPerSec, errors: r.errors, non2xx: r.non2xx, cpuUsPerReq: r.requests > 0 ? ticks / clk * 1e6 / r.requests : 0, proxyCpuPct: ticks / clk * 100 / r.durationS }
          if (round > 0) runs.push(run)
          process.stderr.write(`round ${round} ${load} ${t.name}: ${Math.round(r.reqPerSec)} req/s, ${run.cpuUsPerReq.toFixed(1)} µs CPU/req, ${Math.round(run.proxyCpuPct)} % CPU, errors ${r.errors}, non-2xx ${r.non2xx}\n`)
        }
      }
    }
    report(args, runs, `${tlsSym} (both)`, pin !== null)
  } finally {
    await children.stopAll()
    tmp.cleanup()
  }
}

/** bench/results/<out>.md (medians of the paired ratios) and .json (every run). */
function report (args: Args, runs: Run[], tls: string, pinned: boolean): void {
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim()
  const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  const of = (load: Load, target: string, round: number): Run => runs.find((r) => r.load === load && r.target === target && r.round === round) as Run
  const rows: string[] = []
  const ratioOf: Record<string, number> = {}
  for (const load of LOADS) {
    const ratios: number[] = []
    const hsRatios: number[] = []
    for (let round = 1; round <= args.rounds; round++) {
      ratios.push(of(load, 'symphony', round).cpuUsPerReq / of(load, 'nginx', round).cpuUsPerReq)
      hsRatios.push(of(load, 'symphony', round).reqPerSec / of(load, 'nginx', round).reqPerSec)
    }
    const med = (target: string, f: (r: Run) => number): number => median(runs.filter((r) => r.load === load && r.target === target).map(f))
    ratioOf[load] = median(ratios)
    const errors = runs.filter((r) => r.load === load).reduce((n, r) => n + r.errors + r.non2xx, 0)
    rows.push(`| ${load} | ${med('symphony', (r) => r.cpuUsPerReq).toFixed(1)} | ${med('nginx', (r) => r.cpuUsPerReq).toFixed(1)} | **${median(ratios).toFixed(2)}** (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}) | ${Math.round(med('symphony', (r) => r.reqPerSec))} | ${Math.round(med('nginx', (r) => r.reqPerSec))} | ${median(hsRatios).toFixed(2)} | ${errors} |`)
  }
  const md = `# HTTPS against nginx (bench/https.ts)

${new Date().toISOString()}, commit ${commit}, \`node dist/bench/https.js --rounds ${args.rounds} --duration ${args.durationS} --connections ${args.connections}\`.
Load average at the end: ${loadavg} on ${pinned ? '2 CPUs, proxies pinned alone on CPU 0, wrk and the backends on CPU 1' : 'unpinned CPUs'}; the machine was shared with other work, so absolute figures move from run to run: read the paired ratios.
TLS negotiated: ${tls}; one EC P-256 certificate for both. symphony: 1 proxy thread (a second process serves plain HTTP); nginx: 1 worker serving both.
wrk -t1 -c${args.connections} -d${args.durationS}s; https-new sends \`Connection: close\`, so every request is a new TCP connection and a full TLS handshake (wrk resumes no sessions).

| load | symphony µs CPU/req | nginx µs CPU/req | CPU ratio, median (range) | symphony req/s | nginx req/s | req/s ratio | errors + non-2xx |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Medians over ${args.rounds} rounds; each ratio is symphony / nginx within one round. In https-new, req/s is new handshakes per second.
HTTPS keep-alive ratio / HTTP ratio: **${(ratioOf['https-ka'] / ratioOf['http-ka']).toFixed(2)}** (1.00 = HTTPS costs symphony as much more, relatively, as it costs nginx).
`
  writeFileSync(path.join(ROOT, 'bench', 'results', `${args.out}.md`), md)
  writeFileSync(path.join(ROOT, 'bench', 'results', `${args.out}.json`), JSON.stringify({ commit, args, tls, runs }, null, 1) + '\n')
  process.stdout.write(md)
}

if (require.main === module) {
  main().then(() => process.exit(0), (err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`)
    process.exit(1)
  })
}
