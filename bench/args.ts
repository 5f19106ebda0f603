/** Command-line flags of `npm run bench`, validated once. */
import { parseArgs } from 'node:util'
import { SCENARIO_NAMES, type ScenarioName } from './scenarios'

/** Every target the bench knows, in the order each round runs them. */
export const TARGET_NAMES = ['direct', 'symphony', 'nginx', 'haproxy'] as const
export type TargetName = typeof TARGET_NAMES[number]

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
  readonly targets: readonly TargetName[]
  /** Install missing nginx / haproxy / wrk with apt-get when running as root. */
  readonly install: boolean
  /** Results go to bench/results/<out>.{json,md}. */
  readonly out: string
}

/** Usage text for --help. */
export const USAGE = `usage: npm run bench -- [--rounds N] [--duration S] [--warmup S] [--connections C]
                      [--driver wrk|autocannon|both] [--scenario NAME ...] [--target NAME ...] [--no-install] [--out NAME]
  --rounds N        measured rounds, each runs every target once (3..20, default 3)
  --duration S      seconds per measured run (1..60, default 5)
  --warmup S        seconds of warm-up per target before round 1 (0..30, default 2)
  --connections C   concurrent connections (1..1000, default 50; the c200 scenario uses 200)
  --driver D        load generator: wrk, autocannon or both (each scenario's rounds with wrk, then with
                    autocannon); default: wrk when installed, else autocannon
  --scenario NAME   repeatable; one of ${SCENARIO_NAMES.join(', ')}, or all (default: small)
  --target NAME     repeatable; one of ${TARGET_NAMES.join(', ')} (default: all of them)
  --no-install      never apt-get install nginx, haproxy or wrk; skip what is missing
  --out NAME        write bench/results/NAME.{json,md} (default: latest)
`

const LIMITS = {
  rounds: { flag: 'rounds', min: 3, max: 20, def: 3 },
  durationS: { flag: 'duration', min: 1, max: 60, def: 5 },
  warmupS: { flag: 'warmup', min: 0, max: 30, def: 2 },
  connections: { flag: 'connections', min: 1, max: 1000, def: 50 }
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
  const scenarios = oneOf('scenario', values.scenario, SCENARIO_NAMES, ['small'])
  const targets = oneOf('target', values.target, TARGET_NAMES, TARGET_NAMES)
  return Object.freeze({
    rounds: nums.rounds,
    durationS: nums.durationS,
    warmupS: nums.warmupS,
    connections: nums.connections,
    driver: driver as DriverChoice,
    scenarios,
    targets,
    install: values['no-install'] !== true,
    out
  })
}

/** Validate a repeatable flag against `allowed` ("all" = every one), deduplicated, in `allowed`'s order. */
function oneOf<T extends string> (flag: string, given: string[] | undefined, allowed: readonly T[], def: readonly T[]): readonly T[] {
  if (given === undefined || given.length === 0) return def
  if (given.includes('all')) return allowed
  for (const g of given) {
    if (!(allowed as readonly string[]).includes(g)) throw new Error(`--${flag} ${g}: expected one of ${allowed.join(', ')} or all`)
  }
  return allowed.filter((a) => given.includes(a))
}
