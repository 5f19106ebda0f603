/**
 * The rollout's trial mark in the shared table (src/table/layout.ts S_TRIAL): written by the
 * main thread's TableWriter, read by a worker's TableReader without the slot's seqlock, keyed by
 * the backend's id so that a slot reassigned since is never taken for one on trial.
 */
import t from 'tap'
import { createTableBuffer, State } from '../../src/table/layout'
import { TableReader } from '../../src/table/reader'
import { TableWriter } from '../../src/table/writer'

function table (n: number): { writer: TableWriter, reader: TableReader, ids: number[] } {
  const sab = createTableBuffer()
  const writer = new TableWriter(sab)
  const ids: number[] = []
  for (let slot = 0; slot < n; slot++) {
    ids.push(writer.assign(slot, '127.0.0.1', 20000 + slot))
    writer.setState(slot, State.HEALTHY)
  }
  return { writer, reader: new TableReader(sab), ids }
}

/**
 * The slots `k` picks land on. Settled-only picks do not move the cursor, so, as in traffic,
 * each follows an ordinary pick (a request's first attempt) that does.
 */
function picks (reader: TableReader, k: number, settledOnly: boolean, avoidSlot = -1, avoidId = 0): number[] {
  const out: number[] = []
  for (let i = 0; i < k; i++) {
    if (settledOnly) reader.pick(-1, 0)
    out.push(reader.pick(avoidSlot, avoidId, settledOnly) ? reader.pickedSlot : -1)
  }
  return out
}

t.test('a slot marked on trial is skipped by settled-only picks, and only by them', async (t) => {
  const { writer, reader, ids } = table(3)
  writer.markTrial(2, true)
  t.ok(reader.onTrial(2, ids[2]), 'the worker sees slot 2 on trial')
  t.notOk(reader.onTrial(1, ids[1]), 'slot 1 is not')
  t.ok(writer.isOnTrial(2), 'the main thread reads its own mark')
  t.same(new Set(picks(reader, 30, false)), new Set([0, 1, 2]), 'ordinary picks still reach every slot')
  t.same(new Set(picks(reader, 30, true)), new Set([0, 1]), 'settled-only picks never land on slot 2')
  t.same(new Set(picks(reader, 30, true, 0, ids[0])), new Set([1]), 'nor on the slot being avoided')
})

t.test('settled-only picks leave the round robin of ordinary picks as it was', async (t) => {
  const a = table(3)
  const b = table(3)
  a.writer.markTrial(1, true)
  b.writer.markTrial(1, true)
  const plain: number[] = []
  const mixed: number[] = []
  for (let i = 0; i < 12; i++) {
    plain.push(...picks(a.reader, 1, false))
    mixed.push(...picks(b.reader, 1, false))
    b.reader.pick(-1, 0, true) // a retry away from slot 1 after every request
  }
  t.same(mixed, plain, 'the same sequence of slots')
  t.same(plain.filter((s) => s === 1).length, 4, 'slot 1 keeps its third of the first attempts, not more')
})

t.test('no settled slot left: a settled-only pick finds none', async (t) => {
  const { writer, reader } = table(2)
  writer.markTrial(0, true)
  writer.markTrial(1, true)
  t.same(picks(reader, 4, true), [-1, -1, -1, -1])
  writer.markTrial(1, false)
  t.same(picks(reader, 4, true), [1, 1, 1, 1], 'unmarked, it is picked again')
})

t.test('the mark belongs to the backend: a slot reassigned since is not on trial', async (t) => {
  const { writer, reader, ids } = table(2)
  writer.markTrial(1, true)
  const id = writer.assign(1, '127.0.0.1', 21001)
  writer.setState(1, State.HEALTHY)
  t.not(id, ids[1])
  t.notOk(reader.onTrial(1, id), 'the new backend in slot 1 is not on trial')
  t.notOk(reader.onTrial(1, ids[1]) && writer.isOnTrial(1), 'the writer no longer reports it')
  t.same(new Set(picks(reader, 20, true)), new Set([0, 1]))
  t.notOk(reader.onTrial(0, 0), 'id 0 (no backend) is never on trial')
})

t.test('marking an empty slot stores no mark', async (t) => {
  const { writer, reader } = table(1)
  writer.markTrial(5, true)
  t.notOk(writer.isOnTrial(5))
  t.notOk(reader.onTrial(5, 0))
})
