import net from 'node:net'
import t from 'tap'
import { W_SLABS_MADE, W_SLABS_OUT, workerBase } from '../../src/table/layout'
import { startTestGateway, waitFor } from '../helpers/gateway'
import { rawBackend } from '../helpers/raw-backend'

/**
 * Issue #23 point 7: clients that abandon downloads mid-answer made the gateway's RSS grow and
 * stay up. What an abandoned answer held (the unsent part of the body, the upstream bytes a
 * paused parse left) must go back to the thread's slabs (src/worker/slabs.ts) at the abort, and
 * the next abandoned answers must reuse those slabs rather than allocate new blocks.
 * Counted through the thread's words of the shared table, which its maintenance tick stores.
 */

/** Past what loopback socket buffers on both sides of the gateway take, so the answer blocks. */
const BODY = 32 * 1024 * 1024
const BATCH = 8
const BATCHES = 5

/** A client that asks for the 32 MiB answer, reads its first bytes and then stops reading. */
async function stalledDownload (port: number): Promise<net.Socket> {
  return await new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n'))
    s.once('data', () => {
      s.pause()
      resolve(s)
    })
    s.on('error', reject)
  })
}

t.test('abandoned downloads give their slabs back, and later ones reuse them', async (t) => {
  const wire = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${BODY}\r\n\r\n`), Buffer.alloc(BODY, 0x7a)])
  const be = await rawBackend(() => ({ wire }))
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1'])
  const i32 = new Int32Array(gw.table.sab)
  const out = (): number => Atomics.load(i32, workerBase(0) + W_SLABS_OUT)
  const made = (): number => Atomics.load(i32, workerBase(0) + W_SLABS_MADE)

  let mostOut = 0
  for (let b = 0; b < BATCHES; b++) {
    const clients = await Promise.all(Array.from({ length: BATCH }, async () => await stalledDownload(gw.port)))
    // Each stalled answer keeps what its client's socket could not take in a slab.
    t.ok(await waitFor(() => out() >= BATCH, 5000), `batch ${b + 1}: ${BATCH} stalled answers hold slabs (${out()} out)`)
    mostOut = Math.max(mostOut, out())
    for (const c of clients) c.destroy()
    t.ok(await waitFor(() => out() === 0, 5000), `batch ${b + 1}: every slab is back once the clients left (${out()} out)`)
  }
  // An answer holds at most two at once (its unsent body, and what the paused parse left).
  t.ok(made() <= 2 * BATCH, `${made()} slabs ever allocated for ${BATCHES * BATCH} abandoned answers (at most ${mostOut} seen in use at once): reused, not one per answer`)
})
