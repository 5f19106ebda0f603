import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
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
    ['bad log format', ['--image', 'x', '--log-format', 'yaml'], {}, /^symphony: --log-format: "yaml" is not a valid choice; expected one of auto, json, pretty\n$/],
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

t.test('--version: the package version, Node\'s and the uWebSockets.js build in use', async t => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  const r = symphony(['--version'])
  t.equal(r.status, 0)
  t.match(r.stdout, new RegExp(`^symphony ${pkg.version.replace(/\./g, '\\.')}, Node ${process.version.replace(/\./g, '\\.')}, uWebSockets\\.js (20\\.57\\.0|20\\.30\\.0) \\(native\\)\n$`), r.stdout.trim())
  t.equal(r.stderr, '')
})

t.test('on a terminal the log is one readable line per event; Ctrl-C drains and exits 0', async t => {
  // script(1) gives the CLI a real pseudo-terminal as stdout, and passes our Ctrl-C to it.
  // script runs the command through $SHELL -c; `exec` makes the CLI that shell's process, so the
  // exit code is the CLI's own whatever the shell (dash, unlike bash, dies of the Ctrl-C itself).
  const cmd = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} --backend 127.0.0.1:1 --port 0 --admin-port 0 --host 127.0.0.1`
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...cleanEnv, SHELL: '/bin/sh' }, stdio: ['pipe', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let out = ''
  const listening = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('symphony listening')) resolve()
    })
    setTimeout(() => reject(new Error(`no "symphony listening" within 30 s: ${out}`)), 30_000).unref()
  })
  await listening
  child.stdin.write('\x03')
  const [code, signal] = await once(child, 'exit')
  t.equal(code, 0, `exit 0 after the drain (exit ${String(code)}, signal ${String(signal)})`)
  const lines = out.split(/\r?\n/).filter((l) => /\d\d:\d\d:\d\d\.\d{3} /.test(l))
  t.match(out, /\d\d:\d\d:\d\d\.\d{3} INFO {2}symphony listening port=\d+ host=127\.0\.0\.1 /, 'the listening line, readable')
  t.match(out, /INFO {2}stopped/, 'the last line says it stopped')
  t.notMatch(out, /^\{"time"/m, 'no JSON line')
  t.ok(lines.length >= 3, `one line per event (${lines.length})`)
})

t.test('where stdout is not a terminal the log stays JSON lines (auto), and --log-format pretty forces text', async t => {
  for (const [args, json] of [[[], true], [['--log-format', 'pretty'], false]] as const) {
    // UWS_USE_FALLBACK would make the uWS package's entry load its JS emulation: it must change nothing.
    const child = spawn(process.execPath, [BIN, '--backend', '127.0.0.1:1', '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', ...args], { env: { ...cleanEnv, UWS_USE_FALLBACK: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
    t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
    let out = ''
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d
        if (out.includes('symphony listening')) resolve()
      })
      setTimeout(() => reject(new Error(`no "symphony listening" within 30 s: ${out}`)), 30_000).unref()
    })
    if (json) {
      // The threads run the native build: they listen (on the emulation they crash there: it
      // lacks us_socket_local_port), its binary is mapped in the process (the emulation maps
      // none), and /status says which, with Node's version.
      const listening = JSON.parse(out.split('\n').find((l) => l.includes('symphony listening')) ?? '{}') as { adminPort: number }
      const status = await (await fetch(`http://127.0.0.1:${listening.adminPort}/status`)).json() as { runtime?: { node: string, uws: string } }
      t.same(status.runtime, { node: process.version, uws: status.runtime?.uws }, `/status runtime: ${JSON.stringify(status.runtime)}`)
      t.match(status.runtime?.uws, /^20\.(57|30)\.0$/)
      const maps = readFileSync(`/proc/${String(child.pid)}/maps`, 'utf8')
      t.match(maps, /\/uws_linux_\w+_\d+\.node\n/, 'with UWS_USE_FALLBACK=1 a native uws_*.node is mapped')
    }
    child.kill('SIGTERM')
    await once(child, 'exit')
    const first = out.split('\n')[0]
    if (json) t.same(Object.keys(JSON.parse(first)).slice(0, 3), ['time', 'level', 'msg'], 'JSON lines')
    else t.match(first, /^\d\d:\d\d:\d\d\.\d{3} (INFO |WARN ) /, 'text lines')
  }
})
