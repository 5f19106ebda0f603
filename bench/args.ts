/** Command-line flags of `npm run bench`, validated once. */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { SCENARIO_NAMES, type ScenarioName } from './scenarios'

/** Every target the bench knows, in the order each round runs them. */
export const TARGET_NAMES = ['direct', 'symphony', 'nginx', 'haproxy'] as const
export type TargetName = typeof TARGET_NAMES[number]

/**
 * Scenarios that are not a load run over the same targets but a measurement of their own, each
 * in its own module and results file: the cost curve over the backend count, RSS with idle
 * keep-alive connections, the control loop's timings with Docker, the data path to real
 * containers, and two threads against two nginx workers. `all` does not include them.
 */
export const MODE_NAMES = ['backends', 'idle10k', 'control', 'containers', 'threads2'] as const
export type ModeName = typeof MODE_NAMES[number]

/** The backend counts of the `backends` scenario by default; at most MAX_BACKENDS (256). */
export const DEFAULT_COUNTS = [1, 8, 64, 256] as const
const MAX_COUNT = 256

/** auto: wrk when installed, else autocannon; both: each scenario's rounds once with wrk, then once with autocannon. */
export type DriverChoice = 'auto' | 'wrk' | 'autocannon' | 'both'

/** The bench's options, with the defaults documented in bench/README.md. */
export interface BenchOptions {
  readonly rounds: number
  readonly durationS: number
  readonly warmupS: number
  readonly connections: number
  readonly driver: DriverChoice
  readonly scenarios: readonly ScenarioName[]
  /** The measurements of their own asked for with --scenario (run after the load scenarios). */
  readonly modes: readonly ModeName[]
  /** Backend counts of the `backends` scenario, ascending. */
  readonly counts: readonly number[]
  /** Client connections the `idle10k` scenario opens. */
  readonly idleConnections: number
  /** Seconds the `idle10k` scenario keeps them open and watches them after the last one opened. */
  readonly idleHoldS: number
  readonly targets: readonly TargetName[]
  /** Install missing nginx / haproxy / wrk with apt-get when running as root. */
  readonly install: boolean
  /** Results go to bench/results/<out>.{json,md}. */
  readonly out: string
  /**
   * Another symphony tree (built: DIR/bin/symphony.js and DIR/dist), run as the target
   * `baseline` right after `symphony` in every round of the load scenarios: a paired A/B of two
   * builds in one run. null: none.
   */
  readonly baseline: string | null
  /**
   * A root filesystem (scripts/trixie-rootfs.sh's, say) that --baseline lies in: the baseline then
   * runs as `chroot ROOT /usr/local/bin/node DIR/bin/symphony.js`, with that tree's own Node and
   * libraries, to compare two runtimes (issue #18: Node 24 + uWS 20.57 on Debian 13). null: none.
   */
  readonly baselineRoot: string | null
  /**
   * The `symphony` target writes an access log (JSON lines) to a temp file; `baseline` does not.
   * With `--baseline .` (this very build), symphony / baseline is what the access log costs.
   */
  readonly accessLog: boolean
  /** `--symphony-env KEY=VALUE`: variables set for the symphony target alone (not the baseline). */
  readonly symphonyEnv: Readonly<Record<string, string>>
  /** `--baseline-env KEY=VALUE`: the same for the baseline alone. */
  readonly baselineEnv: Readonly<Record<string, string>>
}

/** Usage text for --help. */
export const USAGE = `usage: npm run bench -- [--rounds N] [--duration S] [--warmup S] [--connections C]
                      [--driver wrk|autocannon|both] [--scenario NAME ...] [--target NAME ...] [--no-install] [--out NAME]
                      [--counts LIST] [--idle-connections N] [--idle-hold S] [--baseline DIR]
                      [--baseline-root ROOT] [--access-log] [--symphony-env KEY=VALUE ...]
                      [--baseline-env KEY=VALUE ...]
  --rounds N        measured rounds, each runs every target once (3..20, default 3)
  --duration S      seconds per measured run (1..60, default 5)
  --warmup S        seconds of warm-up per target before round 1 (0..30, default 2)
  --connections C   concurrent connections (1..1000, default 50; c10 and c200 use 10 and 200)
  --driver D        load generator: wrk, autocannon or both (each scenario's rounds with wrk, then with
                    autocannon); default: wrk when installed, else autocannon
  --scenario NAME   repeatable; one of ${SCENARIO_NAMES.join(', ')}, or all of these (default: small);
                    or a measurement of its own: backends (cost by backend count), idle10k (RSS with
                    idle keep-alive connections), control (autoscaler and healer timings with Docker;
                    --rounds repetitions), containers (CPU per request of every process in the path
                    to a real container, published port against direct), threads2 (symphony
                    --threads 2 against nginx with 2 workers, unpinned)
  --target NAME     repeatable; one of ${TARGET_NAMES.join(', ')} (default: all of them)
  --no-install      never apt-get install nginx, haproxy or wrk; skip what is missing
  --out NAME        write bench/results/NAME.{json,md}, and NAME-SCENARIO.{json,md} for backends,
                    idle10k and control (default: latest)
  --counts LIST     backend counts of the backends scenario, comma-separated (1..${MAX_COUNT}, default ${DEFAULT_COUNTS.join(',')})
  --idle-connections N  connections of the idle10k scenario (1..30000, default 10000)
  --idle-hold S     seconds idle10k keeps them open after the last one opened (1..120, default 15)
  --baseline DIR    another built symphony tree (DIR/bin/symphony.js), run as target baseline right after
                    symphony in each round of the load scenarios: symphony / baseline is a paired A/B
  --baseline-root ROOT  run the baseline chrooted in ROOT with ROOT's /usr/local/bin/node (as root);
                    --baseline is then a path inside ROOT
  --access-log      the symphony target writes --access-log to a temp file (baseline does not): with
                    --baseline . the paired ratio is the access log's cost
  --symphony-env KEY=VALUE  repeatable; set for the symphony target alone (not the baseline), e.g.
                    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072 as symphony's image sets it
  --baseline-env KEY=VALUE  repeatable; the same for the baseline alone (with --baseline . and
                    the variable on either side in turn, the variable's cost in both orders)
`

const LIMITS = {
  rounds: { flag: 'rounds', min: 3, max: 20, def: 3 },
  durationS: { flag: 'duration', min: 1, max: 60, def: 5 },
  warmupS: { flag: 'warmup', min: 0, max: 30, def: 2 },
  connections: { flag: 'connections', min: 1, max: 1000, def: 50 },
  idleConnections: { flag: 'idle-connections', min: 1, max: 30000, def: 10000 },
  idleHoldS: { flag: 'idle-hold', min: 1, max: 120, def: 15 }
} as const

/** Parse `argv`; null means --help was asked for. Throws a message naming the flag and value. */
export function parseBenchArgs (argv: string[]): BenchOptions | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      driver: { type: 'string' },
      scenario: { type: 'string', multiple: true },
      target: { type: 'string', multiple: true },
      'no-install': { type: 'boolean' },
      out: { type: 'string' },
      counts: { type: 'string' },
      'idle-connections': { type: 'string' },
      'idle-hold': { type: 'string' },
      baseline: { type: 'string' },
      'baseline-root': { type: 'string' },
      'access-log': { type: 'boolean' },
      'symphony-env': { type: 'string', multiple: true },
      'baseline-env': { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) return null
  const nums: Record<string, number> = {}
  for (const [key, { flag, min, max, def }] of Object.entries(LIMITS)) {
    const raw = values[flag]
    const n = raw === undefined ? def : Number(raw)
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new Error(`--${flag} ${String(raw)}: expected a whole number from ${min} to ${max}`)
    }
    nums[key] = n
  }
  const driver = values.driver ?? 'auto'
  if (!['auto', 'wrk', 'autocannon', 'both'].includes(driver)) {
    throw new Error(`--driver ${driver}: expected wrk, autocannon or both`)
  }
  const out = values.out ?? 'latest'
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(out)) throw new Error(`--out ${out}: expected a plain file name (letters, digits, . _ -)`)
  const given = values.scenario ?? []
  const modes = MODE_NAMES.filter((m) => given.includes(m))
  const rest = given.filter((g) => !(MODE_NAMES as readonly string[]).includes(g))
  // Only measurements of their own asked for: no load scenario unless named too.
  const scenarios = rest.length === 0 && modes.length > 0 ? [] : oneOf('scenario', rest, SCENARIO_NAMES, ['small'])
  const counts = parseCounts(values.counts)
  const baseline = values.baseline ?? null
  const baselineRoot = values['baseline-root'] === undefined ? null : path.resolve(values['baseline-root'])
  if (baselineRoot !== null && baseline === null) throw new Error('--baseline-root: needs --baseline (a tree inside it)')
  if (baselineRoot !== null && !existsSync(path.join(baselineRoot, 'usr', 'local', 'bin', 'node'))) {
    throw new Error(`--baseline-root ${baselineRoot}: expected a root filesystem with /usr/local/bin/node`)
  }
  if (baseline !== null && !existsSync(path.join(baselineRoot ?? '/', baseline, 'bin', 'symphony.js'))) {
    throw new Error(`--baseline ${baseline}: expected a built symphony tree (no bin/symphony.js there)`)
  }
  const targets = oneOf('target', values.target, TARGET_NAMES, TARGET_NAMES)
  return Object.freeze({
    rounds: nums.rounds,
    durationS: nums.durationS,
    warmupS: nums.warmupS,
    connections: nums.connections,
    driver: driver as DriverChoice,
    scenarios,
    modes,
    counts,
    idleConnections: nums.idleConnections,
    idleHoldS: nums.idleHoldS,
    targets,
    install: values['no-install'] !== true,
    out,
    baseline: baseline === null ? null : baselineRoot !== null ? path.posix.resolve('/', baseline) : path.resolve(baseline),
    baselineRoot,
    accessLog: values['access-log'] === true,
    symphonyEnv: parseEnv(values['symphony-env']),
    baselineEnv: parseEnv(values['baseline-env'], 'baseline-env')
  })
}

/** `--symphony-env KEY=VALUE` (or `--flag`'s), repeatable: a variable name, `=`, any value. */
export function parseEnv (raw: readonly string[] | undefined, flag = 'symphony-env'): Readonly<Record<string, string>> {
  const env: Record<string, string> = {}
  for (const kv of raw ?? []) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(kv)
    if (m === null) throw new Error(`--${flag} ${kv}: expected KEY=VALUE (a variable name, =, its value)`)
    env[m[1]] = m[2]
  }
  return env
}

/** `--counts 1,8,64,256`: whole numbers from 1 to 256, deduplicated, ascending. */
export function parseCounts (raw: string | undefined): readonly number[] {
  if (raw === undefined) return DEFAULT_COUNTS
  const out = new Set<number>()
  for (const part of raw.split(',')) {
    const n = Number(part.trim())
    if (part.trim() === '' || !Number.isInteger(n) || n < 1 || n > MAX_COUNT) {
      throw new Error(`--counts ${raw}: expected comma-separated whole numbers from 1 to ${MAX_COUNT}`)
    }
    out.add(n)
  }
  return [...out].sort((a, b) => a - b)
}

/** Validate a repeatable flag against `allowed` ("all" = every one), deduplicated, in `allowed`'s order. */
function oneOf<T extends string> (flag: string, given: string[] | undefined, allowed: readonly T[], def: readonly T[]): readonly T[] {
  if (given === undefined || given.length === 0) return def
  if (given.includes('all')) return allowed
  for (const g of given) {
    if (!(allowed as readonly string[]).includes(g)) {
      const extra = flag === 'scenario' ? `, ${MODE_NAMES.join(', ')}` : ''
      throw new Error(`--${flag} ${g}: expected one of ${allowed.join(', ')}${extra} or all`)
    }
  }
  return allowed.filter((a) => given.includes(a))
}
