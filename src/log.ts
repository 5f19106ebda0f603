import type { LogFormat, LogLevel } from './config/types'

/**
 * The one logger of the process: every line of the main thread and of the proxy threads (which
 * post theirs to the main thread, see src/gateway/proxy-threads.ts) goes through it, to one
 * stream, in one format.
 */
export interface Logger {
  debug (msg: string, fields?: Record<string, unknown>): void
  info (msg: string, fields?: Record<string, unknown>): void
  warn (msg: string, fields?: Record<string, unknown>): void
  error (msg: string, fields?: Record<string, unknown>): void
}

/** How lines are written: `json` for machines, `pretty` for a person at a terminal. */
export type LineFormat = Exclude<LogFormat, 'auto'>

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

function noop (): void {}

/** `auto` is pretty where the stream is a terminal and JSON lines everywhere else (pipes, files, log shippers). */
export function resolveLogFormat (format: LogFormat, isTTY: boolean): LineFormat {
  return format === 'auto' ? (isTTY ? 'pretty' : 'json') : format
}

/** One JSON object per line: time, level, msg, then the fields. */
export function jsonLine (time: Date, level: LogLevel, msg: string, fields?: Record<string, unknown>): string {
  return JSON.stringify({ time: time.toISOString(), level, msg, ...fields }) + '\n'
}

const LEVEL_TAG: Record<LogLevel, string> = { debug: 'DEBUG', info: 'INFO ', warn: 'WARN ', error: 'ERROR' }

/**
 * One readable line: local time, level, message, then `key=value` pairs. Values that are not a
 * plain word are JSON (quoted strings, objects), so a line stays one line and can still be
 * read back exactly: a stack trace's newlines show as `\n`.
 */
export function prettyLine (time: Date, level: LogLevel, msg: string, fields?: Record<string, unknown>): string {
  let line = `${clock(time)} ${LEVEL_TAG[level]} ${msg}`
  if (fields !== undefined) {
    for (const key in fields) {
      const value = fields[key]
      if (value === undefined) continue
      line += ` ${key}=${prettyValue(value)}`
    }
  }
  return line + '\n'
}

function prettyValue (value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value)
  if (typeof value === 'string' && /^[\w.:/@+-]+$/.test(value)) return value
  return JSON.stringify(value) ?? String(value)
}

function clock (t: Date): string {
  const two = (n: number): string => n < 10 ? `0${n}` : String(n)
  const ms = t.getMilliseconds()
  return `${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}`
}

/**
 * A logger writing to `out` (stdout by default) in `format`. Levels below `level` are bound to
 * a no-op at construction (pino's approach), so a disabled level costs nothing at the call site.
 */
export function createLogger (level: LogLevel, out: (line: string) => void = (line) => process.stdout.write(line), format: LineFormat = 'json'): Logger {
  const line = format === 'pretty' ? prettyLine : jsonLine
  const make = (l: LogLevel) => rank[l] < rank[level]
    ? noop
    : (msg: string, fields?: Record<string, unknown>) => { out(line(new Date(), l, msg, fields)) }
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') }
}
