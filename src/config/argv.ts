/**
 * Command-line syntax, driven by the schema: `--opt value`, `--opt=value`, bare boolean flags
 * (`--cleanup-on-exit`, `--cleanup-on-exit=false`), repeatable options, `--help`/`-h`,
 * `--version`. Values stay raw strings here; load.ts parses them with the other sources so that
 * one code path validates every value.
 */
import { ConfigError } from '../errors'
import { OPTIONS, isRepeatable, optionByFlag, type OptionSpec } from './schema'
import { show } from './parse-values'

/** A raw flag value: text, `true` for a bare boolean flag, or the list of a repeatable option. */
export type RawFlag = string | true | readonly string[]

export type ArgvResult =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'options', readonly values: ReadonlyMap<OptionSpec, RawFlag> }

const ACTIONS = ['help', 'version'] as const

/**
 * Parses `argv` (without node and script). `--help` and `--version` win over any other
 * argument, even a malformed one, so that `symphony --bogus --help` still shows the help.
 * @throws ConfigError on unknown options, missing values, repeats and positional arguments.
 */
export function parseArgv (argv: readonly string[]): ArgvResult {
  const values = new Map<OptionSpec, RawFlag>()
  let action: 'help' | 'version' | undefined
  let error: ConfigError | undefined
  const record = (e: ConfigError): void => { error ??= e }

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '-h') { action ??= 'help'; continue }
    if (!arg.startsWith('--') || arg === '--') {
      record(positional(arg, argv[i - 1]))
      continue
    }
    const eq = arg.indexOf('=')
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq)
    const inline = eq === -1 ? undefined : arg.slice(eq + 1)

    if ((ACTIONS as readonly string[]).includes(name)) {
      if (inline !== undefined) record(new ConfigError(`--${name} takes no value`))
      else action ??= name as 'help' | 'version'
      continue
    }
    const option = optionByFlag(name)
    if (option === undefined) {
      record(unknownOption(`--${name}`, name))
      continue
    }

    let value: string | true
    if (inline !== undefined) {
      value = inline
    } else if (option.kind === 'bool') {
      value = true
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
      value = argv[++i]
    } else {
      record(new ConfigError(`--${name}: missing value; expected ${describeKind(option)}`))
      continue
    }

    const previous = values.get(option)
    if (isRepeatable(option)) {
      values.set(option, [...(previous as readonly string[] | undefined ?? []), String(value)])
    } else if (previous !== undefined) {
      record(new ConfigError(`--${name} given twice (${show(previous)} and ${show(value)}); give it once`))
    } else {
      values.set(option, value)
    }
  }

  if (action !== undefined) return { kind: action }
  if (error !== undefined) throw error
  return { kind: 'options', values }
}

function positional (arg: string, previous: string | undefined): ConfigError {
  const prev = previous === undefined ? undefined : optionByFlag(previous.slice(2))
  // `--cleanup-on-exit false` reads naturally but a bare boolean flag takes no separate value.
  if (prev?.kind === 'bool' && /^(true|false|yes|no|1|0)$/i.test(arg)) {
    return new ConfigError(`unexpected argument ${show(arg)}; write --${prev.flag}=${arg}`)
  }
  return new ConfigError(`unexpected argument ${show(arg)}; symphony takes only --options (see --help)`)
}

/** What an option's value looks like, for "missing value" messages. */
function describeKind (option: OptionSpec): string {
  switch (option.kind) {
    case 'duration': return 'a duration (0.5, 500ms, 2m)'
    case 'size': return 'a size (1048576, 64kb, 1gb)'
    case 'port': return 'a port'
    case 'int': return 'an integer'
    case 'number': return 'a number'
    case 'enum': return `one of ${(option.values ?? []).join(', ')}`
    case 'host-port-list': return 'HOST:PORT'
    case 'env-list': return 'KEY=VALUE'
    case 'string-list': return option.pattern?.expected ?? 'text'
    case 'host': return 'a host'
    case 'path': return 'a file path'
    default: return option.metavar ?? 'a value'
  }
}

/** An "unknown option" error for `written`, with the closest known name when one is close. */
export function unknownOption (written: string, name: string): ConfigError {
  const flags = [...OPTIONS.map(o => o.flag), ...ACTIONS]
  const guess = closest(name.replace(/_/g, '-').toLowerCase(), flags)
  const hint = guess === undefined ? '; see --help for the options' : `; did you mean --${guess}?`
  return new ConfigError(`${written}: unknown option${hint}`)
}

/**
 * The candidate closest to `name`: a unique candidate it is a prefix of, or else the nearest
 * by edit distance (with transpositions) when that distance is small for the word's length.
 */
export function closest (name: string, candidates: readonly string[]): string | undefined {
  if (name === '') return undefined
  if (candidates.includes(name)) return name
  const prefixed = candidates.filter(c => c.startsWith(name))
  if (prefixed.length === 1 && name.length >= 3) return prefixed[0]
  let best: string | undefined
  let bestDistance = Math.max(1, Math.floor(name.length / 3)) + 1
  for (const c of candidates) {
    const d = editDistance(name, c)
    if (d < bestDistance) { best = c; bestDistance = d }
  }
  return best
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions (`prot` → `port`). */
export function editDistance (a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
      }
    }
  }
  return d[a.length][b.length]
}
