import t from 'tap'
import net from 'node:net'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { uwsRuntime } from '../../src/uws'
import { ListenReceiveBuffers, listeningInodes, RECEIVE_BUFFER_BYTES } from '../../src/gateway/receive-buffers'

const MiB = 1024 * 1024
const root = path.join(__dirname, '..', '..', '..')
// Plain JS shared with scripts/uws-probe.js.
const { pausedUpload } = require(path.join(root, 'scripts', 'paused-upload.js')) as {
  pausedUpload: (o: { chunked?: boolean, limit?: boolean, ms?: number }) => Promise<{ total: number, past: number, longest: number, pauses: number }>
}

t.test('listeningInodes: the sockets in state LISTEN on the port, from /proc/net/tcp and tcp6 text', async (t) => {
  const tcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 100 0 0 10 0',
    '   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 20 4 30 10 -1',
    '   2: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1 0000000000000000 100 0 0 10 0',
    '   3: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 444 1 0000000000000000 100 0 0 10 0',
    ''
  ].join('\n')
  t.same(listeningInodes(tcp, 8080), ['111', '444'], 'port 8080 (1F90): the two listening, not the established one')
  t.same(listeningInodes(tcp, 8081), ['333'])
  t.same(listeningInodes(tcp, 9), [])
  const tcp6 = [
    '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 555 1 0000000000000000 100 0 0 10 0'
  ].join('\n')
  t.same(listeningInodes(tcp6, 8080), ['555'], 'IPv6 addresses hold colons only before the port')
  t.same(listeningInodes('', 8080), [], 'an empty file')
})

/** A uWS App in a worker thread, as a proxy thread has: listen, close, listen again, on command. */
const LISTENER = `
const { parentPort, workerData } = require('node:worker_threads')
const { uws: uWS } = require(workerData.load).loadUws()
const app = uWS.App().any('/*', (res) => { res.end('ok') })
let ls = null
let port = 0
parentPort.on('message', (m) => {
  if (m === 'listen') app.listen('127.0.0.1', port, (s) => { ls = s; port = uWS.us_socket_local_port(s); parentPort.postMessage(port) })
  if (m === 'close') { uWS.us_listen_socket_close(ls); ls = null; parentPort.postMessage('closed') }
  if (m === 'end') { app.close(); parentPort.postMessage('ended') }
})
`

function ask<T> (w: Worker, m: string): Promise<T> {
  return new Promise((resolve) => { w.once('message', resolve); w.postMessage(m) })
}

function connect (port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve('connected') })
    s.once('error', (err: NodeJS.ErrnoException) => { resolve(err.code ?? err.message) })
  })
}

t.test('a proxy thread\'s listen socket gets SO_RCVBUF from the main thread, and closes as if untouched (fails loudly if Node drops udp_wrap)', async (t) => {
  const w = new Worker(LISTENER, { eval: true, workerData: { load: path.join(root, 'dist', 'src', 'uws', 'load.js') } })
  t.teardown(() => w.terminate())
  const buffers = new ListenReceiveBuffers()
  const port = await ask<number>(w, 'listen')
  const first = buffers.limit(port)
  t.ok(first.ok && first.sockets === 1, `set: ${JSON.stringify(first)}`)
  // Linux doubles what is asked, and caps it at net.core.rmem_max: at most twice, never nothing.
  if (first.ok) t.ok(first.bytes > 0 && first.bytes <= 2 * RECEIVE_BUFFER_BYTES, `read back ${first.bytes} bytes`)
  t.same(buffers.limit(port), { ok: true, sockets: 0, bytes: 0 }, 'a second call finds nothing new to set')
  t.equal(await connect(port), 'connected', 'it serves')

  // The earlier child-process way kept a copy of the socket open: a closed listener went on taking connections.
  await ask(w, 'close')
  t.equal(await connect(port), 'ECONNREFUSED', 'closed by its thread: refused at once, nothing else holds it')

  // A resume: a new socket, usually on the same descriptor number, whose handle is reused.
  await ask(w, 'listen')
  const again = buffers.limit(port)
  t.ok(again.ok && again.sockets === 1, `the new listen socket is set too: ${JSON.stringify(again)}`)
  t.ok(buffers.handleCount <= 2, `handles kept: ${buffers.handleCount} (one per descriptor number)`)
  t.equal(await connect(port), 'connected', 'it serves')
  await ask(w, 'close')
  t.equal(await connect(port), 'ECONNREFUSED', 'closed again: refused')
  await ask(w, 'end')

  const none = buffers.limit(1)
  t.same(none, { ok: true, sockets: 0, bytes: 0 }, 'a port nothing of this process listens on: nothing to set, no throw')
})

t.test('a paused upload stays paused: at most one read past a pause with the receive buffer limited', async (t) => {
  const bare = await pausedUpload({ limit: false, ms: 2000 })
  const limited = await pausedUpload({ limit: true, ms: 2000 })
  const f = (n: number): string => `${(n / MiB).toFixed(2)} MiB`
  t.comment(`uWS ${uwsRuntime.build}: as Linux sizes it: ${f(bare.total)} read, ${bare.pauses} pauses, at most ${f(bare.longest)} past one; limited: ${f(limited.total)} read, ${limited.pauses} pauses, at most ${f(limited.longest)} past one`)
  // Resumed after every pause, not failed (how fast depends on this machine's load: 2-54 pauses seen).
  t.ok(limited.pauses >= 2 && limited.total > limited.longest, 'the limited upload went on after a pause')
  // One read is at most uSockets' 512 KiB buffer, so past a pause comes at most the rest of it
  // (0.25-0.5 MiB seen); the bound leaves room for the rare read that fills it all the same.
  t.ok(limited.longest <= 1.5 * MiB, `limited: at most ${f(limited.longest)} past one pause (<= 1.5 MiB)`)
  // The capability table is true of the binary: a build that reads past a pause does so by
  // many reads when Linux sizes the buffer (18-45 MiB seen on 20.57); one that does not, by at
  // most one (0.19 MiB seen on 20.30).
  if (uwsRuntime.readsPastPause) t.ok(bare.longest > 4 * MiB, `uWS ${uwsRuntime.build} reads past a pause: ${f(bare.longest)} past one (> 4 MiB)`)
  else t.ok(bare.longest <= 1.5 * MiB, `uWS ${uwsRuntime.build} stops at a pause: ${f(bare.longest)} past one (<= 1.5 MiB)`)
})
