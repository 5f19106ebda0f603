/**
 * What a client gets for a request uWS's parser refuses, per build (issue #18; docs/http.md and
 * docs/limits.md say the same). With 20.57 (`answersMalformed`) uWS answers at once: 505 for a
 * request line it cannot read (HTTP/1.0 among them), 400 for a malformed head; a 10-digit
 * Content-Length reaches the gateway, which answers 413 above --max-body-size. With 20.30 none of
 * these gets an answer: uWS closes at once, or after its 10 s idle timeout. Nothing is forwarded.
 */
import t from 'tap'
import net from 'node:net'
import { uwsRuntime } from '../../src/uws'
import { startBackend } from '../helpers/backend'
import { startTestGateway } from '../helpers/gateway'

/** Sends `bytes` on a fresh connection; the answer's status line ('' for none) and how long until close. */
function raw (port: number, bytes: string): Promise<{ status: string, body: string, ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now()
    let out = ''
    const s = net.connect(port, '127.0.0.1', () => s.write(Buffer.from(bytes, 'latin1')))
    s.setEncoding('latin1')
    s.on('data', (d: string) => { out += d })
    const done = (): void => {
      clearTimeout(timer)
      s.destroy()
      resolve({ status: out.split('\r\n')[0], body: out.split('\r\n\r\n').slice(1).join(''), ms: performance.now() - t0 })
    }
    // Past uWS's 10 s idle timeout, which is how 20.30 ends most of these.
    const timer = setTimeout(done, 15_000)
    s.on('close', done)
    s.on('error', () => {})
  })
}

// [what, bytes, status with answersMalformed]
const CASES: Array<[string, string, RegExp]> = [
  ['HTTP/1.0', 'GET /x HTTP/1.0\r\nHost: h\r\n\r\n', /^HTTP\/1\.1 505 /],
  ['NUL in the path', 'GET /x\x00y HTTP/1.1\r\nHost: h\r\n\r\n', /^HTTP\/1\.1 505 /],
  ['bare LF line ends', 'GET /x HTTP/1.1\nHost: h\n\n', /^HTTP\/1\.1 505 /],
  ['obs-fold', 'GET /x HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n', /^HTTP\/1\.1 400 /],
  ['no Host', 'GET /x HTTP/1.1\r\n\r\n', /^HTTP\/1\.1 400 /],
  ['control character in a value', 'GET /x HTTP/1.1\r\nHost: h\r\nX-A: a\x01b\r\n\r\n', /^HTTP\/1\.1 400 /],
  ['invalid Content-Length', 'POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\na', /^HTTP\/1\.1 400 /],
  ['invalid chunk size', 'POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /^HTTP\/1\.1 400 /],
  ['10-digit Content-Length above --max-body-size', 'PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 9999999999\r\n\r\nx', /^HTTP\/1\.1 413 /]
]

t.test(`uWS ${uwsRuntime.build}: requests its parser refuses ${uwsRuntime.answersMalformed ? 'are answered at once' : 'get no answer'}, and none is forwarded`, async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1'])
  const got = await Promise.all(CASES.map(async ([, bytes]) => await raw(gw.port, bytes)))
  for (const [i, [what, , status]] of CASES.entries()) {
    const r = got[i]
    const seen = `${what}: ${JSON.stringify(r.status)} after ${Math.round(r.ms)} ms`
    if (uwsRuntime.answersMalformed) {
      t.match(r.status, status, seen)
      t.ok(r.ms < 5000, `${what}: at once, not after the idle timeout`)
    } else {
      t.equal(r.status, '', `${seen}: closed without an answer`)
    }
  }
  const big = got[CASES.length - 1]
  if (uwsRuntime.answersMalformed) t.match(big.body, /"code":"SYM_ERR_BODY_TOO_LARGE"/, 'the 413 is the gateway\'s own')
  else t.ok(big.ms < 5000, `20.30 closes a 10-digit Content-Length at once (${Math.round(big.ms)} ms)`)
  t.equal(be.seen.length, 0, 'the backend saw none of them')
})
