import t from 'tap'
import { createLogger } from '../../src/log'
import { State } from '../../src/table/layout'
import { openRuntime } from '../../src/startup/runtime'
import { openTable } from '../../src/startup/table'
import { createBackends } from '../../src/startup/fleet'
import { Clients } from '../../src/startup/threads'
import { ControlPlane } from '../../src/control/plane'
import { configFrom } from '../helpers/gateway'

/**
 * The start-up steps of src/startup/ that need no thread, socket or engine: what each gives
 * before the later steps ran (the in-process gateway tests cover the whole start).
 */
const log = createLogger('error', () => {})

t.test('static backends: no runtime, no fleet, no autoscaler; the health checker reports to the table', async (t) => {
  const config = configFrom(['--backend', '127.0.0.1:1', '--backend', '127.0.0.1:2'])
  t.equal(await openRuntime(config, log), null)
  const shared = openTable(config.threads)
  t.teardown(() => shared.close())
  const backends = createBackends(config, null, shared, new ControlPlane(), log)
  t.equal(backends.fleet, null)
  t.equal(backends.loop, null)
  t.same(shared.table.slots().map((v) => [v.slot, v.port]), [[0, 1], [1, 2]], 'each backend in its slot')
  t.ok(shared.table.slots().every((v) => v.state !== State.HEALTHY), 'out of rotation until its first passing check')
  await backends.health.close()
})

t.test('the table step: its writer works on the buffer the threads get; close is idempotent', async (t) => {
  const shared = openTable(2)
  shared.table.assign(0, '127.0.0.1', 8080)
  t.equal(shared.table.slots()[0].port, 8080)
  t.ok(shared.sab instanceof SharedArrayBuffer)
  shared.close()
  shared.close()
})

t.test('before the threads listen, the client side reads as none', async (t) => {
  const clients = new Clients(configFrom(['--backend', '127.0.0.1:1', '--max-connections', '100']))
  t.equal(clients.status(), null, '/status has no connections part yet')
  t.equal(clients.count(), 0)
  t.equal(clients.pauses, 0)
  clients.close()
})
