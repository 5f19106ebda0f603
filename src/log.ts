import type { LogLevel } from './config/types'

/** Structured JSON lines: one object per line with time, level, msg and the given fields. */
export interface Logger {
  debug (msg: string, fields?: Record<string, unknown>): void
  info (msg: string, fields?: Record<string, unknown>): void
  warn (msg: string, fields?: Record<string, unknown>): void
  error (msg: string, fields?: Record<string, unknown>): void
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

function noop (): void {}

/**
 * A logger writing to `out` (stdout by default). Levels below `level` are bound to a no-op at
 * construction (pino's approach), so a disabled level costs nothing at the call site.
 */
export function createLogger (level: LogLevel, out: (line: string) => void = (line) => process.stdout.write(line)): Logger {
  const make = (l: LogLevel) => rank[l] < rank[level]
    ? noop
    : (msg: string, fields?: Record<string, unknown>) => {
        out(JSON.stringify({ time: new Date().toISOString(), level: l, msg, ...fields }) + '\n')
      }
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') }
}
