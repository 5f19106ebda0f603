import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { request } from 'undici'
import { startBackend } from '../helpers/backend'
import { startTestGateway, waitFor } from '../helpers/gateway'

async function json (res: Awaited<ReturnType<typeof request>>): Promise<{ error: { code: string } }> {
  return JSON.parse(await res.body.text())
}

t.test('502 when the upstream fails mid-exchange, as small JSON with a stable code', async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1'])
  const res = await request(`${gw.url}/reset`, { method: 'POST', body: 'x' })
  t.equal(res.statusCode, 502)
  t.equal(res.headers['content-type'], 'application/json')
  t.equal((await json(res)).error.code, 'SYM_ERR_UPSTREAM_FAILED')
})

t.test('504 when the upstream does not answer within --response-timeout', async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1', '--response-timeout', '300ms'])
  const started = Date.now()
  const res = await request(`${gw.url}/slow?ms=3000`)
  t.equal(res.statusCode, 504)
  t.equal((await json(res)).error.code, 'SYM_ERR_UPSTREAM_TIMEOUT')
  t.ok(Date.now() - started < 2500, 'answered at the timeout, not when the backend finally answered')
})

t.test('503 with Retry-After when no backend is healthy (holding off)', async (t) => {
  const be = await startBackend('a')
  be.healthScript = [500]
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1', '--queue-timeout', '0'])
  const res = await request(`${gw.url}/echo`)
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '1')
  t.equal((await json(res)).error.code, 'SYM_ERR_NO_BACKEND')
  t.equal(be.seen.length, 0, 'nothing was forwarded to the unhealthy backend')
})

t.test('502 when the only backend refuses connections between health checks', async (t) => {
  const be = await startBackend('a')
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1', '--fault-interval', '30s', '--queue-timeout', '0'])
  be.close()
  const res = await request(`${gw.url}/echo`)
  t.equal(res.statusCode, 502)
  t.equal((await json(res)).error.code, 'SYM_ERR_UPSTREAM_FAILED')
  t.ok(gw.table.isSuspect(0), 'the backend is marked suspect (passive health)')
  const next = await request(`${gw.url}/echo`)
  t.equal(next.statusCode, 503, 'a suspect backend is not picked until a health check passes')
  await next.body.text()
})

t.test('a connection failure is retried once on the next backend, and the failing one is skipped after', async (t) => {
  const a = await startBackend('a')
  const b = await startBackend('b')
  t.teardown(() => b.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${a.port}`, '--backend', `127.0.0.1:${b.port}`, '--threads', '1', '--fault-interval', '30s'])
  a.close()
  for (let i = 0; i < 10; i++) {
    const res = await request(`${gw.url}/echo`, { method: 'POST', body: `n${i}` })
    t.equal(res.statusCode, 200, `request ${i} succeeded`)
    t.equal(JSON.parse(await res.body.text()).bodyLength, 2, 'with its body')
  }
  t.equal(b.seen.length, 10, 'b answered all of them')
  gw.sampler.sample()
  t.equal(gw.sampler.retries(0), 1, 'exactly one retry: after it, a is suspect and skipped')
})

t.test('failed connects are retried on every other backend: a request meeting three dead ones is served by the fourth (a lost Swarm node)', async (t) => {
  const backends = await Promise.all(['a', 'b', 'c', 'd'].map(async (n) => await startBackend(n)))
  const [a, b, c, d] = backends
  t.teardown(() => d.close())
  const gw = await startTestGateway(t, [...backends.flatMap((be) => ['--backend', `127.0.0.1:${be.port}`]), '--threads', '1', '--fault-interval', '30s'])
  a.close()
  b.close()
  c.close()
  // A POST too: nothing reached a refusing backend, so any method may go on.
  const res = await request(`${gw.url}/echo`, { method: 'POST', body: 'xy' })
  t.equal(res.statusCode, 200, 'served by the fourth')
  t.equal(JSON.parse(await res.body.text()).bodyLength, 2, 'with its body')
  t.equal(d.seen.length, 1)
  gw.sampler.sample()
  t.equal(gw.sampler.retries(0) + gw.sampler.retries(1) + gw.sampler.retries(2), 3, 'three retries: one per dead backend')
  const next = await request(`${gw.url}/echo`)
  t.equal(next.statusCode, 200)
  await next.body.dump()
  gw.sampler.sample()
  t.equal(gw.sampler.retries(0) + gw.sampler.retries(1) + gw.sampler.retries(2), 3, 'the dead ones are suspect now: the next request goes straight to d')
})

t.test('when every backend refuses, the request ends in 502 after trying each once', async (t) => {
  const backends = await Promise.all(['a', 'b', 'c'].map(async (n) => await startBackend(n)))
  const gw = await startTestGateway(t, [...backends.flatMap((be) => ['--backend', `127.0.0.1:${be.port}`]), '--threads', '1', '--fault-interval', '30s', '--queue-timeout', '0'])
  for (const be of backends) be.close()
  const res = await request(`${gw.url}/echo`)
  t.equal(res.statusCode, 502)
  t.equal((await json(res)).error.code, 'SYM_ERR_UPSTREAM_FAILED')
  gw.sampler.sample()
  t.equal(gw.sampler.retries(0) + gw.sampler.retries(1) + gw.sampler.retries(2), 2, 'tried on each backend once: two retries')
})

/** a refusing (closed), b resetting /reset-unless, c answering it: the three outcomes in rotation order. */
async function refusedResetServed (t: Parameters<typeof startTestGateway>[0]): Promise<{ gw: Awaited<ReturnType<typeof startTestGateway>>, c: Awaited<ReturnType<typeof startBackend>> }> {
  const a = await startBackend('a')
  const b = await startBackend('b')
  const c = await startBackend('c')
  t.teardown(() => { b.close(); c.close() })
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${a.port}`, '--backend', `127.0.0.1:${b.port}`, '--backend', `127.0.0.1:${c.port}`, '--threads', '1', '--fault-interval', '30s'])
  a.close()
  return { gw, c }
}

t.test('an idempotent request meeting a refused connect, then a reset, is served by a third backend', async (t) => {
  const { gw } = await refusedResetServed(t)
  // Round robin starts at a: refused (retry), then b resets (GET: retry again), then c answers.
  const get = await request(`${gw.url}/reset-unless?name=c`)
  t.equal(get.statusCode, 200)
  t.equal(JSON.parse(await get.body.text()).name, 'c', 'the third attempt, on c, answered')
  gw.sampler.sample()
  t.equal(gw.sampler.retries(0), 1, 'retried after the refused connect on a')
  t.equal(gw.sampler.retries(1), 1, 'retried after the reset on b')
})

t.test('a POST is retried after a refused connect but not after a reset (it may have been processed)', async (t) => {
  const { gw, c } = await refusedResetServed(t)
  const post = await request(`${gw.url}/reset-unless?name=c`, { method: 'POST', body: 'x' })
  t.equal(post.statusCode, 502, 'b reset it; c never saw it')
  await post.body.dump()
  t.equal(c.seen.length, 0)
  gw.sampler.sample()
  t.equal(gw.sampler.retries(0), 1, 'retried after the refused connect on a')
  t.equal(gw.sampler.retries(1), 0, 'not retried after the reset on b')
})

t.test('an idempotent request is tried on each backend once: every backend resetting ends in 502', async (t) => {
  const backends = await Promise.all(['a', 'b', 'c', 'd'].map(async (n) => await startBackend(n)))
  t.teardown(() => { for (const be of backends) be.close() })
  const gw = await startTestGateway(t, [...backends.flatMap((be) => ['--backend', `127.0.0.1:${be.port}`]), '--threads', '1', '--fault-interval', '30s'])
  const res = await request(`${gw.url}/reset`)
  t.equal(res.statusCode, 502)
  await res.body.dump()
  gw.sampler.sample()
  let retries = 0
  for (let slot = 0; slot < 4; slot++) {
    t.ok(gw.sampler.retries(slot) <= 1, `slot ${slot}: retried from at most once`)
    retries += gw.sampler.retries(slot)
  }
  t.equal(retries, 3, 'the first attempt and three retries: each backend once, none twice')
})

t.test('an unhealthy static backend leaves rotation and returns when it answers 200 again', async (t) => {
  const a = await startBackend('a')
  const b = await startBackend('b')
  t.teardown(() => { a.close(); b.close() })
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${a.port}`, '--backend', `127.0.0.1:${b.port}`, '--threads', '1', '--fault-interval', '200ms'])
  // Scripted only now: worker start-up can take longer than several check intervals.
  a.healthScript = [500, 500, 500, 500, 500, 200]
  t.ok(await waitFor(() => gw.table.view(0)?.state === 4, 3000), 'a became unhealthy')
  for (let i = 0; i < 4; i++) await (await request(`${gw.url}/echo`)).body.text()
  t.equal(a.seen.length, 0, 'no request went to a while it was unhealthy')
  t.ok(await waitFor(() => gw.table.view(0)?.state === 2, 3000), 'a is healthy again')
  for (let i = 0; i < 4; i++) await (await request(`${gw.url}/echo`)).body.text()
  t.equal(a.seen.length, 2, 'a is back in rotation')
})

t.test('hold while starting: a request waits for a backend to turn healthy, then is served', async (t) => {
  const be = await startBackend('a')
  be.healthScript = [500]
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1', '--fault-interval', '200ms', '--queue-timeout', '5s'])
  const started = Date.now()
  const pending = Promise.all([
    request(`${gw.url}/echo`).then(async (r) => ({ status: r.statusCode, body: await r.body.text() })),
    request(`${gw.url}/echo`, { method: 'PUT', body: 'held body' }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }))
  ])
  await new Promise((resolve) => setTimeout(resolve, 600))
  be.healthScript = [200]
  const [get, put] = await pending
  t.equal(get.status, 200, 'the held GET was served')
  t.equal(put.status, 200, 'the held PUT was served')
  t.equal(JSON.parse(put.body).bodyLength, 9, 'with its body')
  t.ok(Date.now() - started >= 500, 'after the backend turned healthy')
  const metrics = await (await request(`${gw.admin}/metrics`)).body.text()
  t.match(metrics, /^symphony_held_requests_total 2$/m, 'two requests held')
  t.match(metrics, /^symphony_hold_expired_total 0$/m)
  t.match(metrics, /^symphony_hold_seconds_total (0\.[5-9]|[1-9])/m, 'hold time counted')
})

t.test('hold while starting: 503 with Retry-After after --queue-timeout', async (t) => {
  const be = await startBackend('a')
  be.healthScript = [500]
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1', '--queue-timeout', '300ms'])
  const started = Date.now()
  const res = await request(`${gw.url}/echo`)
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '1')
  await res.body.dump()
  const waited = Date.now() - started
  t.ok(waited >= 280 && waited < 2000, `answered after the queue timeout (${waited} ms)`)
  const metrics = await (await request(`${gw.admin}/metrics`)).body.text()
  t.match(metrics, /^symphony_hold_expired_total 1$/m)
})

t.test('hold while starting: with every backend suspect, a held request still gives up at --queue-timeout', async (t) => {
  const be = await startBackend('a')
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1', '--fault-interval', '30s', '--queue-timeout', '400ms'])
  be.close()
  const first = await request(`${gw.url}/echo`)
  t.equal(first.statusCode, 502, 'the refused connection')
  await first.body.dump()
  t.ok(gw.table.isSuspect(0), 'the only backend is suspect, yet still in rotation')
  const started = Date.now()
  const res = await request(`${gw.url}/echo`)
  t.equal(res.statusCode, 503)
  await res.body.dump()
  const waited = Date.now() - started
  t.ok(waited >= 380 && waited < 3000, `gave up after its queue timeout (${waited} ms), not later`)
  const metrics = await (await request(`${gw.admin}/metrics`)).body.text()
  t.match(metrics, /^symphony_held_requests_total 1$/m, 'held once, though released and held again every poll')
  t.match(metrics, /^symphony_hold_expired_total 1$/m)
})

/**
 * A backend that answers 200 to anything until told to stall; then it stops accepting, and its
 * one-place accept queue (listen(0)) is filled by us, so the kernel drops further SYNs: a
 * connect to it then hangs as one to a stalled host does, on loopback. Python, because Node
 * accepts every connection itself.
 */
const STALLING_BACKEND = `
import socket, sys, threading, time
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(0)
s.settimeout(0.05)
stall = threading.Event()
def serve(c):
    c.settimeout(None)
    try:
        while c.recv(65536):
            c.sendall(b'HTTP/1.1 200 OK\\r\\ncontent-length: 0\\r\\n\\r\\n')
    except OSError:
        pass
def accept():
    while not stall.is_set():
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(c,), daemon=True).start()
threading.Thread(target=accept, daemon=True).start()
print(s.getsockname()[1], flush=True)
sys.stdin.readline()
stall.set()
time.sleep(0.2)
print('stalled', flush=True)
sys.stdin.read()
`

async function stallingBackend (t: { teardown: (fn: () => unknown) => void }): Promise<{ port: number, stall: () => Promise<void> }> {
  const py = spawn('python3', ['-c', STALLING_BACKEND], { stdio: ['pipe', 'pipe', 'inherit'] })
  t.teardown(() => { py.kill() })
  const exited = once(py, 'exit').then(([code]) => { throw new Error(`the stalling backend exited (${String(code)})`) })
  exited.catch(() => {})
  const line = async (): Promise<string> => String((await Promise.race([once(py.stdout, 'data'), exited]))[0]).trim()
  const port = Number(await line())
  return {
    port,
    stall: async () => {
      py.stdin.write('stall\n')
      await line()
      const filler = net.connect(port, '127.0.0.1')
      t.teardown(() => { filler.destroy() })
      await once(filler, 'connect')
    }
  }
}

t.test('504 when the upstream does not accept the connection within --connect-timeout', async (t) => {
  const be = await stallingBackend(t)
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1', '--fault-interval', '30s', '--connect-timeout', '300ms', '--queue-timeout', '0'])
  await be.stall()
  const started = Date.now()
  const res = await request(`${gw.url}/echo`)
  t.equal(res.statusCode, 504)
  t.equal((await json(res)).error.code, 'SYM_ERR_UPSTREAM_TIMEOUT')
  const waited = Date.now() - started
  t.ok(waited >= 200 && waited < 3000, `answered at the connect timeout (${waited} ms)`)
  const metrics = await (await request(`${gw.admin}/metrics`)).body.text()
  t.match(metrics, /^symphony_upstream_errors_total\{[^}]*reason="connect"[^}]*\} 1$/m, 'counted as a connect failure')
})
