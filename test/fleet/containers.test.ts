/**
 * ContainerFleet over a scripted runtime (test/fleet/fake-runtime.ts): adoption, scaling, the
 * healer's same-port replacement and backoff, runtime failures and reconnects. No Docker here;
 * the same cases run against the real engine in docker-*.test.ts.
 */
import t from 'tap'
import { ContainerFleet, type ContainerFleetOptions } from '../../src/fleet/containers'
import type { ProbeResult } from '../../src/health/probe'
import { createLogger } from '../../src/log'
import { createTableBuffer, stateNames } from '../../src/table/layout'
import { TableWriter } from '../../src/table/writer'
import { FakeRuntime } from './fake-runtime'

const BASE = 9000
const OK: ProbeResult = { ok: true, reason: 'ok', status: 200 }
const FAIL: ProbeResult = { ok: false, reason: 'status', status: 500 }

interface Fixture {
  rt: FakeRuntime
  fleet: ContainerFleet
  table: TableWriter
  logs: Array<Record<string, unknown>>
  clock: { now: number }
}

async function fixture (t: { teardown: (fn: () => unknown) => void }, over: Partial<ContainerFleetOptions> = {}, setup?: (rt: FakeRuntime) => void): Promise<Fixture> {
  const rt = new FakeRuntime()
  setup?.(rt)
  const table = new TableWriter(createTableBuffer())
  const logs: Array<Record<string, unknown>> = []
  const clock = { now: 1_000_000 }
  const fleet = new ContainerFleet({
    runtime: rt,
    table,
    log: createLogger('debug', (line) => logs.push(JSON.parse(line))),
    basePort: BASE,
    drainTimeoutMs: 1000,
    now: () => clock.now,
    ...over
  })
  t.teardown(() => fleet.close())
  await fleet.start()
  return { rt, fleet, table, logs, clock }
}

/** Let promise chains and immediate callbacks run. */
async function settle (): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** Report a probe result for the replica on `port`. */
function probe (f: Fixture, port: number, result: ProbeResult): void {
  const target = f.fleet.targets().find((x) => x.port === port)
  if (target === undefined) throw new Error(`no health target on ${port}`)
  f.fleet.report(target, result)
}

function stateOf (f: Fixture, port: number): string | undefined {
  const v = f.table.view(port - BASE)
  return v === undefined ? undefined : stateNames[v.state]
}

const events = (f: Fixture, event: string): Array<Record<string, unknown>> => f.logs.filter((l) => l.event === event)

t.test('start-up adopts running replicas (in rotation after their first 200) and removes dead and stray ones', async (t) => {
  const f = await fixture(t, {}, (rt) => {
    rt.add(BASE)
    rt.add(BASE + 2)
    rt.add(BASE + 1, false) // an exited leftover
    rt.add(BASE - 1) // outside the slot range (an earlier run's --base-port)
  })
  await settle()
  t.same(f.fleet.counts(), { running: 0, starting: 2 })
  t.same(events(f, 'adopt').map((l) => l.port), [BASE, BASE + 2])
  t.same(events(f, 'remove-stray').map((l) => [l.port, l.why]).sort(), [[BASE - 1, 'outside-range'], [BASE + 1, 'exited']])
  t.same(f.rt.running().map((r) => r.key).sort(), [BASE, BASE + 2])
  t.equal(stateOf(f, BASE), 'starting', 'out of rotation until a probe passes')
  probe(f, BASE, OK)
  t.equal(stateOf(f, BASE), 'healthy')
  t.same(f.fleet.counts(), { running: 1, starting: 1 })
  t.match(f.fleet.describe(0), { id: 'c1', name: `symphony-fake-${BASE}`, phase: 'ready' })
})

t.test('start-up fails when the first list fails (starting blind could duplicate replicas)', async (t) => {
  await t.rejects(fixture(t, {}, (rt) => { rt.failList = new Error('engine gone') }), /engine gone/)
})

t.test('scale up: lowest free ports, in parallel; starting ones count as capacity', async (t) => {
  const f = await fixture(t, {}, (rt) => { rt.add(BASE + 1) })
  let release = (): void => {}
  f.rt.startGate = new Promise((resolve) => { release = resolve })
  t.same(f.fleet.scaleUp(3), [BASE, BASE + 2, BASE + 3])
  await settle()
  t.same(f.rt.calls.filter((c) => c.startsWith('start')), [`start ${BASE}`, `start ${BASE + 2}`, `start ${BASE + 3}`], 'all three asked at once')
  t.same(f.fleet.counts(), { running: 0, starting: 4 })
  release()
  await settle()
  t.same(events(f, 'start').map((l) => l.port), [BASE, BASE + 2, BASE + 3])
  t.same(f.fleet.targets().map((x) => x.port).sort(), [BASE, BASE + 1, BASE + 2, BASE + 3])
})

t.test('a port held by something else is skipped, logged and passed over for a while', async (t) => {
  const f = await fixture(t, { portBlockMs: 5000 }, (rt) => { rt.heldPorts.add(BASE) })
  t.same(f.fleet.scaleUp(1), [BASE])
  await settle()
  t.match(events(f, 'port-skipped'), [{ port: BASE, retryAfterMs: 5000 }])
  t.same(f.fleet.counts(), { running: 0, starting: 0 }, 'the port is released, so the next tick asks again')
  t.equal(f.table.view(0), undefined)
  t.same(f.fleet.scaleUp(1), [BASE + 1], 'the next free port')
  f.clock.now += 5001
  f.rt.heldPorts.delete(BASE)
  t.same(f.fleet.scaleUp(1), [BASE], 'tried again once the block expires')
  t.equal(f.fleet.counters.portsSkipped, 1)
})

t.test('a failed probe: out of rotation at once, replaced on the same port; a repeat failure backs off', async (t) => {
  const f = await fixture(t, { backoff: { initialMs: 1000, maxMs: 4000, resetAfterMs: 10_000 } })
  f.fleet.scaleUp(1)
  await settle()
  probe(f, BASE, OK)
  const first = f.fleet.describe(0)?.id
  probe(f, BASE, FAIL)
  t.equal(stateOf(f, BASE), 'unhealthy', 'out of rotation synchronously')
  await settle()
  const second = f.fleet.describe(0)?.id
  t.not(second, first)
  t.match(events(f, 'replace'), [{ reason: 'health-status', port: BASE, oldId: first, newId: second, failures: 1 }])
  t.equal(stateOf(f, BASE), 'starting')
  t.same(events(f, 'replica-failed').length, 1)
  t.equal(events(f, 'backoff').length, 0, 'a first failure is replaced at once')

  // The new one fails too before staying healthy for resetAfterMs: 1 s, then 2 s, then 4 s (max).
  for (const delay of [1000, 2000, 4000, 4000]) {
    probe(f, BASE, OK)
    probe(f, BASE, FAIL)
    await settle()
    t.match(events(f, 'backoff').at(-1), { port: BASE, delayMs: delay })
    t.same(f.fleet.counts(), { running: 0, starting: 1 }, 'the waiting port still counts as capacity')
    await f.fleet.tick()
    await settle()
    t.equal(f.fleet.describe(0)?.phase, 'waiting', 'nothing before the delay')
    f.clock.now += delay
    await f.fleet.tick()
    await settle()
    t.equal(f.fleet.describe(0)?.phase, 'starting', `started again after ${delay} ms`)
  }
  t.equal(f.fleet.counters.backoffs, 4)

  // Healthy for resetAfterMs: the next failure is replaced at once again.
  probe(f, BASE, OK)
  f.clock.now += 10_000
  await f.fleet.tick()
  probe(f, BASE, FAIL)
  await settle()
  t.equal(f.fleet.describe(0)?.phase, 'starting')
  t.equal(f.fleet.counters.backoffs, 4)
  t.same(f.fleet.counters.replacements.get('health-status'), 6)
  t.equal(f.rt.running().length, 1, 'never two replicas on the port')
})

t.test('exit events replace at once; exits of replicas we stop ourselves are ignored', async (t) => {
  const f = await fixture(t)
  f.fleet.scaleUp(2)
  await settle()
  probe(f, BASE, OK)
  probe(f, BASE + 1, OK)
  const killed = f.fleet.describe(0)?.id as string
  f.rt.die(killed, 'kill')
  await settle()
  t.match(events(f, 'replace'), [{ reason: 'exit-kill', port: BASE, oldId: killed }])
  t.same(f.fleet.counters.replacements.get('exit-kill'), 1, 'the stop of the dead one emitted no second replacement')

  // Scale-down: drained, stopped (the fake emits its exit), removed, not replaced.
  t.same(f.fleet.scaleDown(1), [BASE + 1], 'highest port first')
  t.equal(stateOf(f, BASE + 1), 'draining')
  t.same(f.fleet.counts(), { running: 0, starting: 1 }, 'a leaving replica is not capacity')
  await new Promise((resolve) => setTimeout(resolve, 150))
  await settle()
  t.equal(f.table.view(1), undefined)
  t.match(events(f, 'remove'), [{ port: BASE + 1 }])
  t.same(f.rt.running().map((r) => r.key), [BASE])
  t.equal(events(f, 'replica-failed').length, 1)
})

t.test('scale-down waits for in-flight requests, bounded by the drain timeout', async (t) => {
  const f = await fixture(t, { drainTimeoutMs: 300 })
  f.fleet.scaleUp(1)
  await settle()
  probe(f, BASE, OK)
  // Pretend a worker holds one request on slot 0 (the in-flight word of its stats block).
  const { bstatBase, B_INFLIGHT } = await import('../../src/table/layout')
  const i32 = new Int32Array(f.table.sab)
  Atomics.store(i32, bstatBase(0) + B_INFLIGHT, 1)
  f.clock.now = Date.now()
  const clock = setInterval(() => { f.clock.now = Date.now() }, 10)
  t.teardown(() => clearInterval(clock))
  const started = Date.now()
  f.fleet.scaleDown(1)
  await new Promise((resolve) => setTimeout(resolve, 150))
  t.equal(f.rt.calls.filter((c) => c.startsWith('stop')).length, 0, 'not stopped while a request is in flight')
  Atomics.store(i32, bstatBase(0) + B_INFLIGHT, 0)
  await new Promise((resolve) => setTimeout(resolve, 150))
  t.equal(f.rt.calls.filter((c) => c.startsWith('stop')).length, 1, 'stopped once it finished')
  t.ok(Date.now() - started < 300 + 200)

  // And with a request that never ends: stopped at the drain timeout.
  f.fleet.scaleUp(1)
  await settle()
  probe(f, BASE, OK)
  Atomics.store(i32, bstatBase(0) + B_INFLIGHT, 1)
  f.fleet.scaleDown(1)
  await new Promise((resolve) => setTimeout(resolve, 450))
  t.equal(f.rt.calls.filter((c) => c.startsWith('stop')).length, 2, 'stopped after the drain timeout')
})

t.test('a drained replica that served gets the stop grace; one still starting is stopped at once', async (t) => {
  const f = await fixture(t, { stopGraceMs: 7000 })
  f.fleet.scaleUp(2)
  await settle()
  probe(f, BASE, OK)
  t.equal(f.fleet.describe(1)?.phase, 'starting', 'the second replica has not passed a probe')
  t.ok(f.fleet.drainPort(BASE + 1), 'the starting replica drains')
  t.ok(f.fleet.drainPort(BASE), 'the ready replica drains')
  await new Promise((resolve) => setTimeout(resolve, 200))
  const stops = f.rt.calls.filter((c) => c.startsWith('stop')).map((c) => c.split(' ')[2]).sort()
  t.same(stops, ['0', '7000'], 'grace 0 for the one that never served, the stop grace for the ready one')
})

t.test('a replica that dies before its start() returns is replaced once it is known', async (t) => {
  const f = await fixture(t)
  f.rt.onStarted = (r) => { f.rt.onStarted = null; f.rt.die(r.id, 'die') }
  f.fleet.scaleUp(1)
  await settle()
  t.match(events(f, 'replica-failed'), [{ reason: 'exit-die', port: BASE }])
  t.equal(f.rt.running().length, 1)
  t.equal(f.fleet.describe(0)?.phase, 'starting')
})

t.test('a replica never healthy within the start timeout is replaced', async (t) => {
  const f = await fixture(t, { startTimeoutMs: 5000 })
  f.fleet.scaleUp(1)
  await settle()
  probe(f, BASE, FAIL)
  t.equal(events(f, 'replica-failed').length, 0, 'failing probes while starting are tolerated')
  f.clock.now += 5001
  await f.fleet.tick()
  await settle()
  t.match(events(f, 'replica-failed'), [{ reason: 'start-timeout', port: BASE }])
})

t.test('runtime failures are logged, counted and retried on a later tick', async (t) => {
  const f = await fixture(t)
  f.rt.failStart = new Error('engine busy')
  f.fleet.scaleUp(1)
  await settle()
  t.match(f.logs.find((l) => l.event === 'runtime-error'), { op: 'start', port: BASE, error: 'engine busy', level: 'error' })
  t.equal(f.fleet.describe(0)?.phase, 'waiting')
  t.same(f.fleet.counts(), { running: 0, starting: 1 })
  f.rt.failStart = null
  f.clock.now += 1000
  await f.fleet.tick()
  await settle()
  t.equal(f.fleet.describe(0)?.phase, 'starting')
  probe(f, BASE, OK)

  f.rt.failStop = new Error('engine busy')
  probe(f, BASE, FAIL)
  await settle()
  t.equal(f.fleet.describe(0)?.phase, 'waiting', 'the old replica is still to be stopped')
  f.rt.failStop = null
  f.clock.now += 1000
  await f.fleet.tick()
  await settle()
  t.equal(f.rt.replicas.size, 0, 'the old one is stopped on the retry')
  t.match(events(f, 'backoff'), [{ port: BASE, failures: 2 }], 'the failed start counted as the port\'s first failure')
  f.clock.now += 1000
  await f.fleet.tick()
  await settle()
  t.equal(f.fleet.describe(0)?.phase, 'starting')
  t.equal(f.rt.replicas.size, 1, 'one new replica')

  f.rt.failList = new Error('engine busy')
  f.clock.now += 60_000
  await t.resolves(f.fleet.tick(), 'a failing list does not escape the tick')
  t.same(Object.fromEntries(f.fleet.counters.runtimeErrors), { start: 1, stop: 1, list: 1 })
  t.same(f.fleet.scaleUp(1), [BASE + 1], 'a failed periodic re-list does not stop scaling (events still flow)')
})

t.test('disconnect: keep serving; after the reconnect, re-list and reconcile without duplicates', async (t) => {
  const f = await fixture(t)
  f.fleet.scaleUp(3)
  await settle()
  for (const p of [BASE, BASE + 1, BASE + 2]) probe(f, p, OK)
  const ids = [0, 1, 2].map((s) => f.fleet.describe(s)?.id as string)

  f.rt.emit({ type: 'disconnected', error: new Error('socket hang up') })
  await settle()
  t.equal(f.fleet.connected, false)
  t.same(f.fleet.scaleUp(1), [], 'no starts while disconnected')
  t.same(f.fleet.counts(), { running: 3, starting: 0 }, 'the live replicas keep serving')
  // While the engine was away: one replica died unseen, one vanished entirely.
  f.rt.die(ids[1], 'die', false)
  f.rt.replicas.delete(ids[2])
  f.clock.now += 1000
  await f.fleet.tick()
  t.equal(f.rt.calls.filter((c) => c.startsWith('start')).length, 3, 'nothing started while disconnected')

  f.clock.now += 1000
  f.rt.emit({ type: 'reconnected' })
  await settle()
  t.same(events(f, 'replica-failed').map((l) => [l.port, l.reason]), [[BASE + 1, 'exited'], [BASE + 2, 'missing']])
  t.same(f.rt.running().map((r) => r.key).sort(), [BASE, BASE + 1, BASE + 2], 'one replica per port')
  t.equal(f.rt.replicas.size, 3, 'the dead one was removed')
  t.equal(f.fleet.describe(0)?.id, ids[0], 'the survivor is kept')
  t.equal(f.fleet.counters.disconnects, 1)
  // A second reconcile changes nothing.
  f.clock.now += 60_000
  await f.fleet.tick()
  await settle()
  t.equal(f.rt.replicas.size, 3)
  t.equal(events(f, 'adopt').length, 0)
})

t.test('close: replicas stay unless cleanup, which stops every one', async (t) => {
  const a = await fixture(t)
  a.fleet.scaleUp(2)
  await settle()
  await a.fleet.close()
  t.equal(a.rt.running().length, 2, 'left running for the next start to adopt')
  t.same(a.fleet.scaleUp(1), [], 'nothing starts after close')

  const b = await fixture(t, { stopGraceMs: 1234 })
  b.fleet.scaleUp(2)
  await settle()
  b.rt.add(BASE + 7) // one nobody knows of yet
  await b.fleet.close({ cleanup: true })
  t.same(b.rt.replicas.size, 0)
  t.ok(b.rt.calls.includes(`stop ${BASE} 1234`), 'with the stop grace')
  t.equal(events(b, 'remove').length, 3)
})

t.test('a rollout\'s trial image: its replicas are marked in the table, at the latest as they enter rotation, and unmarked at the end', async (t) => {
  const withImage = (rt: FakeRuntime, port: number, image: string): void => {
    const r = rt.add(port)
    rt.replicas.set(r.id, { ...r, image })
  }
  const f = await fixture(t, {}, (rt) => { withImage(rt, BASE, 'sha256:old'); withImage(rt, BASE + 1, 'sha256:new') })
  f.fleet.setTrial('sha256:new')
  t.same([f.table.isOnTrial(0), f.table.isOnTrial(1)], [false, true], 'setTrial marks the replicas of that image, starting ones too (out of rotation, they take nothing yet)')
  f.table.markTrial(1, false) // as if it were adopted after setTrial: report() marks it
  probe(f, BASE, OK)
  probe(f, BASE + 1, OK)
  t.equal(stateOf(f, BASE + 1), 'healthy')
  t.same([f.table.isOnTrial(0), f.table.isOnTrial(1)], [false, true], 'the replica of the trial image is marked as it enters rotation')
  f.fleet.setTrial('sha256:old')
  t.same([f.table.isOnTrial(0), f.table.isOnTrial(1)], [true, false], 'another trial image moves the marks')
  f.fleet.setTrial(null)
  t.same([f.table.isOnTrial(0), f.table.isOnTrial(1)], [false, false], 'no rollout: no mark')
})
