/**
 * A draining thread whose event loop stalled past DRAIN_QUIET_MS must not close before it has read
 * the requests that arrived during the stall: timers run before the loop polls its sockets, so
 * a close decided in the timer cut them (4 keep-alive requests at once in one run of
 * test/takeover/systemd-takeover.test.ts, load average 20). A real socket delivers the request;
 * its 'data' handler begins the exchange, as the proxy thread's request handler does.
 */
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { DRAIN_QUIET_MS, ThreadLife } from '../../src/worker/drain'

const busyUntil = (at: number): void => { while (Date.now() < at) { /* a stalled loop */ } }

t.test('a request that arrived while the loop stalled is begun before the drain decides to close', async (t) => {
  let closedAt: 'before the request was read' | 'after' | null = null
  let began = false
  const life = new ThreadLife(async () => { closedAt = began ? 'after' : 'before the request was read' })
  const server = net.createServer((socket) => {
    socket.on('data', () => { began = true; life.began() })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  t.teardown(() => { client.destroy(); server.close() })
  await Promise.all([once(client, 'connect'), once(server, 'connection')])

  life.drain()
  const start = Date.now()
  await new Promise<void>((resolve) => setImmediate(() => {
    // The request reaches the server's socket (libuv writes at once to an idle socket) while the
    // loop is busy, and the drain's timer is overdue when the loop comes back.
    busyUntil(start + DRAIN_QUIET_MS - 50)
    client.write('GET / HTTP/1.1\r\n\r\n')
    busyUntil(start + DRAIN_QUIET_MS + 100)
    resolve()
  }))
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.ok(began, 'the request was read after the stall')
  t.equal(closedAt, null, 'and the thread did not close under it')
  t.equal(life.inFlight, 1, 'it is in flight')

  life.finished()
  await life.closed
  t.equal(closedAt, 'after', 'the thread closes once it has been answered and the quiet has passed')
})
