import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

// Compiled to dist/test/cli.test.js: the project root is two levels up.
const ROOT = resolve(__dirname, '..', '..')
const BIN = join(ROOT, 'bin', 'symphony.js')

/** The environment of this test run without SYMPHONY_* variables, which the CLI would read. */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SYMPHONY_')))

function symphony (args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...cleanEnv, ...env }, encoding: 'utf8', timeout: 30_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

t.test('a user mistake: exit 2, one line on stderr, no stack trace', async t => {
  const cases: Array<[string, string[], NodeJS.ProcessEnv, RegExp]> = [
    ['unknown flag', ['--prot', '80'], {}, /^symphony: --prot: unknown option; did you mean --port\?\n$/],
    ['no image nor backend', [], {}, /^symphony: nothing to proxy: /],
    ['bad value', ['--image', 'x', '--window', 'abc'], {}, /^symphony: --window: "abc" is not a duration/],
    ['port out of range', ['--backend', '127.0.0.1:70000'], {}, /^symphony: --backend: "127\.0\.0\.1:70000" has port 70000, out of range/],
    ['unknown variable', ['--image', 'x'], { SYMPHONY_FOO: '1' }, /^symphony: SYMPHONY_FOO: unknown environment variable/],
    ['missing config file', ['--config', '/nonexistent/symphony.yaml'], {}, /^symphony: config file "\/nonexistent\/symphony\.yaml": no such file\n$/]
  ]
  for (const [what, args, env, re] of cases) {
    const r = symphony(args, env)
    t.equal(r.status, 2, `${what}: exit 2`)
    t.match(r.stderr, re, `${what}: ${r.stderr.trim()}`)
    t.equal(r.stderr.split('\n').length, 2, `${what}: exactly one line`)
    t.notMatch(r.stderr, /^\s*at /m, `${what}: no stack frames`)
    t.equal(r.stdout, '', `${what}: nothing on stdout`)
  }
})

t.test('--help: exit 0, the options on stdout', async t => {
  for (const flag of ['--help', '-h']) {
    const r = symphony([flag])
    t.equal(r.status, 0, `${flag}: exit 0`)
    t.match(r.stdout, /^Usage: symphony/)
    t.match(r.stdout, /--base-scale-count N/)
    t.match(r.stdout, /SYMPHONY_BASE_SCALE_COUNT/)
    t.equal(r.stderr, '')
  }
})

t.test('--version: the package version', async t => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  const r = symphony(['--version'])
  t.equal(r.status, 0)
  t.equal(r.stdout, `symphony ${pkg.version}\n`)
  t.equal(r.stderr, '')
})
