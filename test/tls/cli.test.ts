import t from 'tap'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import https from 'node:https'
import type { TLSSocket } from 'node:tls'
import { startBackend } from '../helpers/backend'
import { runCliToEnd, startCli, type CliRun } from '../helpers/cli'
import { waitFor } from '../helpers/gateway'
import { makePki } from '../helpers/certs'

const pki = makePki()
t.teardown(() => pki.close())

const run = (args: string[]): Promise<CliRun> => runCliToEnd(['--port', '0', '--admin-port', '0', '--backend', '127.0.0.1:9', ...args], {}, 20_000)

t.test('bad certificate input: one line, its own exit code, nothing started', async (t) => {
  const a = pki.leaf('cli-a', ['a.test'])
  const b = pki.leaf('cli-b', ['b.test'])
  const cases: Array<[string, string[], number, RegExp]> = [
    ['missing certificate file', ['--tls-cert', join(pki.dir, 'absent.pem'), '--tls-key', a.key], 9, /^symphony: certificate file ".*absent\.pem" does not exist; check --tls-cert\n$/],
    ['a file that is not PEM', ['--tls-cert', a.key, '--tls-key', a.key], 9, /^symphony: certificate file ".*" is not a PEM certificate .*\n$/],
    ['key of another certificate', ['--tls-cert', a.cert, '--tls-key', a.key, '--tls-cert', b.cert, '--tls-key', a.key], 10, /^symphony: key file ".*cli-a\.key" does not belong to certificate ".*cli-b\.pem"; pair each --tls-cert with its own --tls-key, in the same order\n$/],
    ['--tls-cert without --tls-key', ['--tls-cert', a.cert], 2, /^symphony: --tls-cert given 1 time\(s\) but --tls-key 0: each certificate needs its key, paired in the order given\n$/],
    ['--http-port without --tls-cert', ['--http-port', '0'], 2, /^symphony: --http-port \(0\) redirects to HTTPS/]
  ]
  await Promise.all(cases.map(async ([what, args, code, message]) => {
    const r = await run(args)
    t.equal(r.code, code, `${what}: exit ${code}`)
    t.match(r.stderr, message, `${what}: one line naming the problem and the fix`)
    t.equal(r.stdout, '', `${what}: nothing was started (no log line)`)
  }))
})

t.test('an expired certificate starts with a warning naming the date; SIGHUP reloads (and does not end the process)', async (t) => {
  const backend = await startBackend('b1')
  t.teardown(() => backend.close())
  const old = pki.leaf('cli-old', ['a.test'], { days: -1 })
  const fresh = pki.leaf('cli-fresh', ['a.test'])
  const live = { cert: join(pki.dir, 'cli-live.pem'), key: join(pki.dir, 'cli-live.key') }
  copyFileSync(old.cert, live.cert)
  copyFileSync(old.key, live.key)
  const cli = await startCli(t, ['--backend', `127.0.0.1:${backend.port}`, '--threads', '1', '--log-format', 'json', '--tls-cert', live.cert, '--tls-key', live.key])
  const warning = cli.lines.map((l) => JSON.parse(l)).find((l) => typeof l.msg === 'string' && l.msg.startsWith('certificate expired on '))
  t.match(warning, { level: 'warn', msg: /^certificate expired on \d{4}-\d\d-\d\dT[\d:.]+Z; clients will refuse it until it is renewed$/, names: ['a.test'] }, 'the warning names the date')

  copyFileSync(fresh.key, live.key)
  copyFileSync(fresh.cert, live.cert)
  cli.child.kill('SIGHUP')
  t.ok(await waitFor(() => cli.lines.some((l) => l.includes('certificates reloaded')), 10_000), 'reloaded')
  const reloaded = cli.lines.map((l) => JSON.parse(l)).find((l) => l.msg?.startsWith('certificates reloaded'))
  t.equal(reloaded?.trigger, 'SIGHUP', 'by the signal (the folder watch waits 200 ms for quiet)')
  const notAfter = await new Promise<string>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port: cli.port, path: '/', servername: 'a.test', ca: pki.ca, agent: false }, (res) => {
      resolve((res.socket as TLSSocket).getPeerCertificate().valid_to)
      res.resume()
    }).on('error', reject)
  })
  t.ok(Date.parse(notAfter) > Date.now(), 'a new connection gets the valid certificate')
  t.equal(cli.child.exitCode, null, 'SIGHUP did not end the process')
})
