/**
 * A scripted Runtime for the fleet's unit tests: replicas are records, starts and stops resolve
 * on cue or fail on demand, and events are pushed by the test. Stopping a running replica emits
 * its exit, as the Docker engine does, so tests see the fleet ignore its own stops.
 */
import { PortInUseError } from '../../src/errors'
import type { Replica, Runtime, RuntimeEvent } from '../../src/runtime/types'

export class FakeRuntime implements Runtime {
  readonly kind = 'fake'
  readonly replicas = new Map<string, Replica>()
  readonly calls: string[] = []
  /** Ports something else holds: start() there fails like the real runtimes do. */
  readonly heldPorts = new Set<number>()
  failStart: Error | null = null
  failStop: Error | null = null
  failList: Error | null = null
  /** When set, start() waits for this promise before answering. */
  startGate: Promise<void> | null = null
  /** Called with the new replica before start() returns (e.g. to make it die first). */
  onStarted: ((r: Replica) => void) | null = null
  #next = 1
  readonly #subs = new Set<(e: RuntimeEvent) => void>()

  async init (): Promise<void> {}

  async list (): Promise<Replica[]> {
    this.calls.push('list')
    if (this.failList !== null) throw this.failList
    return [...this.replicas.values()]
  }

  async start (port: number): Promise<Replica> {
    this.calls.push(`start ${port}`)
    if (this.startGate !== null) await this.startGate
    if (this.failStart !== null) throw this.failStart
    if (this.heldPorts.has(port) || [...this.replicas.values()].some((r) => r.key === port && r.running)) {
      throw new PortInUseError(`cannot start symphony-fake-${port}: port ${port} is already in use`)
    }
    const r = this.add(port)
    this.onStarted?.(r)
    return this.replicas.get(r.id) ?? r
  }

  async stop (replica: Replica, graceMs: number): Promise<void> {
    this.calls.push(`stop ${replica.key} ${graceMs}`)
    if (this.failStop !== null) throw this.failStop
    const r = this.replicas.get(replica.id)
    if (r === undefined) return
    this.replicas.delete(r.id)
    if (r.running) this.emit({ type: 'exit', id: r.id, port: r.key, reason: 'kill' })
  }

  async * events (signal: AbortSignal): AsyncGenerator<RuntimeEvent> {
    const queue: RuntimeEvent[] = []
    let wake: (() => void) | null = null
    const push = (e: RuntimeEvent): void => { queue.push(e); wake?.() }
    const onAbort = (): void => wake?.()
    this.#subs.add(push)
    signal.addEventListener('abort', onAbort)
    try {
      while (!signal.aborted) {
        const e = queue.shift()
        if (e !== undefined) yield e
        else await new Promise<void>((resolve) => { wake = resolve })
      }
    } finally {
      this.#subs.delete(push)
      signal.removeEventListener('abort', onAbort)
    }
  }

  async close (): Promise<void> {}

  /** A replica that exists without the fleet having started it (an earlier run's). */
  add (port: number, running = true): Replica {
    const r: Replica = { id: `c${this.#next++}`, name: `symphony-fake-${port}`, key: port, address: { host: '127.0.0.1', port }, startedAt: 0, running }
    this.replicas.set(r.id, r)
    return r
  }

  /** The replica dies; `announce` false models an exit missed while disconnected. */
  die (id: string, reason: 'die' | 'kill' | 'oom' = 'die', announce = true): void {
    const r = this.replicas.get(id)
    if (r === undefined) throw new Error(`no replica ${id}`)
    this.replicas.set(id, { ...r, running: false })
    if (announce) this.emit({ type: 'exit', id, port: r.key, reason })
  }

  emit (e: RuntimeEvent): void { for (const s of this.#subs) s(e) }

  running (): Replica[] { return [...this.replicas.values()].filter((r) => r.running) }
}
