/**
 * Builds the one Config of a run: defaults < config file < SYMPHONY_* environment < flags, every
 * value parsed by the schema's parser with the name the user wrote, then derived defaults,
 * cross-field checks, and a deep freeze. Nothing else reads argv or the environment.
 */
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { extname } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { ConfigError } from '../errors'
import { closest, parseArgv } from './argv'
import { checkConfig, type Origin } from './checks'
import { renderHelp, renderVersion } from './help'
import * as p from './parse-values'
import { OPTIONS, envName, isDerived, optionByFlag, type OptionSpec } from './schema'
import type { Config } from './types'

/** What the command line asked for: a configuration to run, or a text to print. */
export type LoadResult =
  | { readonly config: Config }
  | { readonly help: string }
  | { readonly version: string }

/** Facts about the machine, injectable so that tests do not depend on the host. */
export interface LoadOptions {
  /** Default for --threads; os.availableParallelism() when absent. */
  readonly cpus?: number
  /** Open-file limit behind the default --max-connections; read from /proc/self/limits when absent. */
  readonly nofile?: number | null
}

/** Where a raw value was read; list values are split differently per source. */
type Source = 'flag' | 'env' | 'file' | 'default'
interface RawValue { readonly raw: unknown, readonly where: string, readonly source: Source }

/**
 * Parses argv (without node and script) and the environment into a frozen Config.
 * @throws ConfigError naming the option as the user wrote it, the value and what is expected.
 */
export function loadConfig (argv: readonly string[], env: NodeJS.ProcessEnv, opts: LoadOptions = {}): LoadResult {
  const args = parseArgv(argv)
  if (args.kind === 'help') return { help: renderHelp() }
  if (args.kind === 'version') return { version: renderVersion() }

  const flags = new Map<OptionSpec, RawValue>()
  for (const [option, raw] of args.values) flags.set(option, { raw, where: `--${option.flag}`, source: 'flag' })
  const fromEnv = readEnv(env)
  const configOption = optionByFlag('config') as OptionSpec
  const configRaw = flags.get(configOption) ?? fromEnv.get(configOption)
  const fromFile = configRaw === undefined
    ? new Map<OptionSpec, RawValue>()
    : readConfigFile(p.parseString(configRaw.raw, configRaw.where))

  const values: Record<string, unknown> = {}
  const origins = new Map<keyof Config, Origin>()
  for (const option of OPTIONS) {
    if (option.key === null) continue
    const given = flags.get(option) ?? fromEnv.get(option) ?? fromFile.get(option)
    const d = option.default
    if (given !== undefined) {
      values[option.key] = parseOption(option, given)
    } else if (!isDerived(d)) {
      values[option.key] = d === null ? null : parseDefault(option, d)
    }
    origins.set(option.key, { where: given?.where ?? `--${option.flag}`, isDefault: given === undefined })
  }

  const config = checkConfig(values, origins, { cpus: opts.cpus ?? availableParallelism(), nofile: opts.nofile === undefined ? readNofile() : opts.nofile })
  return { config: deepFreeze(config) }
}

/**
 * This process's soft open-file limit, or null off Linux. Node raises the soft limit to the hard
 * one at start-up, so this is `ulimit -Hn` of the shell that started symphony.
 */
function readNofile (): number | null {
  try {
    return nofileSoftLimit(readFileSync('/proc/self/limits', 'latin1'))
  } catch {
    return null
  }
}

/** The soft limit of the `Max open files` line of a /proc/PID/limits text; null if absent or unlimited. */
export function nofileSoftLimit (limits: string): number | null {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits)
  return m === null || m[1] === 'unlimited' ? null : Number(m[1])
}

/** Defaults parse like user input so that help and behaviour agree; a failure is our bug, not the user's. */
function parseDefault (option: OptionSpec, raw: unknown): unknown {
  try {
    return parseOption(option, { raw, where: `--${option.flag}`, source: 'default' })
  } catch (err) {
    throw new Error(`schema.ts: invalid default for --${option.flag}`, { cause: err })
  }
}

/** One raw value through the parser its kind calls for. */
function parseOption (option: OptionSpec, { raw, where, source }: RawValue): unknown {
  const range = { min: option.min, max: option.max }
  switch (option.kind) {
    case 'int': return p.parseInteger(raw, where, range)
    case 'number': return p.parseNumber(raw, where, range)
    case 'duration': return p.parseDuration(raw, where, { ...range, allowZero: option.allowZero })
    case 'size': return p.parseSize(raw, where, range)
    case 'port': return p.parsePort(raw, where, option.allowEphemeral)
    case 'host': return p.parseHost(raw, where)
    case 'bool': return p.parseBool(raw, where)
    case 'enum': return p.parseEnum(raw, where, option.values ?? [])
    case 'string':
    case 'path':
      // YAML reads `network: 123` as a number; the user meant the text.
      return p.parseString(typeof raw === 'number' ? String(raw) : raw, where, option.pattern)
    case 'host-port-list':
      // A host never contains a comma, so a comma always separates two backends.
      return listItems(raw, where).flatMap(item => typeof item === 'string' ? item.split(',') : [item]).map(item => p.parseHostPort(item, where))
    case 'env-list':
      return (source === 'env' && typeof raw === 'string' ? splitEnvPairs(raw) : listItems(raw, where))
        .map(item => p.parseEnvPair(item, where))
    case 'string-list':
      // Neither constraints nor placement preferences contain a comma: in a variable, it separates them.
      return (source === 'env' && typeof raw === 'string' ? raw.split(',') : listItems(raw, where))
        .map(item => p.parseString(typeof item === 'string' ? item.trim() : item, where, option.pattern))
  }
}

function listItems (raw: unknown, where: string): readonly unknown[] {
  if (Array.isArray(raw)) return raw
  if (typeof raw === 'string') return [raw]
  throw new ConfigError(`${where}: ${p.show(raw)} is not a list; expected a list of strings`)
}

/**
 * SYMPHONY_ENV holds several KEY=VALUE pairs in one variable. Values may contain commas
 * (`JAVA_OPTS=-Xms1g,-Xmx2g`), so split only at a comma that starts a new `KEY=`.
 */
export function splitEnvPairs (value: string): string[] {
  return value.split(/,(?=[A-Za-z_][A-Za-z0-9_]*=)/)
}

/** SYMPHONY_* variables; any other variable is not ours to read. Empty means unset. */
function readEnv (env: NodeJS.ProcessEnv): Map<OptionSpec, RawValue> {
  const found = new Map<OptionSpec, RawValue>()
  const flags = OPTIONS.map(o => o.flag)
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('SYMPHONY_') || raw === undefined || raw === '') continue
    const option = OPTIONS.find(o => o.env === name)
    if (option === undefined) {
      const guess = closest(name.slice('SYMPHONY_'.length).toLowerCase().replace(/_/g, '-'), flags)
      const hint = guess === undefined ? 'unset it, or see --help for the variables' : `did you mean ${envName(guess)}?`
      throw new ConfigError(`${name}: unknown environment variable; ${hint}`)
    }
    found.set(option, { raw, where: name, source: 'env' })
  }
  return found
}

/**
 * Reads a JSON or YAML config file. Keys are option names in kebab-case or snake_case; durations
 * given as numbers are seconds, as on the command line.
 */
function readConfigFile (file: string): Map<OptionSpec, RawValue> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`config file ${JSON.stringify(file)}: ${describeFsError(err)}`, { cause: err })
  }
  let doc: unknown
  const json = extname(file).toLowerCase() === '.json'
  try {
    // YAML 1.2 is a superset of JSON, but JSON.parse gives the clearer message for .json files.
    doc = json ? JSON.parse(text) : parseYaml(text)
  } catch (err) {
    const detail = (err instanceof Error ? err.message : String(err)).split('\n')[0].replace(/:$/, '')
    throw new ConfigError(`config file ${JSON.stringify(file)}: invalid ${json ? 'JSON' : 'YAML'}: ${detail}`, { cause: err })
  }
  doc ??= {} // an empty YAML file (or only comments) sets nothing
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    const got = Array.isArray(doc) ? 'a list' : p.show(doc)
    throw new ConfigError(`config file ${JSON.stringify(file)}: expected a mapping of option names to values, got ${got}`)
  }

  const found = new Map<OptionSpec, RawValue>()
  for (const [key, raw] of Object.entries(doc as Record<string, unknown>)) {
    // A key (or file name) with a line break or other control character is quoted, so that
    // every message stays on one line.
    const where = `${plain(key) ? key : JSON.stringify(key)} in ${plain(file) ? file : JSON.stringify(file)}`
    const option = optionByFlag(key.replace(/_/g, '-'))
    if (option === undefined) {
      const snake = key.includes('_')
      const guess = closest(key.replace(/_/g, '-').toLowerCase(), OPTIONS.map(o => o.flag))
      const hint = guess === undefined ? 'see --help for the options' : `did you mean ${snake ? guess.replace(/-/g, '_') : guess}?`
      throw new ConfigError(`${where}: unknown option; ${hint}`)
    }
    if (option.key === null) throw new ConfigError(`${where}: a config file cannot name another config file`)
    const twin = found.get(option)
    if (twin !== undefined) throw new ConfigError(`${where}: the same option as ${twin.where}; give it once`)
    // YAML `image:` with nothing after it is null: treat it as not set here.
    if (raw !== null) found.set(option, { raw, where, source: 'file' })
  }
  return found
}

/** Whether `text` can be shown as it is in a one-line message (no control characters). */
function plain (text: string): boolean {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
  return !/[\u0000-\u001f\u007f]/.test(text)
}

function describeFsError (err: unknown): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT': return 'no such file'
    case 'EACCES':
    case 'EPERM': return 'permission denied'
    case 'EISDIR': return 'is a directory, not a file'
    default: return `cannot be read (${(err instanceof Error ? err.message : String(err)).split('\n')[0]})`
  }
}

/** Freezes `value` and everything reachable from it, so no module can change the config of others. */
export function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
