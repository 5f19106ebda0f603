/**
 * `symphony --help`, `--version` and the options table of docs/options.md, generated from the schema so
 * that they cannot drift from what the parser accepts.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { GROUPS, OPTIONS, isDerived, type OptionSpec } from './schema'

const USAGE = `Usage: symphony --image IMAGE [options]
       symphony --backend HOST:PORT [--backend HOST:PORT ...] [options]
       symphony --runtime process --command CMD [options]

Gateway and autoscaler for containerised REST APIs: proxies requests round robin over the
replicas of a service, starts and stops replicas with the load, and replaces unhealthy ones.`

const NOTES = `Options come from, lowest to highest precedence: defaults, the --config file (kebab-case or
snake_case keys), SYMPHONY_* environment variables, flags.
Durations: seconds (0.5, 120) or a number with a unit: 500ms, 1.5s, 2m, 1h.
Sizes: bytes, or a number with a unit: 64kb, 1.5mb, 1gb (1kb = 1024 bytes).
Lists: repeat the flag; in a SYMPHONY_* variable separate the items with commas.`

const ACTIONS: ReadonlyArray<readonly [string, string]> = [
  ['-h, --help', 'Print this help and exit'],
  ['--version', 'Print the version and exit']
]

/** `--flag METAVAR` as it appears in help. */
export function usageOf (option: OptionSpec): string {
  const meta = metavar(option)
  return meta === '' ? `--${option.flag}` : `--${option.flag} ${meta}`
}

function metavar (option: OptionSpec): string {
  if (option.metavar !== undefined) return option.metavar
  switch (option.kind) {
    case 'bool': return ''
    case 'enum': return (option.values ?? []).join('|')
    case 'int':
    case 'number': return 'N'
    case 'path': return 'FILE'
    case 'host-port-list': return 'HOST:PORT'
    case 'env-list': return 'KEY=VALUE'
    case 'string-list': return 'TEXT'
    default: return option.kind.toUpperCase()
  }
}

/** The default as help shows it: as the user would write it, or how it is derived. */
export function defaultText (option: OptionSpec): string {
  const d = option.default
  if (isDerived(d)) return d.text
  if (d === null || (Array.isArray(d) && d.length === 0)) return 'none'
  return Array.isArray(d) ? d.join(',') : String(d)
}

const COLUMN = 30

/** The full `--help` text, ending with a newline. */
export function renderHelp (): string {
  const lines = [USAGE, '']
  for (const [group, title] of GROUPS) {
    lines.push(`${title}:`)
    for (const option of OPTIONS.filter(o => o.group === group)) {
      lines.push(...entry(usageOf(option), option.help))
      lines.push(`${' '.repeat(COLUMN)}[default: ${defaultText(option)}] [env: ${option.env}]`)
    }
    if (group === 'misc') for (const [flag, help] of ACTIONS) lines.push(...entry(flag, help))
    lines.push('')
  }
  lines.push(NOTES, '')
  return lines.join('\n')
}

/** The flag column and its description; the description moves below a flag too long to pad. */
function entry (flag: string, help: string): string[] {
  const left = `  ${flag}`
  return left.length < COLUMN - 1
    ? [left.padEnd(COLUMN) + help]
    : [left, ' '.repeat(COLUMN) + help]
}

/**
 * The options as Markdown, one table per group (Option, Environment, Default, Description), for
 * docs/options.md. Ends with a newline.
 */
export function renderOptionsMarkdown (): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|')
  const code = (s: string): string => `\`${cell(s)}\``
  const parts: string[] = []
  for (const [group, title] of GROUPS) {
    parts.push(`**${title}**`, '', '| Option | Environment | Default | Description |', '|---|---|---|---|')
    for (const option of OPTIONS.filter(o => o.group === group)) {
      const shown = isDerived(option.default) ? cell(defaultText(option)) : defaultText(option) === 'none' ? 'none' : code(defaultText(option))
      parts.push(`| ${code(usageOf(option))} | ${code(option.env)} | ${shown} | ${cell(option.help)} |`)
    }
    parts.push('')
  }
  return parts.join('\n')
}

/**
 * `symphony <version>` from the package's own package.json, found by walking up from this
 * file because the compiled copy lives one directory deeper (dist/src/config) than the source.
 */
export function renderVersion (): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'docker-symphony' && pkg.version !== undefined) return `symphony ${pkg.version}`
    } catch {
      // not here (or not readable): keep walking up
    }
    if (dirname(dir) === dir) return 'symphony (unknown version)'
  }
}
