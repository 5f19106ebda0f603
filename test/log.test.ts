import t from 'tap'
import { createLogger, jsonLine, prettyLine, resolveLogFormat } from '../src/log'

const at = new Date(2026, 10, 30, 9, 5, 7, 42)

t.test('auto is pretty on a terminal and JSON lines everywhere else', async (t) => {
  t.equal(resolveLogFormat('auto', true), 'pretty')
  t.equal(resolveLogFormat('auto', false), 'json')
  t.equal(resolveLogFormat('json', true), 'json', 'an explicit choice wins')
  t.equal(resolveLogFormat('pretty', false), 'pretty')
})

t.test('a JSON line: time, level, msg, then the fields, one object per line', async (t) => {
  const line = jsonLine(at, 'info', 'scale up', { add: 2, ports: [8001, 8002] })
  t.ok(line.endsWith('}\n'))
  t.same(JSON.parse(line), { time: at.toISOString(), level: 'info', msg: 'scale up', add: 2, ports: [8001, 8002] })
})

t.test('a pretty line: local time, level, message, key=value pairs, always one line', async (t) => {
  t.equal(prettyLine(at, 'info', 'symphony listening', { port: 8080, host: '0.0.0.0', runtime: 'docker' }),
    '09:05:07.042 INFO  symphony listening port=8080 host=0.0.0.0 runtime=docker\n')
  t.equal(prettyLine(at, 'warn', 'backend unhealthy; out of rotation', { backend: '127.0.0.1:8001', reason: 'status', status: 500 }),
    '09:05:07.042 WARN  backend unhealthy; out of rotation backend=127.0.0.1:8001 reason=status status=500\n')
  t.equal(prettyLine(at, 'error', 'proxy worker crashed', { worker: 0, error: 'Error: boom\n    at x (y.js:1:2)' }),
    '09:05:07.042 ERROR proxy worker crashed worker=0 error="Error: boom\\n    at x (y.js:1:2)"\n', 'a stack stays on one line, quoted')
  t.equal(prettyLine(at, 'info', 'replica started', { replicas: { running: 1 }, id: undefined, ok: true, none: null }),
    '09:05:07.042 INFO  replica started replicas={"running":1} ok=true none=null\n', 'objects as JSON, undefined fields left out')
  t.equal(prettyLine(at, 'debug', 'no fields'), '09:05:07.042 DEBUG no fields\n')
})

t.test('levels below the chosen one are not written, in either format', async (t) => {
  for (const format of ['json', 'pretty'] as const) {
    const lines: string[] = []
    const log = createLogger('warn', (line) => lines.push(line), format)
    log.debug('d')
    log.info('i')
    log.warn('w', { n: 1 })
    log.error('e')
    t.equal(lines.length, 2, `${format}: warn and error only`)
    t.match(lines[0], format === 'json' ? /"level":"warn","msg":"w","n":1/ : / WARN {2}w n=1\n$/)
  }
})
