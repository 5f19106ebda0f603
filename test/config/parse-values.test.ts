import t from 'tap'
import {
  formatDuration, formatSize, parseBool, parseDuration, parseEnum, parseEnvPair, parseHost,
  parseHostPort, parseInteger, parseNumber, parsePort, parseSize, parseString, MAX_DURATION_MS
} from '../../src/config/parse-values'
import { configMessage } from '../helpers/config'

/** Expects a one-line ConfigError that names the option and matches `re`. */
function throwsConfig (t: { match: (a: string, b: RegExp, m: string) => unknown, notMatch: (a: string, b: RegExp, m: string) => unknown }, fn: () => unknown, re: RegExp, name: string): void {
  const message = configMessage(fn)
  t.match(message, /^--opt: /, `${name}: names the option`)
  t.match(message, re, `${name}: ${message}`)
  t.notMatch(message, /\n/, `${name}: one line`)
}

t.test('parseDuration', async t => {
  const good: Array<[unknown, number]> = [
    ['1', 1000], ['0.5', 500], ['.5', 500], ['120', 120_000], ['500ms', 500], ['1.5s', 1500],
    ['2m', 120_000], ['1h', 3_600_000], ['2M', 120_000], ['10 s', 10_000], [' 3s ', 3000],
    [90, 90_000], [0.25, 250], ['0.0015', 2]
  ]
  for (const [raw, ms] of good) t.equal(parseDuration(raw, '--opt'), ms, `${String(raw)} → ${ms}ms`)
  t.equal(parseDuration('0', '--opt', { allowZero: true }), 0, '0 when allowed')
  t.equal(parseDuration('0s', '--opt', { allowZero: true }), 0, '0s when allowed')

  const bad: Array<[unknown, RegExp]> = [
    ['abc', /^--opt: "abc" is not a duration; expected seconds \(0\.5\) or a number with a unit \(500ms, 2m\)$/],
    ['', /is not a duration/], ['5 sec', /is not a duration/], ['1d', /is not a duration/],
    ['1e3', /is not a duration/], [true, /true is not a duration/], [null, /null is not a duration/],
    [[1], /is not a duration/], ['0', /out of range; expected a duration from 1ms/],
    ['-1', /out of range/], [-2, /out of range/], ['0.0001', /out of range/],
    [`${MAX_DURATION_MS + 1}ms`, /out of range.*to 2147483647ms/], ['1000h', /out of range/]
  ]
  for (const [raw, re] of bad) throwsConfig(t, () => parseDuration(raw, '--opt'), re, `duration ${JSON.stringify(raw)}`)
  throwsConfig(t, () => parseDuration('5ms', '--opt', { min: 10 }), /out of range; expected a duration from 10ms/, 'below min')
  throwsConfig(t, () => parseDuration('-1', '--opt', { allowZero: true }), /expected a duration 0 or from 1ms/, 'negative with zero allowed')
})

t.test('parseSize', async t => {
  const good: Array<[unknown, number]> = [
    ['0', 0], ['1024', 1024], [2048, 2048], ['1b', 1], ['1kb', 1024], ['64KiB', 65_536],
    ['1GB', 1024 ** 3], ['1g', 1024 ** 3], ['1.5mb', 1.5 * 1024 ** 2], ['10 MB', 10 * 1024 ** 2], ['2k', 2048]
  ]
  for (const [raw, bytes] of good) t.equal(parseSize(raw, '--opt'), bytes, `${String(raw)} → ${bytes}`)
  const bad: Array<[unknown, RegExp]> = [
    ['abc', /^--opt: "abc" is not a size; expected bytes/], ['1tb', /is not a size/], ['1.5', /not a whole number of bytes/],
    ['1.5b', /not a whole number of bytes/], ['', /is not a size/], [false, /is not a size/],
    ['-1', /out of range/], ['99999999999gb', /out of range/]
  ]
  for (const [raw, re] of bad) throwsConfig(t, () => parseSize(raw, '--opt'), re, `size ${JSON.stringify(raw)}`)
  throwsConfig(t, () => parseSize('0', '--opt', { min: 1 }), /out of range; expected a size in bytes >= 1/, 'below min')
})

t.test('parsePort', async t => {
  for (const [raw, port] of [['1', 1], ['80', 80], [8080, 8080], ['65535', 65535]] as const) {
    t.equal(parsePort(raw, '--opt'), port, `${raw}`)
  }
  t.equal(parsePort('0', '--opt', true), 0, '0 when ephemeral allowed')
  const bad: Array<[unknown, RegExp]> = [
    ['0', /^--opt: "0" is out of range; expected a port from 1 to 65535$/], ['70000', /"70000" is out of range/],
    [70000, /70000 is out of range/], ['-1', /is not a port/], ['80.5', /is not a port/], ['http', /is not a port/],
    ['', /is not a port/], [true, /is not a port/]
  ]
  for (const [raw, re] of bad) throwsConfig(t, () => parsePort(raw, '--opt'), re, `port ${JSON.stringify(raw)}`)
  throwsConfig(t, () => parsePort('65536', '--opt', true), /expected a port from 0 to 65535 \(0 = any free port\)/, 'ephemeral message')
})

t.test('parseHostPort', async t => {
  const good: Array<[string, string, number]> = [
    ['127.0.0.1:3000', '127.0.0.1', 3000], ['localhost:80', 'localhost', 80], ['api.example.com:443', 'api.example.com', 443],
    ['[::1]:3000', '::1', 3000], ['[fe80::1]:8080', 'fe80::1', 8080], [' 10.0.0.1:1 ', '10.0.0.1', 1]
  ]
  for (const [raw, host, port] of good) t.same(parseHostPort(raw, '--opt'), { host, port }, raw)
  const bad: Array<[unknown, RegExp]> = [
    ['127.0.0.1', /is not HOST:PORT; expected HOST:PORT, e\.g\./], ['::1:3000', /put IPv6 addresses in brackets/],
    ['127.0.0.1:0', /^--opt: "127.0.0.1:0" has port 0, out of range; expected a port from 1 to 65535$/],
    ['127.0.0.1:70000', /"127.0.0.1:70000" has port 70000, out of range/], [':3000', /is not HOST:PORT/],
    ['[::1]', /is not HOST:PORT/], ['[nonsense]:80', /"\[nonsense\]:80" has an invalid host "\[nonsense\]"/],
    ['bad_host:80', /has an invalid host "bad_host"/], ['[1.2.3.4]:80', /has an invalid host/],
    ['http://a:80', /is not HOST:PORT/], [3000, /3000 is not HOST:PORT/]
  ]
  for (const [raw, re] of bad) throwsConfig(t, () => parseHostPort(raw, '--opt'), re, `host:port ${JSON.stringify(raw)}`)
})

t.test('parseHost', async t => {
  for (const [raw, host] of [['0.0.0.0', '0.0.0.0'], ['::', '::'], ['[::1]', '::1'], ['my-host.local', 'my-host.local']]) {
    t.equal(parseHost(raw, '--opt'), host, raw)
  }
  for (const raw of ['', 'a b', '-bad', '[1.2.3.4]', 5]) throwsConfig(t, () => parseHost(raw, '--opt'), /is not a host/, `host ${JSON.stringify(raw)}`)
})

t.test('parseInteger and parseNumber', async t => {
  for (const [raw, n] of [['0', 0], ['42', 42], ['+3', 3], ['-7', -7], [12, 12]] as const) t.equal(parseInteger(raw, '--opt'), n, `${raw}`)
  for (const raw of ['1.5', '1e3', '0x10', '', 'ten', 1.5, true, '9007199254740993']) {
    throwsConfig(t, () => parseInteger(raw, '--opt'), /is not an integer|out of range/, `int ${JSON.stringify(raw)}`)
  }
  throwsConfig(t, () => parseInteger('0', '--opt', { min: 1 }), /^--opt: "0" is out of range; expected an integer >= 1$/, 'int min')
  throwsConfig(t, () => parseInteger('65', '--opt', { min: 1, max: 64 }), /expected an integer from 1 to 64/, 'int max')
  for (const [raw, n] of [['0.5', 0.5], ['.5', 0.5], ['2', 2], [1.25, 1.25]] as const) t.equal(parseNumber(raw, '--opt'), n, `${raw}`)
  for (const raw of ['', 'abc', '1e3', 'Infinity', 'NaN', Number.NaN]) {
    throwsConfig(t, () => parseNumber(raw, '--opt'), /is not a number/, `number ${JSON.stringify(raw)}`)
  }
  throwsConfig(t, () => parseNumber('-1', '--opt', { min: 0 }), /out of range; expected a number >= 0/, 'number min')
})

t.test('parseBool', async t => {
  const good: Array<[unknown, boolean]> = [
    ['true', true], ['false', false], ['1', true], ['0', false], ['yes', true], ['no', false],
    ['TRUE', true], ['No', false], [true, true], [false, false], [1, true], [0, false]
  ]
  for (const [raw, b] of good) t.equal(parseBool(raw, '--opt'), b, `${String(raw)}`)
  for (const raw of ['', 'y', 'on', 'off', '2', 2, null]) {
    throwsConfig(t, () => parseBool(raw, '--opt'), /is not a boolean; expected true\/false, yes\/no or 1\/0$/, `bool ${JSON.stringify(raw)}`)
  }
})

t.test('parseEnum, parseString, parseEnvPair', async t => {
  t.equal(parseEnum('Docker', '--opt', ['docker', 'process']), 'docker')
  throwsConfig(t, () => parseEnum('k8s', '--opt', ['docker', 'process']), /"k8s" is not a valid choice; expected one of docker, process$/, 'enum')
  t.equal(parseString('/x', '--opt', { re: /^\//, expected: "a path starting with '/'" }), '/x')
  throwsConfig(t, () => parseString('x', '--opt', { re: /^\//, expected: "a path starting with '/'" }), /"x" is not valid; expected a path starting with '\/'/, 'pattern')
  throwsConfig(t, () => parseString('', '--opt'), /is not a non-empty string/, 'empty string')
  for (const raw of ['A=1', 'a_b=', '_X=y=z', 'PATH=/bin:/usr/bin', 'J=-Xms1g,-Xmx2g']) t.equal(parseEnvPair(raw, '--opt'), raw, raw)
  throwsConfig(t, () => parseEnvPair('NOVALUE', '--opt'), /"NOVALUE" is not KEY=VALUE/, 'no =')
  throwsConfig(t, () => parseEnvPair('1A=x', '--opt'), /has an invalid variable name "1A"/, 'digit first')
  throwsConfig(t, () => parseEnvPair('MY-VAR=x', '--opt'), /invalid variable name "MY-VAR"/, 'dash')
  throwsConfig(t, () => parseEnvPair('=x', '--opt'), /invalid variable name ""/, 'empty key')
})

t.test('long and multi-line values stay on one short line', async t => {
  throwsConfig(t, () => parseDuration('x'.repeat(500), '--opt'), /\.\.\."? is not a duration/, 'truncated')
  throwsConfig(t, () => parseDuration('1\n2', '--opt'), /"1\\n2" is not a duration/, 'escaped newline')
})

t.test('formatDuration and formatSize', async t => {
  for (const [ms, s] of [[500, '500ms'], [1000, '1s'], [1500, '1.5s'], [120_000, '2m'], [3_600_000, '1h'], [1234, '1234ms']] as const) {
    t.equal(formatDuration(ms), s, s)
    t.equal(parseDuration(s, '--opt'), ms, `${s} round trip`)
  }
  for (const [bytes, s] of [[1, '1'], [1024, '1kb'], [1536, '1536'], [6 * 1024 ** 2, '6mb'], [1024 ** 3, '1gb']] as const) {
    t.equal(formatSize(bytes), s, s)
    t.equal(parseSize(s, '--opt'), bytes, `${s} round trip`)
  }
})
