import t from 'tap'
import { chmodSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/load'
import { configMessage } from '../helpers/config'

const IMAGE = ['--image', 'acme/api']
const fail = (argv: string[], env: NodeJS.ProcessEnv = {}): string => configMessage(() => loadConfig(argv, env, { cpus: 2, nofile: 20_000 }))

/** [what, argv, env, expected message] — every message must also be a single line. */
const cases: Array<[string, string[], NodeJS.ProcessEnv, RegExp]> = [
  ['--tls-cert without --tls-key', [...IMAGE, '--tls-cert', 'a.pem'], {}, /^--tls-cert given 1 time\(s\) but --tls-key 0: each certificate needs its key, paired in the order given$/],
  ['--tls-key without --tls-cert', [...IMAGE, '--tls-key', 'a.key'], {}, /^--tls-key given 1 time\(s\) but --tls-cert 0/],
  ['two certs, one key', [...IMAGE, '--tls-cert', 'a.pem', '--tls-key', 'a.key', '--tls-cert', 'b.pem'], {}, /^--tls-cert given 2 time\(s\) but --tls-key 1/],
  ['--http-port without TLS', [...IMAGE, '--http-port', '80'], {}, /^--http-port \(80\) redirects to HTTPS, which needs --tls-cert FILE and --tls-key FILE, or --acme-domain NAME; drop it or add them$/],
  ['--http-port is --port', [...IMAGE, '--tls-cert', 'a.pem', '--tls-key', 'a.key', '--http-port', '8080'], {}, /^--http-port \(8080\) is the HTTPS port --port \(default 8080\); choose different ports$/],
  ['unknown flag, suggestion', ['--max-contaners', '3', ...IMAGE], {}, /^--max-contaners: unknown option; did you mean --max-containers\?$/],
  ['unknown SYMPHONY_ variable, suggestion', IMAGE, { SYMPHONY_PROT: '1' }, /^SYMPHONY_PROT: unknown environment variable; did you mean SYMPHONY_PORT\?$/],
  ['unknown SYMPHONY_ variable', IMAGE, { SYMPHONY_FOO: '1' }, /^SYMPHONY_FOO: unknown environment variable; unset it/],
  ['wrong type (flag)', [...IMAGE, '--window', 'abc'], {}, /^--window: "abc" is not a duration; expected seconds \(0\.5\) or a number with a unit \(500ms, 2m\)$/],
  ['wrong type (env)', IMAGE, { SYMPHONY_THREADS: 'many' }, /^SYMPHONY_THREADS: "many" is not an integer; expected an integer from 1 to 64$/],
  ['wrong bool', [...IMAGE, '--cleanup-on-exit=maybe'], {}, /^--cleanup-on-exit: "maybe" is not a boolean/],
  ['wrong enum', [...IMAGE, '--log-level', 'verbose'], {}, /^--log-level: "verbose" is not a valid choice; expected one of debug, info, warn, error$/],
  ['port 70000 (flag)', [...IMAGE, '--port', '70000'], {}, /^--port: "70000" is out of range; expected a port from 0 to 65535/],
  ['port 70000 (env)', IMAGE, { SYMPHONY_CONTAINER_PORT: '70000' }, /^SYMPHONY_CONTAINER_PORT: "70000" is out of range; expected a port from 1 to 65535$/],
  ['port 0 where not allowed', [...IMAGE, '--base-port', '0'], {}, /^--base-port: "0" is out of range/],
  ['threads above 64', [...IMAGE, '--threads', '65'], {}, /^--threads: "65" is out of range; expected an integer from 1 to 64$/],
  ['threads 0', [...IMAGE, '--threads', '0'], {}, /^--threads: "0" is out of range/],
  ['base-scale-count 0', [...IMAGE, '--base-scale-count', '0'], {}, /^--base-scale-count: "0" is out of range; expected an integer >= 1/],
  ['min-containers 0', [...IMAGE, '--min-containers', '0'], {}, /^--min-containers: "0" is out of range/],
  ['negative cpus', [...IMAGE, '--cpus', '-1'], {}, /^--cpus: "-1" is out of range; expected a number from 0 to 1024$/],
  ['zero window', [...IMAGE, '--window', '0'], {}, /^--window: "0" is out of range; expected a duration from 1ms/],
  ['zero max body', [...IMAGE, '--max-body-size', '0'], {}, /^--max-body-size: "0" is out of range/],
  ['min > max', [...IMAGE, '--min-containers', '5', '--max-containers', '3'], {}, /^--min-containers \(5\) must not exceed --max-containers \(3\)$/],
  ['min > default max', [...IMAGE], { SYMPHONY_MIN_CONTAINERS: '11' }, /^SYMPHONY_MIN_CONTAINERS \(11\) must not exceed --max-containers \(default 10\)$/],
  ['neither image nor backend', [], {}, /^nothing to proxy: give --image IMAGE to run and autoscale containers, or --backend HOST:PORT \(repeatable\) to proxy fixed backends$/],
  ['both image and backend', [...IMAGE, '--backend', '127.0.0.1:1'], {}, /^--image and --backend exclude each other: --image runs and autoscales containers, --backend proxies fixed backends; choose one$/],
  ['both, from env and flag', ['--backend', '127.0.0.1:1'], { SYMPHONY_IMAGE: 'x' }, /^SYMPHONY_IMAGE and --backend exclude each other/],
  ['process runtime without command', ['--runtime', 'process'], {}, /^--runtime process needs --command CMD/],
  ['process runtime with backend', ['--runtime', 'process', '--command', 'x', '--backend', 'h:1'], {}, /^--runtime process starts local replicas; it cannot be combined with --backend/],
  ['health-timeout = fault-interval', [...IMAGE, '--health-timeout', '1s'], {}, /^--health-timeout \(1s\) must be shorter than --fault-interval \(default 1s\)$/],
  ['health-timeout > fault-interval', [...IMAGE, '--health-timeout', '2s', '--fault-interval', '1500ms'], {}, /^--health-timeout \(2s\) must be shorter than --fault-interval \(1\.5s\)$/],
  ['fault-interval too short', [...IMAGE, '--fault-interval', '5ms'], {}, /^--fault-interval: "5ms" is out of range; expected a duration from 10ms/],
  ['bad --env key', [...IMAGE, '--env', '1BAD=x'], {}, /^--env: "1BAD=x" has an invalid variable name "1BAD"; expected KEY=VALUE/],
  ['--env without =', [...IMAGE, '--env', 'NOVALUE'], {}, /^--env: "NOVALUE" is not KEY=VALUE/],
  ['bad SYMPHONY_ENV key', IMAGE, { SYMPHONY_ENV: '1A=x,B=2' }, /^SYMPHONY_ENV: "1A=x" has an invalid variable name "1A"/],
  ['bad backend', ['--backend', '::1:3000'], {}, /^--backend: "::1:3000" is not HOST:PORT \(put IPv6 addresses in brackets\)/],
  ['bad backend in env list', [], { SYMPHONY_BACKEND: '127.0.0.1:1,nope' }, /^SYMPHONY_BACKEND: "nope" is not HOST:PORT/],
  ['ports past 65535', [...IMAGE, '--base-port', '65530', '--max-containers', '10'], {}, /^--base-port \(65530\) \+ --max-containers \(10\) - 1 = 65539 is above 65535; lower one of them$/],
  ['port = admin-port', ['--backend', 'h:1', '--port', '9000', '--admin-port', '9000'], {}, /^--port \(9000\) and --admin-port \(9000\) are the same port on overlapping hosts \(0\.0\.0\.0, 127\.0\.0\.1\)/],
  ['port in the replica range', [...IMAGE, '--port', '8005'], {}, /^--port \(8005\) lies in the replica port range 8000-8009/],
  ['admin port in the replica range', [...IMAGE, '--admin-port', '8000'], {}, /^--admin-port \(8000\) lies in the replica port range/],
  ['max-connections not a number', [...IMAGE, '--max-connections', 'lots'], {}, /^--max-connections: "lots" is not an integer; expected an integer from 0 to 1073741824$/],
  ['max-connections negative', [...IMAGE, '--max-connections', '-1'], {}, /^--max-connections: "-1" is out of range; expected an integer from 0 to 1073741824$/],
  ['max-connections fractional (env)', IMAGE, { SYMPHONY_MAX_CONNECTIONS: '1.5' }, /^SYMPHONY_MAX_CONNECTIONS: "1\.5" is not an integer/],
  ['max-connections above the open-file limit', [...IMAGE, '--max-connections', '20001'], {}, /^--max-connections \(20001\) is above this process's open-file limit \(20000, ulimit -Hn\), so it cannot keep the gateway from running out of file descriptors; lower it or raise the limit$/],
  ['memory below Docker minimum', [...IMAGE, '--memory', '1mb'], {}, /^--memory \(1mb\) is below Docker's minimum of 6mb; use 0 for no limit$/],
  ['health path', [...IMAGE, '--health-path', 'health'], {}, /^--health-path: "health" is not valid; expected a path starting with '\/'/],
  ['service name', [...IMAGE, '--service', 'My_Service'], {}, /^--service: "My_Service" is not valid; expected lowercase letters/],
  ['underivable service', ['--image', '___'], {}, /^cannot derive a service name from "___"; give --service NAME/],
  ['image with spaces', ['--image', 'a b'], {}, /^--image: "a b" is not valid; expected a value without spaces$/],
  ['bad host', [...IMAGE, '--host', 'not a host'], {}, /^--host: "not a host" is not a host/],
  ['upstream mode', [...IMAGE, '--upstream', 'host'], {}, /^--upstream: "host" is not a valid choice; expected one of auto, direct, published$/],
  ['upstream mode (env)', IMAGE, { SYMPHONY_UPSTREAM: 'bridge' }, /^SYMPHONY_UPSTREAM: "bridge" is not a valid choice; expected one of auto, direct, published$/],
  ['positional', [...IMAGE, 'extra'], {}, /^unexpected argument "extra"/],
  ['swarm runtime without network', ['--runtime', 'swarm', ...IMAGE], {}, /^--runtime swarm needs --network NAME, an attachable overlay network that symphony itself is attached to/],
  ['swarm runtime without image', ['--runtime', 'swarm', '--network', 'n'], {}, /^--runtime swarm needs --image IMAGE/],
  ['swarm runtime with backend', ['--runtime', 'swarm', '--network', 'n', '--backend', 'h:1'], {}, /^--runtime swarm runs --image as Swarm services; it cannot be combined with --backend/],
  ['constraint without swarm', [...IMAGE, '--constraint', 'node.role==worker'], {}, /^--constraint places Swarm services; it needs --runtime swarm \(--runtime is docker\)$/],
  ['placement-pref without swarm (env)', IMAGE, { SYMPHONY_PLACEMENT_PREF: 'spread=node.labels.zone' }, /^SYMPHONY_PLACEMENT_PREF places Swarm services; it needs --runtime swarm/],
  ['bad constraint', ['--runtime', 'swarm', '--network', 'n', ...IMAGE, '--constraint', 'role=worker'], {}, /^--constraint: "role=worker" is not valid; expected a Swarm placement constraint such as node\.role==worker/],
  ['bad placement-pref', ['--runtime', 'swarm', '--network', 'n', ...IMAGE, '--placement-pref', 'binpack=x'], {}, /^--placement-pref: "binpack=x" is not valid; expected spread=node\.labels\.LABEL$/],
  ['swarm service name too long', ['--runtime', 'swarm', '--network', 'n', ...IMAGE, '--service', 'a'.repeat(60)], {}, /^--service \(a{60}\) is too long for --runtime swarm/]
]

t.test('bad input: one-line messages naming the option, the value and what is expected', async t => {
  for (const [what, argv, env, re] of cases) {
    const message = fail(argv, env)
    t.match(message, re, `${what}: ${message}`)
    t.notMatch(message, /\n/, `${what}: one line`)
  }
})

t.test('accepted neighbours of the bad cases', async t => {
  const ok = (argv: string[], env: NodeJS.ProcessEnv = {}): boolean => 'config' in loadConfig(argv, env, { cpus: 2, nofile: 20_000 })
  t.ok(ok(['--backend', 'h:1', '--port', '9000', '--admin-port', '9000', '--host', '10.0.0.1']), 'same port on distinct hosts')
  t.ok(ok(['--backend', 'h:1', '--port', '0', '--admin-port', '0']), 'both ephemeral')
  t.ok(ok(['--backend', 'h:1', '--port', '8005']), 'static backends have no replica range')
  t.ok(ok([...IMAGE, '--base-port', '65526', '--max-containers', '10']), 'the last port is exactly 65535')
  t.ok(ok([...IMAGE, '--min-containers', '3', '--max-containers', '3']), 'min = max')
  t.ok(ok([...IMAGE, '--memory', '6mb']), 'Docker minimum memory')
  t.ok(ok([...IMAGE, '--max-connections', '0']), 'max-connections 0: no limit')
  t.ok(ok([...IMAGE, '--max-connections', '20000']), 'max-connections at the open-file limit')
  t.ok('config' in loadConfig([...IMAGE, '--max-connections', '5000000'], {}, { cpus: 2, nofile: null }), 'no known open-file limit: not checked')
  t.ok(ok([...IMAGE, '--health-timeout', '999ms']), 'health-timeout just below fault-interval')
  t.ok(ok(['--runtime', 'swarm', '--network', 'n', ...IMAGE, '--port', '8005']), 'swarm replicas publish no host port: no replica range')
  t.ok(ok(['--runtime', 'swarm', '--network', 'n', ...IMAGE, '--constraint', 'node.labels.zone != eu', '--placement-pref', 'spread=node.labels.zone']), 'constraint with spaces; a spread preference')
})

t.test('config file problems name the file', async t => {
  const dir = t.testdir({
    'unknown.yaml': 'image: x\nbase_scale: 3\n',
    'unknown-kebab.json': '{"image":"x","fault-intervall":"1s"}',
    'far.yaml': 'image: x\ncompletely_unrelated: 1\n',
    'types.yaml': 'image: x\nport: "abc"\n',
    'list.yaml': 'image: x\nbackend: 3000\n',
    'range.json': '{"image":"x","port":70000}',
    'bad.json': '{"image": "x",}',
    'bad.yaml': 'image: x\nimage: y\n',
    'top-list.yaml': '- image\n',
    'scalar.json': '42',
    'nested.yaml': 'image: x\nconfig: other.yaml\n',
    'twice.yaml': 'image: x\nfault_interval: 1s\nfault-interval: 2s\n',
    'window.yaml': 'image: x\nwindow: [1]\n',
    dir: {}
  })
  const at = (file: string): string[] => ['--config', join(dir, file)]
  const q = (file: string): string => JSON.stringify(join(dir, file)).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  const fileCases: Array<[string, string[], RegExp]> = [
    ['unknown snake key', at('unknown.yaml'), /^base_scale in .*unknown\.yaml: unknown option; did you mean base_scale_count\?$/],
    ['unknown kebab key', at('unknown-kebab.json'), /^fault-intervall in .*: unknown option; did you mean fault-interval\?$/],
    ['unknown key, no suggestion', at('far.yaml'), /^completely_unrelated in .*: unknown option; see --help for the options$/],
    ['wrong type', at('types.yaml'), /^port in .*types\.yaml: "abc" is not a port/],
    ['not a list', at('list.yaml'), /^backend in .*list\.yaml: 3000 is not a list; expected a list of strings$/],
    ['out of range', at('range.json'), /^port in .*range\.json: 70000 is out of range/],
    ['invalid JSON', at('bad.json'), new RegExp(`^config file ${q('bad.json')}: invalid JSON: `)],
    ['invalid YAML', at('bad.yaml'), new RegExp(`^config file ${q('bad.yaml')}: invalid YAML: Map keys must be unique at line 2, column 1$`)],
    ['a list', at('top-list.yaml'), /: expected a mapping of option names to values, got a list$/],
    ['a scalar', at('scalar.json'), /: expected a mapping of option names to values, got 42$/],
    ['nested config', at('nested.yaml'), /^config in .*: a config file cannot name another config file$/],
    ['same option twice', at('twice.yaml'), /^fault-interval in .*: the same option as fault_interval in .*; give it once$/],
    ['wrong duration type', at('window.yaml'), /^window in .*: \[1\] is not a duration/],
    ['missing', at('nope.yaml'), new RegExp(`^config file ${q('nope.yaml')}: no such file$`)],
    ['a directory', at('dir'), /: is a directory, not a file$/],
    ['empty --config', ['--config', ''], /^--config: "" is not a non-empty string/]
  ]
  for (const [what, argv, re] of fileCases) {
    const message = fail(argv)
    t.match(message, re, `${what}: ${message}`)
    t.notMatch(message, /\n/, `${what}: one line`)
  }
  t.match(fail([], { SYMPHONY_CONFIG: join(dir, 'nope.yaml') }), /^config file .*nope\.yaml.*: no such file$/, 'from SYMPHONY_CONFIG')
})

t.test('unreadable config file', { skip: process.getuid?.() === 0 ? 'root reads any file' : false }, async t => {
  const dir = t.testdir({ 'secret.yaml': 'image: x\n' })
  chmodSync(join(dir, 'secret.yaml'), 0o000)
  t.teardown(() => chmodSync(join(dir, 'secret.yaml'), 0o600))
  t.match(fail(['--config', join(dir, 'secret.yaml')]), /: permission denied$/)
})
