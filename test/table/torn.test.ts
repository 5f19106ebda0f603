import t from 'tap'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { createTableBuffer, State, S_PORT, slotBase } from '../../src/table/layout'
import { TableWriter, storeHost } from '../../src/table/writer'
import { expectedHost } from './torn-pattern'

const SLOTS = 8
const READERS = 2

/**
 * Reader threads (torn-reader.ts) read slots and the rotation flat out while `write(slot, port)`
 * rewrites slots with `expectedHost(port)` in the main thread, until `done(reads, torn)` or 60 s
 * (a loaded machine). Returns what the readers counted.
 */
async function hammer (writer: TableWriter, write: (slot: number, port: number) => void, done: (reads: number, torn: number) => boolean): Promise<{ writes: number, reads: number, torn: number, picks: number, examples: string[] }> {
  // word 0: stop flag; word 1: reads so far; word 2: torn snapshots so far (over all readers)
  const stop = new SharedArrayBuffer(12)
  const progress = new Int32Array(stop)
  const workers = Array.from({ length: READERS }, () => new Worker(path.join(__dirname, 'torn-reader.js'), {
    workerData: { sab: writer.sab, stop, slots: SLOTS }
  }))
  const results = workers.map((w) => new Promise<{ reads: number, torn: number, picks: number, examples: string[] }>((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
  }))
  let writes = 0
  const end = Date.now() + 60_000
  let port = 1
  while (Date.now() < end && !done(Atomics.load(progress, 1), Atomics.load(progress, 2))) {
    for (let i = 0; i < 500; i++) {
      port = (port * 7 + 13) % 65000 + 1
      write((writes + i) % SLOTS, port)
    }
    writes += 500
    // The readers never yield; only the writer must, to see the counters move.
    await new Promise((resolve) => setImmediate(resolve))
  }
  Atomics.store(progress, 0, 1)
  const out = await Promise.all(results)
  await Promise.all(workers.map((w) => w.terminate()))
  return {
    writes,
    reads: out.reduce((n, r) => n + r.reads, 0),
    torn: out.reduce((n, r) => n + r.torn, 0),
    picks: out.reduce((n, r) => n + r.picks, 0),
    examples: out.flatMap((r) => r.examples)
  }
}

// The seqlock claim (src/table/writer.ts): readers in other threads never act on a torn entry,
// however fast the only writer rewrites slots and the rotation.
t.test('several reader threads see no torn slot or rotation while the main thread rewrites', async (t) => {
  const writer = new TableWriter(createTableBuffer())
  let n = 0
  const r = await hammer(writer, (slot, port) => {
    writer.assign(slot, expectedHost(port), port)
    if (n++ % 3 !== 0) writer.setState(slot, State.HEALTHY)
  }, (reads) => reads >= 1_200_000)
  t.comment(`writes=${r.writes} reads=${r.reads} picks=${r.picks}`)
  t.ok(r.writes > 10_000, `the writer rewrote slots ${r.writes} times`)
  t.ok(r.reads >= 1_000_000, `readers made ${r.reads} reads (at least a million)`)
  t.equal(r.torn, 0, `no torn snapshot (examples: ${r.examples.join('; ')})`)
})

// Negative control: the same readers and detector, with the slots rewritten field by field and
// the sequence word left alone, so readers have no way to tell a write in progress. The
// detector must catch torn snapshots, or the test above could not fail.
t.test('negative control: written without the sequence protocol, torn snapshots are caught', async (t) => {
  const writer = new TableWriter(createTableBuffer())
  for (let s = 0; s < SLOTS; s++) writer.assign(s, expectedHost(s + 1), s + 1) // ids set: slots not empty
  const i32 = new Int32Array(writer.sab)
  const unprotected = (slot: number, port: number): void => {
    const base = slotBase(slot)
    const host = expectedHost(port)
    Atomics.store(i32, base + S_PORT, port)
    storeHost(i32, base, host)
  }
  const r = await hammer(writer, unprotected, (reads, torn) => torn >= 10 || reads >= 5_000_000)
  t.comment(`writes=${r.writes} reads=${r.reads} torn=${r.torn} (examples: ${JSON.stringify(r.examples.slice(0, 3))})`)
  t.ok(r.torn >= 10, `the detector caught torn snapshots (${r.torn})`)
})
