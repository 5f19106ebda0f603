/**
 * A thread's client connections counted by uWS's own open/close hook (src/worker/client-count.ts),
 * on a real App over real sockets. On a build without the hook nothing is attached and the word
 * stays 0 (the main thread then counts from /proc/net).
 */
import t from 'tap'
import net from 'node:net'
import { countClientConnections, resetClientCount } from '../../src/worker/client-count'
import { TOTAL_WORDS, W_CLIENT_CONNECTIONS, workerBase } from '../../src/table/layout'
import { uWS, uwsRuntime } from '../../src/uws'
import type { us_listen_socket } from 'uWebSockets.js'

async function until (what: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms
  while (!what()) {
    if (Date.now() > end) return false
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return true
}

t.test(`uWS ${uwsRuntime.build}: ${uwsRuntime.filter ? 'opens and closes are counted' : 'no hook, the word stays 0'}`, async (t) => {
  const i32 = new Int32Array(new SharedArrayBuffer(TOTAL_WORDS * 4))
  const wbase = workerBase(1)
  const at = wbase + W_CLIENT_CONNECTIONS
  Atomics.store(i32, at, 9)
  resetClientCount(i32, wbase)
  t.equal(Atomics.load(i32, at), 0, 'a starting thread has none')

  const app = uWS.App()
  countClientConnections(app, i32, wbase)
  app.any('/*', (res) => { res.end('ok') })
  const ls = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen('127.0.0.1', 0, (s) => { if (s === false) reject(new Error('cannot listen')); else resolve(s) })
  })
  t.teardown(() => { uWS.us_listen_socket_close(ls) })
  const port = uWS.us_socket_local_port(ls)
  const sockets = await Promise.all([0, 1, 2].map(() => new Promise<net.Socket>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s))
    s.on('error', () => {})
  })))
  t.teardown(() => { for (const s of sockets) s.destroy() })
  // One of them sends a request and keeps its connection: a request does not count twice.
  sockets[0].write('GET / HTTP/1.1\r\nHost: h\r\n\r\n')
  await new Promise((resolve) => sockets[0].once('data', resolve))
  if (!uwsRuntime.filter) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    t.equal(Atomics.load(i32, at), 0, 'nothing counted without the hook')
    return
  }
  t.ok(await until(() => Atomics.load(i32, at) === 3), `3 open: ${Atomics.load(i32, at)}`)
  sockets[1].destroy()
  sockets[2].end()
  t.ok(await until(() => Atomics.load(i32, at) === 1), `2 closed by the client: ${Atomics.load(i32, at)}`)
  sockets[0].write('GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
  t.ok(await until(() => Atomics.load(i32, at) === 0), `the last closed by uWS after its answer: ${Atomics.load(i32, at)}`)
})
