import t from 'tap'
import { Agent, request } from 'undici'
import { startBackend } from '../helpers/backend'
import { startTestGateway } from '../helpers/gateway'

t.test('round robin is exact across worker threads', async (t) => {
  const backends = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(n)))
  t.teardown(() => backends.forEach((b) => b.close()))
  const gw = await startTestGateway(t, [...backends.flatMap((b) => ['--backend', `127.0.0.1:${b.port}`]), '--threads', '2'])
  const k = 40
  const counts = new Map<string, number>()
  // A fresh connection per request (no keep-alive), so the kernel spreads them over both threads.
  const agent = new Agent({ pipelining: 0 })
  t.teardown(() => agent.close())
  for (let i = 0; i < k * backends.length; i++) {
    const res = await request(`${gw.url}/echo`, { dispatcher: agent, reset: true })
    const body = JSON.parse(await res.body.text()) as { name: string }
    counts.set(body.name, (counts.get(body.name) ?? 0) + 1)
  }
  t.same(Object.fromEntries(counts), { a: k, b: k, c: k }, `${k} requests each`)
})
