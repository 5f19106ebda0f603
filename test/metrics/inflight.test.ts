import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Agent, request } from 'undici'
import { startTestGateway, waitFor } from '../helpers/gateway'

/** A backend that answers its health probe and holds every other request until `release()`. */
interface HoldingBackend { readonly host: string, readonly held: () => number, release: () => void, close: () => Promise<void> }

async function holdingBackend (host: string, port: number): Promise<HoldingBackend & { port: number }> {
  const held: http.ServerResponse[] = []
  const server = http.createServer((req, res) => {
    if (req.url === '/api/v1/_health') { res.end('ok'); return }
    held.push(res)
  })
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve))
  return {
    host,
    port: (server.address() as AddressInfo).port,
    held: () => held.length,
    release: () => { for (const res of held.splice(0)) res.end(host) },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}

/** `name{labels} value` lines of one metric. */
async function series (admin: string, name: string): Promise<Map<string, number>> {
  const text = await (await request(`${admin}/metrics`)).body.text()
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{')) continue
    const i = line.lastIndexOf(' ')
    out.set(line.slice(name.length, i), Number(line.slice(i + 1)))
  }
  return out
}

const backendsOf = (m: Map<string, number>): string[] =>
  [...new Set([...m.keys()].map((k) => /backend="([^"]*)"/.exec(k)?.[1] ?? '?'))].filter((b) => b !== 'none').sort()

// Regression: symphony_inflight_requests was labelled by the dialled port, so backends on the
// same port (three hosts here; every container on the direct path) shared one label and their
// series collided. Three fixed backends on one port, three requests held at once: three series
// of 1, labelled as in every other per-backend series.
t.test('three backends on one port, each holding a request: three in-flight series of 1', async (t) => {
  const first = await holdingBackend('127.0.0.1', 0)
  const backends = [first, await holdingBackend('127.0.0.2', first.port), await holdingBackend('127.0.0.3', first.port)]
  t.teardown(() => Promise.all(backends.map((b) => b.close())))
  const gw = await startTestGateway(t, [
    ...backends.flatMap((b) => ['--backend', `${b.host}:${b.port}`]), '--threads', '1', '--fault-interval', '100ms'
  ])
  const healthy = await waitFor(async () => {
    const status = JSON.parse(await (await request(`${gw.admin}/status`)).body.text()) as { backends: Array<{ state: string }> }
    return status.backends.filter((b) => b.state === 'healthy').length === 3
  }, 10_000)
  t.ok(healthy, 'all three backends healthy')

  const expected = backends.map((b) => `${b.host}:${b.port}`).sort()
  const agent = new Agent({ connections: 3 })
  t.teardown(() => agent.close())
  // One thread, round robin: three requests in a row go to three different backends.
  const answers = backends.map(() => request(`${gw.url}/hold`, { dispatcher: agent }).then(async (r) => await r.body.text()))
  t.ok(await waitFor(() => backends.every((b) => b.held() === 1), 5000), 'each backend holds one request')

  const inflight = await series(gw.admin, 'symphony_inflight_requests')
  t.same(backendsOf(inflight), expected, 'one in-flight series per backend, labelled host:port')
  t.same([...inflight.values()], [1, 1, 1], 'each series counts its one request')

  for (const b of backends) b.release()
  t.same((await Promise.all(answers)).sort(), backends.map((b) => b.host).sort(), 'every request answered by its own backend')
  t.ok(await waitFor(async () => [...(await series(gw.admin, 'symphony_inflight_requests')).values()].every((v) => v === 0), 5000), 'in flight back to 0')

  // Every per-backend series names the backends the same way.
  for (const name of ['symphony_requests_total', 'symphony_upstream_errors_total', 'symphony_retries_total']) {
    t.same(backendsOf(await series(gw.admin, name)), expected, `${name}: the same backend labels`)
  }
})
