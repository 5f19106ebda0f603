import net from 'node:net'
import t from 'tap'
import { request } from 'undici'
import { startTestGateway, waitFor } from '../helpers/gateway'
import { rawBackend } from '../helpers/raw-backend'

/**
 * An upstream that fails mid-body (issue #17): the client must see the connection cut, never an
 * answer that looks complete and is short, and the cut is counted by reason.
 */

/** A backend whose /cl and /chunked answers stop part-way and close. */
function failingBackend (): ReturnType<typeof rawBackend> {
  return rawBackend((path, socket) => {
    if (path === '/cl') {
      // Announces 1 MiB, sends 300 KiB in a separate write (so the head goes out first), then dies.
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n')
      setTimeout(() => { socket.write(Buffer.alloc(300 * 1024, 0x61)); setTimeout(() => socket.destroy(), 50) }, 30)
    } else {
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')
      setTimeout(() => { socket.write('4000\r\n' + 'b'.repeat(0x4000) + '\r\n'); setTimeout(() => socket.destroy(), 50) }, 30)
    }
    return null
  })
}

/** Read an answer with a raw socket until the gateway closes: what a client that reads to close sees. */
function rawGet (port: number, path: string): Promise<{ head: string, bodyBytes: number, lastChunk: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const s = net.connect(port, '127.0.0.1', () => { s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`) })
    s.on('data', (d) => chunks.push(d))
    s.on('error', reject)
    s.on('close', () => {
      const raw = Buffer.concat(chunks)
      const at = raw.indexOf('\r\n\r\n')
      const body = raw.subarray(at + 4)
      resolve({ head: raw.subarray(0, at).toString('latin1'), bodyBytes: body.length, lastChunk: body.toString('latin1').endsWith('0\r\n\r\n') })
    })
  })
}

async function cutCount (admin: string, reason: string): Promise<number> {
  const text = await (await request(`${admin}/metrics`)).body.text()
  const m = new RegExp(`^symphony_answers_cut_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)
  return m === null ? -1 : Number(m[1])
}

t.test('an upstream that dies mid-body: the client sees the cut, and it is counted', async (t) => {
  const be = await failingBackend()
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1'])
  t.equal(await cutCount(gw.admin, 'reset'), 0, 'no cut before')

  const cl = await rawGet(gw.port, '/cl')
  t.match(cl.head, /^HTTP\/1\.1 200 /, 'the head was relayed')
  t.match(cl.head, /content-length: 1048576/i, 'with the length the upstream announced')
  t.ok(cl.bodyBytes < 1048576, `the connection closed after ${cl.bodyBytes} of 1048576 bytes: short and visibly so`)

  const chunked = await rawGet(gw.port, '/chunked')
  t.match(chunked.head, /transfer-encoding: chunked/i, 'a chunked answer')
  t.notOk(chunked.lastChunk, 'no terminating chunk: the client can tell the body is incomplete')

  await t.rejects(async () => {
    const res = await request(`${gw.url}/cl`)
    await res.body.arrayBuffer()
  }, 'undici, which checks the length, reports the cut as an error')

  t.ok(await waitFor(async () => await cutCount(gw.admin, 'reset') === 3, 3000), 'symphony_answers_cut_total{reason="reset"} counts the three cuts')
})
