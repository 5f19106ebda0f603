// Worker thread of test/table/torn.test.ts: reads slots and the rotation as fast as it can while
// the main thread rewrites them, and counts every inconsistent (torn) snapshot. Shared words of
// `stop`: 0 the stop flag, 1 reads so far and 2 torn snapshots so far, over all readers.
import { parentPort, workerData } from 'node:worker_threads'
import { TableReader } from '../../src/table/reader'
import { expectedHost } from './torn-pattern'

const reader = new TableReader(workerData.sab as SharedArrayBuffer)
const stop = new Int32Array(workerData.stop as SharedArrayBuffer)
const slots = workerData.slots as number
const rot = new Int32Array(512)
let reads = 0
let torn = 0
let tornShared = 0
let picks = 0
const examples: string[] = []
while (Atomics.load(stop, 0) === 0) {
  for (let i = 0; i < 1000; i++) {
    const snap = reader.readSlot((reads + i) % slots)
    if (snap.id !== 0 && snap.host !== expectedHost(snap.port)) {
      torn++
      if (examples.length < 3) examples.push(`${snap.port} ${snap.host}`)
    }
  }
  reads += 1000
  Atomics.add(stop, 1, 1000)
  const n = reader.rotation(rot)
  for (let e = 1; e < n; e++) if (rot[e * 2] <= rot[(e - 1) * 2]) torn++
  reads++
  if (reader.pick(-1, 0)) picks++
  if (torn !== tornShared) {
    Atomics.add(stop, 2, torn - tornShared)
    tornShared = torn
  }
}
parentPort?.postMessage({ reads, torn, picks, examples })
