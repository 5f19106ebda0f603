import t from 'tap'
import { startGateway } from '../../src/composition-root'
import { createLogger } from '../../src/log'
import { startBackend } from '../helpers/backend'
import { configFrom, waitFor } from '../helpers/gateway'

t.test('a proxy thread logs through the main thread\'s logger: its format, its stream, its worker index', async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const lines: string[] = []
  // Anything a thread wrote on its own (a raw JSON line on stderr, as before) would show here.
  const raw: string[] = []
  const stderrWrite = process.stderr.write.bind(process.stderr)
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    raw.push(String(chunk))
    return (stderrWrite as (...a: unknown[]) => boolean)(chunk, ...rest)
  }) as typeof process.stderr.write
  t.teardown(() => { process.stderr.write = stderrWrite })
  const gw = await startGateway(configFrom(['--backend', `127.0.0.1:${be.port}`, '--threads', '2']), createLogger('info', (line) => lines.push(line), 'pretty'))
  t.teardown(() => gw.stop())
  gw.workers.crashForTest(1)
  t.ok(await waitFor(() => gw.workers.restarts === 1, 5000), 'the thread was replaced')
  const crashed = lines.filter((l) => l.includes('proxy worker crashed'))
  t.equal(crashed.length, 1, 'one line for the crash, from the main thread\'s logger')
  t.match(crashed[0], /^\d\d:\d\d:\d\d\.\d{3} ERROR proxy worker crashed worker=1 error="Error: crash requested by the main thread\\n/, 'in the logger\'s format, with the thread\'s index and the stack on one line')
  t.notOk(raw.some((s) => s.includes('proxy worker crashed')), 'nothing written by the thread itself')
})
