/**
 * The same scale and heal cases on the process runtime (`--runtime process --command "node
 * examples/api/server.js"`): replicas are local processes with PORT set. They never outlive the
 * gateway (the next start could not adopt them). Host ports 18160-18179.
 */
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { exampleServer } from '../helpers/docker'
import { call, delay, getStatus, healthyPorts, load, logEvents, startFleet, waitForStatus, type StatusDoc } from './harness'

const PROCESS = ['--runtime', 'process', '--command', `node ${exampleServer}`, '--fault-interval', '300ms', '--window', '3s', '--drain-timeout', '2s']

const pidOf = (s: StatusDoc, port: number): number | null => {
  const id = s.backends.find((b) => b.port === port)?.id
  return id == null ? null : Number(id.slice('pid:'.length))
}

const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true } catch { return false } }

async function portFree (port: number): Promise<boolean> {
  const server = net.createServer()
  server.listen(port, '127.0.0.1')
  try {
    await once(server, 'listening')
  } catch {
    return false
  }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return true
}

t.test('process runtime: one replica on base-port; load scales to the formula; idle back to one; stop ends them', async (t) => {
  const gw = await startFleet(t, 'proc-scale', [...PROCESS, '--base-port', '18160', '--base-scale-count', '5', '--max-containers', '6'], false)
  let s = await getStatus(gw)
  t.match(s, { mode: 'process', backends: [{ port: 18160, state: 'healthy', id: /^pid:\d+$/, name: 'symphony-proc-scale-18160' }] })

  t.same(await load(gw, 12), new Array(12).fill(200))
  s = await waitForStatus(gw, 'three healthy replicas', (x) => healthyPorts(x).length === 3)
  t.same(healthyPorts(s), [18160, 18161, 18162], '1 + floor(12 / 5) = 3, on consecutive ports')
  await delay(1000)
  t.equal((await getStatus(gw)).backends.length, 3, 'no over-start')
  const pids = [18160, 18161, 18162].map((p) => pidOf(s, p) as number)

  s = await waitForStatus(gw, 'back to one replica', (x) => x.backends.length === 1, 20_000)
  t.same(healthyPorts(s), [18160])
  t.equal(pidOf(s, 18160), pids[0], 'base-port kept its replica')
  t.notOk(alive(pids[1]) || alive(pids[2]), 'the leaving processes ended')

  await gw.stop()
  t.notOk(alive(pids[0]), 'processes do not outlive the gateway')
  t.ok(await portFree(18160), 'and their port is free')
})

t.test('process runtime: an unhealthy replica and a killed one are replaced on the same port', async (t) => {
  const gw = await startFleet(t, 'proc-heal', [...PROCESS, '--base-port', '18165', '--min-containers', '2'], false)
  let s = await waitForStatus(gw, 'two healthy', (x) => healthyPorts(x).length === 2)
  const [a, b] = [pidOf(s, 18165) as number, pidOf(s, 18166) as number]

  t.equal(await call('http://127.0.0.1:18165/admin/health/fail', 'POST'), 200)
  s = await waitForStatus(gw, 'a new healthy replica on 18165', (x) => healthyPorts(x).includes(18165) && pidOf(x, 18165) !== a, 5300)
  t.notOk(alive(a), 'the unhealthy process was stopped')
  t.match(logEvents(gw, 'replace'), [{ reason: 'health-status', port: 18165, oldId: `pid:${a}` }])

  process.kill(b, 'SIGKILL')
  s = await waitForStatus(gw, 'a new healthy replica on 18166', (x) => healthyPorts(x).includes(18166) && pidOf(x, 18166) !== b, 5300)
  t.match(logEvents(gw, 'replica-failed').at(-1), { reason: 'exit-kill', port: 18166, id: `pid:${b}` })
  t.same(healthyPorts(s), [18165, 18166], 'two replicas, no extra port')
  t.same(await load(gw, 4), [200, 200, 200, 200])
})

t.test('process runtime: a port held by something else is skipped', async (t) => {
  const holder = net.createServer()
  holder.listen(18170, '127.0.0.1')
  await once(holder, 'listening')
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())))
  const gw = await startFleet(t, 'proc-skip', [...PROCESS, '--base-port', '18170'], false)
  t.same(healthyPorts(await getStatus(gw)), [18171])
  t.match(logEvents(gw, 'port-skipped'), [{ port: 18170 }])
})
