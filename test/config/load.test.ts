import t from 'tap'
import { join } from 'node:path'
import { loadConfig, splitEnvPairs } from '../../src/config/load'
import { serviceFromImage } from '../../src/config/checks'
import { OPTIONS } from '../../src/config/schema'
import type { Config } from '../../src/config/types'

/** loadConfig with a fixed CPU count and open-file limit, expecting a config. */
function load (argv: string[], env: NodeJS.ProcessEnv = {}): Config {
  const result = loadConfig(argv, env, { cpus: 4, nofile: 65_536 })
  if (!('config' in result)) throw new Error('expected a config')
  return result.config
}

t.test('defaults', async t => {
  t.same(load(['--backend', '127.0.0.1:3000']), {
    port: 8080,
    host: '0.0.0.0',
    acmeDomains: [],
    acmeEmail: null,
    acmeDirectory: 'https://acme-v02.api.letsencrypt.org/directory',
    acmeCaFile: null,
    stateDir: '/var/lib/symphony',
    image: null,
    service: 'static',
    runtime: 'docker',
    command: null,
    containerPort: 80,
    basePort: 8000,
    upstream: 'auto',
    publishHost: '127.0.0.1',
    env: [],
    network: null,
    constraints: [],
    placementPrefs: [],
    memory: 0,
    cpus: 0,
    cleanupOnExit: false,
    takeover: false,
    rolloutSurge: 1,
    rolloutPaceMs: 0,
    rolloutDeadlineMs: 30_000,
    windowMs: 120_000,
    baseScaleCount: 20,
    minContainers: 1,
    maxContainers: 10,
    faultIntervalMs: 1000,
    healthPath: '/api/v1/_health',
    healthTimeoutMs: 800,
    unhealthyThreshold: 3,
    threads: 4,
    backends: [{ host: '127.0.0.1', port: 3000 }],
    connectTimeoutMs: 5000,
    responseTimeoutMs: 60_000,
    maxBodySize: 1024 ** 3,
    maxHeaderSize: 16_384,
    drainTimeoutMs: 30_000,
    maxConnections: 32_624, // (65 536 - 256 - 8 × 4 threads) / 2
    queueTimeoutMs: 10_000,
    queueLimit: 1000,
    replayBodyLimit: 65_536,
    adminHost: '127.0.0.1',
    adminPort: 9180,
    adminToken: null,
    logLevel: 'info',
    logFormat: 'auto',
    accessLog: null,
    accessLogFormat: 'json',
    tlsCerts: [],
    tlsKeys: [],
    httpPort: null
  })
})

t.test('every option sets its Config field from a flag', async t => {
  const config = load([
    '--port=0', '--host=::', '--image=ghcr.io/acme/Orders_API:1.2', '--service=orders', '--command=serve --fast',
    '--container-port=3000', '--base-port=9000', '--upstream=published', '--publish-host=localhost', '--env=A=1', '--env=B=x,y', '--network=backend',
    '--memory=512mb', '--cpus=1.5', '--cleanup-on-exit', '--takeover', '--rollout-surge=2', '--rollout-pace=5s', '--rollout-deadline=1m', '--window=90', '--base-scale-count=5', '--min-containers=2',
    '--max-containers=4', '--fault-interval=2s', '--health-path=/ping', '--health-timeout=500ms', '--unhealthy-threshold=5', '--threads=64',
    '--connect-timeout=250ms', '--response-timeout=1m', '--max-body-size=64KiB', '--max-header-size=8kb', '--drain-timeout=0', '--max-connections=65536', '--queue-timeout=0', '--queue-limit=5', '--replay-body-limit=1kb',
    '--admin-host=0.0.0.0', '--admin-port=0', '--admin-token=0123456789abcdef', '--log-level=DEBUG', '--log-format=JSON',
    '--access-log=/var/log/symphony/access.log', '--access-log-format=COMMON',
    '--tls-cert=/etc/tls/a.pem', '--tls-key=/etc/tls/a.key', '--tls-cert', '/etc/tls/b.pem', '--tls-key', '/etc/tls/b.key', '--http-port=8081',
    '--acme-domain=API.example.com', '--acme-domain=www.example.com', '--acme-email=ops@example.com',
    '--acme-directory=https://acme-staging-v02.api.letsencrypt.org/directory', '--acme-ca-file=/etc/ca.pem', '--state-dir=/srv/symphony'
  ])
  t.same(config, {
    port: 0,
    host: '::',
    acmeDomains: ['api.example.com', 'www.example.com'],
    acmeEmail: 'ops@example.com',
    acmeDirectory: 'https://acme-staging-v02.api.letsencrypt.org/directory',
    acmeCaFile: '/etc/ca.pem',
    stateDir: '/srv/symphony',
    image: 'ghcr.io/acme/Orders_API:1.2',
    service: 'orders',
    runtime: 'docker',
    command: 'serve --fast',
    containerPort: 3000,
    basePort: 9000,
    upstream: 'published',
    publishHost: 'localhost',
    env: ['A=1', 'B=x,y'],
    network: 'backend',
    constraints: [],
    placementPrefs: [],
    memory: 512 * 1024 ** 2,
    cpus: 1.5,
    cleanupOnExit: true,
    takeover: true,
    rolloutSurge: 2,
    rolloutPaceMs: 5000,
    rolloutDeadlineMs: 60_000,
    windowMs: 90_000,
    baseScaleCount: 5,
    minContainers: 2,
    maxContainers: 4,
    faultIntervalMs: 2000,
    healthPath: '/ping',
    healthTimeoutMs: 500,
    unhealthyThreshold: 5,
    threads: 64,
    backends: [],
    connectTimeoutMs: 250,
    responseTimeoutMs: 60_000,
    maxBodySize: 65_536,
    maxHeaderSize: 8192,
    drainTimeoutMs: 0,
    maxConnections: 65_536,
    queueTimeoutMs: 0,
    queueLimit: 5,
    replayBodyLimit: 1024,
    adminHost: '0.0.0.0',
    adminPort: 0,
    adminToken: '0123456789abcdef',
    logLevel: 'debug',
    logFormat: 'json',
    accessLog: '/var/log/symphony/access.log',
    accessLogFormat: 'common',
    tlsCerts: ['/etc/tls/a.pem', '/etc/tls/b.pem'],
    tlsKeys: ['/etc/tls/a.key', '/etc/tls/b.key'],
    httpPort: 8081
  })
  const keys = OPTIONS.flatMap(o => o.key === null ? [] : [o.key]).sort()
  t.same(Object.keys(config).sort(), keys, 'the schema covers exactly the Config fields')
})

t.test('--runtime swarm: placement passes through, from flags (repeated) or one variable (comma-separated)', async t => {
  const config = load(['--runtime=swarm', '--image=acme/api', '--network=apinet', '--constraint=node.role==worker', '--constraint', 'node.labels.zone!=eu', '--placement-pref=spread=node.labels.zone'])
  t.match(config, { runtime: 'swarm', network: 'apinet', constraints: ['node.role==worker', 'node.labels.zone!=eu'], placementPrefs: ['spread=node.labels.zone'] })
  const fromEnv = load(['--runtime=swarm', '--image=acme/api', '--network=apinet'], { SYMPHONY_CONSTRAINT: 'node.role==worker,node.labels.ssd==true' })
  t.same(fromEnv.constraints, ['node.role==worker', 'node.labels.ssd==true'])
})

t.test('an admin listener off loopback needs --admin-token', async t => {
  t.throws(() => load(['--backend=127.0.0.1:3000', '--admin-host=0.0.0.0']), /--admin-host \(0\.0\.0\.0\) is not a loopback address.*--admin-token/)
  t.throws(() => load(['--backend=127.0.0.1:3000', '--admin-host=0.0.0.0', '--admin-token=short']), /--admin-token: "short" is not valid/)
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) {
    t.equal(load(['--backend=127.0.0.1:3000', `--admin-host=${host}`]).adminToken, null, `${host} needs no token`)
  }
})

t.test('precedence: defaults < file < env < flags', async t => {
  const dir = t.testdir({
    'symphony.yaml': [
      'image: acme/api:1',
      'port: 1001',
      'admin_port: 1002',
      'window: 30          # a number is seconds',
      'fault-interval: 500ms',
      'base_scale_count: 7',
      'env: [FROM=file]',
      ''
    ].join('\n'),
    'symphony.json': JSON.stringify({ image: 'acme/api:1', port: 1001, 'admin-port': 1002, window: 30, fault_interval: '500ms', env: ['FROM=file'] })
  })
  for (const file of ['symphony.yaml', 'symphony.json']) {
    const path = join(dir, file)
    const fileOnly = load(['--config', path])
    t.equal(fileOnly.port, 1001, `${file}: file over default`)
    t.equal(fileOnly.windowMs, 30_000, `${file}: numeric duration is seconds`)
    t.equal(fileOnly.faultIntervalMs, 500, `${file}: snake_case or kebab-case keys`)
    t.equal(fileOnly.healthTimeoutMs, 400, `${file}: derived default follows the file`)
    t.equal(fileOnly.maxContainers, 10, `${file}: default where nothing is given`)
    t.equal(fileOnly.service, 'api', `${file}: service derived from the file's image`)

    const env = { SYMPHONY_CONFIG: path, SYMPHONY_PORT: '2001', SYMPHONY_ENV: 'FROM=env,OTHER=1', SYMPHONY_WINDOW: '' }
    const withEnv = load([], env)
    t.equal(withEnv.port, 2001, `${file}: env over file`)
    t.equal(withEnv.adminPort, 1002, `${file}: file still applies where env is silent`)
    t.equal(withEnv.windowMs, 30_000, `${file}: an empty variable counts as unset`)
    t.same(withEnv.env, ['FROM=env', 'OTHER=1'], `${file}: env list replaces the file's list`)

    const withFlags = load(['--port', '3001', '--env', 'FROM=flag'], env)
    t.equal(withFlags.port, 3001, `${file}: flag over env`)
    t.same(withFlags.env, ['FROM=flag'], `${file}: flag list replaces the env list`)
    t.equal(withFlags.adminPort, 1002, `${file}: file value survives`)
  }
})

t.test('--config wins over SYMPHONY_CONFIG', async t => {
  const dir = t.testdir({ 'a.json': '{"image":"a"}', 'b.json': '{"image":"b"}' })
  t.equal(load(['--config', join(dir, 'b.json')], { SYMPHONY_CONFIG: join(dir, 'a.json') }).image, 'b')
  t.equal(load([], { SYMPHONY_CONFIG: join(dir, 'a.json') }).image, 'a')
})

t.test('file value forms', async t => {
  const dir = t.testdir({
    'c.yaml': [
      'backend:',
      '  - 127.0.0.1:3000',
      '  - "[::1]:3001"',
      'cleanup_on_exit: yes',
      'max_body_size: 10mb',
      'memory: 67108864',
      'cpus: 0.5',
      'network: 123',
      'service: ~',
      ''
    ].join('\n'),
    'empty.yaml': '# nothing set here\n',
    'csv.json': '{"backend": "127.0.0.1:1,127.0.0.1:2", "cleanup-on-exit": true}'
  })
  const c = load(['--config', join(dir, 'c.yaml')])
  t.same(c.backends, [{ host: '127.0.0.1', port: 3000 }, { host: '::1', port: 3001 }])
  t.equal(c.cleanupOnExit, true, 'YAML 1.2 reads yes as a string; parseBool accepts it')
  t.equal(c.maxBodySize, 10 * 1024 ** 2)
  t.equal(c.memory, 64 * 1024 ** 2)
  t.equal(c.cpus, 0.5)
  t.equal(c.network, '123', 'a YAML number for a string option is its text')
  t.equal(c.service, 'static', 'null means not set')
  t.equal(load(['--config', join(dir, 'empty.yaml'), '--image', 'x']).image, 'x', 'an empty file sets nothing')
  const csv = load(['--config', join(dir, 'csv.json')])
  t.same(csv.backends.map(b => b.port), [1, 2], 'a comma-separated string is a list too')
  t.equal(csv.cleanupOnExit, true)
})

t.test('lists from env and flags', async t => {
  t.same(load([], { SYMPHONY_BACKEND: '127.0.0.1:3000, 127.0.0.1:3001' }).backends,
    [{ host: '127.0.0.1', port: 3000 }, { host: '127.0.0.1', port: 3001 }])
  t.same(load(['--backend', '127.0.0.1:1,[::1]:2', '--backend', 'h:3']).backends,
    [{ host: '127.0.0.1', port: 1 }, { host: '::1', port: 2 }, { host: 'h', port: 3 }])
  t.same(splitEnvPairs('A=1,B=2'), ['A=1', 'B=2'])
  t.same(splitEnvPairs('JAVA_OPTS=-Xms1g,-Xmx2g,B=2'), ['JAVA_OPTS=-Xms1g,-Xmx2g', 'B=2'], 'commas inside values stay')
  t.same(load(['--image', 'x'], { SYMPHONY_ENV: 'A=1,2,B=3' }).env, ['A=1,2', 'B=3'])
  t.same(load(['--image', 'x'], { PATH: '/bin', HOME: '/root', SYMPHONYX: '1' }).image, 'x', 'other variables are ignored')
})

t.test('derived defaults', async t => {
  t.equal(load(['--image', 'x', '--fault-interval', '10ms']).healthTimeoutMs, 8)
  const cpus = (n: number): number => {
    const r = loadConfig(['--image', 'x'], {}, { cpus: n })
    return 'config' in r ? r.config.threads : -1
  }
  t.equal(cpus(128), 64, 'at most 64 threads')
  t.equal(cpus(0), 1, 'at least one thread')
  const r = loadConfig(['--image', 'x'], {})
  t.ok('config' in r && r.config.threads >= 1 && r.config.threads <= 64, 'the real CPU count by default')
  t.equal(load(['--runtime', 'process', '--command', '/usr/bin/node server.js']).service, 'node', 'process runtime: from the command')

  const maxConnections = (nofile: number | null, threads = 2): number => {
    const r = loadConfig(['--image', 'x', '--threads', String(threads)], {}, { cpus: 4, nofile })
    return 'config' in r ? r.config.maxConnections : -1
  }
  t.equal(maxConnections(1_048_576), 524_152, 'Docker\'s default limit: half, less the reserve')
  t.equal(maxConnections(20_000), 9_864)
  t.equal(maxConnections(1024), 376, 'a 1024 limit (ulimit -Hn): 376, not more than the descriptors allow')
  t.equal(maxConnections(1024, 64), 128, '64 threads reserve 512 more')
  t.equal(maxConnections(300, 64), 1, 'never below 1')
  t.equal(maxConnections(null), 0, 'no /proc/self/limits: no limit')
  const real = loadConfig(['--image', 'x'], {})
  t.ok('config' in real && real.config.maxConnections > 0, 'from this machine\'s /proc/self/limits')
  t.equal(load(['--runtime', 'process', '--command', 'x', '--image', 'acme/api']).service, 'api', 'the image wins when given')

  const images: Array<[string, string]> = [
    ['nginx', 'nginx'], ['nginx:1.27-alpine', 'nginx'], ['library/nginx:latest', 'nginx'],
    ['ghcr.io/acme/My_API:1.2@sha256:abc', 'my-api'], ['localhost:5000/team/orders', 'orders'],
    ['registry:5000/app@sha256:0123', 'app'], ['acme/api.v2', 'api-v2'], ['__', '']
  ]
  for (const [image, service] of images) t.equal(serviceFromImage(image), service, image)
})

t.test('help and version results', async t => {
  const help = loadConfig(['--help'], { SYMPHONY_BOGUS: '1' })
  t.ok('help' in help && help.help.includes('--base-scale-count'), 'help, even with a bad environment')
  const version = loadConfig(['--version'], {})
  t.match('version' in version ? version.version : '', /^symphony \d+\.\d+\.\d+/)
})

t.test('the result is deeply frozen', async t => {
  const c = load(['--backend', '127.0.0.1:1', '--env', 'A=1'])
  t.ok(Object.isFrozen(c), 'config')
  t.ok(Object.isFrozen(c.backends), 'backends array')
  t.ok(Object.isFrozen(c.backends[0]), 'a backend')
  t.ok(Object.isFrozen(c.env), 'env array')
  t.throws(() => { (c as { port: number }).port = 1 }, TypeError)
  t.throws(() => { (c.backends as Array<{ host: string, port: number }>).push({ host: 'x', port: 2 }) }, TypeError)
  t.throws(() => { (c.backends[0] as { port: number }).port = 2 }, TypeError)
})
