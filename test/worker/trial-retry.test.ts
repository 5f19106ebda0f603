/**
 * Retry on a settled replica (issue 19, docs/deploy.md#retry-on-old) through real proxy threads
 * and real sockets: two fixed backends, one of them marked on trial in the shared table as a
 * rollout marks its new version's replicas (TableWriter.markTrial; fixed backends are never
 * rolled, so the test sets the mark itself). The one on trial answers every request 500 with a
 * 256 KiB body, which the proxy must not read: it closes that connection instead.
 */
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import t from 'tap'
import { Agent, request } from 'undici'
import { State, W_TRIAL_RETRIES } from '../../src/table/layout'
import { startTestGateway, waitFor } from '../helpers/gateway'

interface Server { port: number, requests: number, open: () => number }

/** Every request answered `status` with a body of `size` bytes; counts requests and open sockets. */
async function server (t: { teardown: (fn: () => unknown) => void }, status: (method: string, url: string) => number, size: number): Promise<Server> {
  const sockets = new Set<Socket>()
  const out = { port: 0, requests: 0, open: () => sockets.size }
  const s = http.createServer((req, res) => {
    if (req.url !== '/api/v1/_health') out.requests++ // the proxied ones, not the health checks
    req.resume()
    req.on('end', () => {
      res.writeHead(status(req.method ?? '', req.url ?? ''), { 'content-type': 'text/plain', 'content-length': String(size) })
      res.end(Buffer.alloc(size, 0x61))
    })
  })
  s.on('connection', (socket) => { sockets.add(socket); socket.on('close', () => sockets.delete(socket)) })
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => { s.closeAllConnections(); s.close(resolve) }))
  out.port = (s.address() as AddressInfo).port
  return out
}

const BIG = 256 * 1024

async function setup (t: { teardown: (fn: () => unknown) => void }, badStatus = 500): Promise<{ url: string, bad: Server, good: Server, gw: Awaited<ReturnType<typeof startTestGateway>>, badSlot: number }> {
  const good = await server(t, () => 200, 16)
  // Healthy to its health checks, as the rollout's answers-500 image is: it takes traffic.
  const bad = await server(t, (_m, url) => url === '/api/v1/_health' ? 200 : url.startsWith('/status/') ? Number(url.slice(8)) : badStatus, BIG)
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${good.port}`, '--backend', `127.0.0.1:${bad.port}`, '--threads', '2', '--fault-interval', '500ms'])
  // The gateway serves once one backend is healthy; the test needs both in rotation.
  if (!await waitFor(() => gw.table.slots().filter((v) => v.state === State.HEALTHY).length === 2, 30_000)) throw new Error('both backends not healthy within 30 s')
  const badSlot = gw.table.slots().find((v) => v.port === bad.port)?.slot ?? -1
  return { url: gw.url, bad, good, gw, badSlot }
}

/** `n` requests, each on a fresh connection so both threads take some; their statuses and bodies' lengths. */
async function send (url: string, n: number, method: string, path = '/x'): Promise<Array<{ status: number, length: number }>> {
  const agent = new Agent({ pipelining: 0 })
  const out: Array<{ status: number, length: number }> = []
  try {
    for (let i = 0; i < n; i++) {
      const res = await request(`${url}${path}`, { method: method as 'GET', dispatcher: agent, reset: true, ...(method === 'POST' || method === 'PUT' ? { body: 'hello' } : {}) })
      out.push({ status: res.statusCode, length: (await res.body.arrayBuffer()).byteLength })
    }
  } finally {
    await agent.close()
  }
  return out
}

t.test('GETs and PUTs that meet the replica on trial are answered by the settled one; its connections are closed, not read', async (t) => {
  const { url, bad, good, gw, badSlot } = await setup(t)
  t.ok(badSlot >= 0)
  gw.table.markTrial(badSlot, true)
  const answers = [...await send(url, 20, 'GET'), ...await send(url, 10, 'PUT')]
  t.same(answers.filter((a) => a.status !== 200), [], 'every answer a 200')
  t.ok(answers.every((a) => a.length === 16), 'each the settled backend\'s body: nothing of a discarded 500 leaked into it')
  // Round robin over two: about half (the retries' picks do not move the shared cursor).
  t.ok(bad.requests >= 10 && bad.requests <= 20, `the replica on trial got its share of the rotation, not more (${bad.requests} of 30)`)
  t.equal(good.requests, 30, 'the settled one answered all 30')
  gw.sampler.sample()
  t.equal(gw.sampler.workerTotal(W_TRIAL_RETRIES), bad.requests, 'each retry counted (W_TRIAL_RETRIES)')
  t.equal(gw.sampler.discarded(badSlot), bad.requests, 'each discarded 500 counted against the replica on trial (what the rollback reads)')
  t.equal(gw.sampler.retries(badSlot), bad.requests, 'and in symphony_retries_total under it')
  t.ok(await waitFor(() => bad.open() === 0, 10_000), `no connection to the replica on trial stays open (${bad.open()} open)`)
})

t.test('POSTs are not retried: the 500 of the replica on trial is the answer, whole', async (t) => {
  const { url, bad, gw, badSlot } = await setup(t)
  gw.table.markTrial(badSlot, true)
  const answers = await send(url, 20, 'POST')
  const five = answers.filter((a) => a.status === 500)
  t.equal(five.length, bad.requests, `every POST the replica on trial got was answered its 500 (${five.length})`)
  t.ok(five.length > 0)
  t.ok(five.every((a) => a.length === BIG), 'relayed whole')
  gw.sampler.sample()
  t.equal(gw.sampler.workerTotal(W_TRIAL_RETRIES), 0, 'no retry counted')
})

t.test('only 500, 502, 503 and 504 are retried; a 501 is relayed', async (t) => {
  const { url, bad, gw, badSlot } = await setup(t)
  gw.table.markTrial(badSlot, true)
  for (const code of [502, 503, 504]) {
    const before = bad.requests
    const answers = await send(url, 6, 'GET', `/status/${code}`)
    t.ok(bad.requests > before, `the replica on trial answered some ${code}s`)
    t.same(answers.filter((a) => a.status !== 200), [], `${code}: retried, every answer a 200`)
  }
  const before = bad.requests
  const answers = await send(url, 6, 'GET', '/status/501')
  t.equal(answers.filter((a) => a.status === 501).length, bad.requests - before, '501: relayed')
})

t.test('negative control: the same backend unmarked has its 500s relayed', async (t) => {
  const { url, bad, gw, badSlot } = await setup(t)
  gw.table.markTrial(badSlot, false)
  const answers = await send(url, 20, 'GET')
  t.equal(answers.filter((a) => a.status === 500).length, bad.requests, 'each request it got came back 500')
  t.ok(bad.requests > 0)
})

t.test('no settled backend in rotation: the 500 of the replica on trial is the answer', async (t) => {
  const { url, bad, good, gw, badSlot } = await setup(t)
  gw.table.markTrial(badSlot, true)
  const goodSlot = gw.table.slots().find((v) => v.port === good.port)?.slot ?? -1
  gw.table.markTrial(goodSlot, true) // both on trial: the last step of a rollout, say
  const answers = await send(url, 10, 'GET')
  t.equal(answers.filter((a) => a.status === 500).length, bad.requests, 'its 500s relayed')
  t.equal(answers.filter((a) => a.status === 200).length, good.requests)
})
