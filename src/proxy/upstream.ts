import { Pool } from 'undici'
import { MAX_BACKENDS } from '../table/layout'
import type { TableReader } from '../table/reader'

export interface UpstreamOptions {
  readonly connectTimeoutMs: number
  readonly responseTimeoutMs: number
}

/**
 * One keep-alive undici Pool per backend slot, per worker. A pool is keyed by the slot's id, so a
 * slot reused for a new container gets a fresh pool and the old one is closed (its in-flight
 * requests finish first). `sweep()` runs from the worker's maintenance tick, never per request.
 */
export class PoolSet {
  private readonly pools: Array<Pool | undefined> = new Array(MAX_BACKENDS)
  private readonly ids = new Int32Array(MAX_BACKENDS)

  constructor (private readonly reader: TableReader, private readonly options: UpstreamOptions) {}

  /** The pool for backend `id` in `slot`, or null when the slot has moved on since it was picked. */
  get (slot: number, id: number): Pool | null {
    const pool = this.pools[slot]
    if (pool !== undefined && this.ids[slot] === id) return pool
    const snap = this.reader.readSlot(slot)
    if (snap.id !== id) return null
    if (pool !== undefined) void pool.close().catch(noop)
    const host = snap.host.includes(':') ? `[${snap.host}]` : snap.host
    const fresh = new Pool(`http://${host}:${snap.port}`, {
      connectTimeout: this.options.connectTimeoutMs,
      headersTimeout: this.options.responseTimeoutMs,
      bodyTimeout: this.options.responseTimeoutMs,
      keepAliveTimeout: 4_000,
      // A request is never sent on a connection that is still busy: one request per
      // connection at a time, like nginx and HAProxy upstream keep-alive.
      pipelining: 1
    })
    this.pools[slot] = fresh
    this.ids[slot] = id
    return fresh
  }

  /** Close pools whose slot now holds another backend or none. */
  sweep (): void {
    for (let slot = 0; slot < MAX_BACKENDS; slot++) {
      const pool = this.pools[slot]
      if (pool === undefined || this.reader.slotId(slot) === this.ids[slot]) continue
      this.pools[slot] = undefined
      this.ids[slot] = 0
      void pool.close().catch(noop)
    }
  }

  /** Destroy every pool (worker shutdown: in-flight requests were drained before). */
  async close (): Promise<void> {
    const all: Array<Promise<void>> = []
    for (let slot = 0; slot < MAX_BACKENDS; slot++) {
      const pool = this.pools[slot]
      if (pool === undefined) continue
      this.pools[slot] = undefined
      all.push(pool.destroy().catch(noop))
    }
    await Promise.all(all)
  }
}

function noop (): void {}
