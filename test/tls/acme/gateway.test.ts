/**
 * ACME end to end through the real gateway (uWS proxy threads, --http-port answering HTTP-01)
 * against a real pebble run by this test: before the first certificate HTTPS serves the
 * placeholder, pebble then validates the challenge on symphony's own --http-port and issues, the
 * issued certificate is served (verified against pebble's issuing root), a restart on the same
 * state directory serves it at once without a new order, and an order that fails is logged and
 * counted while the gateway keeps serving.
 */
import t from 'tap'
import { request } from 'node:https'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PeerCertificate } from 'node:tls'
import { startBackend } from '../../helpers/backend'
import { startTestGateway, waitFor } from '../../helpers/gateway'
import { freePort, ensurePebble, startPebble } from '../../helpers/pebble'

ensurePebble()

const NAME = 'shop.symphony.test'

interface Answer { status: number, body: string, cert: PeerCertificate, authorized: boolean, authorizationError: string | null }

/** GET over HTTPS to 127.0.0.1:port with SNI `servername`; verified against `ca` when given. */
async function get (port: number, servername: string, ca: string | null, path = '/'): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, servername, headers: { host: servername }, agent: false, ...(ca === null ? { rejectUnauthorized: false } : { ca }) }, (res) => {
      const socket = res.socket as import('node:tls').TLSSocket
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cert: socket.getPeerCertificate(), authorized: socket.authorized, authorizationError: socket.authorizationError === undefined ? null : String(socket.authorizationError) }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function metrics (admin: string): Promise<string> {
  return await (await fetch(`${admin}/metrics`)).text()
}

t.test('ACME through the gateway, against pebble', async (t) => {
  const httpPort = await freePort()
  const pebble = await startPebble(httpPort)
  t.teardown(() => pebble.close())
  const stateDir = mkdtempSync(join(tmpdir(), 'symphony-acme-gw-'))
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }))
  const backend = await startBackend('b1')
  t.teardown(() => backend.close())
  const issued = (): number => (pebble.output().match(/Issued certificate serial/g) ?? []).length
  const args = ['--backend', `127.0.0.1:${backend.port}`, '--threads', '2', '--http-port', String(httpPort), '--acme-domain', NAME,
    '--acme-ca-file', pebble.listenerCaFile, '--acme-directory', pebble.directoryUrl, '--state-dir', stateDir]

  await t.test('first start: placeholder at once, then the issued certificate, for new connections', async (t) => {
    const gw = await startTestGateway(t, args)
    t.equal(gw.httpPort, httpPort)
    // Whatever the race with the first order, HTTPS answers from the first moment.
    const early = await get(gw.port, NAME, null, '/hello')
    t.equal(early.status, 200, 'HTTPS proxies before any certificate is issued')
    t.ok(await waitFor(() => gw.acme?.orders.issued === 1, 60_000), 'pebble validated HTTP-01 on symphony\'s --http-port and issued')
    const root = await pebble.issuingRoot()
    let served: Answer | null = null
    // The certificate set reloads and the threads rebind (src/tls/certificate-set.ts): new connections get it soon after.
    t.ok(await waitFor(async () => { served = await get(gw.port, NAME, root, '/hello').catch(() => null); return served?.authorized === true }, 10_000), 'a new connection verifies against pebble\'s issuing root')
    t.equal(served!.status, 200)
    t.equal((JSON.parse(served!.body) as { name: string }).name, 'b1', 'proxied to the backend')
    t.match(served!.cert.subjectaltname, `DNS:${NAME}`)
    const m = await metrics(gw.admin)
    t.match(m, /symphony_acme_orders_total\{outcome="issued"\} 1\n/)
    t.match(m, /symphony_acme_orders_total\{outcome="failed"\} 0\n/)
    t.match(m, new RegExp(`symphony_acme_next_order_timestamp_seconds\\{name="${NAME.replace(/\./g, '\\.')}"\\} \\d+`), 'next renewal time exported')
    const expiry = new RegExp(`symphony_tls_certificate_expiry_timestamp_seconds\\{name="${NAME.replace(/\./g, '\\.')}"\\} (\\d+)`).exec(m)
    t.equal(Number(expiry?.[1]), Math.floor(new Date(served!.cert.valid_to).getTime() / 1000), 'the expiry gauge is the issued certificate\'s')
    t.match(m, /symphony_acme_challenge_requests_total [1-9]/, 'the challenge was answered by the proxy threads')
    await gw.stop()
  })

  await t.test('restart on the same state directory: served at once, no new order', async (t) => {
    const before = issued()
    const gw = await startTestGateway(t, args)
    const served = await get(gw.port, NAME, await pebble.issuingRoot())
    t.ok(served.authorized, `the stored certificate is served from the first connection (${String(served.authorizationError)})`)
    t.equal(served.status, 200)
    await new Promise((resolve) => setTimeout(resolve, 1500))
    t.same(gw.acme?.orders, { issued: 0, failed: 0 }, 'no order placed')
    t.equal(issued(), before, 'pebble issued nothing more')
    await gw.stop()
  })

  await t.test('a failed order is logged and counted; the gateway keeps serving', async (t) => {
    const other = 'down.symphony.test'
    // pebble validates on 127.0.0.1:httpPort, where nothing listens now that the first gateways
    // stopped: this one's --http-port is elsewhere, so the CA refuses the challenge.
    const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${backend.port}`, '--threads', '1', '--http-port', '0', '--acme-domain', other,
      '--acme-ca-file', pebble.listenerCaFile, '--acme-directory', pebble.directoryUrl, '--state-dir', stateDir])
    t.ok(await waitFor(() => gw.acme?.orders.failed === 1, 30_000), 'the order failed')
    const [snap] = gw.acme?.snapshot() ?? []
    t.equal(snap.state, 'retrying')
    t.match(snap.lastError, /connection refused/, `the CA's reason is kept: ${String(snap.lastError)}`)
    t.ok(snap.nextOrderAt !== null && snap.nextOrderAt - Date.now() > 50_000 && snap.nextOrderAt - Date.now() <= 60_000, 'retried after the first backoff step (1 minute)')
    const answer = await get(gw.port, other, null, '/hello')
    t.equal(answer.status, 200, 'HTTPS still proxies (with the placeholder)')
    t.match(answer.cert.subject?.CN, /placeholder/)
    t.match(await metrics(gw.admin), /symphony_acme_orders_total\{outcome="failed"\} 1\n/)
    await gw.stop()
  })
})
