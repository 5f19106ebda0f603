import t from 'tap'
import { closest, editDistance, parseArgv, type RawFlag } from '../../src/config/argv'
import { configMessage } from '../helpers/config'

/** The parsed options keyed by flag name, for easy comparison. */
function flags (argv: string[]): Record<string, RawFlag> {
  const result = parseArgv(argv)
  if (result.kind !== 'options') throw new Error(`expected options, got ${result.kind}`)
  return Object.fromEntries([...result.values].map(([option, raw]) => [option.flag, raw]))
}

t.test('value forms', async t => {
  t.same(flags([]), {})
  t.same(flags(['--port', '80', '--host=::1', '--window=2m']), { port: '80', host: '::1', window: '2m' })
  t.same(flags(['--health-path=/a=b']), { 'health-path': '/a=b' }, 'only the first = splits')
  t.same(flags(['--command', '']), { command: '' }, 'an empty value is still a value')
  t.same(flags(['--cpus', '-1']), { cpus: '-1' }, 'a negative number is a value, left for the parser to reject')
  t.same(flags(['--command=--flag-like']), { command: '--flag-like' }, '--opt= takes values that look like flags')
})

t.test('boolean flags', async t => {
  t.same(flags(['--cleanup-on-exit']), { 'cleanup-on-exit': true })
  t.same(flags(['--cleanup-on-exit=false']), { 'cleanup-on-exit': 'false' })
  t.same(flags(['--cleanup-on-exit', '--port', '1']), { 'cleanup-on-exit': true, port: '1' })
  t.match(configMessage(() => parseArgv(['--cleanup-on-exit', 'false'])),
    /^unexpected argument "false"; write --cleanup-on-exit=false$/, 'a separate value gets a hint')
})

t.test('repeatable options accumulate', async t => {
  t.same(flags(['--backend', 'a:1', '--backend=b:2', '--env', 'A=1', '--env', 'B=2']),
    { backend: ['a:1', 'b:2'], env: ['A=1', 'B=2'] })
})

t.test('help and version', async t => {
  t.same(parseArgv(['--help']), { kind: 'help' })
  t.same(parseArgv(['-h']), { kind: 'help' })
  t.same(parseArgv(['--version']), { kind: 'version' })
  t.same(parseArgv(['--port', '1', '--help']), { kind: 'help' })
  t.same(parseArgv(['--bogus', '--help']), { kind: 'help' }, 'help wins over a bad option')
  t.same(parseArgv(['--help', '--version']), { kind: 'help' }, 'the first action wins')
  t.match(configMessage(() => parseArgv(['--help=yes'])), /--help takes no value/)
})

t.test('errors', async t => {
  const cases: Array<[string[], RegExp]> = [
    [['--prot', '80'], /^--prot: unknown option; did you mean --port\?$/],
    [['--base-scale', '3'], /did you mean --base-scale-count\?/],
    [['--base_scale_count', '3'], /did you mean --base-scale-count\?/],
    [['--max-container', '3'], /did you mean --max-containers\?/],
    [['--helth-path', '/'], /did you mean --health-path\?/],
    [['--verison'], /did you mean --version\?/],
    [['--zzzzzzzz'], /^--zzzzzzzz: unknown option; see --help for the options$/],
    [['-p', '80'], /^unexpected argument "-p"/],
    [['serve'], /^unexpected argument "serve"; symphony takes only --options/],
    [['--', '--port'], /^unexpected argument "--"/],
    [['--port'], /^--port: missing value; expected a port$/],
    [['--window', '--port', '1'], /^--window: missing value; expected a duration/],
    [['--port', '1', '--port', '2'], /^--port given twice \("1" and "2"\); give it once$/],
    [['--runtime'], /expected one of docker, process/]
  ]
  for (const [argv, re] of cases) t.match(configMessage(() => parseArgv(argv)), re, argv.join(' '))
})

t.test('closest and editDistance', async t => {
  t.equal(editDistance('port', 'port'), 0)
  t.equal(editDistance('prot', 'port'), 1, 'a transposition counts once')
  t.equal(editDistance('', 'abc'), 3)
  t.equal(editDistance('kitten', 'sitting'), 3)
  t.equal(closest('windw', ['window', 'port']), 'window')
  t.equal(closest('xyz', ['window', 'port']), undefined)
  t.equal(closest('max', ['max-containers', 'max-body-size']), undefined, 'an ambiguous prefix is no suggestion')
  t.equal(closest('', ['a']), undefined)
})
