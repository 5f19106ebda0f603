/**
 * ProcessRuntime with the example API (examples/api/server.js) as real child processes.
 * Host ports 18020-18039.
 */
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { request } from 'undici'
import { ProcessRuntime } from '../../src/runtime/process'
import { PortInUseError, StartError } from '../../src/errors'
import type { RuntimeEvent } from '../../src/runtime/types'
import { exampleServer, nextMatching, waitFor } from '../helpers/docker'

function runtimeFor (t: { teardown: (fn: () => unknown) => void }, command = `node ${exampleServer}`): ProcessRuntime {
  const rt = new ProcessRuntime({ service: 'proc', env: ['GREETING=hi'], command })
  t.teardown(async () => {
    for (const r of await rt.list()) await rt.stop(r, 0)
    await rt.close()
  })
  return rt
}

async function get (port: number, path: string, method: 'GET' | 'POST' = 'GET'): Promise<number> {
  const res = await request(`http://127.0.0.1:${port}${path}`, { method, headersTimeout: 2000, bodyTimeout: 2000 })
  await res.body.dump()
  return res.statusCode
}

const healthy = (port: number) => async () => (await get(port, '/api/v1/_health')) === 200 ? true : undefined

t.test('start, health, list, kill → exit event, stop twice', async (t) => {
  const port = 18020
  const rt = runtimeFor(t)
  await rt.init()
  const ac = new AbortController()
  t.teardown(() => ac.abort())
  const events = rt.events(ac.signal)[Symbol.asyncIterator]()

  const replica = await rt.start(port)
  t.match(replica, { id: /^pid:\d+$/, name: 'symphony-proc-18020', key: port, address: { host: '127.0.0.1', port }, running: true })
  await waitFor('health 200', healthy(port))
  t.match(await rt.list(), [{ id: replica.id, running: true }])

  const pid = Number(replica.id.slice(4))
  process.kill(pid, 'SIGKILL')
  t.same(await nextMatching<RuntimeEvent>(events, () => true), { type: 'exit', id: replica.id, port, reason: 'kill' })
  t.match(await rt.list(), [{ id: replica.id, running: false }], 'an exited child stays listed until stopped')

  await rt.stop(replica, 1000)
  t.same(await rt.list(), [])
  await t.resolves(rt.stop(replica, 1000), 'a second stop is fine')
})

t.test('a crash (exit 1 via /admin/crash) is a die', async (t) => {
  const port = 18021
  const rt = runtimeFor(t)
  const ac = new AbortController()
  t.teardown(() => ac.abort())
  const events = rt.events(ac.signal)[Symbol.asyncIterator]()
  const replica = await rt.start(port)
  await waitFor('health 200', healthy(port))
  t.equal(await get(port, '/admin/crash', 'POST'), 200)
  t.same(await nextMatching<RuntimeEvent>(events, () => true), { type: 'exit', id: replica.id, port, reason: 'die' })
})

t.test('stop: SIGTERM first, and the server exits on it within the grace period', async (t) => {
  const port = 18022
  const rt = runtimeFor(t)
  const replica = await rt.start(port)
  await waitFor('health 200', healthy(port))
  const started = Date.now()
  await rt.stop(replica, 5000)
  t.ok(Date.now() - started < 2000)
  t.same(await rt.list(), [])
  await t.rejects(get(port, '/api/v1/_health'), 'nothing listens any more')
})

t.test('stop: SIGKILL after the grace period when SIGTERM is ignored; PORT and env reach the child', async (t) => {
  const port = 18023
  const ignoring = "process.on('SIGTERM',()=>{});require('http').createServer((q,s)=>s.end(process.env.GREETING)).listen(process.env.PORT)"
  // No quoting in --command: the script travels in the environment instead.
  const rt = new ProcessRuntime({ service: 'proc', env: [`SCRIPT=${ignoring}`, 'GREETING=hi=there'], command: 'node -e eval(process.env.SCRIPT)' })
  t.teardown(async () => { for (const r of await rt.list()) await rt.stop(r, 0); await rt.close() })
  const replica = await rt.start(port)
  const body = await waitFor('listening', async () => await (await request(`http://127.0.0.1:${port}/`)).body.text())
  t.equal(body, 'hi=there', 'env values may contain =')
  const started = Date.now()
  await rt.stop(replica, 300)
  const took = Date.now() - started
  t.ok(took >= 290 && took < 3000, `waited the grace period, then killed (${took} ms)`)
  t.same(await rt.list(), [])
})

t.test('start: a taken port is PortInUseError', async (t) => {
  const port = 18024
  const holder = net.createServer().listen(port, '127.0.0.1')
  await once(holder, 'listening')
  t.teardown(() => { holder.close() })
  const rt = runtimeFor(t)
  const err = await rt.start(port).then(() => null, (e: unknown) => e)
  t.type(err, PortInUseError)
  t.match((err as Error).message, /port 18024 is already in use/)
  t.same(await rt.list(), [])
})

t.test('start: a command that does not exist is StartError', async (t) => {
  const rt = runtimeFor(t, 'symphony-no-such-command --flag')
  const err = await rt.start(18025).then(() => null, (e: unknown) => e)
  t.type(err, StartError)
  t.match((err as Error).message, /ENOENT/)
})

t.test('close() ends events() iterators', async (t) => {
  const rt = new ProcessRuntime({ service: 'proc', env: [], command: 'node x.js' })
  const it = rt.events(new AbortController().signal)[Symbol.asyncIterator]()
  const pending = it.next()
  await rt.close()
  t.same(await pending, { done: true, value: undefined })
})
