import {
  State, type StateValue, MAX_BACKENDS, MAX_HOST_BYTES, ROT_SEQ, ROT_LEN, ROT_ENTRIES, ROT_ENTRY_WORDS,
  S_SEQ, S_STATE, S_ID, S_PORT, S_HOST_LEN, S_HOST, S_TRIAL, SLOT_HOST_WORDS, B_SUSPECT, B_INFLIGHT,
  slotBase, bstatBase, checkTableBuffer
} from './layout'

/** What the main thread knows of a slot; `/status` and the control loops read this. */
export interface SlotView {
  readonly slot: number
  readonly id: number
  readonly state: StateValue
  readonly host: string
  readonly port: number
}

/**
 * The only writer of backend slots and of the rotation (main thread only).
 *
 * Writes follow a seqlock: bump the sequence to odd, store the fields, bump it to even. Readers
 * (src/table/reader.ts) retry while the sequence is odd or changed, so they never act on a torn
 * entry. All stores are `Atomics` operations: JS gives ordering guarantees only between atomic
 * accesses, so plain stores could be observed out of order by another thread.
 */
export class TableWriter {
  private readonly i32: Int32Array
  private nextId = 1
  /** Mirror of the slots, so reads on the main thread need no protocol. */
  private readonly views: Array<SlotView | undefined> = new Array(MAX_BACKENDS)

  constructor (readonly sab: SharedArrayBuffer) {
    checkTableBuffer(sab)
    this.i32 = new Int32Array(sab)
  }

  /**
   * Put a backend into a slot, state STARTING (out of rotation until marked healthy).
   * Returns its id: unique for the life of the table, so a worker can tell a slot reused for a
   * new backend from the old one (and drop the old connection pool).
   */
  assign (slot: number, host: string, port: number): number {
    checkSlot(slot)
    if (host.length === 0 || host.length > MAX_HOST_BYTES || !/^[\x21-\x7e]+$/.test(host)) {
      throw new RangeError(`backend host must be 1-${MAX_HOST_BYTES} printable ASCII characters: ${JSON.stringify(host)}`)
    }
    const id = this.nextId++
    if (this.nextId > 0x7fffffff) this.nextId = 1
    const base = slotBase(slot)
    const i32 = this.i32
    Atomics.add(i32, base + S_SEQ, 1)
    Atomics.store(i32, base + S_STATE, State.STARTING)
    Atomics.store(i32, base + S_ID, id)
    Atomics.store(i32, base + S_PORT, port)
    storeHost(i32, base, host)
    Atomics.add(i32, base + S_SEQ, 1)
    Atomics.store(i32, bstatBase(slot) + B_SUSPECT, 0)
    const wasInRotation = this.views[slot]?.state === State.HEALTHY
    this.views[slot] = { slot, id, state: State.STARTING, host, port }
    if (wasInRotation) this.publishRotation()
    return id
  }

  /** Change a slot's state; the rotation is republished when a slot enters or leaves HEALTHY. */
  setState (slot: number, state: StateValue): void {
    checkSlot(slot)
    const view = this.views[slot]
    if (view === undefined) throw new RangeError(`slot ${slot} is empty`)
    if (view.state === state) return
    const base = slotBase(slot)
    Atomics.add(this.i32, base + S_SEQ, 1)
    Atomics.store(this.i32, base + S_STATE, state)
    Atomics.add(this.i32, base + S_SEQ, 1)
    const rotationChanged = view.state === State.HEALTHY || state === State.HEALTHY
    if (state === State.HEALTHY) Atomics.store(this.i32, bstatBase(slot) + B_SUSPECT, 0)
    this.views[slot] = { ...view, state }
    if (rotationChanged) this.publishRotation()
  }

  /** Empty a slot (its backend is gone). */
  clear (slot: number): void {
    checkSlot(slot)
    const view = this.views[slot]
    if (view === undefined) return
    const base = slotBase(slot)
    Atomics.add(this.i32, base + S_SEQ, 1)
    Atomics.store(this.i32, base + S_STATE, State.EMPTY)
    Atomics.store(this.i32, base + S_ID, 0)
    Atomics.add(this.i32, base + S_SEQ, 1)
    this.views[slot] = undefined
    if (view.state === State.HEALTHY) this.publishRotation()
  }

  /**
   * Mark the slot's current backend as running the version a rollout is trying (`onTrial`), or
   * not: the workers may then retry its 5xx answers on a replica of the settled version
   * (src/worker/retry.ts). One atomic store of the backend's id (0: not on trial), so a later
   * assign() of the slot ends the mark by itself. No-op on an empty slot.
   */
  markTrial (slot: number, onTrial: boolean): void {
    checkSlot(slot)
    const view = this.views[slot]
    Atomics.store(this.i32, slotBase(slot) + S_TRIAL, onTrial && view !== undefined ? view.id : 0)
  }

  /** Whether the slot's current backend is marked on trial. */
  isOnTrial (slot: number): boolean {
    const view = this.views[slot]
    return view !== undefined && Atomics.load(this.i32, slotBase(slot) + S_TRIAL) === view.id
  }

  /** True when a worker reported a connection failure to the slot's current backend. */
  isSuspect (slot: number): boolean {
    const view = this.views[slot]
    return view !== undefined && Atomics.load(this.i32, bstatBase(slot) + B_SUSPECT) === view.id
  }

  /** Clear the passive-health flag (a health check passed). */
  clearSuspect (slot: number): void {
    Atomics.store(this.i32, bstatBase(slot) + B_SUSPECT, 0)
  }

  /** Requests currently forwarded to the slot, summed over all workers. */
  inflight (slot: number): number {
    return Atomics.load(this.i32, bstatBase(slot) + B_INFLIGHT)
  }

  view (slot: number): SlotView | undefined { return this.views[slot] }

  /** Every non-empty slot, in slot order. */
  slots (): SlotView[] {
    const out: SlotView[] = []
    for (const v of this.views) if (v !== undefined) out.push(v)
    return out
  }

  /** Lowest empty slot, or -1 when all are taken. */
  freeSlot (): number {
    for (let i = 0; i < MAX_BACKENDS; i++) if (this.views[i] === undefined) return i
    return -1
  }

  /** Rewrite the rotation: the healthy slots in slot order, under the rotation seqlock. */
  private publishRotation (): void {
    const i32 = this.i32
    Atomics.add(i32, ROT_SEQ, 1)
    let n = 0
    for (let i = 0; i < MAX_BACKENDS; i++) {
      const v = this.views[i]
      if (v === undefined || v.state !== State.HEALTHY) continue
      Atomics.store(i32, ROT_ENTRIES + n * ROT_ENTRY_WORDS, i)
      Atomics.store(i32, ROT_ENTRIES + n * ROT_ENTRY_WORDS + 1, v.id)
      n++
    }
    Atomics.store(i32, ROT_LEN, n)
    Atomics.add(i32, ROT_SEQ, 1)
  }
}

function checkSlot (slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_BACKENDS) {
    throw new RangeError(`slot must be an integer 0..${MAX_BACKENDS - 1}, got ${slot}`)
  }
}

/**
 * Write a slot's host (length and bytes, four to a word). The caller holds the slot's seqlock
 * (odd sequence); only the torn-read test's negative control calls it without.
 */
export function storeHost (i32: Int32Array, base: number, host: string): void {
  Atomics.store(i32, base + S_HOST_LEN, host.length)
  for (let w = 0; w < SLOT_HOST_WORDS; w++) {
    let word = 0
    for (let b = 0; b < 4; b++) {
      const c = w * 4 + b
      if (c < host.length) word |= host.charCodeAt(c) << (b * 8)
    }
    Atomics.store(i32, base + S_HOST + w, word)
  }
}
