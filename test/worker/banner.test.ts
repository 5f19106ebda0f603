/**
 * No `uWebSockets: 20` header on any answer (issue #12): uWS writes it unless `_cfg('silent')`
 * ran in the thread. Read off the raw socket, so no client library can hide a header.
 */
import t from 'tap'
import net from 'node:net'
import { startBackend } from '../helpers/backend'
import { startTestGateway } from '../helpers/gateway'
import { State } from '../../src/table/layout'
import { uWS } from '../../src/uws'

// The test backend is a uWS App in this thread: silence it too, so that a banner on a proxied
// answer could only come from the proxy.
;(uWS as unknown as { _cfg: (flags: string) => void })._cfg('silent')

/** Send `raw` on a fresh connection and return the response head. */
function head (port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let got = ''
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no response head to ${JSON.stringify(raw.slice(0, 40))}`)) }, 5000)
    socket.on('data', (d) => {
      got += d.toString('latin1')
      const end = got.indexOf('\r\n\r\n')
      if (end >= 0) { clearTimeout(timer); socket.destroy(); resolve(got.slice(0, end)) }
    })
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
    socket.write(raw)
  })
}

t.test('no uWebSockets header on proxied answers nor on the gateway\'s own', async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1', '--queue-timeout', '0', '--max-header-size', '1kb'])
  const cases: Array<[string, string, RegExp]> = [
    ['proxied 200', 'GET /echo HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 200 /],
    ['gateway 400 (unsupported transfer coding)', 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', /^HTTP\/1\.1 400 /],
    ['gateway 431 (head too large)', `GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`, /^HTTP\/1\.1 431 /],
    ['gateway 502 (upstream fails)', 'POST /reset HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx', /^HTTP\/1\.1 502 /]
  ]
  for (const [what, raw, status] of cases) {
    const h = await head(gw.port, raw)
    t.match(h, status, what)
    t.notMatch(h, /^uwebsockets:/im, `${what}: no uWebSockets header`)
  }
  // And the gateway's 503 once no backend is healthy.
  gw.table.setState(0, State.UNHEALTHY)
  const h = await head(gw.port, 'GET /echo HTTP/1.1\r\nHost: x\r\n\r\n')
  t.match(h, /^HTTP\/1\.1 503 /, 'gateway 503 without a healthy backend')
  t.notMatch(h, /^uwebsockets:/im, 'no uWebSockets header')
})
