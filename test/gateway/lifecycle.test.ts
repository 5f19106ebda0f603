import t from 'tap'
import { Agent, request } from 'undici'
import { startBackend } from '../helpers/backend'
import { startTestGateway, sleep, waitFor } from '../helpers/gateway'
import { startCli } from '../helpers/cli'
import { refused } from '../helpers/keepalive'

t.test('a client that aborts cancels its upstream request', async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1'])
  const ac = new AbortController()
  const pending = request(`${gw.url}/slow?ms=5000`, { signal: ac.signal }).catch((e: Error) => e)
  t.ok(await waitFor(() => gw.table.inflight(0) === 1, 2000), 'the request reached the backend')
  ac.abort()
  t.ok((await pending) instanceof Error, 'the client saw its own abort')
  t.ok(await waitFor(() => be.aborted.count === 1, 2000), 'the backend saw the upstream request cancelled')
  t.ok(await waitFor(() => gw.table.inflight(0) === 0, 2000), 'nothing left in flight')
})

t.test('a backend killed under load costs no failed GET', async (t) => {
  const a = await startBackend('a')
  const b = await startBackend('b')
  t.teardown(() => b.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${a.port}`, '--backend', `127.0.0.1:${b.port}`, '--threads', '2', '--fault-interval', '250ms'])
  const agent = new Agent({ connections: 16 })
  t.teardown(() => agent.close())
  let ok = 0
  let failed = 0
  const statuses = new Map<number | string, number>()
  const end = Date.now() + 3000
  let killed = false
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      try {
        const res = await request(`${gw.url}/echo`, { dispatcher: agent })
        await res.body.dump()
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
        if (res.statusCode === 200) ok++
        else failed++
      } catch (err) {
        failed++
        statuses.set((err as Error & { code: string }).code, (statuses.get((err as Error & { code: string }).code) ?? 0) + 1)
      }
    }
  }
  const load = Promise.all(Array.from({ length: 16 }, worker))
  await sleep(1000)
  a.close() // closes the listen socket and every open connection, mid-traffic
  killed = true
  await load
  t.ok(killed)
  t.ok(ok > 200, `${ok} requests succeeded`)
  t.equal(failed, 0, `no failed GET (${JSON.stringify(Object.fromEntries(statuses))})`)
})

t.test('a crashed worker thread is replaced within a second while the others keep serving', async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '2'])
  gw.workers.crashForTest(0)
  const crashedAt = Date.now()
  // Fresh connections throughout: the kernel routes them only to live listeners.
  const agent = new Agent({ pipelining: 0 })
  t.teardown(() => agent.close())
  let failures = 0
  for (let i = 0; i < 50; i++) {
    try {
      const res = await request(`${gw.url}/echo`, { dispatcher: agent, reset: true })
      await res.body.dump()
      if (res.statusCode !== 200) failures++
    } catch { failures++ }
  }
  t.ok(await waitFor(() => gw.workers.restarts === 1, 1000), 'one restart recorded')
  t.ok(Date.now() - crashedAt < 3000, 'replaced promptly')
  t.ok(failures <= 1, `requests kept being served (${failures} failed: at most the one in flight on the crashed thread)`)
  // After the replacement both threads serve again: the replacement listens on the same port.
  for (let i = 0; i < 20; i++) {
    const res = await request(`${gw.url}/echo`, { dispatcher: agent, reset: true })
    t.equal(res.statusCode, 200)
    await res.body.dump()
  }
})

t.test('SIGTERM: stop accepting, finish in-flight requests, exit 0', async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const cli = await startCli(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '2', '--drain-timeout', '10s'])
  const url = `http://127.0.0.1:${cli.port}`
  const agent = new Agent({ connections: 8 })
  t.teardown(() => agent.close())
  const slow = Array.from({ length: 5 }, () => request(`${url}/slow?ms=1500`, { dispatcher: agent }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() })))
  await sleep(300)
  cli.child.kill('SIGTERM')
  await sleep(200)
  t.ok(await refused(cli.port), 'new connections are refused once draining')
  const results = await Promise.all(slow)
  t.same(results.map((r) => r.status), [200, 200, 200, 200, 200], 'every in-flight request finished')
  t.equal(await cli.exited, 0, 'exit code 0')
  t.match(cli.lines.join('\n'), /"msg":"stopped"/)
})

t.test('a second signal during the drain exits 1 at once, without a native abort', async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const cli = await startCli(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '2', '--drain-timeout', '30s'])
  const url = `http://127.0.0.1:${cli.port}`
  const agent = new Agent({ connections: 4 })
  t.teardown(() => agent.close())
  // Requests that outlast the test keep the drain waiting, and their sockets open in the workers.
  const slow = Array.from({ length: 3 }, () => request(`${url}/slow?ms=20000`, { dispatcher: agent }).then((r) => r.statusCode, (err: Error) => err.name))
  await sleep(300)
  cli.child.kill('SIGINT')
  await sleep(300)
  const started = Date.now()
  cli.child.kill('SIGINT')
  t.equal(await cli.exited, 1, 'exit code 1, not a signal (an abort would show as SIGABRT)')
  t.ok(Date.now() - started < 5000, 'without waiting for the 20 s requests')
  t.notMatch(cli.stderr(), /Assertion failed|uv_loop_close/, 'no native assertion')
  t.match(cli.lines.join('\n'), /second signal/)
  t.same((await Promise.all(slow)).map((s) => typeof s), ['string', 'string', 'string'], 'the in-flight requests were cut (their connections closed), not answered')
})
