/**
 * Startup probes (issue 19 point 2): a target not in rotation yet is probed every
 * startupIntervalMs until its first pass, so a new replica joins within that of its first 200
 * instead of up to a whole --fault-interval later. A real HTTP server that starts answering 200
 * after a while, and a checker whose regular interval (10 s) is far longer than the test.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { HealthChecker, type HealthTarget, type StatusSink } from '../../src/health/checker'
import type { ProbeResult } from '../../src/health/probe'

/** A health route answering 503 until `ready()`, then 200; counts the probes it got. */
async function server (t: { teardown: (fn: () => unknown) => void }): Promise<{ port: number, probes: () => number, ready: () => void }> {
  let ok = false
  let probes = 0
  const s = http.createServer((_req, res) => {
    probes++
    res.writeHead(ok ? 200 : 503, { 'content-length': '0' })
    res.end()
  })
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => { s.closeAllConnections(); s.close(resolve) }))
  return { port: (s.address() as AddressInfo).port, probes: () => probes, ready: () => { ok = true } }
}

class Sink implements StatusSink {
  readonly reports: Array<{ key: number, result: ProbeResult, at: number }> = []
  constructor (readonly list: HealthTarget[]) {}
  targets (): readonly HealthTarget[] { return this.list }
  report (target: HealthTarget, result: ProbeResult): void { this.reports.push({ key: target.key, result, at: Date.now() }) }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

t.test('a starting target is reported healthy soon after its first 200, long before the next regular round', async (t) => {
  const a = await server(t)
  const sink = new Sink([{ key: 0, id: 1, host: '127.0.0.1', port: a.port, starting: true }])
  const checker = new HealthChecker({ intervalMs: 10_000, timeoutMs: 1000, path: '/health', startupIntervalMs: 50 }, sink)
  t.teardown(() => checker.close())
  checker.start()
  await sleep(500)
  t.same(sink.reports, [], 'its 503s while it starts are not reported (they count for nothing)')
  t.ok(a.probes() >= 2, `probed repeatedly while starting (${a.probes()} probes in 500 ms)`)
  const readyAt = Date.now()
  a.ready()
  for (let i = 0; i < 100 && sink.reports.length === 0; i++) await sleep(50)
  t.equal(sink.reports.length, 1, 'reported once it passed')
  t.ok(sink.reports[0]?.result.ok, 'as a pass')
  // A generous bound on a loaded machine; the regular round would come 10 s after start().
  t.ok((sink.reports[0]?.at ?? Infinity) - readyAt < 5000, `within ${(sink.reports[0]?.at ?? NaN) - readyAt} ms of its first 200 (the regular interval is 10 s)`)
})

t.test('a target in rotation is left to the regular rounds', async (t) => {
  const a = await server(t)
  a.ready()
  const sink = new Sink([{ key: 0, id: 1, host: '127.0.0.1', port: a.port, starting: false }])
  const checker = new HealthChecker({ intervalMs: 10_000, timeoutMs: 1000, path: '/health', startupIntervalMs: 50 }, sink)
  t.teardown(() => checker.close())
  checker.start()
  await sleep(500)
  t.equal(a.probes(), 0, 'not probed between regular rounds')
  t.same(sink.reports, [])
})

t.test('close() stops the startup probes', async (t) => {
  const a = await server(t)
  const sink = new Sink([{ key: 0, id: 1, host: '127.0.0.1', port: a.port, starting: true }])
  const checker = new HealthChecker({ intervalMs: 10_000, timeoutMs: 1000, path: '/health', startupIntervalMs: 50 }, sink)
  checker.start()
  await sleep(200)
  await checker.close()
  const n = a.probes()
  await sleep(300)
  t.equal(a.probes(), n, 'no probe after close()')
})
