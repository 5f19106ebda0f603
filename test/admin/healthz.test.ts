/**
 * GET /healthz answers 503 when no proxy thread serves: a real gateway with one thread, crashed
 * through the worker's own crash hook until the supervisor's backoff (src/gateway/respawn.ts:
 * at once, then 200 ms doubling, at most 5 s) keeps it down longer than the liveness check's
 * 3 s; then 200 again once the thread is back.
 */
import t from 'tap'
import { request } from 'undici'
import { startBackend } from '../helpers/backend'
import { startTestGateway, waitFor } from '../helpers/gateway'

t.test('/healthz: 503 while no proxy thread serves, 200 again once one does', async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1'])
  const healthz = async (): Promise<{ status: number, body: { status: string, workers?: number[] } }> => {
    const res = await request(`${gw.admin}/healthz`)
    return { status: res.statusCode, body: JSON.parse(await res.body.text()) }
  }
  // A thread's first heartbeat comes 500 ms after it starts: on a slow start /healthz may say 503
  // for that long (the check began before the thread existed).
  t.ok(await waitFor(async () => (await healthz()).status === 200, 5000), 'serving: 200')

  // Crashes 1-6 come back after 0, 200, 400, 800, 1600 and 3200 ms; the 7th waits 5 s.
  for (let k = 1; k <= 6; k++) {
    gw.workers.crashForTest(0)
    t.ok(await waitFor(() => gw.workers.serving() === 0, 2000), `crash ${k}: the thread is down`)
    t.ok(await waitFor(() => gw.workers.serving() === 1, 10_000), `crash ${k}: back`)
  }
  // Its heartbeat turning again, so that the silence measured below starts at the crash.
  t.ok(await waitFor(async () => (await healthz()).status === 200, 5000), 'back and turning: 200')
  gw.workers.crashForTest(0)
  const downAt = Date.now()
  t.ok(await waitFor(() => gw.workers.serving() === 0, 2000), 'crash 7: no thread serves')
  let seen: Awaited<ReturnType<typeof healthz>> | null = null
  t.ok(await waitFor(async () => {
    const h = await healthz()
    if (h.status === 503) seen = h
    return seen !== null || gw.workers.serving() > 0
  }, 6000), 'polled until 503 or the thread was back')
  const silentMs = Date.now() - downAt
  t.same(seen, { status: 503, body: { status: 'proxy workers not turning', workers: [0] } }, `503 naming the silent thread, ${silentMs} ms after its crash`)
  t.ok(silentMs >= 2000, 'not before its heartbeat had been silent for most of the 3 s')
  const metrics = await (await request(`${gw.admin}/metrics`)).body.text()
  if (gw.workers.serving() === 0) t.match(metrics, /^symphony_worker_threads_serving 0$/m, 'and the metric says so')

  t.ok(await waitFor(() => gw.workers.serving() === 1, 10_000), 'the thread is back')
  t.ok(await waitFor(async () => (await healthz()).status === 200, 5000), '/healthz: 200 again')
})
