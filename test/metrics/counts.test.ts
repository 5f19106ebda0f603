import t from 'tap'
import { Agent, request } from 'undici'
import { startBackend } from '../helpers/backend'
import { startTestGateway } from '../helpers/gateway'

/** Parse Prometheus text into [name{labels}, value] pairs. */
function parse (text: string): Array<[string, number]> {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
    const i = l.lastIndexOf(' ')
    return [l.slice(0, i), Number(l.slice(i + 1))]
  })
}

function sum (samples: Array<[string, number]>, re: RegExp): number {
  return samples.filter(([k]) => re.test(k)).reduce((n, [, v]) => n + v, 0)
}

async function scrape (admin: string): Promise<Array<[string, number]>> {
  const res = await request(`${admin}/metrics`)
  return parse(await res.body.text())
}

t.test('counts are exact across worker threads; histogram count equals the status-class counters', async (t) => {
  const a = await startBackend('a')
  const b = await startBackend('b')
  t.teardown(() => { a.close(); b.close() })
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${a.port}`, '--backend', `127.0.0.1:${b.port}`, '--threads', '3'])
  const before = await scrape(gw.admin)
  // Fresh connections so all three threads take a share; a mix of methods and statuses.
  const agent = new Agent({ pipelining: 0 })
  t.teardown(() => agent.close())
  const N = 300
  const plan: Array<[string, string]> = []
  for (let i = 0; i < N; i++) plan.push(i % 3 === 0 ? ['POST', '/echo'] : i % 3 === 1 ? ['GET', '/status?code=404'] : ['HEAD', '/echo'])
  await Promise.all(Array.from({ length: 10 }, async (_, w) => {
    for (let i = w; i < N; i += 10) {
      const [method, path] = plan[i]
      const res = await request(`${gw.url}${path}`, { method, body: method === 'POST' ? 'x' : undefined, dispatcher: agent, reset: true })
      await res.body.dump()
    }
  }))
  const after = await scrape(gw.admin)
  const delta = (re: RegExp): number => sum(after, re) - sum(before, re)
  t.equal(delta(/^symphony_requests_total\{/), N, `the request counter moved by exactly ${N}`)
  t.equal(delta(/^symphony_requests_total\{.*method="POST".*status_class="2xx"/), N / 3, 'POST 2xx')
  t.equal(delta(/^symphony_requests_total\{.*method="GET".*status_class="4xx"/), N / 3, 'GET 4xx')
  t.equal(delta(/^symphony_requests_total\{.*method="HEAD".*status_class="2xx"/), N / 3, 'HEAD 2xx')
  t.equal(delta(/^symphony_request_duration_seconds_count$/), N, 'histogram count moved by N')
  t.equal(sum(after, /^symphony_request_duration_seconds_count$/), sum(after, /^symphony_requests_total\{/), 'histogram _count equals the sum of the status-class counters')
  t.equal(sum(after, /^symphony_request_duration_seconds_bucket\{le="\+Inf"\}/), sum(after, /^symphony_request_duration_seconds_count$/), '+Inf bucket equals count')
  const perBackend = [a.port, b.port].map((p) => delta(new RegExp(`^symphony_requests_total\\{backend="127.0.0.1:${p}"`)))
  t.same(perBackend, [N / 2, N / 2], 'round robin shows in the per-backend counters')
  const health = await request(`${gw.admin}/healthz`)
  t.equal(health.statusCode, 200, '/healthz: every worker turning')
  await health.body.dump()
  const ready = await request(`${gw.admin}/readyz`)
  t.equal(ready.statusCode, 200, '/readyz: a backend is healthy')
  await ready.body.dump()
})

t.test('admin API: a token guards /metrics and /status but not the probes', async (t) => {
  const a = await startBackend('a')
  t.teardown(() => a.close())
  const token = 'a-long-enough-admin-token'
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${a.port}`, '--threads', '1', '--admin-token', token])
  for (const path of ['/metrics', '/status']) {
    const none = await request(`${gw.admin}${path}`)
    t.equal(none.statusCode, 401, `${path} without a token: 401`)
    t.equal(none.headers['www-authenticate'], 'Bearer realm="symphony-admin"')
    t.equal(JSON.parse(await none.body.text()).error.code, 'SYM_ERR_UNAUTHORIZED')
    const wrong = await request(`${gw.admin}${path}`, { headers: { authorization: 'Bearer not-the-token-at-all' } })
    t.equal(wrong.statusCode, 401, `${path} with a wrong token: 401`)
    await wrong.body.dump()
    const right = await request(`${gw.admin}${path}`, { headers: { authorization: `Bearer ${token}` } })
    t.equal(right.statusCode, 200, `${path} with the token: 200`)
    await right.body.dump()
  }
  for (const path of ['/healthz', '/readyz']) {
    const res = await request(`${gw.admin}${path}`)
    t.equal(res.statusCode, 200, `${path} needs no token`)
    await res.body.dump()
  }
  const post = await request(`${gw.admin}/status`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
  t.equal(post.statusCode, 405, 'the admin API is read-only')
  await post.body.dump()
})
