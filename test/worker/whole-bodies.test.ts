import http from 'node:http'
import net from 'node:net'
import { spawn, type ChildProcess } from 'node:child_process'
import t from 'tap'
import { Agent, request } from 'undici'
import { startTestGateway, sleep } from '../helpers/gateway'

/**
 * Every byte of every answer arrives (issue #17), under the conditions that used to cut bodies
 * short: large downloads on one thread's many connections at once, some clients reading slowly
 * (their sockets full, the exchange paused on backpressure), fast readers beside them, uploads
 * streaming the other way, and the machine kept busy by spinning processes.
 *
 * The defect it guards against: when the upstream's last body chunk met a full client socket,
 * the answer was ended before the rest was written and the connection closed, the body short by
 * up to one read (64 KiB). Without the fix this test saw such bodies in every run (the rate is
 * in the commit that added it); with it, none may be wrong.
 */

const MiB = 1024 * 1024
/** Rounds of concurrent transfers; each round checks SLOW + FAST + CHUNKED + UPLOADS bodies. */
const ROUNDS = Number(process.env.WHOLE_BODIES_ROUNDS ?? 60)
const SLOW = 4
const FAST = 2
const CHUNKED = 1
const UPLOADS = 1
/** Bounded busy loops beside the test: a busy 2-core production server. */
const SPINNERS = 2
const SPIN_LIMIT_MS = 10 * 60 * 1000

function pattern (size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 17 + (i >> 12)) & 0xff
  return b
}

/**
 * One pattern; each download asks for a prefix of it. A slow reader's socket fills and drains
 * in cycles of about a megabyte, at offsets that repeat from run to run on a quiet machine, so a
 * body of one fixed size rarely ends inside a cycle's short writes. Sizes stepping through a
 * cycle (4 MiB + k * 53 KiB) make every run meet the end of a body on a short write.
 */
const whole = pattern(8 * MiB, 1)
const sizeOf = (k: number): number => 5 * MiB + ((k * 37 * 1024) % (2 * MiB)) + (k % 7)

/** A plain node:http backend: Content-Length downloads, chunked downloads, and an echo. */
async function backend (): Promise<{ port: number, close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/'
    if (url.startsWith('/api/v1/_health')) { res.end('ok'); return }
    const m = /^\/(dl|chunked)\/(\d+)$/.exec(url)
    if (m !== null) {
      const body = whole.subarray(0, Number(m[2]))
      if (m[1] === 'dl') {
        res.writeHead(200, { 'content-length': body.length })
        res.end(body)
        return
      }
      // Chunked, written in uneven pieces so chunk boundaries fall everywhere.
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      let at = 0
      const step = (): void => {
        while (at < body.length) {
          const n = Math.min(body.length - at, 7919 + (at % 50000))
          const more = res.write(body.subarray(at, at + n))
          at += n
          if (!more) { res.once('drain', step); return }
        }
        res.end()
      }
      step()
      return
    }
    if (url === '/echo' && req.method === 'POST') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      req.pipe(res)
      return
    }
    res.statusCode = 404
    res.end()
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}

/**
 * A client that reads slowly: it pauses `pauseMs` after every chunk, so its socket fills and
 * the gateway's writes meet backpressure. It reads until the gateway closes (Connection:
 * close), so a short body shows as exactly that, not as a client-side error.
 */
function slowDownload (port: number, path: string, pauseMs: number): Promise<{ status: number, body: Buffer, declared: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const s = net.connect(port, '127.0.0.1', () => { s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`) })
    s.on('data', (d) => {
      chunks.push(d)
      s.pause()
      setTimeout(() => s.resume(), pauseMs)
    })
    s.on('error', reject)
    s.on('close', () => {
      const raw = Buffer.concat(chunks)
      const at = raw.indexOf('\r\n\r\n')
      if (at < 0) { resolve({ status: 0, body: Buffer.alloc(0), declared: -1 }); return }
      const head = raw.subarray(0, at).toString('latin1')
      const status = Number(head.split(' ')[1])
      const cl = /\r\ncontent-length: *(\d+)/i.exec(head)
      resolve({ status, body: raw.subarray(at + 4), declared: cl === null ? -1 : Number(cl[1]) })
    })
  })
}

/** An undici client that reads the body at `pauseMs` per chunk (0: as fast as it comes). */
async function download (agent: Agent, url: string, pauseMs: number): Promise<Buffer> {
  const res = await request(url, { dispatcher: agent })
  const chunks: Buffer[] = []
  for await (const chunk of res.body) {
    chunks.push(chunk as Buffer)
    if (pauseMs > 0) await sleep(pauseMs)
  }
  return Buffer.concat(chunks)
}

async function upload (agent: Agent, url: string, body: Buffer): Promise<Buffer> {
  const res = await request(url, { dispatcher: agent, method: 'POST', body })
  return Buffer.from(await res.body.arrayBuffer())
}

function spinners (t: { teardown: (fn: () => void) => void }): ChildProcess[] {
  const procs: ChildProcess[] = []
  for (let i = 0; i < SPINNERS; i++) {
    // Bounded: each spinner stops by itself after SPIN_LIMIT_MS, and at teardown.
    procs.push(spawn(process.execPath, ['-e', `const end = Date.now() + ${SPIN_LIMIT_MS}; while (Date.now() < end);`], { stdio: 'ignore' }))
  }
  t.teardown(() => { for (const p of procs) p.kill('SIGKILL') })
  return procs
}

t.test('large answers arrive whole under slow and fast readers, uploads and a busy machine', async (t) => {
  const be = await backend()
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '2', '--max-body-size', String(64 * MiB)])
  const agent = new Agent({ connections: 8, bodyTimeout: 60_000, headersTimeout: 60_000 })
  t.teardown(() => agent.close())
  spinners(t)

  const wrong: string[] = []
  let checked = 0
  const expect = (what: string, got: Buffer, want: Buffer): void => {
    checked++
    if (!got.equals(want)) wrong.push(`${what}: ${got.length} of ${want.length} bytes${got.length === want.length ? ' (content differs)' : ''}`)
  }
  const upBody = pattern(2 * MiB, 9)
  const started = Date.now()
  for (let round = 0; round < ROUNDS; round++) {
    const jobs: Array<Promise<void>> = []
    for (let i = 0; i < SLOW; i++) {
      const size = sizeOf(round * SLOW + i)
      jobs.push(slowDownload(gw.port, `/dl/${size}`, 2 + (i % 3)).then((r) => {
        if (r.status !== 200) { checked++; wrong.push(`slow /dl/${size}: status ${r.status}`); return }
        expect(`slow /dl/${size} (declared ${r.declared})`, r.body, whole.subarray(0, size))
      }))
    }
    for (let i = 0; i < FAST; i++) {
      const size = sizeOf(round * FAST + i + 11)
      jobs.push(download(agent, `${gw.url}/dl/${size}`, 0).then((b) => expect(`fast /dl/${size}`, b, whole.subarray(0, size))))
    }
    for (let i = 0; i < CHUNKED; i++) {
      const size = sizeOf(round * CHUNKED + i + 23)
      jobs.push(download(agent, `${gw.url}/chunked/${size}`, 1).then((b) => expect(`slow chunked /chunked/${size}`, b, whole.subarray(0, size))))
    }
    for (let i = 0; i < UPLOADS; i++) {
      jobs.push(upload(agent, `${gw.url}/echo`, upBody).then((b) => expect('upload echoed', b, upBody)))
    }
    const settled = await Promise.allSettled(jobs)
    for (const s of settled) {
      if (s.status === 'rejected') { checked++; wrong.push(`transfer failed: ${String((s.reason as Error)?.message ?? s.reason)}`) }
    }
  }
  const perRound = SLOW + FAST + CHUNKED + UPLOADS
  t.equal(checked, ROUNDS * perRound, `every transfer was checked (${checked} bodies in ${Math.round((Date.now() - started) / 1000)} s)`)
  t.same(wrong, [], `no body short, long or different among ${checked}`)
})
