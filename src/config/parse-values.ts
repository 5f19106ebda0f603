/**
 * Pure parsers for option values. Each takes the raw value (a string from argv or the
 * environment, or whatever JSON/YAML produced) and `where`, the option as the user wrote it
 * (`--window`, `SYMPHONY_WINDOW`, `window in symphony.yaml`), so that every message names the
 * option, the value given and what was expected, on one line.
 */
import { isIP } from 'node:net'
import { ConfigError } from '../errors'
import type { StaticBackend } from './types'

/** Numeric bounds, inclusive. */
export interface Range {
  readonly min?: number
  readonly max?: number
}

/**
 * Node clamps timers above 2^31-1 ms to 1 ms (with only a warning), so a longer duration would
 * fire immediately instead of never: reject it here.
 * https://nodejs.org/api/timers.html#settimeoutcallback-delay-args
 */
export const MAX_DURATION_MS = 2 ** 31 - 1

/** Shows a value the way the user can recognise it, always on one line and never too long. */
export function show (raw: unknown): string {
  let text: string
  try {
    text = JSON.stringify(raw) ?? String(raw)
  } catch {
    text = String(raw)
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

function fail (where: string, raw: unknown, problem: string, expected: string): never {
  throw new ConfigError(`${where}: ${show(raw)} ${problem}; expected ${expected}`)
}

/** Strings are trimmed; numbers from a config file are accepted as their decimal text. */
function text (raw: unknown): string | undefined {
  if (typeof raw === 'string') return raw.trim()
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw)
  return undefined
}

function checkRange (n: number, where: string, raw: unknown, range: Range, expected: string): number {
  if ((range.min !== undefined && n < range.min) || (range.max !== undefined && n > range.max)) {
    fail(where, raw, 'is out of range', expected)
  }
  return n
}

function describeRange ({ min, max }: Range, noun: string): string {
  if (min !== undefined && max !== undefined) return `${noun} from ${min} to ${max}`
  if (min !== undefined) return `${noun} >= ${min}`
  if (max !== undefined) return `${noun} <= ${max}`
  return noun
}

/** An integer (decimal digits; `1e3`, `0x10` and `1.0` are not integers here). */
export function parseInteger (raw: unknown, where: string, range: Range = {}): number {
  const expected = describeRange(range, 'an integer')
  const s = text(raw)
  if (s === undefined || !/^[+-]?\d+$/.test(s)) fail(where, raw, 'is not an integer', expected)
  const n = Number(s)
  if (!Number.isSafeInteger(n)) fail(where, raw, 'is out of range', expected)
  return checkRange(n, where, raw, range, expected)
}

/** A decimal number, fractions allowed (`0.5`, `.5`, `2`). */
export function parseNumber (raw: unknown, where: string, range: Range = {}): number {
  const expected = describeRange(range, 'a number')
  const s = text(raw)
  if (s === undefined || !/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(s)) fail(where, raw, 'is not a number', expected)
  return checkRange(Number(s), where, raw, range, expected)
}

/** A TCP port 1..65535; `allowZero` for listeners where 0 asks the OS for a free port. */
export function parsePort (raw: unknown, where: string, allowZero = false): number {
  const min = allowZero ? 0 : 1
  const expected = `a port from ${min} to 65535${allowZero ? ' (0 = any free port)' : ''}`
  const s = text(raw)
  if (s === undefined || !/^\d+$/.test(s)) fail(where, raw, 'is not a port', expected)
  return checkRange(Number(s), where, raw, { min, max: 65535 }, expected)
}

const BOOLS: Readonly<Record<string, boolean>> = { true: true, false: false, 1: true, 0: false, yes: true, no: false }

/** true/false, 1/0, yes/no (any case); JSON/YAML booleans as themselves. */
export function parseBool (raw: unknown, where: string): boolean {
  if (typeof raw === 'boolean') return raw
  const s = text(raw)?.toLowerCase()
  const value = s === undefined ? undefined : BOOLS[s]
  if (value === undefined) fail(where, raw, 'is not a boolean', 'true/false, yes/no or 1/0')
  return value
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const DURATION_EXPECTED = 'seconds (0.5) or a number with a unit (500ms, 2m)'

/**
 * A duration in milliseconds: plain numbers are seconds (`0.5`, `120`), or a number with a unit
 * `ms`, `s`, `m`, `h` (`500ms`, `1.5s`, `2m`). Rounded to whole milliseconds. Must be > 0 unless
 * `allowZero`; bounds in `range` are in milliseconds.
 */
export function parseDuration (raw: unknown, where: string, opts: Range & { allowZero?: boolean } = {}): number {
  const s = text(raw)
  const m = s === undefined ? null : /^(-?(?:\d+(?:\.\d*)?|\.\d+))\s*(ms|s|m|h)?$/i.exec(s)
  if (m === null) fail(where, raw, 'is not a duration', DURATION_EXPECTED)
  const ms = Math.round(Number(m[1]) * DURATION_UNITS[(m[2] ?? 's').toLowerCase()])
  if (ms === 0 && opts.allowZero === true) return 0
  const min = Math.max(opts.min ?? 1, 1)
  const max = Math.min(opts.max ?? MAX_DURATION_MS, MAX_DURATION_MS)
  if (ms < min || ms > max) {
    const lower = opts.allowZero === true ? `0 or from ${formatDuration(min)}` : `from ${formatDuration(min)}`
    fail(where, raw, 'is out of range', `a duration ${lower} to ${formatDuration(max)}`)
  }
  return ms
}

/** The shortest exact rendering of a duration, for messages and help (`1500` → `1.5s`). */
export function formatDuration (ms: number): string {
  if (ms >= 3_600_000 && ms % 360_000 === 0) return `${ms / 3_600_000}h`
  if (ms >= 60_000 && ms % 6_000 === 0) return `${ms / 60_000}m`
  if (ms >= 1000 && ms % 10 === 0) return `${ms / 1000}s`
  return `${ms}ms`
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }
const SIZE_EXPECTED = 'bytes (1048576) or a number with a unit (64kb, 1.5mb, 1gb; 1kb = 1024 bytes)'

/**
 * A size in bytes: an integer, or a number with a binary unit b, kb, mb, gb (1kb = 1024),
 * case-insensitive, `KiB`/`K` spellings accepted. Fractions with a unit round down to a byte.
 */
export function parseSize (raw: unknown, where: string, range: Range = {}): number {
  const s = text(raw)
  const m = s === undefined ? null : /^(-?(?:\d+(?:\.\d*)?|\.\d+))\s*(?:([kmg])i?b?|(b))?$/i.exec(s)
  if (m === null) fail(where, raw, 'is not a size', SIZE_EXPECTED)
  const unit = (m[2] ?? m[3] ?? '').toLowerCase()
  if (unit === '' || unit === 'b') {
    if (!/^-?\d+$/.test(m[1])) fail(where, raw, 'is not a whole number of bytes', SIZE_EXPECTED)
  }
  const bytes = Math.floor(Number(m[1]) * SIZE_UNITS[unit])
  if (!Number.isSafeInteger(bytes)) fail(where, raw, 'is out of range', SIZE_EXPECTED)
  const bounds = { min: Math.max(range.min ?? 0, 0), max: range.max }
  return checkRange(bytes, where, raw, bounds, describeRange(bounds, 'a size in bytes'))
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

/**
 * A host name or IP address. IPv6 may be bracketed (`[::1]`); the result never is, since
 * `net.connect()`/`listen()` take bare addresses (brackets belong only in URLs).
 */
export function parseHost (raw: unknown, where: string): string {
  const s = typeof raw === 'string' ? raw.trim() : ''
  const bare = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s
  if (isIP(bare) === 6 || (bare === s && (isIP(s) === 4 || HOSTNAME.test(s)))) return bare
  return fail(where, raw, 'is not a host', 'a host name, an IPv4 address or an IPv6 address')
}

const HOST_PORT_EXPECTED = 'HOST:PORT, e.g. 127.0.0.1:3000 or [::1]:3000'

/** `HOST:PORT`; IPv6 hosts in brackets (`[::1]:3000`). The host comes back without brackets. */
export function parseHostPort (raw: unknown, where: string): StaticBackend {
  const s = typeof raw === 'string' ? raw.trim() : undefined
  const m = s === undefined ? null : /^(\[[^\]]*\]|[^:[\]]+):(\d+)$/.exec(s)
  if (m === null) {
    // A bare IPv6 address has colons of its own: say so rather than "not HOST:PORT".
    const hint = s !== undefined && (s.match(/:/g) ?? []).length > 1 && !s.startsWith('[')
      ? ' (put IPv6 addresses in brackets)'
      : ''
    fail(where, raw, `is not HOST:PORT${hint}`, HOST_PORT_EXPECTED)
  }
  // Re-checked here rather than through parseHost/parsePort so the message shows the whole value.
  const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1]
  if (!(m[1].startsWith('[') ? isIP(host) === 6 : isIP(host) === 4 || HOSTNAME.test(host))) {
    fail(where, raw, `has an invalid host ${show(m[1])}`, HOST_PORT_EXPECTED)
  }
  const port = Number(m[2])
  if (port < 1 || port > 65535) fail(where, raw, `has port ${m[2]}, out of range`, 'a port from 1 to 65535')
  return { host, port }
}

/** One choice from a fixed list, case-insensitive. */
export function parseEnum<T extends string> (raw: unknown, where: string, values: readonly T[]): T {
  const s = typeof raw === 'string' ? raw.trim().toLowerCase() : undefined
  const found = values.find(v => v === s)
  if (found === undefined) fail(where, raw, 'is not a valid choice', `one of ${values.join(', ')}`)
  return found
}

/** A non-empty string, optionally matching `pattern` (whose `expected` text goes in the message). */
export function parseString (raw: unknown, where: string, pattern?: { re: RegExp, expected: string }): string {
  if (typeof raw !== 'string' || raw.trim() === '') fail(where, raw, 'is not a non-empty string', pattern?.expected ?? 'text')
  if (pattern !== undefined && !pattern.re.test(raw)) fail(where, raw, 'is not valid', pattern.expected)
  return raw
}

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/

/** `KEY=VALUE` for a child's environment; the key must be a portable variable name. */
export function parseEnvPair (raw: unknown, where: string): string {
  const expected = 'KEY=VALUE with KEY of letters, digits and _ (not starting with a digit)'
  if (typeof raw !== 'string' || !raw.includes('=')) fail(where, raw, 'is not KEY=VALUE', expected)
  const key = raw.slice(0, raw.indexOf('='))
  if (!ENV_KEY.test(key)) fail(where, raw, `has an invalid variable name ${show(key)}`, expected)
  return raw
}

/** The shortest exact rendering of a size, for messages and help (`1048576` → `1mb`). */
export function formatSize (bytes: number): string {
  for (const [unit, n] of [['gb', 1024 ** 3], ['mb', 1024 ** 2], ['kb', 1024]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`
  }
  return String(bytes)
}
