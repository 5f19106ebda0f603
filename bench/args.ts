/** Command-line flags of `npm run bench`, validated once. */
import { parseArgs } from 'node:util'

/** The bench's options, with the defaults documented in bench/README.md. */
export interface BenchOptions {
  readonly rounds: number
  readonly durationS: number
  readonly warmupS: number
  readonly connections: number
}

/** Usage text for --help. */
export const USAGE = `usage: npm run bench -- [--rounds N] [--duration S] [--warmup S] [--connections C]
  --rounds N        measured rounds, each runs every target once (3..20, default 3)
  --duration S      seconds per measured run (1..60, default 5)
  --warmup S        seconds of warm-up per target before round 1 (0..30, default 2)
  --connections C   concurrent keep-alive connections (1..1000, default 50)
`

const LIMITS: Record<keyof BenchOptions, { flag: string, min: number, max: number, def: number }> = {
  rounds: { flag: 'rounds', min: 3, max: 20, def: 3 },
  durationS: { flag: 'duration', min: 1, max: 60, def: 5 },
  warmupS: { flag: 'warmup', min: 0, max: 30, def: 2 },
  connections: { flag: 'connections', min: 1, max: 1000, def: 50 }
}

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
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) return null
  const out: Record<string, number> = {}
  for (const [key, { flag, min, max, def }] of Object.entries(LIMITS)) {
    const raw = values[flag as 'rounds' | 'duration' | 'warmup' | 'connections']
    const n = raw === undefined ? def : Number(raw)
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new Error(`--${flag} ${String(raw)}: expected a whole number from ${min} to ${max}`)
    }
    out[key] = n
  }
  return Object.freeze(out as unknown as BenchOptions)
}
