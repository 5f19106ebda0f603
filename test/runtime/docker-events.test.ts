/**
 * DockerRuntime.events() against a scripted fake engine on a unix socket: the real engine cannot
 * be made to drop its event stream on cue without disturbing everyone else using it.
 */
import t from 'tap'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { once } from 'node:events'
import { DockerRuntime } from '../../src/runtime/docker'
import type { RuntimeEvent } from '../../src/runtime/types'
import { nextMatching } from '../helpers/docker'

const BASE = 1_700_000_000_000_000_000n

function event (action: string, id: string, port: number, nano: bigint): string {
  // timeNano written as raw digits, as the engine does (beyond 2^53).
  return `{"status":"${action}","id":"${id}","Type":"container","Action":"${action}",` +
    `"Actor":{"ID":"${id}","Attributes":{"io.symphony.port":"${port}","exitCode":"137"}},` +
    `"scope":"local","time":${nano / 1_000_000_000n},"timeNano":${nano}}\n`
}

interface Call { at: number, query: URLSearchParams }

/** Connection 1: kill+die then end; 2: HTTP 500; 3: replays the die, adds one, stays open. */
async function fakeEngine (t: { teardown: (fn: () => unknown) => void }): Promise<{ socket: string, calls: Call[] }> {
  const socket = path.join(os.tmpdir(), `symphony-fake-docker-${process.pid}-${Date.now()}.sock`)
  const calls: Call[] = []
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://docker')
    if (!url.pathname.endsWith('/events')) {
      res.writeHead(404).end('{"message":"not here"}')
      return
    }
    calls.push({ at: Date.now(), query: url.searchParams })
    const n = calls.length
    if (n === 2) {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"message":"engine restarting"}')
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    if (n === 1) {
      res.write(event('kill', 'aaa', 18090, BASE + 1n))
      // Split mid-line: the parser must reassemble chunks.
      const die = event('die', 'aaa', 18090, BASE + 2n)
      res.write(die.slice(0, 20))
      setTimeout(() => res.end(die.slice(20)), 20)
    } else {
      res.write(event('die', 'aaa', 18090, BASE + 2n))
      res.write(event('oom', 'bbb', 18091, BASE + 3n))
      res.write(event('kill', 'bbb', 18091, BASE + 4n))
      res.write(event('die', 'bbb', 18091, BASE + 5n))
    }
  })
  server.listen(socket)
  await once(server, 'listening')
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  return { socket, calls }
}

function runtime (socket: string): DockerRuntime {
  return new DockerRuntime({
    image: 'unused',
    service: 'fake',
    containerPort: 80,
    publishHost: '127.0.0.1',
    env: [],
    command: null,
    network: null,
    memory: 0,
    cpus: 0
  }, { dockerHost: `unix://${socket}` })
}

t.test('events: one exit per death, disconnect, backoff, reconnect, replay since', async (t) => {
  const { socket, calls } = await fakeEngine(t)
  const rt = runtime(socket)
  const ac = new AbortController()
  t.teardown(() => ac.abort())
  const it = rt.events(ac.signal)[Symbol.asyncIterator]()
  const any = (): boolean => true

  t.same(await nextMatching(it, any), { type: 'exit', id: 'aaa', port: 18090, reason: 'kill' })
  const disconnected = await nextMatching<RuntimeEvent>(it, any)
  t.equal(disconnected.type, 'disconnected')
  t.same(await nextMatching(it, any), { type: 'reconnected' }, 'one disconnected despite the failed retry')
  t.same(await nextMatching(it, any), { type: 'exit', id: 'bbb', port: 18091, reason: 'oom' },
    'the replayed die of aaa is skipped; oom outranks the kill after it')

  t.equal(calls.length, 3)
  t.equal(calls[0]!.query.get('since'), null, 'first connection starts from now')
  t.equal(calls[2]!.query.get('since'), '1700000000.000000002', 'resume from the last event, to the nanosecond')
  const filters = JSON.parse(calls[0]!.query.get('filters') ?? '{}') as Record<string, string[]>
  t.same(filters.label, ['io.symphony.managed=true', 'io.symphony.service=fake'])
  t.same(filters.event, ['die', 'oom', 'kill'])
  t.ok(calls[1]!.at - calls[0]!.at >= 90, 'first retry after ~100 ms')
  t.ok(calls[2]!.at - calls[1]!.at >= 190, 'second retry after ~200 ms')

  const end = it.next()
  ac.abort()
  t.same(await end, { done: true, value: undefined }, 'abort ends the open stream')
})

t.test('events: close() ends the iterator while it waits to reconnect', async (t) => {
  const rt = runtime(path.join(os.tmpdir(), `symphony-no-engine-${process.pid}.sock`))
  const it = rt.events(new AbortController().signal)[Symbol.asyncIterator]()
  const first = await it.next()
  t.equal((first.value as RuntimeEvent).type, 'disconnected')
  const end = it.next()
  await new Promise((resolve) => setTimeout(resolve, 50))
  await rt.close()
  t.same(await end, { done: true, value: undefined })
})

t.test('events: breaking out of the loop closes the stream', async (t) => {
  const { socket, calls } = await fakeEngine(t)
  const rt = runtime(socket)
  // eslint-disable-next-line no-unreachable-loop -- one pass is the point: leaving a for-await early must end the stream
  for await (const ev of rt.events(new AbortController().signal)) {
    t.equal(ev.type, 'exit')
    break
  }
  t.equal(calls.length, 1)
})
