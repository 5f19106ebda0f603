import {
  CURSOR, ROT_SEQ, ROT_LEN, ROT_ENTRIES, ROT_ENTRY_WORDS, S_SEQ, S_STATE, S_ID, S_PORT, S_HOST_LEN,
  S_HOST, S_TRIAL, B_SUSPECT, slotBase, bstatBase, checkTableBuffer
} from './layout'

/** A consistent copy of one slot, taken under its seqlock. */
export interface SlotSnapshot {
  id: number
  state: number
  port: number
  host: string
}

/**
 * The workers' side of the backend table. `pick()` is the per-request hot path: it allocates
 * nothing and returns the chosen slot through `pickedSlot`/`pickedId`.
 *
 * Round robin is exact across threads because every pick takes its position from one shared
 * cursor with `Atomics.add`: N healthy backends and k*N picks give k each, whichever thread made
 * them. A slot whose `suspect` word holds its current id (a worker saw its connection fail) is
 * skipped until the main thread's next passing health check clears it.
 */
export class TableReader {
  readonly i32: Int32Array
  private readonly u32: Uint32Array
  pickedSlot = -1
  pickedId = 0

  constructor (sab: SharedArrayBuffer) {
    checkTableBuffer(sab)
    this.i32 = new Int32Array(sab)
    this.u32 = new Uint32Array(sab)
  }

  /**
   * Choose the next healthy backend, skipping backend `avoidId` in `avoidSlot` (the one a retry
   * just failed on; a slot that holds another backend since is fair game) and suspect slots;
   * with `settledOnly`, backends on trial (S_TRIAL: a rollout's new version) too.
   * Returns false when there is none.
   */
  pick (avoidSlot: number, avoidId: number, settledOnly = false): boolean {
    const i32 = this.i32
    for (;;) {
      const seq = Atomics.load(i32, ROT_SEQ)
      if ((seq & 1) !== 0) continue // the main thread is mid-write: a few instructions, spin
      const len = Atomics.load(i32, ROT_LEN)
      let found = false
      if (len > 0) {
        // A settled-only pick (a retry away from a replica on trial) starts at the cursor without
        // moving it: moving it would hand the next request's pick to the slot after the settled
        // one, which in a rotation of one old and one new replica is the new one every time.
        const start = (settledOnly ? Atomics.load(this.u32, CURSOR) : Atomics.add(this.u32, CURSOR, 1)) % len
        for (let k = 0; k < len; k++) {
          let e = start + k
          if (e >= len) e -= len
          const slot = Atomics.load(i32, ROT_ENTRIES + e * ROT_ENTRY_WORDS)
          const id = Atomics.load(i32, ROT_ENTRIES + e * ROT_ENTRY_WORDS + 1)
          if ((slot === avoidSlot && id === avoidId) || Atomics.load(i32, bstatBase(slot) + B_SUSPECT) === id) continue
          if (settledOnly && Atomics.load(i32, slotBase(slot) + S_TRIAL) === id) continue
          this.pickedSlot = slot
          this.pickedId = id
          found = true
          break
        }
      }
      if (Atomics.load(i32, ROT_SEQ) === seq) {
        if (!found) this.pickedSlot = -1
        return found
      }
    }
  }

  /** Read a slot consistently. Allocates (the host string): call only when a pool is (re)built. */
  readSlot (slot: number): SlotSnapshot {
    const i32 = this.i32
    const base = slotBase(slot)
    for (;;) {
      const seq = Atomics.load(i32, base + S_SEQ)
      if ((seq & 1) !== 0) continue
      const id = Atomics.load(i32, base + S_ID)
      const state = Atomics.load(i32, base + S_STATE)
      const port = Atomics.load(i32, base + S_PORT)
      const len = Atomics.load(i32, base + S_HOST_LEN)
      let host = ''
      for (let c = 0; c < len && c < 96; c++) {
        const word = Atomics.load(i32, base + S_HOST + (c >> 2))
        host += String.fromCharCode((word >>> ((c & 3) * 8)) & 0xff)
      }
      if (Atomics.load(i32, base + S_SEQ) === seq) return { id, state, port, host }
    }
  }

  /**
   * Copy the rotation into `out` as (slot, id) pairs under its seqlock; returns the number of
   * entries. For diagnostics and tests, not the request path.
   */
  rotation (out: Int32Array): number {
    const i32 = this.i32
    for (;;) {
      const seq = Atomics.load(i32, ROT_SEQ)
      if ((seq & 1) !== 0) continue
      const len = Math.min(Atomics.load(i32, ROT_LEN), out.length >> 1)
      for (let e = 0; e < len * ROT_ENTRY_WORDS; e++) out[e] = Atomics.load(i32, ROT_ENTRIES + e)
      if (Atomics.load(i32, ROT_SEQ) === seq) return len
    }
  }

  /** Whether any backend is in rotation now (hold-while-starting polls this). */
  hasHealthy (): boolean {
    return Atomics.load(this.i32, ROT_LEN) > 0
  }

  /** Current id of a slot (0 when empty): cheap check whether a cached pool is stale. */
  slotId (slot: number): number {
    return Atomics.load(this.i32, slotBase(slot) + S_ID)
  }

  /** Whether backend `id` in `slot` runs the version a rollout is trying (one atomic load, no allocation). */
  onTrial (slot: number, id: number): boolean {
    return id !== 0 && Atomics.load(this.i32, slotBase(slot) + S_TRIAL) === id
  }

  /** Passive health: flag the slot's backend `id` as failing until a health check passes. */
  markSuspect (slot: number, id: number): void {
    Atomics.store(this.i32, bstatBase(slot) + B_SUSPECT, id)
  }
}
