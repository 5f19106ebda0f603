import t from 'tap'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readCertificate } from '../../src/tls/certificate'
import { CertificateSet } from '../../src/tls/certificate-set'
import { CertificateFileError, CertificateKeyMismatchError } from '../../src/errors'
import { createLogger } from '../../src/log'
import type { ServedCertificate } from '../../src/config/types'
import { makePki } from '../helpers/certs'
import { waitFor } from '../helpers/gateway'

const pki = makePki()
t.teardown(() => pki.close())

function capture (): { lines: Array<Record<string, unknown>>, log: ReturnType<typeof createLogger> } {
  const lines: Array<Record<string, unknown>> = []
  return { lines, log: createLogger('debug', (line) => { lines.push(JSON.parse(line)) }, 'json') }
}

t.test('names come from the SAN DNS entries, or the CN when there is no SAN', async (t) => {
  const a = pki.leaf('names-a', ['a.test', 'www.a.test', '*.api.a.test'])
  t.same(readCertificate({ certFile: a.cert, keyFile: a.key }).names, ['a.test', 'www.a.test', '*.api.a.test'])
  const cn = pki.leaf('names-cn', ['Only-CN.test'], { san: false })
  t.same(readCertificate({ certFile: cn.cert, keyFile: cn.key }).names, ['only-cn.test'])
})

t.test('expiry is the certificate\'s notAfter', async (t) => {
  const old = pki.leaf('expired', ['old.test'], { days: -1 })
  const c = readCertificate({ certFile: old.cert, keyFile: old.key })
  t.ok(c.notAfter < Date.now(), 'an expired certificate reads as expired')
  t.ok(c.notAfter > Date.now() - 3 * 86_400_000, 'and at the date openssl gave it')
})

t.test('a bad file is CertificateFileError (exit 9), a foreign key CertificateKeyMismatchError (exit 10)', async (t) => {
  const a = pki.leaf('bad-a', ['a.test'])
  const b = pki.leaf('bad-b', ['b.test'])
  const cases: Array<[string, { certFile: string, keyFile: string }, new (...a: never[]) => Error, RegExp]> = [
    ['missing certificate', { certFile: join(pki.dir, 'nope.pem'), keyFile: a.key }, CertificateFileError, /^certificate file ".*nope\.pem" does not exist; check --tls-cert$/],
    ['missing key', { certFile: a.cert, keyFile: join(pki.dir, 'nope.key') }, CertificateFileError, /^private key file ".*nope\.key" does not exist; check --tls-key$/],
    ['a directory', { certFile: pki.dir, keyFile: a.key }, CertificateFileError, /is a directory; check --tls-cert$/],
    ['a key given as the certificate', { certFile: a.key, keyFile: a.key }, CertificateFileError, /is not a PEM certificate .*; give --tls-cert a PEM file/],
    ['a certificate given as the key', { certFile: a.cert, keyFile: a.cert }, CertificateFileError, /is not an unencrypted PEM private key .*; give --tls-key/],
    ['the other certificate\'s key', { certFile: a.cert, keyFile: b.key }, CertificateKeyMismatchError, /^key file ".*bad-b\.key" does not belong to certificate ".*bad-a\.pem"; pair each --tls-cert with its own --tls-key, in the same order$/]
  ]
  for (const [what, source, cls, message] of cases) {
    t.throws(() => readCertificate(source), cls, what)
    try { readCertificate(source) } catch (err) {
      t.match((err as Error).message, message, `${what}: the message`)
      t.notOk((err as Error).message.includes('\n'), `${what}: one line`)
    }
  }
  t.equal(new CertificateFileError('x').exitCode, 9)
  t.equal(new CertificateKeyMismatchError('x').exitCode, 10)
})

t.test('the set serves checked copies; a reload takes a changed pair and keeps the old one on a bad file', async (t) => {
  const a = pki.leaf('set-a', ['a.test'])
  const a2 = pki.leaf('set-a2', ['a.test', 'new.a.test'])
  const b = pki.leaf('set-b', ['b.test'])
  const live = { cert: join(pki.dir, 'live.pem'), key: join(pki.dir, 'live.key') }
  copyFileSync(a.cert, live.cert)
  copyFileSync(a.key, live.key)
  const { lines, log } = capture()
  const set = new CertificateSet([{ certFile: live.cert, keyFile: live.key }, { certFile: b.cert, keyFile: b.key }], { log, debounceMs: 50 })
  t.teardown(() => set.close())
  const changes: Array<readonly ServedCertificate[]> = []
  set.onChange = (c) => { changes.push(c) }

  const first = set.certificates()
  t.same(first.map((c) => c.names), [['a.test'], ['b.test']])
  t.not(first[0].certFile, live.cert, 'threads load a copy, not the user\'s file')
  t.same(readFileSync(first[0].certFile), readFileSync(a.cert), 'the copy is what was checked')
  t.equal(readFileSync(first[0].keyFile).length > 0, true)

  set.reload('test: nothing changed')
  t.equal(changes.length, 0, 'a reload that changes nothing hands nothing on')

  // The key first: until the certificate follows, the pair does not match.
  copyFileSync(a2.key, live.key)
  set.reload('test: key only')
  t.equal(set.failures.key_mismatch, 1, 'a half-written pair is a key mismatch')
  t.equal(changes.length, 0, 'and the old certificate stays')
  const line = lines.find((l) => l.msg === 'certificate not reloaded; the one in use stays')
  t.match(line, { level: 'error', reason: 'key_mismatch', certFile: live.cert }, 'said in one log line, with the reason and the file')

  copyFileSync(a2.cert, live.cert)
  set.reload('test: both')
  t.equal(changes.length, 1, 'the matching pair is handed on')
  t.same(changes[0].map((c) => c.names), [['a.test', 'new.a.test'], ['b.test']])
  t.equal(set.reloads, 1)
  t.same([...set.expiries().keys()], ['a.test', 'new.a.test', 'b.test'])

  writeFileSync(live.cert, 'not a certificate\n')
  set.reload('test: garbage')
  t.equal(set.failures.file, 1, 'an unparseable file is counted as `file`')
  t.equal(changes.length, 1, 'and nothing is handed on')
  t.same(set.certificates().map((c) => c.names), [['a.test', 'new.a.test'], ['b.test']], 'the certificate in use stays')
})

t.test('a change in a watched folder reloads by itself; add() serves and watches one more pair', async (t) => {
  const a = pki.leaf('watch-a', ['a.test'])
  const a2 = pki.leaf('watch-a2', ['a2.test'])
  const c = pki.leaf('watch-c', ['c.test'])
  const live = { cert: join(pki.dir, 'watched.pem'), key: join(pki.dir, 'watched.key') }
  copyFileSync(a.cert, live.cert)
  copyFileSync(a.key, live.key)
  const { log } = capture()
  const set = new CertificateSet([{ certFile: live.cert, keyFile: live.key }], { log, debounceMs: 50 })
  t.teardown(() => set.close())
  const changes: Array<readonly ServedCertificate[]> = []
  set.onChange = (cs) => { changes.push(cs) }

  // As certbot does: new files renamed over the old ones.
  copyFileSync(a2.key, live.key + '.tmp')
  copyFileSync(a2.cert, live.cert + '.tmp')
  const { renameSync } = await import('node:fs')
  renameSync(live.key + '.tmp', live.key)
  renameSync(live.cert + '.tmp', live.cert)
  t.ok(await waitFor(() => changes.length === 1, 5000), 'the rename was seen and reloaded')
  t.same(changes[0][0].names, ['a2.test'])

  set.add({ certFile: c.cert, keyFile: c.key })
  t.equal(changes.length, 2, 'add() hands the new set on')
  t.same(changes[1].map((x) => x.names), [['a2.test'], ['c.test']])
  t.throws(() => set.add({ certFile: c.cert, keyFile: a.key }), CertificateKeyMismatchError, 'a bad pair is refused')
  t.equal(set.certificates().length, 2, 'and changes nothing')
})
