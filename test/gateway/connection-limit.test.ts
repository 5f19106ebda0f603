import t from 'tap'
import { readFileSync } from 'node:fs'
import { request } from 'undici'
import { startBackend } from '../helpers/backend'
import { configFrom, sleep, startTestGateway, waitFor } from '../helpers/gateway'
import { startCli } from '../helpers/cli'
import { connect, open, refused, type KeepAlive } from '../helpers/keepalive'
import { startGateway } from '../../src/composition-root'
import { createLogger } from '../../src/log'
import { countSockets, listenerTables, TCP_LISTEN } from '../../src/gateway/proc-net'

/** The value of an unlabelled metric on `admin`'s /metrics. */
async function metric (admin: string, name: string): Promise<number> {
  const text = await (await request(`${admin}/metrics`)).body.text()
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

/** The `connections` part of `admin`'s /status. */
async function status (admin: string): Promise<unknown> {
  return ((await (await request(`${admin}/status`)).body.json()) as { connections: unknown }).connections
}

/** Listen sockets the kernel has on `port` (one per accepting worker thread, SO_REUSEPORT). */
function listeners (host: string, port: number): number {
  const { tcp } = listenerTables(host, port)
  return tcp === null ? 0 : countSockets(readFileSync('/proc/net/tcp'), tcp, TCP_LISTEN)
}

async function openMany (port: number, n: number): Promise<KeepAlive[]> {
  const out: KeepAlive[] = []
  for (let i = 0; i < n; i++) out.push(await open(port))
  return out
}

t.test('--max-connections 20: the 21st is refused while the 20 are served; at 90 % new ones are accepted again', async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const lines: string[] = []
  const gw = await startGateway(configFrom(['--backend', `127.0.0.1:${be.port}`, '--threads', '2', '--max-connections', '20']), createLogger('info', (line) => lines.push(line)))
  t.teardown(() => gw.stop())
  const admin = `http://127.0.0.1:${gw.adminPort}`
  const logged = (msg: string): Array<Record<string, unknown>> => lines.map((l) => JSON.parse(l)).filter((o) => o.msg === msg)

  const clients = await openMany(gw.port, 20)
  t.teardown(() => { for (const c of clients) c.close() })
  t.same(await Promise.all(clients.map((c) => c.get())), new Array(20).fill(200), '20 keep-alive connections served')

  t.ok(await waitFor(() => logged('connection limit reached: not accepting new connections').length === 1, 3000), 'a poll saw the limit (warn logged)')
  t.match(logged('connection limit reached: not accepting new connections')[0], { level: 'warn', connections: 20, limit: 20, resumeAt: 18 })
  // The main thread logs its decision, then each thread closes its listen socket when the
  // message reaches it: on a loaded machine, a moment later.
  t.ok(await waitFor(() => listeners('0.0.0.0', gw.port) === 0, 2000), 'both threads closed their listen sockets')
  t.ok(await refused(gw.port), 'the 21st connection is refused')
  t.same(await Promise.all(clients.map((c) => c.get())), new Array(20).fill(200), 'the 20 are still served while paused')
  t.equal(await metric(admin, 'symphony_client_connections'), 20, 'symphony_client_connections')
  t.equal(await metric(admin, 'symphony_accept_pauses_total'), 1, 'symphony_accept_pauses_total')
  t.equal(await metric(admin, 'symphony_max_connections'), 20, 'symphony_max_connections')
  t.same(await status(admin), { clients: 20, limit: 20, accepting: false }, '/status: paused at the limit')

  clients.shift()?.close()
  await sleep(600)
  t.ok(await refused(gw.port), 'still refused at 19, above the resume mark (18)')
  for (const c of clients.splice(0, 4)) c.close()
  const accepted = async (): Promise<boolean> => {
    const c = await connect(gw.port)
    if (typeof c !== 'string') clients.push(c)
    return typeof c !== 'string'
  }
  // Within a poll, or 2 s when reading the table is slow (a loaded machine): see PAUSED_COUNT_SHARE.
  t.ok(await waitFor(accepted, 5000), 'at 15 connections a new one is accepted')
  t.equal(await clients[clients.length - 1].get(), 200, 'and served')
  t.ok(await waitFor(() => listeners('0.0.0.0', gw.port) === 2, 2000), 'both threads listen again')
  t.match(logged('accepting new connections again'), [{ level: 'info', connections: 15, limit: 20 }], 'resume logged once (info)')
  // /metrics reuses a count up to 5 s old: the resume's (15) or a new one (16, the one just opened).
  t.ok([15, 16].includes(await metric(admin, 'symphony_client_connections')), 'client connections gauge: 15 or 16')
  t.match(await status(admin), { limit: 20, accepting: true }, '/status: accepting again')
  t.same(await Promise.all(clients.map((c) => c.get())), new Array(16).fill(200), 'every open connection still served')
})

t.test('a thread replaced while paused starts paused, and listens again on resume', async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '2', '--max-connections', '0'])
  t.equal(listeners('0.0.0.0', gw.port), 2, 'two listen sockets')
  gw.workers.setAccepting(false)
  t.ok(await waitFor(() => listeners('0.0.0.0', gw.port) === 0, 2000), 'paused: none')
  gw.workers.crashForTest(0)
  t.ok(await waitFor(() => gw.workers.restarts === 1, 3000), 'thread 0 replaced')
  // Until the replacement serves, "it did not listen" would hold vacuously: wait for it (a
  // thread's start takes seconds on a loaded machine).
  t.ok(await waitFor(() => gw.workers.serving() === 2, 15_000), 'the replacement serves (started)')
  await sleep(300)
  t.equal(listeners('0.0.0.0', gw.port), 0, 'the replacement did not listen')
  t.ok(await refused(gw.port), 'still refused')
  gw.workers.setAccepting(true)
  t.ok(await waitFor(() => listeners('0.0.0.0', gw.port) === 2, 5000), 'both threads, the replacement too, listen on resume')
  const c = await open(gw.port)
  t.teardown(() => c.close())
  t.equal(await c.get(), 200)
})

t.test('SIGTERM while paused: the drain never listens again, in-flight requests finish, exit 0', async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const cli = await startCli(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '2', '--max-connections', '5', '--drain-timeout', '10s'])
  const clients = await openMany(cli.port, 5)
  t.teardown(() => { for (const c of clients) c.close() })
  t.same(await Promise.all(clients.map((c) => c.get())), [200, 200, 200, 200, 200])
  t.ok(await waitFor(() => refused(cli.port), 3000), 'paused at 5')
  const slow = clients[0].get('/slow?ms=1500')
  await sleep(100)
  cli.child.kill('SIGTERM')
  for (const c of clients.slice(1)) c.close()
  // 1 connection left, below the resume mark (4): a live limit would listen again within 250 ms.
  await sleep(800)
  t.ok(await refused(cli.port), 'still refused during the drain')
  t.equal(await slow, 200, 'the request in flight finished')
  t.equal(await cli.exited, 0, 'exit code 0')
  const text = cli.lines.join('\n')
  t.match(text, /"msg":"connection limit reached/)
  t.notMatch(text, /accepting new connections again/, 'never resumed')
  t.match(text, /"msg":"stopped"/)
  t.notMatch(cli.stderr(), /Assertion failed|uv_loop_close/, 'no native assertion')
})
