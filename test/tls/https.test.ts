import t from 'tap'
import https from 'node:https'
import http from 'node:http'
import type { TLSSocket } from 'node:tls'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startBackend } from '../helpers/backend'
import { startTestGateway } from '../helpers/gateway'
import { makePki } from '../helpers/certs'

const pki = makePki()
t.teardown(() => pki.close())

interface Answer { status: number, body: string, cn: string, headers: http.IncomingHttpHeaders }

/** One request over a new TLS connection to 127.0.0.1:`port`, naming `servername` (SNI) unless null. */
export function get (port: number, path: string, servername: string | null, ca: Buffer, host = servername ?? '127.0.0.1'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, ca, agent: false, headers: { host }, ...(servername === null ? { checkServerIdentity: () => undefined } : { servername }) }, (res) => {
      const cn = String((res.socket as TLSSocket).getPeerCertificate().subject?.CN)
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cn, headers: res.headers }))
    })
    req.on('error', reject)
    req.end()
  })
}

function plainGet (port: number, path: string, host: string | null, method = 'GET'): Promise<{ status: number, location: string | undefined, body: string, type: string | undefined }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = host === null ? {} : { host }
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false, headers, setHost: host !== null }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body, type: res.headers['content-type'] }))
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('HTTPS with two certificates chosen by SNI; the backend sees X-Forwarded-Proto: https', async (t) => {
  const backend = await startBackend('b1')
  t.teardown(() => backend.close())
  const a = pki.leaf('https-a', ['a.test', 'www.a.test'])
  const b = pki.leaf('https-b', ['b.test', '*.b.test'])
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${backend.port}`, '--threads', '2', '--tls-cert', a.cert, '--tls-key', a.key, '--tls-cert', b.cert, '--tls-key', b.key])

  const cases: Array<[string | null, string]> = [['a.test', 'a.test'], ['www.a.test', 'a.test'], ['b.test', 'b.test'], ['api.b.test', 'b.test'], [null, 'a.test']]
  for (const [sni, cn] of cases) {
    const r = await get(gw.port, '/echo?x=1', sni, pki.ca)
    t.equal(r.status, 200, `${String(sni)}: answered`)
    t.equal(r.cn, cn, `${String(sni)}: served the certificate of ${cn}`)
  }
  const seen = backend.seen.filter((s) => s.url === '/echo')
  t.equal(seen.length, cases.length, 'every request reached the backend')
  for (const s of seen) {
    t.same(s.headers.filter(([k]) => k === 'x-forwarded-proto'), [['x-forwarded-proto', 'https']], 'X-Forwarded-Proto: https, once')
  }

  // A name no certificate has: the default certificate, which a verifying client refuses.
  await t.rejects(get(gw.port, '/', 'c.test', pki.ca), /altnames|does not match|Hostname/i, 'an unknown name gets the default certificate')
  const metrics = await (await fetch(`${gw.admin}/metrics`)).text()
  t.match(metrics, /symphony_tls_unknown_server_names_total 1\n/, 'and is counted')
  t.match(metrics, /symphony_tls_certificate_expiry_timestamp_seconds\{name="\*\.b\.test"\} \d{10}\n/, 'expiry per name')
})

t.test('a client\'s own X-Forwarded-Proto never reaches the backend', async (t) => {
  const backend = await startBackend('b1')
  t.teardown(() => backend.close())
  const a = pki.leaf('xfp-a', ['a.test'])
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${backend.port}`, '--threads', '1', '--tls-cert', a.cert, '--tls-key', a.key])
  await new Promise<void>((resolve, reject) => {
    https.request({ host: '127.0.0.1', port: gw.port, path: '/echo', servername: 'a.test', ca: pki.ca, agent: false, headers: { host: 'a.test', 'x-forwarded-proto': 'http' } }, (res) => { res.resume(); res.on('end', resolve) }).on('error', reject).end()
  })
  t.same(backend.seen.at(-1)?.headers.filter(([k]) => k === 'x-forwarded-proto'), [['x-forwarded-proto', 'https']])
})

t.test('--http-port: 308 to HTTPS with path and query; HTTP-01 challenges are answered once a challenge directory is set', async (t) => {
  const backend = await startBackend('b1')
  t.teardown(() => backend.close())
  const a = pki.leaf('redirect-a', ['a.test'])
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${backend.port}`, '--threads', '2', '--tls-cert', a.cert, '--tls-key', a.key, '--http-port', '0'])
  const hp = gw.httpPort as number
  t.ok(hp > 0 && hp !== gw.port, 'the redirect listens on its own port')

  let r = await plainGet(hp, '/p/a?x=1&y=%20', `a.test:${hp}`)
  t.equal(r.status, 308)
  t.equal(r.location, `https://a.test:${gw.port}/p/a?x=1&y=%20`, 'host without its port, the HTTPS port, path and query')
  r = await plainGet(hp, '/form', 'a.test', 'POST')
  t.equal(r.status, 308, 'any method')
  r = await plainGet(hp, '/', '[::1]:80')
  t.equal(r.location, `https://[::1]:${gw.port}/`, 'an IPv6 literal keeps its brackets')
  // HTTP/1.1 requires Host: uWS 20.30 closes such a connection itself, 20.57 answers 400.
  const noHost = await plainGet(hp, '/', null).then((x) => x.status, (err: Error) => err.message)
  t.match(String(noHost), /^(400|socket hang up|read ECONNRESET)$/, 'no Host header: nothing to redirect to')
  r = await plainGet(hp, '/', 'evil.test/x@a.test')
  t.equal(r.status, 400, 'a Host header that is not a host: 400')
  r = await plainGet(hp, '/.well-known/acme-challenge/abc', 'a.test')
  t.equal(r.status, 308, 'without a challenge directory the challenge path is redirected too')
  t.equal(backend.seen.length > 0 ? backend.seen.filter((s) => s.url !== '/api/v1/_health').length : 0, 0, 'nothing reached the backend')

  const followed = await get(gw.port, '/p/a?x=1', 'a.test', pki.ca)
  t.equal(followed.status, 200, 'the redirect target answers')
  const metrics = await (await fetch(`${gw.admin}/metrics`)).text()
  t.match(metrics, /symphony_http_redirects_total 4\n/, 'redirects counted')
})

t.test('the challenge path, with a challenge directory (what ACME sets)', async (t) => {
  // The worker's redirect App on its own, as the proxy thread builds it: the ACME flag that
  // sets the directory comes with the ACME work (issue #22 point 3).
  const { createRedirectApp } = await import('../../src/worker/redirect')
  const { uWS } = await import('../../src/uws')
  const dir = mkdtempSync(join(tmpdir(), 'symphony-acme-'))
  writeFileSync(join(dir, 'tok_EN-1'), 'tok_EN-1.thumbprint')
  const i32 = new Int32Array(new SharedArrayBuffer(64 * 4))
  const app = createRedirectApp({ httpsPort: 443, acmeChallengeDir: dir, i32, wbase: 0 })
  const port = await new Promise<number>((resolve, reject) => {
    app.listen('127.0.0.1', 0, (s) => { if (s === false) reject(new Error('listen')); else resolve(uWS.us_socket_local_port(s)) })
  })
  t.teardown(() => app.close())
  let r = await plainGet(port, '/.well-known/acme-challenge/tok_EN-1', 'a.test')
  t.same([r.status, r.type, r.body], [200, 'text/plain', 'tok_EN-1.thumbprint'], 'the file, as text/plain')
  r = await plainGet(port, '/.well-known/acme-challenge/absent', 'a.test')
  t.equal(r.status, 404, 'no such token: 404')
  r = await plainGet(port, '/.well-known/acme-challenge/..%2Fetc', 'a.test')
  t.equal(r.status, 404, 'a token outside [A-Za-z0-9_-]: 404, no file is read')
  r = await plainGet(port, '/.well-known/acme-challenge/' + 'a'.repeat(257), 'a.test')
  t.equal(r.status, 404, 'a token longer than 256: 404')
  r = await plainGet(port, '/.well-known/acme-challenge/tok_EN-1', 'a.test', 'POST')
  t.equal(r.status, 308, 'only GET is a challenge')
  r = await plainGet(port, '/x?y=1', 'a.test:8080')
  t.equal(r.location, 'https://a.test/x?y=1', 'port 443 is left out of the Location')
})
