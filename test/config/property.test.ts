/**
 * Property test of the configuration front door (issue 10): whatever argument list, environment
 * or config file a user gives, loading ends in a clean config that fits the shared table, in
 * --help/--version, or in a SymphonyError of one line with exit code 2 — never another exception,
 * which the CLI would print as "internal error" with a stack trace (exit 70).
 *
 * Inputs come from a seeded PRNG (mulberry32) so that a failure reproduces: the message of a
 * failing case names its seed and its arguments. SYMPHONY_PROPERTY_SEED replays one seed.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { loadConfig } from '../../src/config/load'
import { OPTIONS } from '../../src/config/schema'
import { SymphonyError } from '../../src/errors'
import { MAX_BACKENDS, MAX_HOST_BYTES, MAX_WORKERS, createTableBuffer } from '../../src/table/layout'
import { TableWriter } from '../../src/table/writer'
import type { Config } from '../../src/config/types'

/** mulberry32: a tiny seeded PRNG, enough to spread inputs and to replay them. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'symphony-property-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const files = {
  ok: path.join(dir, 'ok.yaml'),
  json: path.join(dir, 'weird.json'),
  badYaml: path.join(dir, 'bad.yaml'),
  newlineKey: path.join(dir, 'newline-key.json'),
  list: path.join(dir, 'list.yaml'),
  manyBackends: path.join(dir, 'many.yaml'),
  dir: path.join(dir, 'a-directory'),
  missing: path.join(dir, 'missing.yaml')
}
writeFileSync(files.ok, 'window: 30s\nmax_containers: 4\n')
writeFileSync(files.json, JSON.stringify({ 'fault-interval': 0.5, threads: [1, 2], backend: [{ host: 'x' }], env: 'A=1' }))
writeFileSync(files.badYaml, 'window: [unclosed\n  - : :\n')
writeFileSync(files.newlineKey, JSON.stringify({ 'max\ncontainers': 3, 'bad\nvalue': 'x\ny' }))
writeFileSync(files.list, '- a\n- b\n')
writeFileSync(files.manyBackends, `backend:\n${Array.from({ length: 300 }, (_, i) => `  - 127.0.0.1:${10000 + i}\n`).join('')}`)
mkdirSync(files.dir)

const LONG_HOST = `${'a'.repeat(60)}.${'b'.repeat(60)}.example` // a valid name, 129 bytes
const VALUES: readonly string[] = [
  '', ' ', '0', '1', '-1', '2', '3', '10', '64', '65', '255', '256', '257', '300', '1000', '65535', '65536', '99999999999999999999',
  '1e3', '0x10', '1.5', '.5', 'NaN', 'Infinity', '0.5', '500ms', '10ms', '5ms', '2m', '1h', '9999h', '-3s', '1.5s',
  '1kb', '48kb', '64kb', '1gb', '5mb', '1.5mb', '99999gb', 'true', 'false', 'yes', 'maybe',
  'debug', 'verbose', 'docker', 'process', 'acme/api', 'Acme_API:1.2', '!!!', '___', 'UPPER',
  '127.0.0.1', '::1', '[::1]', '0.0.0.0', 'localhost', 'bad host', LONG_HOST, 'a'.repeat(300), 'ü.example',
  '127.0.0.1:3000', '[::1]:3000', '::1:3000', 'h:0', 'h:70000', `${LONG_HOST}:80`, 'a,b', '127.0.0.1:1,127.0.0.1:2',
  'KEY=VALUE', '1BAD=x', 'NOEQ', 'A=1,B=2', '/api/v1/_health', 'no-slash', 'line\nbreak', 'tab\there', '\u0000',
  'abcdefghijklmnop0123', 'short', files.ok, files.json, files.badYaml, files.newlineKey, files.list, files.manyBackends, files.dir, files.missing
]
const FLAGS: readonly string[] = [...OPTIONS.map((o) => `--${o.flag}`), '--help', '--version', '-h', '--', '-x', '--bogus', '--max-contaners', '--prot']
const BASES: readonly string[][] = [
  ['--backend', '127.0.0.1:3000'],
  ['--image', 'acme/api'],
  ['--runtime', 'process', '--command', 'node server.js'],
  ['--image', 'acme/api', '--max-containers', '256', '--base-port', '20000'],
  ['--backend', '127.0.0.1:3000', '--backend', '[::1]:3001', '--threads', '2']
]

function pick<T> (rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)]
}

/** A random argument list: a valid base, mutated a few times. */
function generate (rand: () => number): { argv: string[], env: NodeJS.ProcessEnv } {
  const argv = rand() < 0.8 ? [...pick(rand, BASES)] : []
  const mutations = Math.floor(rand() * 4)
  for (let m = 0; m < mutations; m++) {
    const at = Math.floor(rand() * (argv.length + 1))
    const r = rand()
    if (r < 0.35) argv.splice(at, 0, pick(rand, FLAGS), pick(rand, VALUES))
    else if (r < 0.5) argv.splice(at, 0, `${pick(rand, FLAGS)}=${pick(rand, VALUES)}`)
    else if (r < 0.6) argv.splice(at, 0, pick(rand, FLAGS))
    else if (r < 0.66 && argv.length > 0) argv.splice(Math.min(at, argv.length - 1), 1)
    else if (r < 0.74) argv.push('--config', pick(rand, Object.values(files)))
    else if (r < 0.82 && argv.length > 0) argv[Math.min(at, argv.length - 1)] = pick(rand, VALUES)
    else if (r < 0.86 && argv.length > 0) argv.splice(at, 0, argv[Math.floor(rand() * argv.length)])
    else if (r < 0.9) {
      // Many fixed backends, around the table's capacity.
      const n = MAX_BACKENDS - 3 + Math.floor(rand() * 50)
      for (let i = 0; i < n; i++) argv.push('--backend', `127.0.0.1:${10000 + i}`)
    } else if (r < 0.95) argv.push('--max-containers', String(200 + Math.floor(rand() * 200)), '--base-port', String(60000 + Math.floor(rand() * 5600)))
    else argv.push('--backend', `${'h'.repeat(MAX_HOST_BYTES - 2 + Math.floor(rand() * 5))}:80`)
  }
  const env: NodeJS.ProcessEnv = {}
  if (rand() < 0.2) {
    const option = pick(rand, OPTIONS)
    env[rand() < 0.9 ? option.env : 'SYMPHONY_NOPE'] = pick(rand, VALUES)
  }
  return { argv, env }
}

/** A broken promise of the loader (its stack would only show this file). */
function violation (message: string): Error {
  const err = new Error(message)
  err.stack = message
  return err
}

type Outcome = { kind: 'config', config: Config } | { kind: 'text' } | { kind: 'refused', message: string }

/** Load, and fail the test with the reproduction when the outcome is not one of the three allowed. */
function outcome (argv: string[], env: NodeJS.ProcessEnv): Outcome | Error {
  try {
    const r = loadConfig(argv, env, { cpus: 2, nofile: 65536 })
    return 'config' in r ? { kind: 'config', config: r.config } : { kind: 'text' }
  } catch (err) {
    if (!(err instanceof SymphonyError)) return err as Error
    if (err.exitCode !== 2) return violation(`SymphonyError ${err.code} with exit code ${err.exitCode}, not 2`)
    if (/[\r\n]/.test(err.message)) return violation(`message of more than one line: ${JSON.stringify(err.message)}`)
    return { kind: 'refused', message: err.message }
  }
}

/** What an accepted configuration promises: it fits the shared table and its own rules. */
function fits (c: Config): string | null {
  if (c.backends.length > MAX_BACKENDS) return `${c.backends.length} backends`
  if (c.threads < 1 || c.threads > MAX_WORKERS) return `threads ${c.threads}`
  if (c.maxContainers > MAX_BACKENDS || c.minContainers > c.maxContainers) return `containers ${c.minContainers}-${c.maxContainers}`
  if (c.backends.length === 0 && c.basePort + c.maxContainers - 1 > 65535) return `ports ${c.basePort}+${c.maxContainers}`
  if (c.healthTimeoutMs >= c.faultIntervalMs) return 'health timeout'
  if (!Object.isFrozen(c)) return 'not frozen'
  // The real table writer takes every backend (it throws a RangeError where a slot cannot).
  const table = new TableWriter(createTableBuffer())
  c.backends.forEach((b, slot) => table.assign(slot, b.host, b.port))
  if (c.image !== null && Buffer.byteLength(c.publishHost) > MAX_HOST_BYTES) return 'publish host too long'
  return null
}

const fixedSeed = process.env.SYMPHONY_PROPERTY_SEED
const SEEDS = fixedSeed !== undefined ? [Number(fixedSeed)] : Array.from({ length: 3000 }, (_, i) => 0x5eed + i)
/** Refused argument lists, for the real CLI below. */
const refusedSamples: Array<{ argv: string[], message: string }> = []

t.test(`loadConfig over ${SEEDS.length} random and mutated argument lists`, async (t) => {
  const seen = { config: 0, text: 0, refused: 0 }
  let failures = 0
  for (const seed of SEEDS) {
    if (failures >= 10) break // enough to reproduce; the rest would repeat them
    const rand = prng(seed)
    const { argv, env } = generate(rand)
    const o = outcome(argv, env)
    const repro = `seed ${seed}: ${JSON.stringify(argv).slice(0, 400)} env ${JSON.stringify(env)}`
    if (o instanceof Error) {
      t.fail(`${repro}: ${o.stack ?? o.message}`)
      failures++
      continue
    }
    seen[o.kind]++
    if (o.kind === 'config') {
      let broken: string | null
      try { broken = fits(o.config) } catch (err) { broken = String(err) }
      if (broken !== null) { t.fail(`${repro}: accepted but does not fit: ${broken}`); failures++ }
    }
    // A NUL cannot be in a real command line (execve ends the argument there; spawn refuses it).
    if (o.kind === 'refused' && Object.keys(env).length === 0 && refusedSamples.length < 400 && !argv.some((a) => a.includes('\u0000'))) refusedSamples.push({ argv, message: o.message })
  }
  t.pass(`outcomes: ${JSON.stringify(seen)}`)
  if (fixedSeed === undefined) {
    // The generator must reach all three outcomes, or the property proves little.
    t.ok(seen.config > 100 && seen.refused > 500 && seen.text > 10, 'every kind of outcome was reached')
  }
})

t.test('capacity limits of the shared table are config errors naming option, value and limit', async (t) => {
  const many = Array.from({ length: 300 }, (_, i) => ['--backend', `127.0.0.1:${10000 + i}`]).flat()
  const cases: Array<[string, string[], RegExp]> = [
    ['300 backends', many, new RegExp(`^--backend: 300 backends given; the backend table holds at most ${MAX_BACKENDS}$`)],
    ['300 backends from a file', ['--config', files.manyBackends], new RegExp(`^backend in ${files.manyBackends.replace(/[.]/g, '\\.')}: 300 backends given; the backend table holds at most ${MAX_BACKENDS}$`)],
    [`${MAX_BACKENDS} backends fit`, many.slice(0, 2 * MAX_BACKENDS), /^<accepted>$/],
    ['a backend host longer than a slot', ['--backend', `${LONG_HOST}:80`], new RegExp(`^--backend: host "${LONG_HOST.slice(0, 50)}.* is ${Buffer.byteLength(LONG_HOST)} bytes long; a backend table slot holds at most ${MAX_HOST_BYTES}`)],
    ['a publish host longer than a slot', ['--image', 'acme/api', '--publish-host', LONG_HOST], new RegExp(`^--publish-host: ".* is ${Buffer.byteLength(LONG_HOST)} bytes long; a backend table slot holds at most ${MAX_HOST_BYTES}`)],
    ['max-containers above the table', ['--image', 'acme/api', '--max-containers', '300'], new RegExp(`^--max-containers: "300" is out of range; expected an integer from 1 to ${MAX_BACKENDS}$`)],
    ['min-containers above the table', ['--image', 'acme/api', '--min-containers', '257'], new RegExp(`^--min-containers: "257" is out of range; expected an integer from 1 to ${MAX_BACKENDS}$`)],
    ['threads above the table', ['--image', 'acme/api', '--threads', String(MAX_WORKERS + 1)], new RegExp(`^--threads: "${MAX_WORKERS + 1}" is out of range; expected an integer from 1 to ${MAX_WORKERS}$`)],
    ['replica ports past 65535', ['--image', 'acme/api', '--max-containers', '256', '--base-port', '65400'], /^--base-port \(65400\) \+ --max-containers \(256\) - 1 = 65655 is above 65535; lower one of them$/]
  ]
  for (const [what, argv, expected] of cases) {
    const o = outcome(argv, {})
    if (o instanceof Error) { t.fail(`${what}: ${o.message}`); continue }
    t.match(o.kind === 'refused' ? o.message : `<${o.kind === 'config' ? 'accepted' : 'text'}>`, expected, what)
  }
})

/** Run the real CLI; its exit code and stderr. */
function cli (argv: string[]): Promise<{ code: number | null, stderr: string }> {
  const bin = path.join(__dirname, '..', '..', '..', 'bin', 'symphony.js')
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...argv], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d) => { stderr += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, stderr }) })
  })
}

t.test('the real CLI refuses a sample of them with exit 2 and one line', async (t) => {
  const many = Array.from({ length: 300 }, (_, i) => ['--backend', `127.0.0.1:${10000 + i}`]).flat()
  const rand = prng(fixedSeed !== undefined ? Number(fixedSeed) : 42)
  const sample = [
    { argv: many, message: '--backend: 300 backends given' },
    { argv: ['--backend', `${LONG_HOST}:80`], message: '--backend: host' },
    { argv: ['--image', 'acme/api', '--max-containers', '300'], message: '--max-containers: "300" is out of range' },
    // A process's argv cannot carry a NUL byte (spawn refuses it), so no user can type those cases;
    // loadConfig's own refusal of them is checked above. (Adding options moved the sample onto one.)
    ...Array.from({ length: 16 }, () => refusedSamples[Math.floor(rand() * refusedSamples.length)]).filter((s) => s !== undefined && !s.argv.some((a) => a.includes('\0')))
  ]
  t.ok(sample.length >= 10, `${sample.length} argument lists`)
  for (let i = 0; i < sample.length; i += 4) {
    await Promise.all(sample.slice(i, i + 4).map(async ({ argv, message }) => {
      const { code, stderr } = await cli(argv)
      const what = JSON.stringify(argv).slice(0, 120)
      t.equal(code, 2, `exit 2: ${what}`)
      t.notMatch(stderr, /internal error|\n\s+at /, `no stack trace: ${what}`)
      t.match(stderr, /^symphony: [^\n]+\n$/, `one line on stderr: ${what}`)
      t.ok(stderr.includes(message.split('\n')[0].slice(0, 60)), `the message loadConfig gave: ${what}`)
    }))
  }
})
