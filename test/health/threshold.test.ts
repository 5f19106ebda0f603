/**
 * --unhealthy-threshold (issue 10): the pure rule, table-driven, and the checker with real fixed
 * backends whose health route does not answer for a scripted number of checks.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { HealthChecker, type HealthTarget, type StatusSink } from '../../src/health/checker'
import { judge } from '../../src/health/threshold'
import type { ProbeResult } from '../../src/health/probe'
import { State } from '../../src/table/layout'
import { startBackend } from '../helpers/backend'
import { startTestGateway, sleep, waitFor } from '../helpers/gateway'

const ok: ProbeResult = { ok: true, reason: 'ok', status: 200 }
const timeout: ProbeResult = { ok: false, reason: 'timeout', status: 0 }
const refused: ProbeResult = { ok: false, reason: 'refused', status: 0 }
const status500: ProbeResult = { ok: false, reason: 'status', status: 500 }
const error: ProbeResult = { ok: false, reason: 'error', status: 0 }

t.test('judge: timeouts count up to the threshold; anything else decides at once', async (t) => {
  const cases: Array<[string, ProbeResult, number, number, string, number]> = [
    // what, result, timeouts before, threshold, verdict, timeouts after
    ['a pass ends a streak', ok, 2, 3, 'pass', 0],
    ['first timeout tolerated', timeout, 0, 3, 'tolerate', 1],
    ['second timeout tolerated', timeout, 1, 3, 'tolerate', 2],
    ['third timeout fails', timeout, 2, 3, 'fail', 3],
    ['past the threshold still fails', timeout, 5, 3, 'fail', 6],
    ['threshold 1: the first timeout fails (the original rule)', timeout, 0, 1, 'fail', 1],
    ['a refused connection fails at once', refused, 0, 3, 'fail', 0],
    ['a 500 fails at once, even mid-streak', status500, 2, 3, 'fail', 0],
    ['another error fails at once', error, 0, 3, 'fail', 0]
  ]
  for (const [what, result, before, threshold, verdict, after] of cases) {
    t.same(judge(result, before, threshold), { verdict, timeouts: after }, what)
  }
})

t.test('a fixed backend whose health check times out once stays in rotation', async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  be.healthScript = [200, 0, 200]
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1', '--fault-interval', '200ms'])
  let left = false
  const watch = setInterval(() => { if (gw.table.view(0)?.state !== State.HEALTHY) left = true }, 5)
  t.teardown(() => clearInterval(watch))
  await sleep(1500) // the timeout (160 ms) and five more rounds
  t.notOk(left, 'never out of rotation')
  const res = await fetch(`${gw.admin}/status`)
  t.match(await res.json(), { backends: [{ state: 'healthy', healthTimeouts: 0 }], health: { unhealthyThreshold: 3, timeoutsTolerated: 1 } })
})

t.test('a fixed backend that stops answering is out after 3 timeouts in a row, back on its next 200', async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  be.healthScript = [200]
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1', '--fault-interval', '200ms'])
  t.equal(gw.table.view(0)?.state, State.HEALTHY)
  be.healthScript = [0, 0, 0, 0, 200]
  const stalledAt = Date.now()
  t.ok(await waitFor(async () => {
    const s = await (await fetch(`${gw.admin}/status`)).json() as { backends: Array<{ healthTimeouts: number }> }
    return s.backends[0].healthTimeouts === 2
  }, 2000), 'two timeouts shown in /status, still in rotation')
  t.equal(gw.table.view(0)?.state, State.HEALTHY)
  t.ok(await waitFor(() => gw.table.view(0)?.state === State.UNHEALTHY, 2000), 'out after the third')
  t.ok(Date.now() - stalledAt >= 2 * 200, 'not before the third round')
  t.ok(await waitFor(() => gw.table.view(0)?.state === State.HEALTHY, 2000), 'back on the next 200')
})

t.test('the checker tells its sink of each timeout below the threshold (doubt), and reports only the threshold-th', async (t) => {
  // A real server whose health route never answers: every probe times out.
  const hung = http.createServer(() => {})
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => { hung.closeAllConnections(); hung.close(resolve) }))
  const target: HealthTarget = { key: 0, id: 1, host: '127.0.0.1', port: (hung.address() as AddressInfo).port }
  const seen: string[] = []
  const sink: StatusSink = {
    targets: () => [target],
    report: (_t, r) => { seen.push(`report:${r.reason}`) },
    doubt: (d) => { seen.push(`doubt:${d.key}`) }
  }
  const checker = new HealthChecker({ intervalMs: 60_000, timeoutMs: 100, path: '/health', unhealthyThreshold: 3 }, sink)
  t.teardown(() => checker.close())
  for (let i = 0; i < 3; i++) await checker.checkNow()
  t.same(seen, ['doubt:0', 'doubt:0', 'report:timeout'], 'two doubts, then the failure at the third timeout in a row')
})
