import t from 'tap'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { createTableBuffer, State } from '../../src/table/layout'
import { TableWriter } from '../../src/table/writer'
import { expectedHost } from './torn-pattern'

// The seqlock claim (src/table/writer.ts): readers in other threads never act on a torn entry,
// however fast the only writer rewrites slots and the rotation.
t.test('several reader threads see no torn slot or rotation while the main thread rewrites', async (t) => {
  const sab = createTableBuffer()
  const writer = new TableWriter(sab)
  // word 0: stop flag; word 1: reads so far, over all readers
  const stop = new SharedArrayBuffer(8)
  const progress = new Int32Array(stop)
  const SLOTS = 8
  const READERS = 2
  const workers = Array.from({ length: READERS }, () => new Worker(path.join(__dirname, 'torn-reader.js'), {
    workerData: { sab, stop, slots: SLOTS }
  }))
  const results = workers.map((w) => new Promise<{ reads: number, torn: number, picks: number, examples: string[] }>((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
  }))
  let writes = 0
  // Until the readers made a million reads (bounded: 60 s on a loaded machine).
  const end = Date.now() + 60_000
  let port = 1
  while (Date.now() < end && Atomics.load(progress, 1) < 1_200_000) {
    for (let i = 0; i < 500; i++) {
      const slot = (writes + i) % SLOTS
      port = (port * 7 + 13) % 65000 + 1
      writer.assign(slot, expectedHost(port), port)
      if ((writes + i) % 3 !== 0) writer.setState(slot, State.HEALTHY)
    }
    writes += 500
    // Let the readers' event loops breathe is unnecessary: they never yield; only we must.
    await new Promise((resolve) => setImmediate(resolve))
  }
  Atomics.store(new Int32Array(stop), 0, 1)
  const out = await Promise.all(results)
  await Promise.all(workers.map((w) => w.terminate()))
  const reads = out.reduce((n, r) => n + r.reads, 0)
  const torn = out.reduce((n, r) => n + r.torn, 0)
  t.comment(`writes=${writes} reads=${reads} picks=${out.reduce((n, r) => n + r.picks, 0)}`)
  t.ok(writes > 10_000, `the writer rewrote slots ${writes} times`)
  t.ok(reads >= 1_000_000, `readers made ${reads} reads (at least a million)`)
  t.equal(torn, 0, `no torn snapshot (examples: ${out.flatMap((r) => r.examples).join('; ')})`)
})
