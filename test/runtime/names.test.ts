import t from 'tap'
import {
  connectionOptions, dialHost, formatSince, parseEvent, portFromLabels, replicaLabels, replicaName, splitCommand
} from '../../src/runtime/names'

t.test('names and labels', async (t) => {
  t.equal(replicaName('api', 18000), 'symphony-api-18000')
  t.same(replicaLabels('api', 18000), { 'io.symphony.managed': 'true', 'io.symphony.service': 'api', 'io.symphony.port': '18000' })
  t.equal(portFromLabels({ 'io.symphony.port': '18000' }), 18000)
  const bads: Array<Record<string, string> | undefined> = [undefined, {}, { 'io.symphony.port': '' }, { 'io.symphony.port': '80a' }, { 'io.symphony.port': '0' }, { 'io.symphony.port': '70000' }]
  for (const bad of bads) {
    t.equal(portFromLabels(bad), null, JSON.stringify(bad))
  }
})

t.test('splitCommand: whitespace only, no shell quoting', async (t) => {
  t.same(splitCommand('node app.js'), ['node', 'app.js'])
  t.same(splitCommand('  node\tapp.js   --x  '), ['node', 'app.js', '--x'])
  t.same(splitCommand('sh -c "a b"'), ['sh', '-c', '"a', 'b"'])
  t.same(splitCommand('   '), [])
})

t.test('dialHost: wildcards are dialled on loopback', async (t) => {
  t.equal(dialHost('0.0.0.0'), '127.0.0.1')
  t.equal(dialHost('::'), '::1')
  t.equal(dialHost('127.0.0.1'), '127.0.0.1')
  t.equal(dialHost('192.168.1.5'), '192.168.1.5')
})

t.test('connectionOptions: DOCKER_HOST syntax, every field set so the environment cannot win', async (t) => {
  t.same(connectionOptions(undefined), {})
  t.same(connectionOptions('unix:///run/x.sock'), { socketPath: '/run/x.sock', host: undefined, port: undefined, protocol: undefined })
  t.same(connectionOptions('tcp://10.0.0.1:2376'), { socketPath: undefined, host: '10.0.0.1', port: 2376, protocol: 'http' })
  t.same(connectionOptions('localhost:1234'), { socketPath: undefined, host: 'localhost', port: 1234, protocol: 'http' })
  t.same(connectionOptions('https://docker.example'), { socketPath: undefined, host: 'docker.example', port: 2375, protocol: 'https' })
  t.throws(() => connectionOptions('ssh://me@host'), /unsupported Docker address/)
})

t.test('parseEvent: exact nanoseconds, port from the label, junk ignored', async (t) => {
  const line = '{"status":"die","id":"abc","Type":"container","Action":"die","Actor":{"ID":"abc",' +
    '"Attributes":{"io.symphony.port":"18000","name":"x"}},"time":1732480000,"timeNano":1732480000123456789}'
  t.same(parseEvent(line), { id: 'abc', action: 'die', port: 18000, timeNano: 1732480000123456789n })
  t.equal(parseEvent('not json'), null)
  t.equal(parseEvent('{"Type":"container"}'), null)
  t.same(parseEvent('{"Action":"kill","Actor":{"ID":"x"},"time":5}'), { id: 'x', action: 'kill', port: null, timeNano: 5_000_000_000n })
})

t.test('formatSince: seconds.nanoseconds with the nanoseconds zero-padded', async (t) => {
  t.equal(formatSince(1732480000123456789n), '1732480000.123456789')
  t.equal(formatSince(1732480000000000042n), '1732480000.000000042')
})
