/**
 * The ACME manager against a real ACME server (pebble, run by this test): first issuance, the
 * issued chain verified against pebble's issuing root, renewal at the policy's time, a failed
 * order retried with a backoff, and a restart that serves from disk without a new order.
 *
 * The HTTP-01 answers are served from the store's challenge directory by a plain node:http
 * listener standing in for the proxy threads' --http-port listener (src/worker on the tls
 * branch serves the same directory the same way); it is the only stand-in here.
 */
import t from 'tap'
import { createServer, type Server } from 'node:http'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AcmeStore } from '../../../src/tls/acme/store'
import { AcmeOrderer } from '../../../src/tls/acme/client'
import { AcmeManager, type CertificateSink } from '../../../src/tls/acme/manager'
import { DEFAULT_RENEWAL } from '../../../src/tls/acme/policy'
import { createLogger } from '../../../src/log'
import { freePort, ensurePebble, startPebble, type Pebble } from '../../helpers/pebble'
import { waitFor } from '../../helpers/gateway'

ensurePebble()

/** Serves <dir>/<token> on 127.0.0.1:port, as the proxy threads' --http-port listener does. */
async function challengeServer (dir: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const m = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '')
    let body: Buffer | null = null
    try { if (m !== null) body = readFileSync(join(dir, m[1])) } catch {}
    res.writeHead(body === null ? 404 : 200, { 'content-type': 'text/plain' }).end(body ?? '')
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return server
}

/** A certificate set's stand-in that records what it was told. */
function recordingSink (): CertificateSink & { added: string[], reloads: string[] } {
  const added: string[] = []
  const reloads: string[] = []
  return { added, reloads, add: (s) => { added.push(s.certFile) }, reload: (why) => { reloads.push(why) } }
}

/** When a third of the certificate's lifetime is left, worked out here rather than by the policy under test. */
function thirdLeft (c: { notBefore: number, notAfter: number }): number {
  return c.notAfter - Math.floor((c.notAfter - c.notBefore) / 3)
}

function logger (lines: string[]): ReturnType<typeof createLogger> {
  return createLogger('info', (line) => { lines.push(line) }, 'json')
}

/** Whether `chainPem`'s leaf chains through its intermediate to `rootPem`. */
function chainsTo (chainPem: string, rootPem: string): boolean {
  const certs = chainPem.split(/(?<=-----END CERTIFICATE-----)\s*/).filter((p) => p.includes('BEGIN'))
  const parsed = certs.map((p) => new X509Certificate(p))
  const root = new X509Certificate(rootPem)
  for (let i = 0; i + 1 < parsed.length; i++) if (!parsed[i].checkIssued(parsed[i + 1]) || !parsed[i].verify(parsed[i + 1].publicKey)) return false
  const top = parsed[parsed.length - 1]
  return top.checkIssued(root) && top.verify(root.publicKey)
}

t.test('ACME against pebble', async (t) => {
  const httpPort = await freePort()
  const pebble: Pebble = await startPebble(httpPort)
  t.teardown(() => pebble.close())
  const stateDir = mkdtempSync(join(tmpdir(), 'symphony-acme-state-'))
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }))
  const ca = readFileSync(pebble.listenerCaFile)
  const name = 'app.symphony.test'
  const fast = { ...DEFAULT_RENEWAL, retryInitialMs: 300, retryMaxMs: 2000 }

  const store = new AcmeStore(stateDir, pebble.directoryUrl)
  const server = await challengeServer(store.challengeDir, httpPort)
  t.teardown(() => { server.closeAllConnections(); server.close() })

  const lines: string[] = []
  const sink = recordingSink()
  const manager = new AcmeManager({ domains: [name], store, orderer: new AcmeOrderer({ directoryUrl: pebble.directoryUrl, email: 'ops@symphony.test', ca }, store), sink, log: logger(lines), renewal: fast })
  t.teardown(() => manager.close())
  await manager.start()

  await t.test('start with nothing on disk: a placeholder for the name is handed to the set at once', async (t) => {
    t.same(sink.added, [store.paths(name).certFile])
    const info = store.stored(name)
    t.ok(info !== null && (info.placeholder || manager.orders.issued > 0), 'the pair on disk is the placeholder (or already the issued one)')
  })

  await t.test('first issuance end to end: pebble validated HTTP-01 and issued a chain to its root', async (t) => {
    t.ok(await waitFor(() => manager.orders.issued === 1, 60_000), `issued (log: ${lines.join('')})`)
    const info = store.stored(name)
    t.equal(info?.placeholder, false)
    t.same(info?.names, [name])
    const chain = readFileSync(store.paths(name).certFile, 'utf8')
    t.ok(chainsTo(chain, await pebble.issuingRoot()), 'the chain verifies against pebble\'s issuing root')
    t.ok(new X509Certificate(chain).checkPrivateKey(require('node:crypto').createPrivateKey(readFileSync(store.paths(name).keyFile))), 'the key on disk is the certificate\'s')
    t.equal(statSync(store.paths(name).keyFile).mode & 0o777, 0o600, 'the certificate key is 0600')
    t.equal(statSync(join(stateDir, 'acme', new URL(pebble.directoryUrl).hostname + '-' + new URL(pebble.directoryUrl).port, 'account-key.pem')).mode & 0o777, 0o600, 'the account key is 0600')
    t.match(sink.reloads, [/issued for app.symphony.test/], 'the set was told to reload')
    const snap = manager.snapshot()[0]
    t.equal(snap.state, 'serving')
    t.equal(snap.nextOrderAt, thirdLeft(info!), 'renewal scheduled at a third of the lifetime left')
  })
  const issuedByPebble = (): number => (pebble.output().match(/Issued certificate serial/g) ?? []).length

  await t.test('renewal: at the policy\'s time a new certificate is ordered, stored and handed on', async (t) => {
    const before = new X509Certificate(readFileSync(store.paths(name).certFile))
    const due = thirdLeft(store.stored(name)!) - Date.now() + 1000
    const renewLines: string[] = []
    const renewSink = recordingSink()
    // The clock stands just past the renewal time until the renewal is done, then goes back to
    // now (past the old certificate's renewal time it would find the new one due as well): the
    // policy alone decides that it is due.
    const renewing: AcmeManager = new AcmeManager({ domains: [name], store, orderer: new AcmeOrderer({ directoryUrl: pebble.directoryUrl, email: null, ca }, store), sink: renewSink, log: logger(renewLines), renewal: fast, now: () => Date.now() + (renewing.orders.issued === 0 ? due : 0) })
    t.teardown(() => renewing.close())
    await renewing.start()
    t.same(renewSink.added, [store.paths(name).certFile], 'the due certificate is served while the new one is ordered')
    t.ok(await waitFor(() => renewing.orders.issued === 1, 60_000), `renewed (log: ${renewLines.join('')})`)
    const after = new X509Certificate(readFileSync(store.paths(name).certFile))
    t.not(after.serialNumber, before.serialNumber, 'a new certificate')
    t.ok(after.publicKey.equals(before.publicKey), 'with the same key (only the certificate file is replaced)')
    t.equal(renewSink.reloads.length, 1)
  })

  await t.test('restart: a valid certificate on disk is served without a new order', async (t) => {
    const issued = issuedByPebble()
    t.ok(issued >= 2, `pebble logged its issuances (${issued})`)
    const restartSink = recordingSink()
    const restarted = new AcmeManager({ domains: [name], store: new AcmeStore(stateDir, pebble.directoryUrl), orderer: new AcmeOrderer({ directoryUrl: pebble.directoryUrl, email: null, ca }, store), sink: restartSink, log: logger([]), renewal: fast })
    t.teardown(() => restarted.close())
    await restarted.start()
    t.same(restartSink.added, [store.paths(name).certFile])
    await new Promise((resolve) => setTimeout(resolve, 1500))
    t.equal(restarted.orders.issued + restarted.orders.failed, 0, 'no order placed')
    t.equal(issuedByPebble(), issued, 'pebble issued nothing more')
    t.equal(restarted.snapshot()[0].state, 'serving')
    t.ok((restarted.snapshot()[0].nextOrderAt ?? 0) > Date.now() + 365 * 24 * 3600_000, 'next order at the renewal time, years ahead for pebble\'s 5-year certificates')
  })

  await t.test('a certificate whose key went missing is not served: a placeholder with a new key, and a new order', async (t) => {
    const other = 'rekey.symphony.test'
    const rekeyLines: string[] = []
    const first = new AcmeManager({ domains: [other], store, orderer: new AcmeOrderer({ directoryUrl: pebble.directoryUrl, email: null, ca }, store), sink: recordingSink(), log: logger(rekeyLines), renewal: fast })
    t.teardown(() => first.close())
    await first.start()
    t.ok(await waitFor(() => first.orders.issued === 1, 60_000), 'issued')
    first.close()
    rmSync(store.paths(other).keyFile)
    t.equal(store.stored(other), null, 'a certificate without its key counts as none')
    const again = new AcmeManager({ domains: [other], store, orderer: new AcmeOrderer({ directoryUrl: pebble.directoryUrl, email: null, ca }, store), sink: recordingSink(), log: logger(rekeyLines), renewal: fast })
    t.teardown(() => again.close())
    await again.start()
    t.equal(store.stored(other)?.placeholder, true, 'the placeholder, with a new key, holds the place')
    t.ok(await waitFor(() => again.orders.issued === 1, 60_000), 'issued again for the new key')
    t.equal(store.stored(other)?.placeholder, false)
  })

  await t.test('a failed order is logged with the server\'s reason, counted, and retried with a backoff', async (t) => {
    // Nothing answers HTTP-01 now: pebble's validation of the challenge fails.
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    const other = 'retry.symphony.test'
    const retryLines: string[] = []
    const retrySink = recordingSink()
    const retrying = new AcmeManager({ domains: [other], store, orderer: new AcmeOrderer({ directoryUrl: pebble.directoryUrl, email: null, ca }, store), sink: retrySink, log: logger(retryLines), renewal: fast })
    t.teardown(() => retrying.close())
    await retrying.start()
    t.ok(await waitFor(() => retrying.orders.failed >= 2, 60_000), 'two orders failed')
    const failures = retryLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'acme order failed; retrying after a backoff, the gateway keeps serving')
    t.ok(failures.length >= 2)
    t.match(failures[0], { level: 'error', code: 'SYM_ERR_ACME_ORDER', name: other, failures: 1, retryInMs: 300 })
    t.match(failures[1], { failures: 2, retryInMs: 600 }, 'the delay doubles')
    t.match(String(failures[0].error), /connect|refused/i, `the reason from pebble is in the line: ${String(failures[0].error)}`)
    t.equal(store.stored(other)?.placeholder, true, 'the placeholder is still served meanwhile')
    const again = await challengeServer(store.challengeDir, httpPort)
    t.teardown(() => { again.closeAllConnections(); again.close() })
    t.ok(await waitFor(() => retrying.orders.issued === 1, 60_000), 'a retry succeeded once HTTP-01 was answered')
    t.equal(retrying.snapshot()[0].failures, 0, 'the failure count is reset')
    t.equal(store.stored(other)?.placeholder, false)
  })
})
