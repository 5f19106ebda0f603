/**
 * ACME's bad input through the real CLI: one line on stderr, a distinct documented exit code,
 * nothing listening and nothing created.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const BIN = join(resolve(__dirname, '..', '..', '..', '..'), 'bin', 'symphony.js')
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SYMPHONY_')))

function symphony (args: string[]): { status: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--backend', '127.0.0.1:9', '--port', '0', '--admin-port', '0', ...args], { env: cleanEnv, encoding: 'utf8', timeout: 30_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

t.test('ACME options: exit 2 for a config mistake, exit 11 for a state directory that cannot be written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'symphony-acme-bad-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const aFile = join(dir, 'a-file')
  writeFileSync(aFile, 'not a directory')
  const notPem = join(dir, 'not.pem')
  writeFileSync(notPem, 'hello')
  const state = join(dir, 'state')
  const acme = ['--acme-domain', 'app.example.com', '--http-port', '0', '--state-dir', state]
  const cases: Array<[string, string[], number, RegExp]> = [
    ['ACME without --http-port', ['--acme-domain', 'app.example.com', '--state-dir', state], 2, /^symphony: --acme-domain gets certificates over ACME's HTTP-01 challenge, which needs a plain-HTTP listener: add --http-port PORT/],
    ['a wildcard name', ['--acme-domain', '*.example.com', '--http-port', '0'], 2, /^symphony: --acme-domain: "\*\.example\.com" is not valid; expected a DNS name .*no wildcard/],
    ['a name given twice', ['--acme-domain', 'App.example.com', ...acme], 2, /^symphony: --acme-domain "app\.example\.com" given twice/],
    ['--acme-email without a name', ['--acme-email', 'ops@example.com'], 2, /^symphony: --acme-email \(ops@example\.com\) does nothing without --acme-domain/],
    ['a plain-http directory', [...acme, '--acme-directory', 'http://ca.example/dir'], 2, /^symphony: --acme-directory: "http:\/\/ca\.example\/dir" is not valid; expected an https:\/\/ URL/],
    ['a missing --acme-ca-file', [...acme, '--acme-ca-file', join(dir, 'none.pem')], 2, /^symphony: --acme-ca-file ".*none\.pem" cannot be read \(ENOENT\)/],
    ['an --acme-ca-file that is not PEM', [...acme, '--acme-ca-file', notPem], 2, /^symphony: --acme-ca-file ".*not\.pem" is not a PEM certificate/],
    ['a state directory under a file', ['--acme-domain', 'app.example.com', '--http-port', '0', '--state-dir', join(aFile, 'state')], 11, /^symphony: --state-dir ".*a-file\/state": cannot create or write .* \(ENOTDIR\); make it writable for this user or give another --state-dir\n$/]
  ]
  for (const [what, args, status, re] of cases) {
    const r = symphony(args)
    t.equal(r.status, status, `${what}: exit ${status}`)
    t.match(r.stderr, re, `${what}: ${r.stderr.trim()}`)
    t.equal(r.stderr.split('\n').length, 2, `${what}: exactly one line`)
    t.notMatch(r.stderr, /^\s*at /m, `${what}: no stack frames`)
    t.equal(r.stdout, '', `${what}: nothing on stdout (nothing started)`)
  }
  t.notOk(existsSync(state), 'no case created the state directory')
})
