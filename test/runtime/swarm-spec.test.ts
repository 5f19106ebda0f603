/** The pure rules of the Swarm runtime: a slot's service spec, a replica's state from its tasks and nodes, the image reference. */
import t from 'tap'
import { pinnedImage, slotFromLabels, slotServiceName, slotServiceSpec, slotState, type NodeRecord, type TaskRecord } from '../../src/runtime/swarm-spec'

const base = {
  service: 'api',
  image: 'sha256:abc',
  containerPort: 80,
  env: ['A=1'],
  command: null,
  network: 'apinet',
  memory: 0,
  cpus: 0,
  constraints: [],
  placementPrefs: [],
  stopGraceMs: 10_000
}

t.test('slotServiceSpec: one replica, restart none, dnsrr, nothing published, labels on service and containers', async (t) => {
  const spec = slotServiceSpec(base, 3)
  t.match(spec, {
    Name: 'api-3',
    Labels: { 'io.symphony.managed': 'true', 'io.symphony.service': 'api', 'io.symphony.slot': '3' },
    TaskTemplate: {
      ContainerSpec: { Image: 'sha256:abc', Env: ['A=1'], Labels: { 'io.symphony.slot': '3' }, StopGracePeriod: 10_000_000_000 },
      RestartPolicy: { Condition: 'none' },
      Placement: { Constraints: [], Preferences: [] },
      Networks: [{ Target: 'apinet' }]
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Mode: 'dnsrr' }
  })
  t.notOk('Ports' in (spec.EndpointSpec ?? {}), 'no port published on any node')
  t.same((spec.TaskTemplate as { Resources: unknown }).Resources, {}, 'no limits unless asked')
  t.notOk('Args' in ((spec.TaskTemplate as { ContainerSpec: object }).ContainerSpec), 'the image\'s own command')
})

t.test('slotServiceSpec: placement, limits and command pass through', async (t) => {
  const spec = slotServiceSpec({ ...base, constraints: ['node.role==worker'], placementPrefs: ['spread=node.labels.zone'], memory: 64 * 1024 * 1024, cpus: 0.5, command: 'serve --fast' }, 0)
  t.match(spec.TaskTemplate, {
    ContainerSpec: { Args: ['serve', '--fast'] },
    Resources: { Limits: { MemoryBytes: 67_108_864, NanoCPUs: 500_000_000 } },
    Placement: { Constraints: ['node.role==worker'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }] }
  })
})

t.test('names and slot labels', async (t) => {
  t.equal(slotServiceName('api', 12), 'api-12')
  t.equal(slotFromLabels({ 'io.symphony.slot': '7' }), 7)
  t.equal(slotFromLabels({ 'io.symphony.slot': 'x' }), null)
  t.equal(slotFromLabels({}), null)
  t.equal(slotFromLabels(undefined), null)
})

const NET = 'net1'
const attach = (ip: string): TaskRecord['NetworksAttachments'] => [{ Network: { ID: NET }, Addresses: [`${ip}/24`] }]
const task = (over: Partial<TaskRecord> & { state?: string }): TaskRecord => ({
  ID: 't',
  ServiceID: 's',
  NodeID: 'n1',
  CreatedAt: '2026-01-01T00:00:00Z',
  DesiredState: 'running',
  Status: { State: over.state ?? 'running' },
  NetworksAttachments: attach('10.0.1.5'),
  ...over
})
const nodes = (state = 'ready'): Map<string, NodeRecord> => new Map([['n1', { ID: 'n1', Description: { Hostname: 'node-1' }, Status: { State: state } }]])

t.test('slotState', async (t) => {
  t.match(slotState([task({})], nodes(), NET), { alive: true, running: true, reason: null, node: 'node-1', address: '10.0.1.5' }, 'running')
  t.match(slotState([task({ state: 'starting' })], nodes(), NET), { alive: true, running: false }, 'on its way: alive, not running')
  t.match(slotState([task({})], nodes('down'), NET), { alive: false, running: false, reason: 'node-down' }, 'its node is down')
  t.match(slotState([task({})], nodes('disconnected'), NET), { alive: false, reason: 'node-down' }, 'its node is disconnected')
  t.match(slotState([task({ state: 'failed', DesiredState: 'shutdown', Status: { State: 'failed', Err: 'task: non-zero exit (1)', ContainerStatus: { ExitCode: 1 } } })], nodes(), NET),
    { alive: false, reason: 'die', error: 'task: non-zero exit (1)' }, 'exited')
  t.match(slotState([task({ Status: { State: 'failed', ContainerStatus: { ExitCode: 137 } } })], nodes(), NET), { alive: false, reason: 'kill' }, 'SIGKILLed')
  t.match(slotState([task({ Status: { State: 'rejected', Err: 'No such image: sha256:abc' } })], nodes(), NET), { alive: false, reason: 'die', error: 'No such image: sha256:abc' }, 'rejected')
  t.match(slotState([task({ DesiredState: 'shutdown' })], nodes(), NET), { alive: false }, 'being shut down')
  t.match(slotState([], nodes(), NET), { task: null, alive: false, reason: null }, 'no task yet')
  t.match(slotState([task({ NetworksAttachments: undefined, state: 'pending' })], nodes(), NET), { alive: true, address: null }, 'not yet allocated')
  const older = task({ ID: 'old', DesiredState: 'shutdown', state: 'shutdown', CreatedAt: '2026-01-01T00:00:00Z' })
  const newer = task({ ID: 'new', CreatedAt: '2026-01-01T00:01:00Z', NetworksAttachments: attach('10.0.1.9') })
  t.match(slotState([older, newer], nodes(), NET), { task: { ID: 'new' }, address: '10.0.1.9' }, 'the task meant to run wins')
  t.match(slotState([newer, older], nodes(), NET), { task: { ID: 'new' } }, 'whatever the order')
})

t.test('pinnedImage: the registry digest when there is one, else the image id', async (t) => {
  t.equal(pinnedImage({ Id: 'sha256:abc', RepoDigests: ['acme/api@sha256:def'] }), 'acme/api@sha256:def')
  t.equal(pinnedImage({ Id: 'sha256:abc', RepoDigests: [] }), 'sha256:abc')
  t.equal(pinnedImage({ Id: 'sha256:abc' }), 'sha256:abc')
})
