import t from 'tap'
import { backendLabels, hostPort } from '../../src/metrics/backend-label'
import { createTableBuffer } from '../../src/table/layout'
import { TableWriter } from '../../src/table/writer'

t.test('fixed backends: host:port, unique on one port, IPv6 in brackets', async (t) => {
  const table = new TableWriter(createTableBuffer())
  table.assign(0, '127.0.0.1', 8080)
  table.assign(1, '127.0.0.2', 8080)
  table.assign(2, '::1', 8080)
  const labels = backendLabels(table, null)
  t.same(labels.knownSlots(), [0, 1, 2])
  t.same([0, 1, 2, 3].map(labels.label), ['127.0.0.1:8080', '127.0.0.2:8080', '[::1]:8080', null])
  t.equal(hostPort('10.0.0.5', 80), '10.0.0.5:80')
})

t.test('replicas: their stable names, whatever address the table dials', async (t) => {
  const table = new TableWriter(createTableBuffer())
  // The direct path: every container dialled on port 80 of its own address.
  table.assign(0, '172.17.0.2', 80)
  table.assign(1, '172.17.0.3', 80)
  for (const runtime of ['docker', 'process'] as const) {
    const labels = backendLabels(table, { runtime, service: 'api', basePort: 8000, knownSlots: () => [0, 1, 5] })
    t.same(labels.knownSlots(), [0, 1, 5], `${runtime}: the fleet's slots, emptied ones too`)
    t.same([0, 1, 5].map(labels.label), ['symphony-api-8000', 'symphony-api-8001', 'symphony-api-8005'], `${runtime}: symphony-<service>-<host port>`)
  }
  const swarm = backendLabels(table, { runtime: 'swarm', service: 'api', basePort: 8000, knownSlots: () => [0, 1] })
  t.same([0, 1].map(swarm.label), ['api-0', 'api-1'], 'swarm: the slot\'s service name')
})
