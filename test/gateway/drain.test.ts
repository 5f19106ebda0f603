import net from 'node:net'
import t from 'tap'
import { Agent, request } from 'undici'
import { startBackend } from '../helpers/backend'
import { migrateAcceptQueues } from '../helpers/bounded-load'
import { startCli } from '../helpers/cli'
import { sleep } from '../helpers/gateway'

/** A raw keep-alive connection that records every byte and how it ended (issue #23). */
interface Watched {
  readonly socket: net.Socket
  text: () => string
  /** 'end' (a FIN: a clean close), an error code such as 'ECONNRESET', or 'open'. */
  ending: () => string
  closed: Promise<void>
  send: (path: string) => void
  /** Resolves with the head of the next whole answer (bodies need a Content-Length). */
  answer: () => Promise<string>
}

function watch (port: number): Promise<Watched> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let buf = ''
    let ending = 'open'
    let waiting: ((head: string) => void) | null = null
    const tryAnswer = (): void => {
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0 || waiting === null) return
      const head = buf.slice(0, end)
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
      if (buf.length < end + 4 + length) return
      buf = buf.slice(end + 4 + length)
      const done = waiting
      waiting = null
      done(head)
    }
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    socket.on('data', (d: Buffer) => { buf += d.toString('latin1'); tryAnswer() })
    socket.on('end', () => { if (ending === 'open') ending = 'end'; socket.end() })
    socket.on('error', (err: NodeJS.ErrnoException) => { ending = err.code ?? err.message })
    socket.once('connect', () => {
      resolve({
        socket,
        text: () => buf,
        ending: () => ending,
        closed,
        send: (path) => { socket.write(`GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`) },
        answer: () => new Promise((resolve) => { waiting = resolve; tryAnswer() })
      })
    })
    socket.once('error', reject)
  })
}

t.test('draining: answers say Connection: close, and keep-alive connections end with a FIN, never a reset', async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const cli = await startCli(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1', '--drain-timeout', '10s'])
  // An idle connection (one answer, then nothing), one that will ask during the drain, and one
  // with an answer in flight when the signal comes.
  const idle = await watch(cli.port)
  idle.send('/')
  t.notMatch(await idle.answer(), /connection: close/i, 'before the drain: keep-alive')
  const later = await watch(cli.port)
  later.send('/')
  await later.answer()
  const busy = await watch(cli.port)
  busy.send('/slow?ms=1200')
  await sleep(300)
  cli.child.kill('SIGTERM')
  await sleep(200)
  later.send('/')
  const laterHead = await later.answer()
  t.match(laterHead, /^HTTP\/1\.1 200/, 'a request on an open keep-alive connection during the drain is served')
  t.match(laterHead, /\r\nconnection: close/i, 'with Connection: close')
  const busyHead = await busy.answer()
  t.match(busyHead, /^HTTP\/1\.1 200/, 'the answer in flight at the signal is served whole')
  t.match(busyHead, /\r\nconnection: close/i, 'with Connection: close')
  await Promise.all([idle.closed, later.closed, busy.closed])
  t.same([idle.ending(), later.ending(), busy.ending()], ['end', 'end', 'end'], 'each connection ended with a FIN: no reset')
  t.equal(await cli.exited, 0, 'exit 0')
})

/**
 * GET loops on an undici pool until the gateway's port refuses them. Every outcome is counted by
 * status or error code: the only failure a drain may cause is a refused new connection once the
 * listen socket is closed (undici's keep-alive pool honours Connection: close and connects anew).
 */
async function loadUntilRefused (url: string, clients: number, stopAt: number): Promise<Map<string, number>> {
  const agent = new Agent({ connections: clients, keepAliveTimeout: 30_000 })
  const outcomes = new Map<string, number>()
  const count = (k: string): void => { outcomes.set(k, (outcomes.get(k) ?? 0) + 1) }
  const loop = async (i: number): Promise<void> => {
    while (Date.now() < stopAt) {
      try {
        // Every third request is slow, so that answers are in flight when the signal comes.
        const res = await request(`${url}/slow?ms=${i % 3 === 0 ? 150 : 5}`, { dispatcher: agent })
        await res.body.dump()
        count(String(res.statusCode))
      } catch (err) {
        const e = err as Error & { code?: string, cause?: { code?: string } }
        const code = e.cause?.code ?? e.code ?? e.message
        count(code)
        if (code === 'ECONNREFUSED') return
      }
    }
  }
  await Promise.all(Array.from({ length: clients }, (_, i) => loop(i)))
  await agent.close()
  return outcomes
}

t.test('SIGTERM under keep-alive load: nothing fails but connections refused after the listen socket closed', async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  // The threads close their listen sockets one after the other: without the sysctl a connection
  // queued on the first to close is reset instead of moved (docs/reliability.md, "Shutdown").
  migrateAcceptQueues(t)
  const cli = await startCli(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '2', '--drain-timeout', '10s'])
  const load = loadUntilRefused(`http://127.0.0.1:${cli.port}`, 24, Date.now() + 15_000)
  await sleep(1500)
  cli.child.kill('SIGTERM')
  const outcomes = await load
  t.equal(await cli.exited, 0, 'exit 0')
  const other = [...outcomes].filter(([k]) => k !== '200' && k !== 'ECONNREFUSED')
  t.ok((outcomes.get('200') ?? 0) > 100, `served before and during the drain (${JSON.stringify(Object.fromEntries(outcomes))})`)
  t.same(other, [], 'no reset, no "other side closed", no error answer: only refused connections')
})
