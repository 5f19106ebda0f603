/**
 * Fixed-size slabs for the bytes that must outlive one upstream read: the part of a response
 * body the client's socket could not take yet (Exchange `pending`), and what a paused parse left
 * unread (Connection `leftover`). Both used to be a fresh `Buffer.from` copy each time, and each
 * upstream connection had its own 64 KiB read buffer; an abandoned download does all three
 * (the connection carrying it is closed, its replacement gets a new buffer). Those blocks are
 * malloc'd from the thread's glibc arena and freed only when V8's GC gets to them, in between
 * the small long-lived allocations the traffic makes meanwhile, so the arena keeps the freed
 * space resident: RSS rose with every abandoned answer and stayed up when idle (issue #23
 * point 7). A per-thread free list of slabs of one size (and one read buffer per thread,
 * src/worker/connection.ts) reuses the same blocks instead.
 */

/** One slab: an upstream read (src/worker/connection.ts reads at most this much at once). */
export const SLAB_BYTES = 64 * 1024
/** Slabs kept for reuse; more than this in use at once are allocated and left to the GC. */
const KEEP = 256

const free: Buffer[] = []
/**
 * The memory of every slab this thread made. A slab is known by it, not by its size: on Node 24
 * Buffer.poolSize is 64 KiB too, so a small `Buffer.from` copy is a view of a pool block of
 * SLAB_BYTES, and handing that back would let two owners write one block.
 */
const slabMemory = new WeakSet<ArrayBufferLike>()
/** Slabs handed out and not given back (an abandoned answer must give its slab back). */
let out = 0
/** Slabs ever allocated in this thread. */
let made = 0

/**
 * A copy of `src` that stays valid after the read buffer is reused. Up to SLAB_BYTES it is a
 * view of a slab, which the owner must hand back with {@link giveBack} once it no longer reads it.
 */
export function keepCopy (src: Uint8Array): Buffer {
  if (src.byteLength > SLAB_BYTES) return Buffer.from(src) // a head and its body in one parse: rare, left to the GC
  let slab = free.pop()
  if (slab === undefined) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES)
    slabMemory.add(slab.buffer)
    made++
  }
  slab.set(src)
  out++
  return slab.subarray(0, src.byteLength)
}

/** Hand back a copy made by {@link keepCopy}; the caller drops every reference to it. */
export function giveBack (copy: Buffer): void {
  if (!slabMemory.has(copy.buffer)) return // a larger copy (see keepCopy)
  out--
  if (free.length < KEEP) free.push(Buffer.from(copy.buffer, 0, SLAB_BYTES))
}

/** Whether `copy` is a view of a slab (made by {@link keepCopy} from at most SLAB_BYTES). */
export function isSlab (copy: Buffer): boolean { return slabMemory.has(copy.buffer) }

/** Slabs handed out and not given back yet, in this thread. */
export function slabsOut (): number { return out }

/** Slabs ever allocated in this thread. */
export function slabsMade (): number { return made }
