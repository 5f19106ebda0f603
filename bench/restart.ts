/**
 * A plain restart under keep-alive load (issue #23 point 2): how many requests fail when
 * symphony is stopped with SIGTERM and started again on the same port, as systemd's `restart`
 * and `docker restart` do. Only a refused connection while no process listens should fail.
 *
 *   node dist/bench/restart.js [--mode plain|docker] [--rounds N] [--image IMG] [--out NAME]
 *
 * - `plain`: the CLI as a child process: SIGTERM, wait for its exit, start it again (systemd).
 * - `docker`: symphony's image in a container on the host's network (no docker-proxy in the
 *   way), restarted with `docker restart` (SIGTERM, then the same container started again).
 *
 * Load: 16 undici keep-alive connections, GETs (one in three takes 100 ms at the backend, so
 * answers are in flight at the signal), 3 s before the signal and until 4 s after symphony
 * listens again; every outcome counted by status or error code. Writes a .json and a .md
 * result named by --out under bench/results (default `restart-<mode>`). Every loop is bounded
 * in time.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { Agent, request } from 'undici'

const ROOT = path.join(__dirname, '..', '..')
const BIN = path.join(ROOT, 'bin', 'symphony.js')

interface Round {
  readonly round: number
  readonly outcomes: Record<string, number>
  /** Every attempt that did not get a 200. */
  readonly failed: number
  /** Failures other than a refused connection: the drain's own, which should be none. */
  readonly other: number
  /** From the signal to the old process's exit, and to the new one listening. */
  readonly exitMs: number
  readonly listeningAgainMs: number
}

function arg (name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] as string : dflt
}

function sleep (ms: number): Promise<void> { return new Promise((resolve) => setTimeout(resolve, ms)) }

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })
}

/** Whether 127.0.0.1:port accepts a connection now. */
function listening (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })
}

async function waitListening (port: number, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await listening(port)) return true
    await sleep(10)
  }
  return false
}

/** A slow-capable backend: the bench backend has no delay route, so this one is its own. */
async function startBackend (): Promise<{ port: number, close: () => void }> {
  const { createServer } = await import('node:http')
  const server = createServer((req, res) => {
    const ms = req.url === '/slow' ? 100 : 0
    setTimeout(() => { res.setHeader('content-type', 'application/json'); res.end('{"ok":true}') }, ms)
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as net.AddressInfo).port, close: () => { server.closeAllConnections(); server.close() } }
}

interface Target {
  start: () => Promise<void>
  /** Stop with SIGTERM and start again; resolves the two durations from the signal. */
  restart: () => Promise<{ exitMs: number, listeningAgainMs: number }>
  stop: () => Promise<void>
}

function plainTarget (port: number, backendPort: number): Target {
  let child: ChildProcess | null = null
  let exited: Promise<void> = Promise.resolve()
  const start = async (): Promise<void> => {
    const c = spawn(process.execPath, [BIN, '--backend', `127.0.0.1:${backendPort}`, '--port', String(port), '--admin-port', '0', '--threads', '2', '--log-level', 'warn'], { stdio: 'ignore' })
    child = c
    exited = new Promise((resolve) => c.once('exit', () => resolve()))
    if (!await waitListening(port, 20_000)) throw new Error('symphony did not listen within 20 s')
  }
  return {
    start,
    restart: async () => {
      const t0 = Date.now()
      child?.kill('SIGTERM')
      await exited
      const exitMs = Date.now() - t0
      await start()
      return { exitMs, listeningAgainMs: Date.now() - t0 }
    },
    stop: async () => { child?.kill('SIGTERM'); await exited }
  }
}

function dockerTarget (port: number, backendPort: number, image: string): Target {
  const name = `symphony-bench-restart-${process.pid}`
  const docker = (args: string[]): string => execFileSync('docker', args, { encoding: 'utf8' }).trim()
  return {
    start: async () => {
      docker(['run', '-d', '--name', name, '--label', 'io.symphony.managed=true', '--network', 'host', '--stop-timeout', '45',
        image, '--backend', `127.0.0.1:${backendPort}`, '--port', String(port), '--admin-port', '0', '--threads', '2', '--log-level', 'warn'])
      if (!await waitListening(port, 30_000)) throw new Error('symphony did not listen within 30 s')
    },
    restart: async () => {
      const t0 = Date.now()
      const done = new Promise<number>((resolve) => {
        const p = spawn('docker', ['restart', '-t', '45', name], { stdio: 'ignore' })
        p.once('exit', () => resolve(Date.now() - t0))
      })
      // The old process's exit shows as the port going quiet, then coming back.
      await done
      if (!await waitListening(port, 30_000)) throw new Error('symphony did not listen again within 30 s')
      const listeningAgainMs = Date.now() - t0
      return { exitMs: -1, listeningAgainMs }
    },
    stop: async () => { try { docker(['rm', '-f', name]) } catch {} }
  }
}

async function load (port: number, clients: number, until: () => boolean, outcomes: Map<string, number>): Promise<void> {
  const agent = new Agent({ connections: clients, keepAliveTimeout: 30_000 })
  const count = (k: string): void => { outcomes.set(k, (outcomes.get(k) ?? 0) + 1) }
  const hardEnd = Date.now() + 120_000
  const loop = async (i: number): Promise<void> => {
    while (!until() && Date.now() < hardEnd) {
      try {
        const res = await request(`http://127.0.0.1:${port}/${i % 3 === 0 ? 'slow' : 'fast'}`, { dispatcher: agent })
        await res.body.dump()
        count(String(res.statusCode))
      } catch (err) {
        const e = err as Error & { code?: string, cause?: { code?: string } }
        count(e.cause?.code ?? e.code ?? e.message)
        await sleep(50) // a refused connect returns at once: a client retrying every 50 ms
      }
    }
  }
  await Promise.all(Array.from({ length: clients }, (_, i) => loop(i)))
  await agent.close()
}

async function round (n: number, target: Target, port: number): Promise<Round> {
  const outcomes = new Map<string, number>()
  let stopAt = Infinity
  const running = load(port, 16, () => Date.now() > stopAt, outcomes)
  await sleep(3000)
  const times = await target.restart()
  stopAt = Date.now() + 4000
  await running
  const failed = [...outcomes].filter(([k]) => k !== '200').reduce((s, [, v]) => s + v, 0)
  const other = [...outcomes].filter(([k]) => k !== '200' && k !== 'ECONNREFUSED').reduce((s, [, v]) => s + v, 0)
  return { round: n, outcomes: Object.fromEntries(outcomes), failed, other, ...times }
}

async function main (): Promise<void> {
  const mode = arg('mode', 'plain')
  const rounds = Number(arg('rounds', '3'))
  const image = arg('image', 'symphony')
  const out = arg('out', `restart-${mode}`)
  if (mode !== 'plain' && mode !== 'docker') throw new Error(`--mode ${mode}: expected plain or docker`)
  const be = await startBackend()
  const port = await freePort()
  const target = mode === 'plain' ? plainTarget(port, be.port) : dockerTarget(port, be.port, image)
  const results: Round[] = []
  try {
    await target.start()
    for (let i = 1; i <= rounds; i++) {
      const r = await round(i, target, port)
      console.log(JSON.stringify(r))
      results.push(r)
    }
  } finally {
    await target.stop()
    be.close()
  }
  const commit = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
  const command = `node dist/bench/restart.js ${process.argv.slice(2).join(' ')}`.trim()
  writeFileSync(path.join(ROOT, 'bench', 'results', `${out}.json`), JSON.stringify({ date: new Date().toISOString(), commit, command, mode, results }, null, 2) + '\n')
  const rows = results.map((r) => `| ${r.round} | ${r.other} | ${r.failed} | ${Object.entries(r.outcomes).map(([k, v]) => `${k}: ${v}`).join(', ')} | ${r.exitMs < 0 ? '–' : r.exitMs} | ${r.listeningAgainMs} |`)
  writeFileSync(path.join(ROOT, 'bench', 'results', `${out}.md`), [
    `# A plain restart under keep-alive load (${mode})`, '',
    `${new Date().toISOString().slice(0, 10)}, commit ${commit}, \`${command}\`${mode === 'docker' ? `, image ${image}` : ''}.`, '',
    '16 undici keep-alive connections, GETs (one in three 100 ms at the backend), 3 s before the SIGTERM and until 4 s after symphony listens again. A client whose connection is refused tries again 50 ms later, so "attempts refused" is about 16 × the time nothing listened / 50 ms, not a count of users\' requests lost.', '',
    '| round | failed, other than refused | attempts refused | outcomes | signal → old process gone (ms) | signal → listening again (ms) |', '|---|---|---|---|---|---|',
    ...rows, ''
  ].join('\n'))
}

main().catch((err: Error) => { console.error(err.message); process.exit(1) })
