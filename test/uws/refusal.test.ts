/**
 * Where no native uWebSockets.js build loads, symphony refuses at start (issue #18): one line
 * naming Node, the glibc found and needed and the way out, exit 7, no stack trace, within a
 * second, before Docker or any thread. Tried for real with a Node 24 binary: on a glibc older than
 * 2.38 (Debian 12: this project's CI host) its build cannot load; on a newer one it must serve.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { join, resolve } from 'node:path'
import { selectBuild } from '../../src/uws/select'
import { currentFacts } from '../../src/uws/load'
import { nodeBinary } from '../helpers/node-binary'

// Compiled to dist/test/uws/: the project root is three levels up.
const ROOT = resolve(__dirname, '..', '..', '..')
const BIN = join(ROOT, 'bin', 'symphony.js')
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SYMPHONY_')))

function run (node: string, args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null, stdout: string, stderr: string, ms: number } {
  const t0 = performance.now()
  const r = spawnSync(node, args, { env: { ...cleanEnv, ...env }, encoding: 'utf8', timeout: 60_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 }
}

const node24 = nodeBinary(24)
// A skip is not a pass: CI must have the binary (it is fetched once, into a cache).
const skip = 'skip' in node24 && process.env.CI === undefined ? node24.skip : false

t.test('Node 24 on this host: serves natively where glibc >= 2.38, else one line and exit 7', { skip }, async (t) => {
  if ('skip' in node24) { t.fail(`CI has no Node 24 binary: ${node24.skip}`); return }
  const node = node24.path
  const facts = { ...currentFacts(), abi: 137, node: run(node, ['-p', 'process.version']).stdout.trim() }
  const selection = selectBuild(facts)
  if (selection.ok) {
    const r = run(node, [BIN, '--version'])
    t.equal(r.status, 0)
    t.match(r.stdout, new RegExp(`^symphony \\S+, Node ${facts.node.replace(/\./g, '\\.')}, uWebSockets\\.js ${selection.candidates[0].build.replace(/\./g, '\\.')} \\(native\\)\\n$`), `glibc ${String(facts.glibc)}: ${r.stdout.trim()}`)
    return
  }
  // Node's own start-up, which a loaded 2-core machine can stretch past a second by itself.
  const baseline = Math.min(...[0, 1, 2].map(() => run(node, ['-e', '0']).ms))
  // --image with an engine that does not exist: had it asked Docker first, it would exit 3.
  const refuse = (): ReturnType<typeof run> => run(node, [BIN, '--image', 'nginx:alpine', '--port', '0', '--admin-port', '0'], { DOCKER_HOST: 'unix:///nonexistent/docker.sock', UWS_USE_FALLBACK: '1' })
  // The fastest of three of each: this machine's other work stretches single runs at random.
  const runs = [refuse(), refuse(), refuse()]
  const r = runs[0]
  const ms = Math.min(...runs.map((x) => x.ms))
  t.equal(r.status, 7, `exit 7 (SYM_ERR_UNSUPPORTED_RUNTIME), not 3 (Docker) nor 70 (a crash): ${r.stderr.trim()}`)
  t.match(r.stderr, new RegExp(`^symphony: cannot start: Node ${facts.node.replace(/\./g, '\\.')} needs glibc >= 2\\.38 for its native uWebSockets\\.js build and this host has glibc ${String(facts.glibc).replace(/\./g, '\\.')}; use .*Node 24 LTS or 22 on a host with glibc >= 2\\.38 \\(Debian 13, Ubuntu 24\\.04\\), or symphony's container image \\(docs/deployment\\.md\\)\\n$`), 'names Node, the glibc found and needed, and the ways out')
  t.equal(r.stderr.split('\n').length, 2, 'exactly one line')
  t.notMatch(r.stderr, /^\s*at |internal error|fallback|Error:/im, 'no stack trace, no emulation warning')
  t.equal(r.stdout, '', 'nothing on stdout (no log line: nothing started)')
  t.ok(ms - baseline < 1000, `within a second of Node's own start-up (${Math.round(ms)} ms, Node alone ${Math.round(baseline)} ms, fastest of three each)`)
  t.ok(runs.every((x) => x.status === 7 && x.stderr === r.stderr), 'the same every time')

  const v = run(node, [BIN, '--version'])
  t.equal(v.status, 0, '--version still answers')
  t.match(v.stdout, /^symphony \S+, Node v24\.\d+\.\d+, uWebSockets\.js: none loads here \(Node v24.* needs glibc >= 2\.38 /, v.stdout.trim())
})
